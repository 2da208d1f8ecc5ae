package protect

import (
	"math"
	"testing"

	"github.com/google/differential-privacy/go/v3/noise"
	"github.com/statgate/statgate/engine/plan"
)

// TestReleaseRho: a query's ρ is the sum over its mechanisms: for a
// Gaussian, 1/(2σ²) of the σ the library calibrates at sensitivity 1
// (with the library's 0.1 % slack, never less); for Laplace ε²/2 of every
// share; partition selection adds ε²/2 and keeps its δ apart.
func TestReleaseRho(t *testing.T) {
	gaussRho := func(eps, delta float64) float64 {
		s := noise.SigmaForGaussian(1, 1, eps, delta)
		return 1 / (2 * s * s)
	}
	tests := []struct {
		desc       string
		p          *plan.Plan
		o          Options
		rho, zdel  float64
		maxRelSlop float64
	}{
		{"Gaussian count, persons reused", testPlan(nil, []plan.Agg{personsAgg}, nil),
			Options{Epsilon: 0.06, Delta: 1e-7, Mechanism: Gaussian, MinCellCount: 5}, gaussRho(0.06, 1e-7), 0, 0.0021},
		{"Laplace count and persons", testPlan([]plan.Key{sexKey, yearKey}, []plan.Agg{contactsAgg}, nil),
			Options{Epsilon: 1, MinCellCount: 5}, 2 * 0.5 * 0.5 / 2, 0, 1e-12},
		{"Laplace avg: two halves", testPlan(nil, []plan.Agg{stayAvg}, nil),
			Options{Epsilon: 1}, 2 * 0.5 * 0.5 / 2, 0, 1e-12},
		{"Laplace variance: three thirds", testPlan(nil, []plan.Agg{stayVar}, nil),
			Options{Epsilon: 0.9}, 3 * 0.3 * 0.3 / 2, 0, 1e-12},
		{"Laplace median: tree, count, histogram", testPlan(nil, []plan.Agg{stayMedian}, nil),
			Options{Epsilon: 1}, (0.75*0.75 + 2*0.125*0.125) / 2, 0, 1e-12},
		{"Laplace median and p90 of one column: one tree at the summed share", testPlan(nil, []plan.Agg{sharedQ("stay_median", 0.5), sharedQ("stay_p90", 0.9)}, nil),
			Options{Epsilon: 2}, (1.5*1.5 + 4*0.125*0.125) / 2, 0, 1e-12},
		{"Gaussian count with selection", testPlan([]plan.Key{codeKey}, []plan.Agg{personsAgg}, nil),
			Options{Epsilon: 1, Delta: 1e-6, Mechanism: Gaussian, MinCellCount: 5},
			gaussRho(0.5, 0.5e-6) + 0.5*0.5/2, 0.5e-6, 0.0021},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			r, err := Prepare(tc.p, &tc.o)
			if err != nil {
				t.Fatal(err)
			}
			got := r.Rho()
			if got < tc.rho*(1-1e-12) || got > tc.rho*(1+tc.maxRelSlop) {
				t.Errorf("ρ %g, want %g (up to %g relative above)", got, tc.rho, tc.maxRelSlop)
			}
			if math.Abs(r.ZDelta()-tc.zdel) > 1e-18 {
				t.Errorf("zCDP δ %g, want %g", r.ZDelta(), tc.zdel)
			}
			// A query's ρ never exceeds its ε spent as one pure-ε mechanism.
			if tc.o.Mechanism != Gaussian && got > tc.o.Epsilon*tc.o.Epsilon/2 {
				t.Errorf("ρ %g above ε²/2", got)
			}
		})
	}
}

// sharedQ is a quantile of stay that reads the same values as every other
// sharedQ, so that they share one tree.
func sharedQ(name string, p float64) plan.Agg {
	a := stayMedian
	a.Name, a.P, a.Values = name, p, "stay"
	return a
}
