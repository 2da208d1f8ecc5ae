package protect

import (
	"testing"

	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

func TestOptionsFor(t *testing.T) {
	eff := &policies.Effective{Datasets: []string{"npr"}, Epsilon: policies.EpsilonRange{Min: 0.01, Default: 0.5, Max: 2},
		DeltaPerQuery: 1e-7, Noise: Gaussian, MinCellCount: 5, RoundTo: 5}
	tests := []struct {
		desc    string
		eps     float64
		pinned  bool
		eff     *policies.Effective
		want    float64
		refusal string
	}{
		{"default", 0, false, eff, 0.5, ""},
		{"asked within the range", 1.5, false, eff, 1.5, ""},
		{"at the minimum", 0.01, false, eff, 0.01, ""},
		{"above the maximum", 2.5, false, eff, 0, "epsilon_too_large"},
		{"below the minimum", 0.001, false, eff, 0, "epsilon_too_small"},
		{"a template's pinned ε", 3, true, eff, 3, ""},
		{"no ε satisfies every dataset", 0, false, &policies.Effective{Epsilon: policies.EpsilonRange{Min: 1, Default: 1, Max: 0.5}}, 0, "epsilon_range_empty"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			o, err := OptionsFor(tc.eff, tc.eps, tc.pinned)
			if tc.refusal != "" {
				if r, ok := refusal.As(err); !ok || r.Code.String() != tc.refusal {
					t.Fatalf("%v, want refusal %s", err, tc.refusal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Epsilon != tc.want || o.Delta != 1e-7 || o.Mechanism != Gaussian || o.MinCellCount != 5 || o.RoundTo != 5 {
				t.Errorf("options %+v", o)
			}
		})
	}
}
