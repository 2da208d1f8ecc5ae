package protect

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/result"
)

var (
	sexKey  = plan.Key{Name: "sex", Type: query.TypeString, Domain: []any{"F", "M"}}
	yearKey = plan.Key{Name: "year", Type: query.TypeInteger, Domain: []any{int64(2020), int64(2021), int64(2022)}}
	codeKey = plan.Key{Name: "icd10", Type: query.TypeString} // no public domain
)

// spendsOf is the budget division Prepare makes for p under o.
func spendsOf(p *plan.Plan, o *Options) ([]result.Spend, error) {
	r, err := Prepare(p, o)
	if err != nil {
		return nil, err
	}
	return r.Spends(), nil
}

func TestSplit(t *testing.T) {
	persons := countAgg(query.AggCountDistinct, "persons")
	rows := countAgg(query.AggCountStar, "contacts")
	stay := plan.Agg{Kind: query.AggAvg, Name: "avg_stay", L0: 1, LInf: 1, NormLInf: 45, Bounds: [2]float64{0, 90}}
	tests := []struct {
		desc      string
		p         *plan.Plan
		o         Options
		purposes  []string
		wantDelta float64 // total δ spent
	}{
		{
			desc:     "public domain, laplace, count_persons reused for suppression",
			p:        testPlan([]plan.Key{sexKey, yearKey}, []plan.Agg{persons, rows}, nil),
			o:        Options{Epsilon: 1, Delta: 1e-6, MinCellCount: 5},
			purposes: []string{"persons", "contacts"},
		},
		{
			desc:     "public domain, laplace, extra persons count",
			p:        testPlan([]plan.Key{sexKey}, []plan.Agg{rows, stay}, nil),
			o:        Options{Epsilon: 0.7, MinCellCount: 5},
			purposes: []string{"contacts", "avg_stay", PurposePersons},
		},
		{
			desc:     "no suppression, no extra count",
			p:        testPlan([]plan.Key{sexKey}, []plan.Agg{rows, stay}, nil),
			o:        Options{Epsilon: 0.3},
			purposes: []string{"contacts", "avg_stay"},
		},
		{
			desc:      "selection takes all of delta under laplace",
			p:         testPlan([]plan.Key{codeKey, sexKey}, []plan.Agg{rows}, nil),
			o:         Options{Epsilon: 0.9, Delta: 3e-7, MinCellCount: 5},
			purposes:  []string{"contacts", PurposePersons, PurposeSelection},
			wantDelta: 3e-7,
		},
		{
			desc:      "gaussian: every part gets delta",
			p:         testPlan([]plan.Key{codeKey}, []plan.Agg{persons, rows, stay}, nil),
			o:         Options{Epsilon: 1.1, Delta: 1e-6, Mechanism: Gaussian, MinCellCount: 10},
			purposes:  []string{"persons", "contacts", "avg_stay", PurposeSelection},
			wantDelta: 1e-6,
		},
		{
			desc:      "grouping sets: the grand total needs no selection, the detail does",
			p:         testPlan([]plan.Key{codeKey}, []plan.Agg{rows}, [][]int{{0}, {}}),
			o:         Options{Epsilon: 0.1, Delta: 1e-9, MinCellCount: 5},
			purposes:  []string{"contacts", PurposePersons, PurposeSelection},
			wantDelta: 1e-9,
		},
		{
			desc:     "no keys",
			p:        testPlan(nil, []plan.Agg{rows}, nil),
			o:        Options{Epsilon: 0.3, MinCellCount: 5},
			purposes: []string{"contacts", PurposePersons},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := spendsOf(tc.p, &tc.o)
			if err != nil {
				t.Fatal(err)
			}
			var purposes []string
			var eps, delta float64
			for _, s := range got {
				purposes = append(purposes, s.Purpose)
				eps += s.Epsilon
				delta += s.Delta
				if s.Epsilon <= 0 {
					t.Errorf("%s: epsilon %g, want > 0", s.Purpose, s.Epsilon)
				}
				if tc.o.Mechanism != Gaussian && s.Purpose != PurposeSelection && s.Delta != 0 {
					t.Errorf("%s: laplace part spends delta %g", s.Purpose, s.Delta)
				}
			}
			if strings.Join(purposes, "|") != strings.Join(tc.purposes, "|") {
				t.Errorf("purposes %q, want %q", purposes, tc.purposes)
			}
			if eps != tc.o.Epsilon {
				t.Errorf("epsilon shares add up to %.17g, want exactly %.17g", eps, tc.o.Epsilon)
			}
			if delta != tc.wantDelta {
				t.Errorf("delta shares add up to %.17g, want exactly %.17g", delta, tc.wantDelta)
			}
		})
	}
}

