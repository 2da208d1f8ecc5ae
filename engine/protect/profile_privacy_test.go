package protect

import (
	"fmt"
	"math"
	"testing"

	"github.com/statgate/statgate/engine/bounds"
	"github.com/statgate/statgate/engine/plan"
)

// The empirical privacy tests of each step that reads the noisy
// contribution profile, each on its own (TestProfileIsPrivate and
// TestValuesChoiceIsPrivate test the L0 choice and the values per person):
// the L∞ choice, the value clamps and the truncation estimate that widens
// the intervals. Each runs NoiseProfile and the step many times on two
// profiles that differ by one person and checks that no outcome is more
// likely on one side than e^ε times the other, ε being the share of the
// histograms that person is in (the bound_selection share divided among
// the profile's histograms). The exact profiles are chosen so that the
// outcome turns on the person: a step that read an exact count, or noised
// at too small a scale, would show a far larger ratio.

// profileRuns is how many times each side of a neighbouring pair is run.
const profileRuns = 40_000

// empiricalEpsilon runs outcome n times on each of two inputs and returns
// the largest |log ratio| of an outcome's frequencies over outcomes seen
// at least 2 % of the time on both sides, and the outcomes of both sides.
// Fewer than two such outcomes fail the test: it would say nothing.
func empiricalEpsilon(t *testing.T, outcome func(side int) string) (float64, map[string]int, map[string]int) {
	t.Helper()
	a, b := map[string]int{}, map[string]int{}
	for range profileRuns {
		a[outcome(0)]++
		b[outcome(1)]++
	}
	worst, compared := 0.0, 0
	for o, na := range a {
		pa, pb := float64(na)/profileRuns, float64(b[o])/profileRuns
		if pa < 0.02 || pb < 0.02 {
			continue // too rare to estimate
		}
		compared++
		worst = math.Max(worst, math.Abs(math.Log(pa/pb)))
	}
	if compared < 2 {
		t.Errorf("only %d outcomes are frequent enough to compare (%v vs %v): the test says nothing", compared, a, b)
	}
	return worst, a, b
}

// profileRelease is a release whose profile histograms each get ε 1 (of
// the bound_selection share, BoundsShare of Epsilon, divided among hists).
func profileRelease(t *testing.T, hists int) *Release {
	t.Helper()
	p := testPlan([]plan.Key{codeKey}, []plan.Agg{personsAgg}, nil)
	o := &Options{Epsilon: float64(hists) / BoundsShare, Delta: 1e-6, MinCellCount: 5, EstimateBounds: true, ProfileHistograms: hists}
	r, err := Prepare(p, o)
	if err != nil {
		t.Fatal(err)
	}
	if e := r.profileEpsilon(); math.Abs(e-1) > 1e-9 {
		t.Fatalf("each histogram's ε is %g, want 1", e)
	}
	return r
}

// TestRowsChoiceIsPrivate: the L∞ the chooser takes from the rows
// histogram (public number of groups: the least expected error among the
// bounds cutting at most MaxBias) on two histograms one person apart.
func TestRowsChoiceIsPrivate(t *testing.T) {
	r := profileRelease(t, 2)
	pr := &plan.Profile{GroupsCap: 1, RowsCap: 4, Groups: 1, Rows: true, Totals: true}
	// 60 persons with one row, 3 (or 4) with 3: whether L∞ 2 cuts too
	// much depends on whether the bucket of 3 is seen.
	n := len(pr.RowEdges())
	sides := [2][]int64{padded([]int64{60, 0, 3}, n), padded([]int64{60, 0, 4}, n)}
	sd := func(_, m int) float64 { return 0.03 * 63 * float64(m) } // 3 % of the rows per row per person
	worst, a, b := empiricalEpsilon(t, func(side int) string {
		noisy := r.NoiseProfile(map[string][]int64{plan.ProfileGroups: {63}, plan.ProfileRows: sides[side]})
		c := bounds.Choose(pr, noisy[plan.ProfileGroups], noisy[plan.ProfileRows], sd)
		return fmt.Sprint(c.LInf)
	})
	t.Logf("L∞ chosen %v vs %v; worst |log ratio| %.3f, ε of the rows histogram 1", a, b, worst)
	if worst > 1.1 {
		t.Errorf("empirical ε %.3f exceeds the rows histogram's 1", worst)
	}
	if len(a) < 2 {
		t.Errorf("the choice never varied (%v): the test says nothing", a)
	}
}

