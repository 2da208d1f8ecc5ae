package protect

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/differential-privacy/go/v3/noise"
	"github.com/statgate/statgate/engine/bounds"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/result"
)

var (
	stayMedian = plan.Agg{Kind: query.AggQuantile, Name: "stay_median", P: 0.5, L0: 1, LInf: 1, MaxContributionsPerPartition: 1, Bounds: [2]float64{0, 90}}
	stayVar    = plan.Agg{Kind: query.AggVariance, Name: "stay_var", L0: 1, LInf: 1, MaxContributionsPerPartition: 1, Bounds: [2]float64{0, 90}}
)

// hintedEpsilon reads the smallest total ε an epsilon_too_small refusal's
// hint names.
func hintedEpsilon(t *testing.T, err error) float64 {
	t.Helper()
	r, ok := refusal.As(err)
	if !ok || r.Code.String() != "epsilon_too_small" {
		t.Fatalf("%v, want refusal epsilon_too_small", err)
	}
	m := regexp.MustCompile(`epsilon ≥ ([0-9.e+-]+)`).FindStringSubmatch(r.Hint)
	if m == nil {
		t.Fatalf("hint %q names no epsilon", r.Hint)
	}
	v, perr := strconv.ParseFloat(m[1], 64)
	if perr != nil {
		t.Fatal(perr)
	}
	return v
}

// TestPrepareEpsilonFloor: Prepare refuses a total ε that leaves some
// mechanism below MinMechanismEpsilon, for every kind of mechanism, and
// the least ε it names is accepted while a little less is not.
func TestPrepareEpsilonFloor(t *testing.T) {
	tests := []struct {
		desc string
		p    *plan.Plan
		o    Options
	}{
		{"count, laplace", testPlan([]plan.Key{sexKey}, []plan.Agg{contactsAgg}, nil), Options{MinCellCount: 5}},
		{"avg and sum, gaussian", testPlan([]plan.Key{sexKey}, []plan.Agg{stayAvg, staySum}, nil), Options{Delta: 1e-6, Mechanism: Gaussian, MinCellCount: 5}},
		{"quantile and variance", testPlan([]plan.Key{sexKey}, []plan.Agg{stayMedian, stayVar}, nil), Options{MinCellCount: 5}},
		{"partition selection", testPlan([]plan.Key{codeKey}, []plan.Agg{personsAgg}, nil), Options{Delta: 1e-6, MinCellCount: 5}},
		{"selection, gaussian, many parts", testPlan([]plan.Key{codeKey}, []plan.Agg{contactsAgg, stayAvg, stayMedian, stayVar}, nil), Options{Delta: 1e-6, Mechanism: Gaussian, MinCellCount: 5}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			for _, eps := range []float64{5e-324, 1e-300, 1e-15, 1e-7} {
				o := tc.o
				o.Epsilon = eps
				_, err := Prepare(tc.p, &o)
				hintedEpsilon(t, err)
			}
			o := tc.o
			o.Epsilon = 1e-7
			_, err := Prepare(tc.p, &o)
			least := hintedEpsilon(t, err)
			if least < MinMechanismEpsilon || least > 1e-3 {
				t.Fatalf("least ε %g is implausible for %d parts", least, len(tc.p.Aggs)+2)
			}
			o.Epsilon = least
			if _, err := Prepare(tc.p, &o); err != nil {
				t.Errorf("at the named least ε %g: %v", least, err)
			}
			o.Epsilon = least * 0.97
			if _, err := Prepare(tc.p, &o); err == nil {
				t.Errorf("3%% below the named least ε %g: accepted", least)
			}
		})
	}
}