// TestSplitSumsExactly checks the exact sum over awkward totals and many parts.
func TestSplitSumsExactly(t *testing.T) {
	for _, eps := range []float64{0.1, 1.0 / 3, 0.7, 2.3, 1e-3} {
		for n := 1; n <= 12; n++ {
			var aggs []plan.Agg
			for i := range n {
				aggs = append(aggs, countAgg(query.AggCountStar, "c"+string(rune('a'+i))))
			}
			got, err := spendsOf(testPlan([]plan.Key{codeKey}, aggs, nil), &Options{Epsilon: eps, Delta: 1.0 / 3 * 1e-6, Mechanism: Gaussian, MinCellCount: 3})
			if err != nil {
				t.Fatal(err)
			}
			var e, d float64
			for _, s := range got {
				e += s.Epsilon
				d += s.Delta
			}
			if e != eps || d != 1.0/3*1e-6 {
				t.Errorf("eps=%g n=%d: sums %.17g, %.17g", eps, n, e, d)
			}
		}
	}
}

func TestSplitRefuses(t *testing.T) {
	rows := countAgg(query.AggCountStar, "contacts")
	bigA := plan.Key{Name: "a", Type: query.TypeInteger, Domain: make([]any, 400)}
	bigB := plan.Key{Name: "b", Type: query.TypeInteger, Domain: make([]any, 400)}
	tests := []struct {
		desc     string
		p        *plan.Plan
		o        Options
		code     refusal.Code
		contains string
	}{
		{"no domain, no delta", testPlan([]plan.Key{sexKey, codeKey}, []plan.Agg{rows}, nil), Options{Epsilon: 1}, refusal.NeedsPublicDomain, `"icd10"`},
		{"no domain in a grouping set", testPlan([]plan.Key{sexKey, codeKey}, []plan.Agg{rows}, [][]int{{0, 1}, {0}, {}}), Options{Epsilon: 1, MinCellCount: 5}, refusal.NeedsPublicDomain, "delta_per_query"},
		{"too many groups", testPlan([]plan.Key{bigA, bigB}, []plan.Agg{rows}, nil), Options{Epsilon: 1}, refusal.TooManyGroups, "100000"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := spendsOf(tc.p, &tc.o)
			if !errors.Is(err, &refusal.Error{Code: tc.code}) {
				t.Fatalf("error %v, want refusal %s", err, tc.code)
			}
			r, _ := refusal.As(err)
			if !strings.Contains(r.Message, tc.contains) || r.Hint == "" {
				t.Errorf("refusal %q (hint %q) should mention %s and give a hint", r.Message, r.Hint, tc.contains)
			}
		})
	}
}

func TestSplitInvalidOptions(t *testing.T) {
	p := testPlan([]plan.Key{sexKey}, []plan.Agg{countAgg(query.AggCountStar, "n")}, nil)
	tests := []struct {
		desc string
		o    *Options
	}{
		{"nil", nil},
		{"zero epsilon", &Options{}},
		{"infinite epsilon", &Options{Epsilon: math.Inf(1)}},
		{"delta 1", &Options{Epsilon: 1, Delta: 1}},
		{"gaussian without delta", &Options{Epsilon: 1, Mechanism: Gaussian}},
		{"unknown mechanism", &Options{Epsilon: 1, Mechanism: "uniform"}},
		{"negative min cell", &Options{Epsilon: 1, MinCellCount: -1}},
		{"alpha 1", &Options{Epsilon: 1, Alpha: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := Prepare(p, tc.o)
			if err == nil {
				t.Fatal("no error")
			}
			if _, ok := refusal.As(err); ok {
				t.Errorf("%v is a refusal; a bad configuration is an internal error", err)
			}
		})
	}
	if _, err := Prepare(testPlan([]plan.Key{sexKey}, nil, [][]int{{0}, {0}}), &Options{Epsilon: 1}); err == nil {
		t.Error("repeated grouping set: no error")
	}
}
