package bounds

import (
	"fmt"
	"math"
	"testing"

	"github.com/statgate/statgate/engine/plan"
)

// hist builds the histogram over edges of value → persons.
func hist(edges []int, m map[int]float64) []float64 {
	h := make([]float64, len(edges))
	for v, n := range m {
		j := 0
		for j+1 < len(edges) && edges[j+1] <= v {
			j++
		}
		h[j] += n
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
			plan.Profile{GroupsCap: 24, RowsCap: 20, Groups: 15, Totals: true},
			map[int]float64{15: 20_000}, map[int]float64{1: 20_000}, 15, 0, 0},
		{"hospitals: most persons in one or two keep L0 small",
			plan.Profile{GroupsCap: 24, RowsCap: 20, Groups: 10, Totals: true},
			map[int]float64{1: 60_000, 2: 8_000, 3: 500, 4: 20}, map[int]float64{1: 68_520}, 3, 0, 0.01},
		{"row counts: with this much data nothing needs cutting",
			plan.Profile{GroupsCap: 24, RowsCap: 20, Groups: 3, Rows: true, Totals: true},
			map[int]float64{1: 30_000, 2: 10_000, 3: 5_000}, map[int]float64{1: 20_000, 2: 15_000, 3: 8_000, 4: 2_000}, 3, 4, 0.001},
		{"partition selection: the smallest bounds cutting at most 2 %",
			plan.Profile{GroupsCap: 24, RowsCap: 20, Rows: true, Totals: true},
			map[int]float64{1: 50_000, 2: 30_000, 3: 15_000, 4: 4_000, 5: 1_000}, map[int]float64{1: 90_000, 10: 10_000}, 4, 12, MaxCutShare},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			g, r := hist(tc.pr.GroupEdges(), tc.groups), hist(tc.pr.RowEdges(), tc.rows)
			c := Choose(&tc.pr, g, r, laplaceSD)
			if c.L0 != tc.wantL0 || c.LInf != tc.wantLInf {
				t.Errorf("chose L0 %d, L∞ %d; want %d, %d (cuts %.4f, %.4f)", c.L0, c.LInf, tc.wantL0, tc.wantLInf, c.CutPairs, c.CutRows)
			}
			if c.CutPairs > tc.maxCutPairs+1e-12 {
				t.Errorf("cuts %.4f of the pairs, want at most %g", c.CutPairs, tc.maxCutPairs)
			}
		})
	}
	t.Run("means and quantiles alone take L0 1: the L0 step does not tilt them", func(t *testing.T) {
		pr := plan.Profile{GroupsCap: 24, RowsCap: 20, Groups: 10, Rows: true}
		c := Choose(&pr, hist(pr.GroupEdges(), map[int]float64{1: 1000, 5: 1000}), hist(pr.RowEdges(), map[int]float64{1: 2000}), laplaceSD)
		if c.L0 != 1 {
			t.Errorf("L0 %d, want 1", c.L0)
		}
	})
	t.Run("when the caps cut more than MaxBias, the bounds cut at most MaxBias more than the caps", func(t *testing.T) {
		// 300 groups of about 100 rows each: noise dominates, and a noisy
		// bucket far past the cap makes even the cap look biased.
		pr := plan.Profile{GroupsCap: 1, RowsCap: 30, Groups: 300, Rows: true, Totals: true}
		rows := hist(pr.RowEdges(), map[int]float64{1: 500, 4: 500, 8: 1000, 12: 1000, 16: 500, 110: 300})
		c := Choose(&pr, nil, rows, laplaceSD)
		_, total := mass(rows, pr.RowEdges())
		least := cut(rows, pr.RowEdges(), pr.RowsCap) / total
		if least <= MaxBias {
			t.Fatalf("the cap cuts %.3f: the case needs more than MaxBias", least)
		}
		if c.CutRows > least+MaxBias+1e-12 {
			t.Errorf("L∞ %d cuts %.3f of the rows; the cap cuts %.3f, so at most %.3f", c.LInf, c.CutRows, least, least+MaxBias)
		}
		if c.LInf >= pr.RowsCap {
			t.Errorf("L∞ %d: with this much noise a smaller bound within the limit is better", c.LInf)
		}
	})
	t.Run("one group per person: no groups histogram, the rows histogram's persons", func(t *testing.T) {
		pr := plan.Profile{GroupsCap: 1, RowsCap: 20, Groups: 5, Rows: true, Totals: true}
		if pr.HasGroups() || !pr.HasRows() || pr.Histograms() != 1 {
			t.Fatalf("histograms: groups %v rows %v, %d", pr.HasGroups(), pr.HasRows(), pr.Histograms())
		}
		c := Choose(&pr, nil, hist(pr.RowEdges(), map[int]float64{1: 50_000, 3: 20_000, 6: 5_000}), laplaceSD)
		if c.LInf != 6 || c.CutPairs != 0 {
			t.Errorf("chose L∞ %d (cut pairs %g); want 6, the most rows anyone has, with this much data", c.LInf, c.CutPairs)
		}
	})
	t.Run("an empty profile leaves the plan's bounds", func(t *testing.T) {
		pr := plan.Profile{GroupsCap: 24, RowsCap: 20, Groups: 15}
		if c := Choose(&pr, hist(pr.GroupEdges(), nil), hist(pr.RowEdges(), nil), laplaceSD); c.L0 != 0 || c.LInf != 0 || c.Clamp != nil {
			t.Errorf("%+v", c)
		}
	})
	t.Run("cut shares", func(t *testing.T) {
		h := hist(plan.Edges(5), map[int]float64{1: 10, 5: 10}) // 60 pairs
		if got := cut(h, plan.Edges(5), 2) / 60; math.Abs(got-0.5) > 1e-12 {
			t.Errorf("L0 2 cuts %g of the pairs, want 0.5", got)
		}
	})
	t.Run("edges", func(t *testing.T) {
		if got := fmt.Sprint(plan.Edges(60)); got != "[1 2 3 4 5 6 7 8 10 12 14 16 20 24 28 32 40 48 56 60]" {
			t.Errorf("edges %s", got)
		}
		if got := fmt.Sprint(plan.Edges(1)); got != "[1]" {
			t.Errorf("edges of cap 1: %s", got)
		}
	})
}