// TestApplyDropsUnrepresentableKeys: a non-finite or fractional value in a
// key is dropped like a value outside a domain; it never fails Apply.
func TestApplyDropsUnrepresentableKeys(t *testing.T) {
	num := plan.Key{Name: "k", Type: query.TypeNumber}
	intKey := plan.Key{Name: "k", Type: query.TypeInteger}
	for _, tc := range []struct {
		desc string
		key  plan.Key
		bad  any
		good any
	}{
		{"NaN", num, math.NaN(), 2.5},
		{"+Inf", num, math.Inf(1), 2.5},
		{"-Inf", num, math.Inf(-1), 2.5},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			p := testPlan([]plan.Key{tc.key}, []plan.Agg{personsAgg}, nil)
			res := applyRows(t, p, []map[string]any{
				{"k": tc.bad, "persons": 1000},
				{"k": tc.good, "persons": 1000},
			}, exact(Options{Epsilon: 1, Delta: 1e-6, MinCellCount: 5}))
			if len(res.Rows) != 1 || res.Rows[0].Cells[0].Value != tc.good {
				t.Errorf("rows %+v, want only the key %v", res.Rows, tc.good)
			}
		})
	}
	t.Run("fraction in an integer key", func(t *testing.T) {
		p := testPlan([]plan.Key{intKey}, []plan.Agg{personsAgg}, nil)
		r, err := Prepare(p, exact(Options{Epsilon: 1, Delta: 1e-6, MinCellCount: 5}))
		if err != nil {
			t.Fatal(err)
		}
		cols := batchFor(p, []map[string]any{{"k": 1.5, "persons": 1000}, {"k": 2.0, "persons": 1000}})
		cols[0].typ = listOfDouble.Elem() // the key arrives as DOUBLE
		rr := reader(t, memory.NewGoAllocator(), cols)
		defer rr.Release()
		res, err := r.Apply(context.Background(), rr)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != 1 || res.Rows[0].Cells[0].Value != int64(2) {
			t.Errorf("rows %+v, want only the key 2", res.Rows)
		}
	})
}

// TestPrepareRefusalsAreRefusals: what Prepare refuses is a *refusal.Error
// (a status the request and the policy choose), never an internal error.
func TestPrepareRefusalsAreRefusals(t *testing.T) {
	p := testPlan([]plan.Key{codeKey}, []plan.Agg{personsAgg}, nil)
	_, err := Prepare(p, &Options{Epsilon: 1e-300, Delta: 1e-6, MinCellCount: 5})
	var r *refusal.Error
	if !errors.As(err, &r) || r.Kind() != refusal.KindQuery {
		t.Fatalf("%v, want a KindQuery refusal", err)
	}
}

// TestReleaseCost: the estimate is groups × draws per group, with
// partition-selected groups bounded by persons × L0 / min cell count.
func TestReleaseCost(t *testing.T) {
	quantileDraws := int64(3*treeHeight*branchingFactor + 4)
	tests := []struct {
		desc string
		p    *plan.Plan
		o    Options
		want int64
	}{
		{"public: 6 groups × (count + persons)", testPlan([]plan.Key{sexKey, yearKey}, []plan.Agg{contactsAgg}, nil),
			Options{Epsilon: 1, MinCellCount: 5}, 6 * 2},
		{"public: persons reused, median", testPlan([]plan.Key{sexKey, yearKey}, []plan.Agg{personsAgg, stayMedian}, nil),
			Options{Epsilon: 1, MinCellCount: 5}, 6 * (1 + quantileDraws)},
		{"margins add their groups", testPlan([]plan.Key{sexKey, yearKey}, []plan.Agg{personsAgg}, [][]int{{0, 1}, {0}, {}}),
			Options{Epsilon: 1, MinCellCount: 5}, 6 + 2 + 1},
		{"selection bounded by persons", testPlan([]plan.Key{codeKey}, []plan.Agg{personsAgg, stayVar}, nil),
			Options{Epsilon: 1, Delta: 1e-6, MinCellCount: 5, Persons: 1000}, 1000 / 5 * (1 + 3)},
		{"selection without persons: MaxGroups", testPlan([]plan.Key{codeKey}, []plan.Agg{personsAgg}, nil),
			Options{Epsilon: 1, Delta: 1e-6, MinCellCount: 5}, MaxGroups},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			r, err := Prepare(tc.p, &tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Cost(); got != tc.want {
				t.Errorf("cost %d, want %d", got, tc.want)
			}
		})
	}
}

