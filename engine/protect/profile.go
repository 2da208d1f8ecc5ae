package protect

import (
	"context"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
)

// ReadProfile reads the exact histograms of a plan.Profile's SQL from rr,
// by name (plan.Profile.Lengths): h[b-1] is the persons in bucket b
// (plan.Profile.Tally). Rows that are not counts, or buckets out of range
// (the SQL makes none), are skipped, so no data value can make it fail;
// it fails only when ctx ends, reading fails or the result has another
// number of columns. The histograms are exact: they leave this package
// only through Release.NoiseProfile. The caller owns (and releases) rr.
func ReadProfile(ctx context.Context, rr array.RecordReader, pr *plan.Profile) (map[string][]int64, error) {
	hists := map[string][]int64{}
	for name, n := range pr.Lengths() {
		hists[name] = make([]int64, n)
	}
	nv := 2 + 2*len(pr.Values) // g, m, lo and hi of each value profile; then persons
	vals, valid := make([]int64, nv), make([]bool, nv)
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec := rr.RecordBatch()
		if int(rec.NumCols()) != nv+1 {
			return nil, fmt.Errorf("protect.ReadProfile: %d columns, want %d", rec.NumCols(), nv+1)
		}
	rows:
		for i := 0; i < int(rec.NumRows()); i++ {
			n, ok, err := intAt(rec.Column(nv), i)
			if err != nil || !ok {
				continue
			}
			for c := range nv {
				var err error
				if vals[c], valid[c], err = intAt(rec.Column(c), i); err != nil {
					continue rows
				}
			}
			pr.Tally(hists, vals, valid, n)
		}
	}
	if err := rr.Err(); err != nil {
		return nil, fmt.Errorf("protect.ReadProfile: %w", err)
	}
	return hists, ctx.Err()
}

// Scale is what the bound chooser's error model knows of one
// aggregate's values: the clamp its noise will be calibrated to (narrowed
// from the noisy profile, or the request's) and a typical |value| of one
// row, from the noisy value histograms (0: unknown, taken as half the
// clamp's largest |bound|). Counts need none.
type Scale struct {
	Bounds  [2]float64
	Typical float64
}

// TypicalSD is the noise of a typical cell of the query under bounds
// (l0, lInf), in rows: what bounds.Choose weighs truncation against
// (relative error = TypicalSD · groups / rows). It is the root mean
// square, over every total the query releases (counts, distinct-person
// counts, sums), of that total's noise relative to its value, stated in
// rows: a count's noise as it is, a sum's divided by a typical row's
// value (scales[i]), so a sum whose clamp is far above its typical value
// weighs as the noisier measure it is. The totals are what L0 and L∞
// bias; a mean, quantile or spread is not biased by them, and its noise
// is weighed where its own bound, the values per person, is chosen
// (ValueSD, bounds.ChooseValues). A query without totals weighs its
// first mean, quantile or spread as a count at its share; one releasing
// only its persons count weighs that.
//
// Each total's noise is that of the mechanism it will have at those
// bounds: for a deferred Auto release the one deferredChoice picks at the
// sensitivities these bounds give (Laplace ∝ L0·L∞, Gaussian ∝ √L0·L∞,
// so with Gaussian noise the best L0 is often larger); otherwise its
// own. With k grouping sets the sensitivities are those plan.Bound
// calibrates to them: a measure's (k, l0·lInf), a distinct-person
// count's (k·l0, 1).
func (r *Release) TypicalSD(l0, lInf int, scales []Scale) float64 {
	k := int64(len(r.l.sets))
	// sd is the noise of a component of share sh whose rows each move
	// it by at most perRow (a distinct-person count: one per group).
	sd := func(sh share, perRow float64, persons bool) float64 {
		if !(sh.eps > 0) {
			return 0
		}
		l, v := int64(l0), float64(lInf)*perRow
		switch {
		case persons && k > 1:
			l, v = k*int64(l0), 1
		case persons:
			v = 1
		case k > 1:
			l, v = k, float64(l0*lInf)*perRow
		}
		return stdDev(r.mechAt(l, sh), l, v, sh.eps, sh.delta)
	}
	var sum float64
	n := 0
	for i, a := range r.plan.Aggs {
		sh := r.l.aggs[i]
		var x float64
		switch a.Kind {
		case query.AggCountStar, query.AggCount:
			x = sd(sh, 1, false)
		case query.AggCountDistinct:
			x = sd(sh, 1, true)
		case query.AggSum:
			var sc Scale
			if i < len(scales) {
				sc = scales[i]
			}
			m, typ := sc.magnitude(a.Bounds)
			x = sd(sh, m, false) / typ
		default:
			continue
		}
		sum += x * x
		n++
	}
	if n > 0 {
		return math.Sqrt(sum / float64(n))
	}
	for i := range r.plan.Aggs {
		if sh := componentShare(r.plan.Aggs[i], r.l.aggs[i]); sh.eps > 0 {
			return sd(sh, 1, false)
		}
	}
	return sd(r.l.persons, 1, true)
}

