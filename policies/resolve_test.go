package policies

import (
	"math"
	"testing"
)

func TestResolve(t *testing.T) {
	p, err := Load("norway-synthetic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	npr, pop, cancer := p.Datasets["npr"], p.Datasets["population"], p.Datasets["cancer"]
	tests := []struct {
		desc     string
		datasets []string
		edit     func()
		check    func(t *testing.T, e *Effective)
	}{
		{"one fact dataset", []string{"npr"}, nil, func(t *testing.T, e *Effective) {
			if e.MaxGroupsPerPerson != npr.MaxGroupsPerPerson || e.MaxRowsPerPersonPerGroup != npr.MaxRowsPerPersonPerGroup ||
				e.DeltaPerQuery != npr.DeltaPerQuery || e.Noise != "auto" || e.Epsilon != npr.Epsilon {
				t.Errorf("%+v", e)
			}
		}},
		{"population alone: bounds 1, its own δ", []string{"population"}, nil, func(t *testing.T, e *Effective) {
			if e.MaxGroupsPerPerson != 1 || e.MaxRowsPerPersonPerGroup != 1 || e.DeltaPerQuery != pop.DeltaPerQuery {
				t.Errorf("%+v", e)
			}
		}},
		{"a joined population does not tighten the fact's bounds or δ", []string{"npr", "population"}, nil, func(t *testing.T, e *Effective) {
			if e.MaxGroupsPerPerson != npr.MaxGroupsPerPerson || e.DeltaPerQuery != npr.DeltaPerQuery {
				t.Errorf("%+v", e)
			}
		}},
		{"gaussian wins when δ > 0", []string{"cancer", "population"}, nil, func(t *testing.T, e *Effective) {
			if e.Noise != "gaussian" || e.MaxGroupsPerPerson != cancer.MaxGroupsPerPerson {
				t.Errorf("%+v", e)
			}
		}},
		{"a pinned laplace stays laplace", []string{"lmr"}, func() { p.Datasets["lmr"].Noise = "laplace" }, func(t *testing.T, e *Effective) {
			if e.Noise != "laplace" {
				t.Errorf("noise %q, want laplace", e.Noise)
			}
		}},
		{"auto without δ is laplace", []string{"lmr"}, func() { p.Datasets["lmr"].DeltaPerQuery = 0 }, func(t *testing.T, e *Effective) {
			if e.Noise != "laplace" {
				t.Errorf("noise %q, want laplace", e.Noise)
			}
		}},
		{"auto joins a pinned laplace", []string{"npr", "lmr"}, func() { p.Datasets["lmr"].Noise = "laplace" }, func(t *testing.T, e *Effective) {
			if e.Noise != "auto" {
				t.Errorf("noise %q, want auto", e.Noise)
			}
		}},
		{"gaussian pinned wins over auto", []string{"cancer", "lmr"}, nil, func(t *testing.T, e *Effective) {
			if e.Noise != "gaussian" {
				t.Errorf("noise %q, want gaussian", e.Noise)
			}
		}},
		{"tightest of two facts, largest cell rules", []string{"npr", "lmr"}, func() {
			p.Datasets["lmr"].MinCellCount, p.Datasets["lmr"].RoundTo = 11, 10
			p.Datasets["lmr"].Epsilon = EpsilonRange{Min: 0.05, Default: 0.2, Max: 1}
		}, func(t *testing.T, e *Effective) {
			if e.MaxGroupsPerPerson != 4 || e.MaxRowsPerPersonPerGroup != 10 || e.MinCellCount != 11 || e.RoundTo != 10 {
				t.Errorf("%+v", e)
			}
			if e.Epsilon != (EpsilonRange{Min: 0.05, Default: 0.2, Max: 1}) || !e.EpsilonOK() {
				t.Errorf("epsilon %+v", e.Epsilon)
			}
		}},
		{"default moved into the range", []string{"npr", "lmr"}, func() {
			p.Datasets["lmr"].Epsilon = EpsilonRange{Min: 0.8, Default: 1, Max: 2}
		}, func(t *testing.T, e *Effective) {
			if e.Epsilon.Default != 0.8 {
				t.Errorf("default %g, want the largest minimum 0.8", e.Epsilon.Default)
			}
		}},
		{"ranges that do not overlap", []string{"npr", "lmr"}, func() {
			p.Datasets["lmr"].Epsilon = EpsilonRange{Min: 3, Default: 3, Max: 4}
		}, func(t *testing.T, e *Effective) {
			if e.EpsilonOK() {
				t.Errorf("epsilon %+v reported satisfiable", e.Epsilon)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			saved := *p.Datasets["lmr"]
			defer func() { *p.Datasets["lmr"] = saved }()
			if tc.edit != nil {
				tc.edit()
			}
			e, err := p.Resolve(tc.datasets)
			if err != nil {
				t.Fatal(err)
			}
			if e.Limits != p.Limits || math.IsInf(e.Epsilon.Max, 0) {
				t.Errorf("limits %+v, epsilon %+v", e.Limits, e.Epsilon)
			}
			tc.check(t, e)
		})
	}
	if _, err := p.Resolve(nil); err == nil {
		t.Error("Resolve(nil): no error")
	}
	if _, err := p.Resolve([]string{"nope"}); err == nil {
		t.Error("unknown dataset: no error")
	}
}