// TestClampsArePrivate: the narrowed clamp of a column from its two value
// histograms (smallest and largest value per person), read as for a
// quantile (the tail zeroed) and as for a mean (the tail pooled and
// spread, valueReading). The one person who differs is in one bucket of
// each, so the bound is their two ε.
func TestClampsArePrivate(t *testing.T) {
	for _, biased := range []bool{false, true} {
		t.Run(fmt.Sprintf("biased=%v", biased), func(t *testing.T) {
			r := profileRelease(t, 4)
			pr := &plan.Profile{Values: []plan.ValueProfile{{Column: "los", Lo: 0, Hi: 8, Buckets: 8, Biased: biased}}}
			r.plan.Profile = pr
			lo := func(extra int64) []int64 {
				h := make([]int64, 8)
				h[1], h[6] = 2000, 5+extra
				return h
			}
			hi := func(extra int64) []int64 {
				h := make([]int64, 8)
				h[2], h[6] = 2000, 5+extra
				return h
			}
			sides := [2]map[string][]int64{
				{plan.ProfileLow + "los": lo(0), plan.ProfileHigh + "los": hi(0)},
				{plan.ProfileLow + "los": lo(1), plan.ProfileHigh + "los": hi(1)}, // one more person, all values in [6, 7)
			}
			worst, a, b := empiricalEpsilon(t, func(side int) string {
				return fmt.Sprint(bounds.Clamps(pr, r.NoiseProfile(sides[side]))["los"])
			})
			t.Logf("clamps %v vs %v; worst |log ratio| %.3f, ε of the two histograms 2", a, b, worst)
			if worst > 2.1 {
				t.Errorf("empirical ε %.3f exceeds the two value histograms' 2", worst)
			}
			if len(a) < 2 {
				t.Errorf("the clamp never varied (%v): the test says nothing", a)
			}
		})
	}
}

// TestTruncationEstimateIsPrivate: the estimated shares of pairs and rows
// the bounds cut (released in meta.bounding.truncated, and widening every
// count's and sum's interval), in bins of 0.05, from the groups and rows
// histograms; the person who differs is in one bucket of each.
func TestTruncationEstimateIsPrivate(t *testing.T) {
	r := profileRelease(t, 2)
	pr := &plan.Profile{GroupsCap: 4, RowsCap: 4, Rows: true, Totals: true} // partition selection
	g, m := len(pr.GroupEdges()), len(pr.RowEdges())
	// A few persons past both caps: what the caps cut turns on them.
	sides := [2][2][]int64{
		{padded([]int64{300, 40, 0, 0, 0, 0, 0, 0, 0, 6}, g), padded([]int64{300, 40, 0, 0, 0, 0, 0, 0, 0, 6}, m)},
		{padded([]int64{300, 40, 0, 0, 0, 0, 0, 0, 0, 7}, g), padded([]int64{300, 40, 0, 0, 0, 0, 0, 0, 0, 7}, m)},
	}
	worst, a, b := empiricalEpsilon(t, func(side int) string {
		noisy := r.NoiseProfile(map[string][]int64{plan.ProfileGroups: sides[side][0], plan.ProfileRows: sides[side][1]})
		c := bounds.Choose(pr, noisy[plan.ProfileGroups], noisy[plan.ProfileRows], func(int, int) float64 { return 1 })
		return fmt.Sprintf("%.2f %.2f", math.Round(c.CutPairs/0.05)*0.05, math.Round(c.CutRows/0.05)*0.05)
	})
	t.Logf("cut shares %v vs %v; worst |log ratio| %.3f, ε of the two histograms 2", a, b, worst)
	if worst > 2.1 {
		t.Errorf("empirical ε %.3f exceeds the two histograms' 2", worst)
	}
	if len(a) < 3 {
		t.Errorf("the estimate never varied (%v): the test says nothing", a)
	}
}

// TestPooledTailIsPrivate: the truncation estimate when the tail of the
// rows histogram lies under the noise and NoiseProfile pools it (each run
// of buckets under the cutoff keeps its noisy sum, shared among its
// buckets or, the tail's, spread by spreadTail): the person who differs is in one bucket of that run, so
// the pooled sum moves by one and the bound is still the two histograms'
// ε.
func TestPooledTailIsPrivate(t *testing.T) {
	for _, spread := range []bool{true, false} {
		t.Run(fmt.Sprintf("tail spread %v", spread), func(t *testing.T) { pooledTailIsPrivate(t, spread) })
	}
}