// TestReleaseThreshold: the threshold is (min cell count − 1) plus the
// one-sided 99 % quantile of the person count's noise, and a row whose
// true count is min_cell_count − 1 is released about 1 % of the time:
// not more (the promise), and not far less (a threshold with the wrong
// noise scale would be far too strict or too lax).
func TestReleaseThreshold(t *testing.T) {
	const minCell = 5
	tests := []struct {
		desc string
		o    Options
		l0   int64
		want float64 // the threshold
	}{
		{"laplace ε 0.5, L0 1", Options{Epsilon: 0.5, MinCellCount: minCell}, 1, minCell - 1 + 2*math.Log(50)},
		{"laplace ε 1, L0 4", Options{Epsilon: 1, MinCellCount: minCell}, 4, minCell - 1 + 4*math.Log(50)},
		{"gaussian ε 1, δ 1e-6, L0 2", Options{Epsilon: 1, Delta: 1e-6, Mechanism: Gaussian, MinCellCount: minCell}, 2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			agg := personsAgg
			agg.L0 = tc.l0
			p := testPlan([]plan.Key{sexKey}, []plan.Agg{agg}, nil)
			p.PersonsL0 = tc.l0
			r, err := Prepare(p, &tc.o)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if tc.o.Mechanism == Gaussian {
				sigma := noise.SigmaForGaussian(tc.l0, 1, tc.o.Epsilon, tc.o.Delta)
				want = minCell - 1 + sigma*normalQuantile(1-MissRate)
			}
			if math.Abs(r.threshold-want) > 1e-6*want {
				t.Fatalf("threshold %g, want %g", r.threshold, want)
			}
			const n = 10_000
			released := 0
			for range n {
				res := applyWith(t, r, p, []map[string]any{{"sex": "F", "persons": minCell - 1}})
				if res.Meta.SuppressBelow != r.threshold {
					t.Fatalf("meta suppress_below %g, want %g", res.Meta.SuppressBelow, r.threshold)
				}
				if !res.Rows[0].Cells[1].Suppressed {
					released++
				}
			}
			rate := float64(released) / n
			if rate > MissRate+0.005 || rate < MissRate-0.005 {
				t.Errorf("a row of %d persons was released in %.2f%% of %d runs, want about %g%%", minCell-1, 100*rate, n, 100*MissRate)
			}
		})
	}
}

