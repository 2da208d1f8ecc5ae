package bounds

import (
	"math"
	"testing"

	"github.com/statgate/statgate/engine/plan"
)

// hist builds a histogram of cap buckets from bucket → persons.
func hist(cap int, m map[int]float64) []float64 {
	h := make([]float64, cap)
	for b, n := range m {
		h[b-1] = n
	}
	return h
}

// laplaceSD is the noise sd of a count at ε 0.4.
func laplaceSD(l0, lInf int) float64 { return math.Sqrt2 * float64(l0*lInf) / 0.4 }

func TestChoose(t *testing.T) {
	tests := []struct {
		desc         string
		pr           plan.Profile
		groups, rows map[int]float64
		wantL0       int
		wantLInf     int
		maxCutPairs  float64
	}{
		{"a 15-year series where everyone has every year keeps all 15",
			plan.Profile{GroupsCap: 24, RowsCap: 20, Groups: 15},
			map[int]float64{15: 20_000}, map[int]float64{1: 20_000}, 15, 0, 0},
		{"hospitals: most persons in one or two keep L0 small",
			plan.Profile{GroupsCap: 24, RowsCap: 20, Groups: 10},
			map[int]float64{1: 60_000, 2: 8_000, 3: 500, 4: 20}, map[int]float64{1: 68_520}, 3, 0, 0.01},
		{"row counts: with this much data nothing needs cutting",
			plan.Profile{GroupsCap: 24, RowsCap: 20, Groups: 3, Rows: true},
			map[int]float64{1: 30_000, 2: 10_000, 3: 5_000}, map[int]float64{1: 20_000, 2: 15_000, 3: 8_000, 4: 2_000}, 3, 4, 0.001},
		{"partition selection: the smallest bounds cutting at most 2 %",
			plan.Profile{GroupsCap: 24, RowsCap: 20, Rows: true},
			map[int]float64{1: 50_000, 2: 30_000, 3: 15_000, 4: 4_000, 5: 1_000}, map[int]float64{1: 90_000, 10: 10_000}, 4, 10, MaxCutShare},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			g, r := hist(tc.pr.GroupsCap, tc.groups), hist(tc.pr.RowsCap, tc.rows)
			c := Choose(&tc.pr, g, r, laplaceSD)
			if c.L0 != tc.wantL0 || c.LInf != tc.wantLInf {
				t.Errorf("chose L0 %d, L∞ %d; want %d, %d (cuts %.4f, %.4f)", c.L0, c.LInf, tc.wantL0, tc.wantLInf, c.CutPairs, c.CutRows)
			}
			if c.CutPairs > tc.maxCutPairs+1e-12 {
				t.Errorf("cuts %.4f of the pairs, want at most %g", c.CutPairs, tc.maxCutPairs)
			}
		})
	}
	t.Run("an empty profile leaves the plan's bounds", func(t *testing.T) {
		pr := plan.Profile{GroupsCap: 24, RowsCap: 20, Groups: 15}
		if c := Choose(&pr, make([]float64, 24), make([]float64, 20), laplaceSD); c != (Choice{}) {
			t.Errorf("%+v", c)
		}
	})
	t.Run("cut shares", func(t *testing.T) {
		h := hist(5, map[int]float64{1: 10, 5: 10}) // 60 pairs
		if got := cut(h, 2) / 60; math.Abs(got-0.5) > 1e-12 {
			t.Errorf("L0 2 cuts %g of the pairs, want 0.5", got)
		}
	})
}