func TestClamps(t *testing.T) {
	pr := &plan.Profile{Values: []plan.ValueProfile{{Column: "los", Lo: 0, Hi: 90, Buckets: 30}}}
	lo, hi := make([]float64, 30), make([]float64, 30)
	lo[0] = 10_000                         // everyone's smallest value is in [0, 3)
	hi[1], hi[4], hi[9] = 6_000, 3_900, 15 // largest values: [3, 6), [12, 15), [27, 30)
	got := Clamps(pr, map[string][]float64{"lo:los": lo, "hi:los": hi})
	if c, ok := got["los"]; !ok || c != [2]float64{0, 18} {
		t.Errorf("clamps %v, want los [0, 18]: the top 1 %% of largest values cut, one bucket of margin", got)
	}
	hi[9] = 19 // under 0.2 %: still cut
	lo[0], lo[2] = 9_990, 10
	if c := Clamps(pr, map[string][]float64{"lo:los": lo, "hi:los": hi})["los"]; c[0] != 0 {
		t.Errorf("lower end %g: 10 %% of smallest values are in [6, 9), so nothing may be cut from below", c[0])
	}
	if got := Clamps(pr, map[string][]float64{"lo:los": make([]float64, 30), "hi:los": make([]float64, 30)}); got != nil {
		t.Errorf("an empty profile narrowed %v", got)
	}
	full := make([]float64, 30)
	for i := range full {
		full[i] = 1000
	}
	if got := Clamps(pr, map[string][]float64{"lo:los": full, "hi:los": full}); got != nil {
		t.Errorf("values over the whole range narrowed %v", got)
	}
}