// applyWith applies a prepared release to rows laid out for p.
func applyWith(t *testing.T, r *Release, p *plan.Plan, rows []map[string]any) *result.Result {
	t.Helper()
	rr := reader(t, memory.NewGoAllocator(), batchFor(p, rows))
	defer rr.Release()
	res, err := r.Apply(context.Background(), rr)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// padded is h with zeros appended up to n buckets (the histograms reach
// past the caps).
func padded(h []int64, n int) []int64 {
	return append(h, make([]int64, max(n-len(h), 0))...)
}

// TestProfileIsPrivate is the empirical privacy test of bound selection:
// two profiles that differ by one person (one bucket of the groups
// histogram) lead to the chosen L0 with probabilities whose log-ratio
// stays within the histogram's share of ε (half the bound_selection
// share), over many runs. A profile read without noise, or noised at the
// wrong scale, makes the ratio far larger.
func TestProfileIsPrivate(t *testing.T) {
	p := testPlan([]plan.Key{codeKey}, []plan.Agg{personsAgg}, nil)
	o := &Options{Epsilon: 20, Delta: 1e-6, MinCellCount: 5, EstimateBounds: true, ProfileHistograms: 2}
	r, err := Prepare(p, o)
	if err != nil {
		t.Fatal(err)
	}
	epsHist := o.Epsilon * BoundsShare / 2 // 1
	pr := &plan.Profile{GroupsCap: 4, RowsCap: 1, Totals: true}
	sides := [2][]int64{padded([]int64{40, 10, 4, 0}, len(pr.GroupEdges())), padded([]int64{40, 10, 5, 0}, len(pr.GroupEdges()))}
	worst, a, b := empiricalEpsilon(t, func(side int) string {
		noisy := r.NoiseProfile(map[string][]int64{plan.ProfileGroups: sides[side], plan.ProfileRows: {54}})
		c := bounds.Choose(pr, noisy[plan.ProfileGroups], noisy[plan.ProfileRows], func(int, int) float64 { return 1 })
		return fmt.Sprint(c.L0)
	})
	t.Logf("outcomes %v vs %v; worst |log ratio| %.3f, ε of the histogram %g", a, b, worst, epsHist)
	if worst > epsHist+0.1 {
		t.Errorf("empirical ε %.3f exceeds the histogram's %g", worst, epsHist)
	}
	if len(a) < 2 {
		t.Errorf("the choice never varied (%v): the test says nothing", a)
	}
}

// TestValuesChoiceIsPrivate is the empirical privacy test of the choice of
// values per person for means, quantiles and spreads: two rows histograms
// that differ by one person (one bucket) lead to the chosen number with
// probabilities whose log-ratio stays within the histogram's share of ε,
// over many runs; a histogram read without noise would make some outcome
// certain on one side and impossible on the other.
func TestValuesChoiceIsPrivate(t *testing.T) {
	p := testPlan([]plan.Key{codeKey}, []plan.Agg{personsAgg}, nil)
	o := &Options{Epsilon: 20, Delta: 1e-6, MinCellCount: 5, EstimateBounds: true, ProfileHistograms: 2}
	r, err := Prepare(p, o)
	if err != nil {
		t.Fatal(err)
	}
	epsHist := o.Epsilon * BoundsShare / 2 // 1
	pr := &plan.Profile{GroupsCap: 1, RowsCap: 4, Groups: 1, Rows: true, ValueAggs: true}
	sides := [2][]int64{padded([]int64{6, 2, 2, 0}, len(pr.RowEdges())), padded([]int64{6, 2, 3, 0}, len(pr.RowEdges()))}
	// A noise that makes the choice turn on the few persons with 3 rows.
	vsd := func(_ int, m int) float64 { return 0.6 * float64(m) }
	worst, a, b := empiricalEpsilon(t, func(side int) string {
		noisy := r.NoiseProfile(map[string][]int64{plan.ProfileGroups: {10}, plan.ProfileRows: sides[side]})
		m, _ := bounds.ChooseValues(pr, noisy[plan.ProfileRows], 1, vsd)
		return fmt.Sprint(m)
	})
	t.Logf("outcomes %v vs %v; worst |log ratio| %.3f, ε of the histogram %g", a, b, worst, epsHist)
	if worst > epsHist+0.1 {
		t.Errorf("empirical ε %.3f exceeds the histogram's %g", worst, epsHist)
	}
	if len(a) < 2 {
		t.Errorf("the choice never varied (%v): the test says nothing", a)
	}
}

func TestFamilyCutoff(t *testing.T) {
	for _, n := range []int{1, 8, 24, 40} {
		c := familyCutoff(n)
		// Pure Laplace noise of sd 1 reaches c in some bucket of n with
		// probability 1 − (1 − e^{−c√2}/2)^n, at most ProfileFalseBuckets
		// (or the 2 σ floor's for short histograms).
		p := 1 - math.Pow(1-math.Exp(-c*math.Sqrt2)/2, float64(n))
		if c < ProfileCutoff || (c > ProfileCutoff && math.Abs(p-ProfileFalseBuckets) > 0.003) {
			t.Errorf("%d buckets: cutoff %.2f σ, false bucket probability %.4f", n, c, p)
		}
	}
}

func TestPoolUnseen(t *testing.T) {
	raw := []float64{900, 300, 40, -30, 50, 20, 500, -80, 10}
	got := poolUnseen(raw, 50, 100, nil, false)
	want := []float64{900, 300, 80 * 40 / 110.0, 0, 80 * 50 / 110.0, 80 * 20 / 110.0, 500, 0, 0}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Errorf("pooled %v, want %v: each run under the cutoff keeps its sum (0 if negative), shared as its positive counts", got, want)
			break
		}
	}
	var in, out float64
	for i := range raw[:6] {
		in, out = in+raw[i], out+got[i]
	}
	if math.Abs(in-out) > 1e-9 {
		t.Errorf("the persons of the first six buckets went from %g to %g", in, out)
	}
}

// TestNoiseProfileSeesAThinTail: a tail of persons spread thinly over
// many buckets, each under the noise, is seen in the pooled sum (on
// average the persons it holds), where reading each bucket alone against
// the cutoff saw none; and pure noise past it shows no phantom bucket far
// out in more than about ProfileFalseBuckets of the draws.
func TestNoiseProfileSeesAThinTail(t *testing.T) {
	r := profileRelease(t, 2) // ε 1 per histogram: Laplace sd √2
	const n = 24
	exact := make([]int64, n)
	exact[0], exact[1] = 1000, 300
	for j := 2; j < 12; j++ {
		exact[j] = 2 // 20 persons, each bucket under 2 σ (2.8)
	}
	var tail float64
	phantoms := 0
	const runs = 4000
	for range runs {
		h := r.NoiseProfile(map[string][]int64{plan.ProfileRows: exact})[plan.ProfileRows]
		for _, v := range h[2:] {
			tail += v
		}
		for _, v := range h[12:] {
			if v > 0 && v >= familyCutoff(n)*math.Sqrt2 {
				phantoms++
				break
			}
		}
	}
	// The pooled run from bucket 2 on holds the 20 persons and the noise
	// of 22 buckets (sd √2·√22 ≈ 6.6; a negative sum reads 0): about 20.
	if mean := tail / runs; mean < 18 || mean > 23 {
		t.Errorf("the thin tail holds %.1f persons on average, want about 20", mean)
	}
	if p := float64(phantoms) / runs; p > 2*ProfileFalseBuckets {
		t.Errorf("a bucket past the tail counted on its own in %.1f%% of the draws", 100*p)
	}
}

