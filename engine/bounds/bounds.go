// Package bounds chooses a query's contribution bounds — L0, the groups
// one person may contribute to, and L∞, the rows one person may add to
// one group — from a noisy profile of how much persons actually
// contribute (plan.Profile, noised by protect.Release.NoiseProfile). A
// bound set too low biases every total down by what it cuts; set too high
// it multiplies the noise. Choose weighs the two.
//
// The package is pure: it reads only DP outputs (the noisy histograms) and
// public facts (the caps, the public domain's size), so its choice is
// post-processing and costs no further privacy.
package bounds

import (
	"math"

	"github.com/statgate/statgate/engine/plan"
)

// MaxCutShare is what the bounds may cut when the number of groups is not
// public (partition selection): the smallest L0 that keeps all but this
// share of the person × group pairs, likewise for L∞ and rows.
const MaxCutShare = 0.02

// MaxBias is the most either bound may cut when the number of groups is
// public: the error is minimised among the bounds that cut at most this
// share, so no answer is biased by more (the interval is widened by what
// is cut).
const MaxBias = 0.03

// Choice is the chosen L0 and L∞ and what they are estimated to cut.
type Choice struct {
	// L0 and LInf are the chosen bounds; 0 leaves the plan's own.
	L0, LInf int
	// CutPairs and CutRows estimate the shares of person × group pairs and
	// of rows the bounds drop.
	CutPairs, CutRows float64
	// Clamp narrows profiled columns' bounds (see Clamps); nil: none.
	Clamp map[string][2]float64
	// LValues is the values a person adds to one group's mean, quantile
	// or spread (see ChooseValues); 0 leaves the plan's own.
	LValues int
	// CutValues estimates the share of rows those aggregates leave out.
	CutValues float64
}

// ValueShiftWeight is the share of the rows it leaves out by which a cap
// on the values per person is taken to move a mean or a quantile, in
// units of the values' range (or of ranks): dropped rows shift it by
// their share in the worst case (all at one end of the range), by far
// less when heavy contributors' values resemble the others'. 0.1: since
// the rows histogram reaches past the cap (plan.Beyond) the heavy
// persons' rows are all seen, and at 0.25 the cut they make dominated the
// noise of taking all their values (mean/median error 10–12 % against
// 6–8 % at 0.1 on the utility workload).
const ValueShiftWeight = 0.1

// UnknownGroups is the number of groups a typical group is taken to be
// one of when partition selection chooses them (no public count).
const UnknownGroups = 20

// ChooseValues picks how many of one person's values in one group the
// query's means, quantiles and spreads take, from the noisy rows
// histogram (rows[j] persons whose largest group's rows are in bucket j of
// Profile.RowEdges): the edge minimising (noise / n)² +
// (ValueShiftWeight · cut)², with vsd(l0, m) the noise of a typical such
// measure in rows (ranks of a quantile, range units of a mean or spread)
// when each person adds at most m values to each of l0 groups, n the rows
// of a typical group and cut the share of rows beyond m. Fewer values
// per person do not bias these measures down as they do totals, they
// only weigh persons with many rows less. It returns 0 (keep the plan's)
// when the query has none of them or the profile is too small.
func ChooseValues(pr *plan.Profile, rows []float64, l0 int, vsd func(l0, m int) float64) (m int, cutShare float64) {
	re := pr.RowEdges()
	if !pr.HasRows() {
		return 0, 0
	}
	if !pr.ValueAggs || len(rows) != len(re) || l0 < 1 {
		return 0, 0
	}
	persons, total := mass(rows, re)
	if persons < 1 || total < 1 {
		return 0, 0
	}
	g := float64(pr.Groups)
	if g <= 0 {
		g = UnknownGroups
	}
	n := math.Max(total/g, 1)
	best, bestErr := 0, math.Inf(1)
	for _, e := range upTo(re, pr.RowsCap) {
		c := cut(rows, re, e) / total
		rel := vsd(l0, e) / n
		if v := rel*rel + (ValueShiftWeight*c)*(ValueShiftWeight*c); v < bestErr {
			best, bestErr, cutShare = e, v, c
		}
	}
	return best, cutShare
}