// bounds is the clamp of a scale: its own when set, else the plan's.
func (sc Scale) bounds(plan [2]float64) [2]float64 {
	if sc.Bounds[0] < sc.Bounds[1] {
		return sc.Bounds
	}
	return plan
}

// magnitude is the largest |value| of the clamp (what a sum's
// sensitivity takes per row) and a typical |value| of a row: the scale's,
// else half that largest, never under a 1/plan.ValueBuckets of the
// clamp's width (nor 0), so a value typically near 0 does not make the
// error model infinite.
func (sc Scale) magnitude(plan [2]float64) (largest, typical float64) {
	b := sc.bounds(plan)
	largest = math.Max(math.Abs(math.Min(b[0], 0)), math.Max(b[1], 0))
	typical = sc.Typical
	if !(typical > 0) {
		typical = largest / 2
	}
	floor := (b[1] - b[0]) / ValueBuckets
	if !(floor > 0) {
		floor = 1
	}
	return math.Max(largest, floor), math.Max(typical, floor)
}

// ValueBuckets is the number of buckets of the profile's value
// histograms (plan.ValueBuckets).
const ValueBuckets = plan.ValueBuckets

// mechAt is the mechanism a component of share sh with L0 sensitivity l0
// gets in this release at the bounds a chooser considers: what a deferred
// Auto release will choose there (deferredChoice), otherwise the
// mechanism the component has.
func (r *Release) mechAt(l0 int64, sh share) string {
	if r.l.mechs != nil && r.l.mechs.Deferred {
		return deferredChoice(l0, sh)
	}
	return sh.mech
}

// ValueSD is the noise of the query's first mean, quantile or spread when
// each person adds at most m values to each of l0 groups, in rows: of the
// normalised sum over the range (a mean: its noise in range units times
// the group's rows; a spread alike, with a third of its share), or of
// the rank a quantile's tree walks to, under the mechanism it will have
// at that l0 (mechAt). It is what bounds.ChooseValues weighs against the
// rows a smaller m leaves out; 0 when the query has none.
func (r *Release) ValueSD(l0, m int) float64 {
	for i, a := range r.plan.Aggs {
		sh := r.l.aggs[i]
		if sh.eps <= 0 {
			continue
		}
		switch a.Kind {
		case query.AggAvg:
			c, _ := halve(sh, 0.5)
			return stdDev(r.mechAt(int64(l0), c), int64(l0), float64(m)/2, c.eps, c.delta)
		case query.AggStddev, query.AggVariance:
			c, _ := halve(sh, 1.0/3)
			return stdDev(r.mechAt(int64(l0), c), int64(l0), float64(m)/2, c.eps, c.delta)
		case query.AggQuantile:
			tree := r.l.trees[i]
			l := treeHeight * int64(l0)
			sigma := stdDev(r.mechAt(l, tree), l, float64(m), tree.eps, tree.delta)
			return sigma * math.Sqrt(treeHeight*branchingFactor) / 2
		}
	}
	return 0
}