// TestSpreadTail: a tail pooled under the noise is spread over its
// buckets as a power law continuing the two buckets before it, keeping
// its persons; the rows it stands for come close to a true power-law
// tail's, where held in its first bucket they were a fraction.
func TestSpreadTail(t *testing.T) {
	edges := plan.Edges(120)
	// Persons by their most rows: 20,000 · v^-3.4 for v = 1…120.
	exact := make([]float64, len(edges))
	for v := 1; v <= 120; v++ {
		j := sort.SearchInts(edges, v+1) - 1
		exact[j] += 20_000 * math.Pow(float64(v), -3.4)
	}
	// Buckets 0–4 (1–5 rows) are seen; the rest is one run.
	const j = 5
	var tail float64
	for _, n := range exact[j:] {
		tail += n
	}
	h := append(slices.Clone(exact[:j]), make([]float64, len(edges)-j)...)
	h[j] = tail
	rowsBeyond := func(h []float64, m float64) float64 {
		var c float64
		for i, n := range h {
			r := float64(edges[i])
			if i+1 < len(edges) {
				r = float64(edges[i]+edges[i+1]-1) / 2
			}
			c += math.Max(r-m, 0) * n
		}
		return c
	}
	first := rowsBeyond(h, 5)
	spreadTail(h, edges, j)
	var kept float64
	for _, n := range h[j:] {
		kept += n
	}
	if math.Abs(kept-tail) > 1e-6*tail {
		t.Errorf("the tail held %g persons, spread %g", tail, kept)
	}
	for i := j + 1; i+1 < len(h); i++ { // per unit of width (the last bucket has none)
		if h[i]/float64(edges[i+1]-edges[i]) > h[i-1]/float64(edges[i]-edges[i-1])+1e-9 {
			t.Errorf("density rises at bucket %d: %v", i, h[j:])
			break
		}
	}
	want, got := rowsBeyond(exact, 5), rowsBeyond(h, 5)
	t.Logf("rows past 5: exact %.0f, spread %.0f, in the first bucket %.0f", want, got, first)
	if got < 0.6*want || got > 1.6*want {
		t.Errorf("spread tail stands for %.0f rows past 5, want about %.0f", got, want)
	}
	if first > 0.5*want {
		t.Errorf("the case does not need spreading: the first bucket alone holds %.0f of %.0f", first, want)
	}
}