// MaxClampedShare is the share of persons whose smallest (largest) value
// a narrowed clamp may cut from below (above).
const MaxClampedShare = 0.002

// Clamps narrows the bounds of each profiled column to the buckets where
// all but MaxClampedShare of the persons' smallest and largest values lie,
// from the noisy value histograms (hists["lo:"+column], hists["hi:"+column]).
// A column whose histograms hold fewer than one noisy person keeps its
// declared bounds. Narrower bounds shrink the noise of sums, means,
// quantiles and spreads; the persons beyond them are clamped, as every
// value beyond the declared bounds always was.
func Clamps(pr *plan.Profile, hists map[string][]float64) map[string][2]float64 {
	out := map[string][2]float64{}
	for _, v := range pr.Values {
		lo, hi := hists[plan.ProfileLow+v.Column], hists[plan.ProfileHigh+v.Column]
		nLo, nHi := sum(lo), sum(hi)
		if nLo < 1 || nHi < 1 || len(lo) != v.Buckets || len(hi) != v.Buckets {
			continue
		}
		w := (v.Hi - v.Lo) / float64(v.Buckets)
		// The highest edge with at most the share of smallest values below it.
		first, below := 0, 0.0
		for j := 0; j < v.Buckets; j++ {
			if below+lo[j] > MaxClampedShare*nLo {
				break
			}
			below += lo[j]
			first = j + 1
		}
		// The lowest edge with at most the share of largest values above it.
		last, above := v.Buckets, 0.0
		for j := v.Buckets - 1; j >= 0; j-- {
			if above+hi[j] > MaxClampedShare*nHi {
				break
			}
			above += hi[j]
			last = j
		}
		// One bucket of margin on each side: the edges are noisy, and a
		// clamp too tight biases means more than a wider one adds noise.
		first, last = max(first-1, 0), min(last+1, v.Buckets)
		if last <= first {
			last = min(first+1, v.Buckets)
			first = last - 1
		}
		c := [2]float64{v.Lo + float64(first)*w, v.Lo + float64(last)*w}
		if last == v.Buckets {
			c[1] = v.Hi // exact, not a sum of bucket widths
		}
		if c != [2]float64{v.Lo, v.Hi} {
			out[v.Column] = c
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Typical is a typical |value| of one row of a profiled column, from its
// noisy value histograms (hists["lo:"+column], hists["hi:"+column]): the
// mean over persons of the |middle| of the bucket of their smallest and
// of their largest value, the two averaged. It is 0 when the column is
// not profiled or its histograms hold fewer than one noisy person. Like
// the rest of the package it reads only DP outputs.
func Typical(pr *plan.Profile, hists map[string][]float64, column string) float64 {
	for _, v := range pr.Values {
		if v.Column != column {
			continue
		}
		w := (v.Hi - v.Lo) / float64(v.Buckets)
		var t float64
		for _, h := range [][]float64{hists[plan.ProfileLow+column], hists[plan.ProfileHigh+column]} {
			n, sum := 0.0, 0.0
			for j, c := range h {
				n += c
				sum += c * math.Abs(v.Lo+(float64(j)+0.5)*w)
			}
			if n < 1 || len(h) != v.Buckets {
				return 0
			}
			t += sum / n / 2
		}
		return t
	}
	return 0
}

// Choose picks the bounds of a query from the noisy histograms of its
// profile: groups[j] persons whose number of groups is in bucket j of
// Profile.GroupEdges, rows[j] persons whose largest group's rows are in
// bucket j of Profile.RowEdges (the last bucket: at least its edge). sd is
// the standard deviation of a typical released measure's noise under
// bounds (l0, lInf).
//
// With a public number of groups G (all keys have public domains), it
// minimises the expected relative squared error of a typical cell: the
// squared sum of the shares cut (the bias) plus (sd · G / total)², among
// the bounds whose shares add up to at most MaxBias. Without one, it takes the
// smallest bounds that cut at most MaxCutShare. With a profile too small
// to say anything (fewer than one noisy person or pair), it leaves the
// plan's bounds.
func Choose(pr *plan.Profile, groups, rows []float64, sd func(l0 int, lInf int) float64) Choice {
	sh := readShares(pr, groups, rows)
	if sh == nil {
		return Choice{}
	}
	ge, re, pairs, maxRows := sh.ge, sh.re, sh.pairs, sh.maxRows
	cutPairs, cutRows := sh.cutPairs, sh.cutRows
	// What the L0 step cuts biases only totals (see plan.Profile.Totals).
	pairBias := cutPairs
	if !pr.Totals {
		pairBias = func(int) float64 { return 0 }
	}
	// The candidates: the edges up to the caps (the histograms reach
	// past them, so a cap's own cut is measured).
	gc, rc := upTo(ge, pr.GroupsCap), upTo(re, pr.RowsCap)
	lInfs := rc
	if !pr.Rows {
		lInfs = []int{1}
	}
	if pr.Groups <= 0 {
		c := Choice{L0: smallest(gc, func(l int) bool { return pairBias(l) <= MaxCutShare })}
		if pr.Rows {
			c.LInf = smallest(rc, func(m int) bool { return cutRows(m) <= MaxCutShare })
		}
		c.CutPairs, c.CutRows = cutPairs(c.L0), cutRows(max(c.LInf, 1))
		return c
	}
	// The total a typical cell is a share of: pairs (distinct persons) or
	// rows (a lower estimate: every person's largest group), so that the
	// noise is not underrated.
	total := pairs
	if pr.Rows {
		total = math.Max(maxRows, pairs)
	}
	g := float64(pr.Groups)
	// No person is in more groups than there are: the domain's size is a
	// candidate, larger edges are not.
	var l0s []int
	for _, l := range gc {
		if l < pr.Groups {
			l0s = append(l0s, l)
		}
	}
	l0s = append(l0s, min(pr.Groups, gc[len(gc)-1]))
	// The two cuts add up in a total (a row the L0 step keeps may still be
	// beyond L∞): the bias of a typical cell is their sum, and MaxBias caps
	// the sum. When no bounds keep the sum under it (the caps themselves
	// cut more), the least error wins among the bounds that cut at most
	// MaxBias more than the least any bounds cut: trading bias for noise
	// without a limit chose bounds cutting a quarter of the rows of a
	// many-group question.
	type cand struct {
		c       Choice
		bias, e float64
	}
	var cands []cand
	least := math.Inf(1)
	for _, l := range l0s {
		for _, m := range lInfs {
			cp, cr := pairBias(l), cutRows(m)
			rel := sd(l, m) * g / total
			bias := cp + cr
			cands = append(cands, cand{Choice{L0: l, LInf: m, CutPairs: cutPairs(l), CutRows: cr}, bias, bias*bias + rel*rel})
			least = math.Min(least, bias)
		}
	}
	limit := math.Max(MaxBias, least+MaxBias)
	best, bestErr := Choice{}, math.Inf(1)
	for _, c := range cands {
		if c.bias <= limit && c.e < bestErr {
			best, bestErr = c.c, c.e
		}
	}
	if !pr.Rows {
		best.LInf = 0
	}
	return best
}

// Cuts estimates the shares of person × group pairs and of rows that
// bounds l0 and lInf cut (0: that bound is not estimated), from the noisy
// groups and rows histograms as Choose reads them; 0 when the profile is
// too small to say.
func Cuts(pr *plan.Profile, groups, rows []float64, l0, lInf int) (pairs, rowShare float64) {
	sh := readShares(pr, groups, rows)
	if sh == nil {
		return 0, 0
	}
	if l0 > 0 {
		pairs = sh.cutPairs(l0)
	}
	if lInf > 0 {
		rowShare = sh.cutRows(lInf)
	}
	return pairs, rowShare
}

// shares is a profile's groups and rows histograms (whole) read for what
// bounds cut: pairs is the person × group pairs, maxRows the rows of
// every person's largest group.
type shares struct {
	groups, rows   []float64
	ge, re         []int
	pairs, maxRows float64
	countsRows     bool // plan.Profile.Rows
}

// readShares reads the histograms, or returns nil when they do not fit
// the profile's edges or hold less than one noisy person or pair.
func readShares(pr *plan.Profile, groups, rows []float64) *shares {
	sh := &shares{ge: pr.GroupEdges(), re: pr.RowEdges(), countsRows: pr.Rows}
	sh.groups, sh.rows = whole(pr, groups, rows)
	if len(sh.groups) != len(sh.ge) || len(sh.rows) != len(sh.re) {
		return nil
	}
	persons, pairs := mass(sh.groups, sh.ge)
	if persons < 1 || pairs < 1 {
		return nil
	}
	sh.pairs = pairs
	_, sh.maxRows = mass(sh.rows, sh.re)
	return sh
}

// cutPairs is the share of the pairs L0 l cuts.
func (sh *shares) cutPairs(l int) float64 { return cut(sh.groups, sh.ge, l) / sh.pairs }

// cutRows is the share of the rows L∞ m cuts (0 when no aggregate counts
// rows, or the profile has less than one row).
func (sh *shares) cutRows(m int) float64 {
	if !sh.countsRows || sh.maxRows < 1 {
		return 0
	}
	return cut(sh.rows, sh.re, m) / sh.maxRows
}

// whole fills in the histograms a profile leaves out (plan.Profile.HasGroups,
// HasRows): with one group per person everyone is in the groups
// histogram's one bucket, with one row (or no row count) everyone in the
// rows histogram's first; the persons are those of the histogram kept.
func whole(pr *plan.Profile, groups, rows []float64) ([]float64, []float64) {
	switch {
	case !pr.HasGroups() && pr.HasRows():
		groups = append(make([]float64, 0, len(pr.GroupEdges())), sum(rows))
		groups = append(groups, make([]float64, len(pr.GroupEdges())-1)...)
	case pr.HasGroups() && !pr.HasRows():
		rows = make([]float64, len(pr.RowEdges()))
		rows[0] = sum(groups)
	}
	return groups, rows
}

// sum is the persons of a histogram.
func sum(h []float64) float64 {
	var t float64
	for _, n := range h {
		t += n
	}
	return t
}

// mass returns the persons of a histogram and the sum of value × persons.
func mass(h []float64, edges []int) (persons, weighted float64) {
	for j, n := range h {
		persons += n
		weighted += plan.BucketValue(edges, j) * n
	}
	return persons, weighted
}

// cut is Σ over buckets above l of (value − l) × persons: what bound l drops.
func cut(h []float64, edges []int, l int) float64 {
	var c float64
	for j, n := range h {
		if v := plan.BucketValue(edges, j); v > float64(l) {
			c += (v - float64(l)) * n
		}
	}
	return c
}

// upTo is the edges at or under cap, and cap itself last: the bounds a
// query may choose.
func upTo(edges []int, cap int) []int {
	var out []int
	for _, e := range edges {
		if e < cap {
			out = append(out, e)
		}
	}
	return append(out, max(cap, 1))
}

// smallest is the least edge for which ok holds (the last edge when none does).
func smallest(edges []int, ok func(int) bool) int {
	for _, l := range edges[:len(edges)-1] {
		if ok(l) {
			return l
		}
	}
	return edges[len(edges)-1]
}