func TestChooseValues(t *testing.T) {
	// The noise of a mean's normalised sum at ε 0.1, in rows.
	meanSD := func(l0, m int) float64 { return math.Sqrt2 * float64(l0) * float64(m) / 2 / 0.1 }
	pr := plan.Profile{GroupsCap: 24, RowsCap: 60, Groups: 10, Rows: true, ValueAggs: true}
	// Most persons have a few rows per group, a tenth have 40.
	rows := func(scale float64) []float64 {
		return hist(pr.RowEdges(), map[int]float64{1: 5000 * scale, 3: 3000 * scale, 40: 1000 * scale})
	}
	big, _ := ChooseValues(&pr, rows(100), 1, meanSD)
	small, cutSmall := ChooseValues(&pr, rows(0.1), 1, meanSD)
	t.Logf("values per person: %d with much data, %d (cutting %.2f of the rows) with little", big, small, cutSmall)
	if big < 40 {
		t.Errorf("with 100 times the data the noise is small: want every value of the heavy persons (40), got %d", big)
	}
	if small >= big || small < 1 {
		t.Errorf("with little data the noise of 40 values per person dominates: want fewer than %d, got %d", big, small)
	}
	if cutSmall <= 0 || cutSmall >= 1 {
		t.Errorf("cut share %g, want in (0, 1)", cutSmall)
	}
	// The objective it minimises, checked against every edge.
	_, total := mass(rows(0.1), pr.RowEdges())
	n := total / 10
	obj := func(m int) float64 {
		rel, c := meanSD(1, m)/n, ValueShiftWeight*cut(rows(0.1), pr.RowEdges(), m)/total
		return rel*rel + c*c
	}
	for _, e := range upTo(pr.RowEdges(), pr.RowsCap) {
		if obj(e) < obj(small)-1e-15 {
			t.Errorf("edge %d has error %g below the chosen %d's %g", e, obj(e), small, obj(small))
		}
	}
	t.Run("no mean, quantile or spread: nothing to choose", func(t *testing.T) {
		q := pr
		q.ValueAggs = false
		if m, _ := ChooseValues(&q, rows(1), 1, meanSD); m != 0 {
			t.Errorf("chose %d", m)
		}
	})
	t.Run("an empty profile leaves the plan's", func(t *testing.T) {
		if m, _ := ChooseValues(&pr, hist(pr.RowEdges(), nil), 1, meanSD); m != 0 {
			t.Errorf("chose %d", m)
		}
	})
}

// TestCuts: the shares Cuts gives at a choice's bounds are the ones
// Choose reports for them, and a bound of 0 is not estimated.
func TestCuts(t *testing.T) {
	pr := &plan.Profile{GroupsCap: 24, RowsCap: 20, Groups: 15, Rows: true, Totals: true}
	groups := make([]float64, len(pr.GroupEdges()))
	rows := make([]float64, len(pr.RowEdges()))
	groups[0], groups[3], groups[9] = 500, 200, 40 // 1, 4 and 10+ groups
	rows[0], rows[4], rows[len(rows)-1] = 600, 100, 40
	c := Choose(pr, groups, rows, func(l0, m int) float64 { return 0.01 * float64(l0*m) })
	cp, cr := Cuts(pr, groups, rows, c.L0, c.LInf)
	if math.Abs(cp-c.CutPairs) > 1e-12 || math.Abs(cr-c.CutRows) > 1e-12 {
		t.Errorf("Cuts at L0 %d, L∞ %d: %g, %g; Choose said %g, %g", c.L0, c.LInf, cp, cr, c.CutPairs, c.CutRows)
	}
	if cp, cr := Cuts(pr, groups, rows, 1, 1); !(cp > 0.3 && cr > 0.3) {
		t.Errorf("L0 1 and L∞ 1 cut %g of the pairs and %g of the rows, want much", cp, cr)
	}
	if cp, cr := Cuts(pr, groups, rows, 0, 0); cp != 0 || cr != 0 {
		t.Errorf("bounds of 0 cut %g, %g; want 0 (not estimated)", cp, cr)
	}
}