// TestNoiseProfileNoPhantomTail: a small query's rows histogram, its
// first bucket seen and the rest under the noise (persons with 1, 2, 3
// and 4 rows at 4.4, 1, 0.14 and 0.04 noise sds, the contacts of 311
// patients at ε 0.5): the run after the first bucket holds a few persons
// and the noise of twenty buckets. In the cautious reading, spread in
// proportion to its buckets' noisy counts, it puts phantom persons with
// dozens of rows far out, and the chooser takes L∞ 30 (noise ×10) in
// about half the queries; in the likely reading, spread as a steep tail
// from its start, the choice stays at the few rows the persons have, and
// the cautious reading still says what those bounds may cut.
func TestNoiseProfileNoPhantomTail(t *testing.T) {
	pr := &plan.Profile{GroupsCap: 1, RowsCap: 30, Groups: 3, Rows: true, Totals: true}
	p := testPlan([]plan.Key{codeKey}, []plan.Agg{personsAgg}, nil)
	p.Profile = pr   // its edges: tails are spread only with them
	const eps = 0.05 // each histogram's: Laplace sd 28.3
	r, err := Prepare(p, &Options{Epsilon: 2 * eps / BoundsShare, Delta: 1e-6, MinCellCount: 5, EstimateBounds: true, ProfileHistograms: 2})
	if err != nil {
		t.Fatal(err)
	}
	rows := padded([]int64{123, 28, 4, 1}, len(pr.RowEdges()))
	sd := func(l0, m int) float64 { return 7 * float64(l0*m) } // a count's Laplace noise at ε 0.2
	const runs = 2000
	var far, cautiousFar int
	var cautiousCut, likelyCut float64
	chosen := make([]int, 0, runs)
	for range runs {
		noisy := r.NoiseProfile(map[string][]int64{plan.ProfileGroups: {156}, plan.ProfileRows: slices.Clone(rows)})
		c := bounds.Choose(pr, noisy[plan.ProfileLikely+plan.ProfileGroups], noisy[plan.ProfileLikely+plan.ProfileRows], sd)
		chosen = append(chosen, c.LInf)
		if c.LInf >= 10 {
			far++
		}
		if bounds.Choose(pr, noisy[plan.ProfileGroups], noisy[plan.ProfileRows], sd).LInf >= 10 {
			cautiousFar++
		}
		_, cr := bounds.Cuts(pr, noisy[plan.ProfileGroups], noisy[plan.ProfileRows], 1, c.LInf)
		cautiousCut += cr
		likelyCut += c.CutRows
	}
	slices.Sort(chosen)
	t.Logf("likely reading: L∞ p10 %d, median %d, p90 %d, ≥ 10 in %d of %d; cautious: ≥ 10 in %d; mean cut at the chosen bounds, likely %.3f, cautious %.3f",
		chosen[runs/10], chosen[runs/2], chosen[9*runs/10], far, runs, cautiousFar, likelyCut/runs, cautiousCut/runs)
	// What remains is ProfileFalseBuckets' share: a bucket of noise far
	// out seen on its own.
	if float64(far) > 2*ProfileFalseBuckets*runs {
		t.Errorf("L∞ of 10 or more (nobody has more than 4 rows) in %d of %d queries", far, runs)
	}
	if m := chosen[runs/2]; m > 4 {
		t.Errorf("median L∞ %d, want at most 4", m)
	}
	if cautiousFar < runs/4 {
		t.Errorf("the cautious reading chose L∞ ≥ 10 in only %d of %d: the case does not show the phantom tail", cautiousFar, runs)
	}
	if cautiousCut <= likelyCut {
		t.Errorf("the cautious reading's cut (%.1f) is not above the likely one's (%.1f): it cannot widen the intervals", cautiousCut, likelyCut)
	}
}

// TestLikelyReadingKeepsARunFromTheStart: with no bucket seen before a
// run, the likely reading is the cautious one (persons with 4–7 rows a
// year, every bucket under the noise: spread steeply from the first
// bucket they would all have had one); the first bucket counts on its
// own at ProfileCutoff there, and a tail after it reads steeply.
func TestLikelyReadingKeepsARunFromTheStart(t *testing.T) {
	raw := []float64{40, 30, 60, 150, 110, 90, 70, 0, -20, 10}
	edges := plan.Edges(12) // 1…8, 10, 12: one edge a bucket
	if len(edges) != len(raw) {
		t.Fatalf("edges %v for %d buckets", edges, len(raw))
	}
	cautious, likely := poolUnseen(raw, 50, 300, edges, false), poolUnseen(raw, 50, 300, edges, true)
	if !slices.Equal(cautious, likely) {
		t.Errorf("a run from the first bucket read %v likely, %v cautiously", likely, cautious)
	}
	// After a bucket that was seen, a tail the noise could have made
	// reads steeply.
	raw = []float64{900, 30, 20, 40, -10, 25, 0, -20, 10, 5}
	cautious, likely = poolUnseen(raw, 50, 300, edges, false), poolUnseen(raw, 50, 300, edges, true)
	if slices.Equal(cautious, likely) || likely[1] <= cautious[1] {
		t.Errorf("a tail after a seen bucket read %v likely, %v cautiously: want more persons at its start", likely, cautious)
	}
	// A tail whose persons past its first bucket are more than the noise
	// makes (2 sd·√8 = 283) is where its noisy counts say in both.
	raw = []float64{900, 30, 20, 40, 150, 160, 170, 140, 10, 5}
	if cautious, likely = poolUnseen(raw, 50, 300, edges, false), poolUnseen(raw, 50, 300, edges, true); !slices.Equal(cautious, likely) {
		t.Errorf("a significant tail read %v likely, %v cautiously: want its noisy counts in both", likely, cautious)
	}
	// Only the likely reading sees the first bucket at ProfileCutoff
	// (2 sd = 100) rather than the family cutoff (300).
	raw = []float64{150, 20, 10, 0, 5, -5, 0, 0, 0, 0}
	cautious, likely = poolUnseen(raw, 50, 300, edges, false), poolUnseen(raw, 50, 300, edges, true)
	if likely[0] != 150 || cautious[0] == 150 {
		t.Errorf("a first bucket at 3 sd read %v likely, %v cautiously: want it seen in the likely reading only", likely[0], cautious[0])
	}
}