// pooledTailIsPrivate is TestPooledTailIsPrivate with the tail spread by
// spreadTail (the plan's profile gives the edges) or shared as its
// positive noisy counts are (no edges).
func pooledTailIsPrivate(t *testing.T, spread bool) {
	r := profileRelease(t, 2)
	pr := &plan.Profile{GroupsCap: 2, RowsCap: 8, Groups: 2, Rows: true, Totals: true}
	if spread {
		r.plan.Profile = pr
	}
	g, m := len(pr.GroupEdges()), len(pr.RowEdges())
	// One person per bucket past 3 rows, each under the cutoff; the
	// neighbour has a second person with 12 rows.
	tail := func(extra int64) []int64 {
		h := padded([]int64{400, 100, 40}, m)
		for j := 3; j < m; j++ {
			h[j] = 1
		}
		h[10] += extra
		return h
	}
	sides := [2][2][]int64{{padded([]int64{500, 80}, g), tail(0)}, {padded([]int64{500, 81}, g), tail(1)}}
	cutoff := familyCutoff(m) * math.Sqrt2 / r.profileEpsilon()
	if cutoff < 2 {
		t.Fatalf("cutoff %g: the tail buckets would count on their own", cutoff)
	}
	worst, a, b := empiricalEpsilon(t, func(side int) string {
		noisy := r.NoiseProfile(map[string][]int64{plan.ProfileGroups: sides[side][0], plan.ProfileRows: sides[side][1]})
		c := bounds.Choose(pr, noisy[plan.ProfileGroups], noisy[plan.ProfileRows], func(_, m int) float64 { return float64(m) })
		return fmt.Sprintf("%d %.2f", c.LInf, math.Round(c.CutRows/0.02)*0.02)
	})
	t.Logf("L∞ and cut share %v vs %v; worst |log ratio| %.3f, ε of the two histograms 2", a, b, worst)
	if worst > 2.1 {
		t.Errorf("empirical ε %.3f exceeds the two histograms' 2", worst)
	}
	if len(a) < 3 {
		t.Errorf("the estimate never varied (%v): the test says nothing", a)
	}
}

// TestOneHistogramProfileGetsTheWholeShare: a profile of one histogram
// (one group per person, or only persons counted) is noised at the whole
// bound_selection share and charged exactly that, not half of it with the
// other half charged for nothing.
func TestOneHistogramProfileGetsTheWholeShare(t *testing.T) {
	if e := profileRelease(t, 1).profileEpsilon(); math.Abs(e-1) > 1e-9 {
		t.Fatalf("one histogram noised at ε %g, want its whole share 1", e)
	}
	p := testPlan([]plan.Key{codeKey}, []plan.Agg{personsAgg}, nil)
	rho := func(hists int) float64 {
		r, err := Prepare(p, &Options{Epsilon: 2 / BoundsShare, Delta: 1e-6, MinCellCount: 5, EstimateBounds: true, ProfileHistograms: hists})
		if err != nil {
			t.Fatal(err)
		}
		return r.Rho()
	}
	// Same share (ε 2) either way: one histogram at ε 2 is ρ 2, two at
	// ε 1 are ρ 1; everything else in the release is the same.
	if d := rho(1) - rho(2); math.Abs(d-1) > 1e-9 {
		t.Errorf("ρ of one histogram minus ρ of two at the same share is %g, want 1 (2²/2 − 2·1²/2)", d)
	}
}

// TestLikelyChoiceIsPrivate: the engine's choice from the likely reading
// of the rows histogram, with the intervals' widening from the cautious
// one (L∞ and the widened share, to a tenth), on two histograms one
// person apart, in the case where the likely reading differs: a first
// bucket seen and a tail the noise could have made (the plan's profile
// gives the edges the tails are spread with).
func TestLikelyChoiceIsPrivate(t *testing.T) {
	pr := &plan.Profile{GroupsCap: 1, RowsCap: 4, Groups: 1, Rows: true, Totals: true}
	p := testPlan([]plan.Key{codeKey}, []plan.Agg{personsAgg}, nil)
	p.Profile = pr
	r, err := Prepare(p, &Options{Epsilon: 2 / BoundsShare, Delta: 1e-6, MinCellCount: 5, EstimateBounds: true, ProfileHistograms: 2})
	if err != nil {
		t.Fatal(err)
	}
	n := len(pr.RowEdges())
	// 60 persons with one row and a tail under the noise (sd √2) whose
	// persons past its first bucket, 8 or 9, straddle the 2 sd·√10 = 8.9
	// at which the likely reading spreads it as the noisy counts fall
	// rather than steeply: read from the exact counts, the two sides
	// would choose L∞ 2 and 4.
	sides := [2][]int64{padded([]int64{60, 0, 3, 3, 2}, n), padded([]int64{60, 0, 3, 3, 3}, n)}
	sd := func(_, m int) float64 { return 0.03 * 63 * float64(m) }
	worst, a, b := empiricalEpsilon(t, func(side int) string {
		noisy := r.NoiseProfile(map[string][]int64{plan.ProfileGroups: {63}, plan.ProfileRows: sides[side]})
		c := bounds.Choose(pr, noisy[plan.ProfileLikely+plan.ProfileGroups], noisy[plan.ProfileLikely+plan.ProfileRows], sd)
		_, cr := bounds.Cuts(pr, noisy[plan.ProfileGroups], noisy[plan.ProfileRows], c.L0, c.LInf)
		return fmt.Sprintf("%d %.1f", c.LInf, math.Max(c.CutRows, cr))
	})
	t.Logf("outcomes %v vs %v; worst |log ratio| %.3f, ε of the rows histogram 1", a, b, worst)
	if worst > 1.1 {
		t.Errorf("empirical ε %.3f exceeds the rows histogram's 1", worst)
	}
}
