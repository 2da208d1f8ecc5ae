package protect

import (
	"context"
	"errors"
	"math"
	"regexp"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
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
	if !ok || r.Code != "epsilon_too_small" {
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
	if !errors.As(err, &r) || r.Kind != refusal.KindQuery {
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
