package protect

import (
	"math"
	"testing"

	"github.com/statgate/statgate/engine/bounds"
	"github.com/statgate/statgate/engine/plan"
)

// valueRelease is a release whose value histograms (one column, two
// histograms) each get ε 0.5, a Laplace sd of 2.83 persons, with the
// column's profile biased or not (plan.ValueProfile.Biased).
func valueRelease(t *testing.T, biased bool) (*Release, *plan.Profile) {
	t.Helper()
	pr := &plan.Profile{Values: []plan.ValueProfile{{Column: "los", Lo: 0, Hi: 90, Buckets: 32, Biased: biased}}}
	p := testPlan([]plan.Key{codeKey}, []plan.Agg{personsAgg}, nil)
	p.Profile = pr
	r, err := Prepare(p, &Options{Epsilon: 1 / BoundsShare, Delta: 1e-6, MinCellCount: 5, EstimateBounds: true, ProfileHistograms: 2})
	if err != nil {
		t.Fatal(err)
	}
	if e := r.profileEpsilon(); math.Abs(e-0.5) > 1e-9 {
		t.Fatalf("each histogram's ε is %g, want 0.5", e)
	}
	return r, pr
}

// losLargest is persons by the bucket (2.8 days) of their longest
// inpatient stay in the 100,000-person synthetic registry, divided by 40:
// at ε 0.5 per histogram the ratio of noise to persons is that of the
// engine's profile there (ε 0.0125, sd 113). 19 of its 856 persons stay
// past 28 days, each of those buckets under the noise.
var losLargest = []int64{323, 264, 117, 59, 33, 14, 13, 8, 5, 4, 2, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}

// clampedShare is the share of the persons of hi whose largest value is
// beyond the upper clamp c (of a 32-bucket histogram over [0, 90]).
func clampedShare(hi []int64, c float64) float64 {
	var above, all int64
	for j, n := range hi {
		all += n
		if float64(j)*90/32 >= c-1e-9 {
			above += n
		}
	}
	return float64(above) / float64(all)
}

// TestValueReadingKeepsAThinTail: a skewed column's thin tail, every
// bucket of it under the noise, keeps the clamp of a mean out where the
// tail is, so it cuts few persons, where the zeroed tail (what a
// quantile-only column still reads) brought it down to the body and cut
// several times MaxClampedShare. And the smallest values' histogram,
// whose tail is at the low end, reads the same turned round.
func TestValueReadingKeepsAThinTail(t *testing.T) {
	const runs = 2000
	lo := make([]int64, 32)
	lo[0] = 856 // everyone's shortest stay is under 2.8 days
	share := map[bool]float64{}
	for _, biased := range []bool{false, true} {
		r, pr := valueRelease(t, biased)
		var sum float64
		for range runs {
			noisy := r.NoiseProfile(map[string][]int64{plan.ProfileLow + "los": lo, plan.ProfileHigh + "los": losLargest})
			c, ok := bounds.Clamps(pr, noisy)["los"]
			if !ok {
				c = [2]float64{0, 90}
			}
			sum += clampedShare(losLargest, c[1])
		}
		share[biased] = sum / runs
	}
	t.Logf("persons beyond the upper clamp: %.2f%% (zeroed tail), %.2f%% (read for a mean)", 100*share[false], 100*share[true])
	if share[false] < 0.015 {
		t.Errorf("the zeroed tail clamps %.2f%% of the persons; the case should show it cutting over 1.5%%", 100*share[false])
	}
	if share[true] > 0.008 || share[true] > share[false]/2.5 {
		t.Errorf("read for a mean, the clamp cuts %.2f%% of the persons, want under 0.8%% and under 1/2.5 of the zeroed tail's %.2f%%", 100*share[true], 100*share[false])
	}

	// Turned round: the same tail at the low end of the smallest values.
	r, _ := valueRelease(t, true)
	rev := make([]int64, 32)
	for j, n := range losLargest {
		rev[31-j] = n
	}
	var mass float64
	for range runs {
		h := r.NoiseProfile(map[string][]int64{plan.ProfileLow + "los": rev, plan.ProfileHigh + "los": lo})[plan.ProfileLow+"los"]
		for _, v := range h[:31-9] { // the buckets of the 19 persons beyond 28 days, and more
			mass += v
		}
	}
	if m := mass / runs; m < 5 {
		t.Errorf("the low tail of the smallest values holds %.1f persons on average, want it seen (19 are there)", m)
	}
}

// TestValueReadingNarrowsPastNoise: a column whose persons all lie in the
// first buckets still gets a narrow clamp when its clamp biases a mean:
// the empty buckets beyond hold noise alone, which sums to about nothing
// or is spread steeply from the body's end.
func TestValueReadingNarrowsPastNoise(t *testing.T) {
	const runs = 2000
	hi := make([]int64, 32)
	copy(hi, []int64{300, 250, 120, 40})
	lo := make([]int64, 32)
	lo[0] = 710
	r, pr := valueRelease(t, true)
	narrow := 0
	edges := map[int]int{}
	for range runs {
		c, ok := bounds.Clamps(pr, r.NoiseProfile(map[string][]int64{plan.ProfileLow + "los": lo, plan.ProfileHigh + "los": hi}))["los"]
		if !ok {
			c = [2]float64{0, 90}
		}
		edges[int(math.Round(c[1]*32/90))]++
		if c[1] <= 9*90.0/32+1e-9 {
			narrow++
		}
	}
	t.Logf("upper clamp, in buckets: %v", edges)
	// The body ends at bucket 4 (11.25 days); the clamp's margin is one
	// bucket, and the noise spread steeply from there adds up to four
	// more when its sum is positive (about half the draws).
	if p := float64(narrow) / runs; p < 0.9 {
		t.Errorf("the clamp narrowed to 9 buckets (25.3 days) or less in %.1f%% of the draws, want at least 90%%", 100*p)
	}
}
