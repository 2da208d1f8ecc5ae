package post

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/result"
)

func num(v float64) *query.Literal { return &query.Literal{Value: v, Type: query.TypeNumber} }

func arith(op string, l, r query.Expr) *query.Arith {
	return &query.Arith{Op: op, L: l, R: r, Type: query.TypeNumber}
}

// released is a measure cell with a symmetric 95% normal interval.
func released(v, sd float64) result.Cell {
	return result.Cell{Value: v, StdDev: sd, CI: &[2]float64{v - 1.96*sd, v + 1.96*sd}}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestMeasureCell(t *testing.T) {
	a0, a1 := &query.AggRef{Agg: 0}, &query.AggRef{Agg: 1}
	row := func(cells ...result.Cell) result.Row { return result.Row{Cells: cells} }
	cols := []int{0, 1}
	f := widening(2) // Laplace's ln(40) / ln(20), more than Gaussian's z(1 − 0.0125) / z(0.975) = 1.1436
	if !(f > 1.231 && f < 1.232) {
		t.Fatalf("widening(2) = %v, want ln 40 / ln 20 = 1.2314", f)
	}
	if w := widening(1); w != 1 {
		t.Errorf("widening(1) = %v, want 1", w)
	}

	t.Run("ratio of two aggregates", func(t *testing.T) {
		c := measureCell(arith("/", arith("*", a0, num(1)), a1), row(released(200, 10), released(50, 2.5)), cols, nil)
		lo0, hi0 := 200-19.6*f, 200+19.6*f
		lo1, hi1 := 50-4.9*f, 50+4.9*f
		if c.Suppressed || !near(c.Value.(float64), 4) {
			t.Fatalf("cell %+v, want 4", c)
		}
		if c.CI == nil || !near(c.CI[0], lo0/hi1) || !near(c.CI[1], hi0/lo1) {
			t.Errorf("CI %v, want [%v, %v]", c.CI, lo0/hi1, hi0/lo1)
		}
		// ∂/∂a = 1/50, ∂/∂b = −200/50²: √(0.02²·100 + 0.08²·6.25).
		if !near(c.StdDev, math.Sqrt(0.04+0.04)) {
			t.Errorf("sd %v, want %v", c.StdDev, math.Sqrt(0.08))
		}
	})
	t.Run("one aggregate scaled: no widening", func(t *testing.T) {
		c := measureCell(arith("/", a0, num(12)), row(released(120, 5)), []int{0}, nil)
		if !near(c.Value.(float64), 10) || !near(c.CI[0], (120-9.8)/12) || !near(c.CI[1], (120+9.8)/12) || !near(c.StdDev, 5.0/12) {
			t.Errorf("cell %+v, want 10 in [%v, %v], sd %v", c, (120-9.8)/12, (120+9.8)/12, 5.0/12)
		}
	})
	t.Run("difference and a repeated aggregate", func(t *testing.T) {
		// a0 − a0 is 0 with no noise, whatever the interval arithmetic says.
		c := measureCell(arith("-", a0, a0), row(released(120, 5)), []int{0}, nil)
		if !near(c.Value.(float64), 0) || c.StdDev != 0 || !(c.CI[0] < 0 && c.CI[1] > 0) {
			t.Errorf("cell %+v", c)
		}
		c = measureCell(arith("-", num(90), a1), row(result.Cell{}, released(30, 1)), cols, nil)
		if !near(c.Value.(float64), 60) || !near(c.CI[0], 90-(30+1.96)) || !near(c.CI[1], 90-(30-1.96)) {
			t.Errorf("cell %+v, want 60 in [%v, %v]", c, 90-31.96, 90-28.04)
		}
	})
	t.Run("a suppressed input suppresses the cell", func(t *testing.T) {
		c := measureCell(arith("/", a0, a1), row(released(200, 10), result.Cell{Suppressed: true, Reason: "min_cell_count"}), cols, nil)
		if !c.Suppressed || c.Reason != "min_cell_count" || c.Value != nil || c.CI != nil {
			t.Errorf("cell %+v", c)
		}
	})
	t.Run("a NULL input is NULL; a released zero divisor withholds the cell", func(t *testing.T) {
		if c := measureCell(arith("/", a0, a1), row(released(200, 10), result.Cell{}), cols, nil); c.Value != nil || c.Suppressed {
			t.Errorf("NULL input: cell %+v", c)
		}
		zero := result.Cell{Value: 0.0, StdDev: 1, CI: &[2]float64{0, 2}}
		if c := measureCell(arith("+", num(1), arith("/", a0, a1)), row(released(200, 10), zero), cols, nil); !c.Suppressed || c.Reason != ReasonDenominator {
			t.Errorf("divisor 0: cell %+v", c)
		}
		noCI := result.Cell{Value: 0.0}
		if c := measureCell(arith("/", a0, a1), row(released(200, 10), noCI), cols, nil); !c.Suppressed || c.Reason != ReasonDenominator {
			t.Errorf("divisor 0 without an interval: cell %+v", c)
		}
	})
	t.Run("numbers that are not finite withhold the cell", func(t *testing.T) {
		// count / (count · 1e-170): b² underflows, b alone does not.
		c := measureCell(arith("/", a0, arith("*", a0, num(1e-170))), row(released(200, 10)), []int{0}, nil)
		if c.Suppressed || !near(c.Value.(float64), 1e170) || math.IsInf(c.StdDev, 0) || math.IsNaN(c.StdDev) {
			t.Errorf("tiny divisor: cell %+v", c)
		}
		c = measureCell(arith("*", a0, num(1e308)), row(released(200, 10)), []int{0}, nil)
		if !c.Suppressed || c.Reason != ReasonOutOfRange || c.Value != nil {
			t.Errorf("overflow: cell %+v", c)
		}
	})
	t.Run("a divisor that may be zero withholds the cell", func(t *testing.T) {
		c := measureCell(arith("/", a0, a1), row(released(200, 10), released(3, 2)), cols, nil)
		if !c.Suppressed || c.Reason != ReasonDenominator || c.Value != nil {
			t.Errorf("cell %+v", c)
		}
	})
	t.Run("int64 counts", func(t *testing.T) {
		c := measureCell(arith("+", a0, a1), row(result.Cell{Value: int64(10), StdDev: 1, CI: &[2]float64{8, 12}}, result.Cell{Value: int64(5), StdDev: 1, CI: &[2]float64{3, 7}}), cols, nil)
		if !near(c.Value.(float64), 15) || !near(c.CI[0], 15-2*f-2*f) || !near(c.CI[1], 15+4*f) {
			t.Errorf("cell %+v", c)
		}
	})
}

// TestMeasureIntervalCoverage: a ratio's, a product's, a difference's and
// a sum's intervals, computed from released estimates with 95% intervals
// of Gaussian or Laplace noise, contain the true value at least 95% of
// the time, and are at most k times as wide as the first-order (delta
// method) 95% interval for k aggregates.
func TestMeasureIntervalCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	a0, a1 := &query.AggRef{Agg: 0}, &query.AggRef{Agg: 1}
	for _, tc := range []struct {
		name   string
		e      query.Expr
		truth  func(a, b float64) float64
		a, b   float64
		sa, sb float64 // negative: Laplace noise of that standard deviation
	}{
		{"ratio", arith("/", a0, a1), func(a, b float64) float64 { return a / b }, 1000, 250, 40, 10},
		{"ratio, noisy divisor", arith("/", a0, a1), func(a, b float64) float64 { return a / b }, 1000, 250, 5, 40},
		{"per cent", arith("/", arith("*", num(100), a0), a1), func(a, b float64) float64 { return 100 * a / b }, 300, 1200, 20, 20},
		{"difference", arith("-", a0, a1), func(a, b float64) float64 { return a - b }, 500, 400, 30, 30},
		{"product", arith("*", a0, a1), func(a, b float64) float64 { return a * b }, 20, 30, 2, 1},
		{"ratio, Laplace noise", arith("/", a0, a1), func(a, b float64) float64 { return a / b }, 1000, 250, -40, -10},
		{"sum of three, Laplace noise", arith("+", arith("+", a0, a1), &query.AggRef{Agg: 2}), func(a, b float64) float64 { return a + b + 50 }, 500, 400, -30, -30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const trials = 4000
			covered, widths, deltaWidths := 0, 0.0, 0.0
			// draw is a released cell of truth v: Gaussian noise of sd s and
			// its interval ±1.96 s, or for s < 0 Laplace noise of sd |s| and
			// its interval ±b ln 20 (b = |s| / √2).
			draw := func(v, s float64) result.Cell {
				if s > 0 {
					return released(v+rng.NormFloat64()*s, s)
				}
				b := -s / math.Sqrt2
				x := v + b*rng.ExpFloat64()*float64(1-2*rng.IntN(2))
				return result.Cell{Value: x, StdDev: -s, CI: &[2]float64{x - b*math.Log(20), x + b*math.Log(20)}}
			}
			for range trials {
				c := measureCell(tc.e, result.Row{Cells: []result.Cell{draw(tc.a, tc.sa), draw(tc.b, tc.sb), draw(50, tc.sb)}}, []int{0, 1, 2}, nil)
				if c.Suppressed || c.CI == nil {
					t.Fatalf("cell %+v", c)
				}
				truth := tc.truth(tc.a, tc.b)
				if c.CI[0] <= truth && truth <= c.CI[1] {
					covered++
				}
				widths += c.CI[1] - c.CI[0]
				deltaWidths += 2 * 1.96 * c.StdDev
			}
			cov := float64(covered) / trials
			// Binomial sd at 95% over 4000 trials is 0.34%: 94% is three
			// of them below the promise.
			if cov < 0.94 {
				t.Errorf("coverage %.1f%%, want at least 95%%", 100*cov)
			}
			// Interval arithmetic adds the inputs' half-widths where the
			// delta method adds their squares: at most k× as wide for k.
			k := float64(len(query.MeasureAggs(tc.e)))
			if r := widths / deltaWidths; r > k || r < 1 {
				t.Errorf("interval %.2f× as wide as the delta method's, want 1–%.0f×", r, k)
			}
			t.Logf("coverage %.1f%%, width %.2f× the delta method's", 100*cov, widths/deltaWidths)
		})
	}
}

// TestHavingOnARoundedMeasure: HAVING names a measure by its alias, which
// in SQL is the rounded value: round(12.471 / 3, 2) = 4.16 passes
// HAVING r >= 4.16 (the unrounded 4.157 would not).
func TestHavingOnARoundedMeasure(t *testing.T) {
	places := 2
	res := &result.Result{
		Columns: []result.Column{{Name: "k", Role: result.RoleKey}, {Name: "s", Role: result.RoleMeasure}},
		Rows:    []result.Row{{Cells: []result.Cell{{Value: "a"}, released(12.471, 1)}}},
	}
	q := &query.Query{
		Keys: []query.GroupKey{{Name: "k"}},
		Aggs: []query.Aggregate{{Name: "s"}},
		Output: []query.OutputColumn{{Name: "k", Key: 0, Agg: -1},
			{Name: "r", Key: -1, Agg: -1, Measure: arith("/", &query.AggRef{Agg: 0}, num(3)), Round: &places}},
		Having: &query.Compare{Op: ">=", L: &query.OutputRef{Column: 1}, R: num(4.16)},
	}
	out, err := Apply(res, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Rows) != 1 || out.Rows[0].Cells[1].Value != 4.16 {
		t.Errorf("rows %+v, want the one row with r = 4.16", out.Rows)
	}
}

// TestHavingOnARoundedAggregateAlias: HAVING m > 4.12 on round(avg(x), 1)
// AS m compares the rounded 4.1 (SQL's alias), while HAVING on avg(x)
// itself compares 4.14.
func TestHavingOnARoundedAggregateAlias(t *testing.T) {
	places := 1
	res := &result.Result{
		Columns: []result.Column{{Name: "k", Role: result.RoleKey}, {Name: "m", Role: result.RoleMeasure}},
		Rows:    []result.Row{{Cells: []result.Cell{{Value: "a"}, released(4.14, 0.1)}}},
	}
	q := &query.Query{
		Keys:   []query.GroupKey{{Name: "k"}},
		Aggs:   []query.Aggregate{{Name: "m"}},
		Output: []query.OutputColumn{{Name: "k", Key: 0, Agg: -1}, {Name: "m", Key: -1, Agg: 0, Round: &places}},
	}
	for _, tc := range []struct {
		ref  *query.OutputRef
		rows int
	}{{&query.OutputRef{Column: 1, Round: &places}, 0}, {&query.OutputRef{Column: 1}, 1}} {
		qq := *q
		qq.Having = &query.Compare{Op: ">", L: tc.ref, R: num(4.12)}
		out, err := Apply(res, &qq)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Rows) != tc.rows {
			t.Errorf("HAVING %+v > 4.12: %d rows, want %d", tc.ref, len(out.Rows), tc.rows)
		}
	}
}

// TestOrderByARoundedAggregateAlias: ORDER BY m, k on round(avg(x), 1) AS m
// ties 4.14 and 4.06 at 4.1, so k decides (SQL sorts the alias's value).
func TestOrderByARoundedAggregateAlias(t *testing.T) {
	places := 1
	res := &result.Result{
		Columns: []result.Column{{Name: "k", Role: result.RoleKey}, {Name: "m", Role: result.RoleMeasure}},
		Rows: []result.Row{{Cells: []result.Cell{{Value: "b"}, released(4.06, 0.1)}},
			{Cells: []result.Cell{{Value: "a"}, released(4.14, 0.1)}}},
	}
	q := &query.Query{
		Keys:    []query.GroupKey{{Name: "k"}},
		Aggs:    []query.Aggregate{{Name: "m"}},
		Output:  []query.OutputColumn{{Name: "k", Key: 0, Agg: -1}, {Name: "m", Key: -1, Agg: 0, Round: &places}},
		OrderBy: []query.OrderItem{{Column: 1, Round: &places}, {Column: 0}},
	}
	out, err := Apply(res, q)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Rows[0].Cells[0].Value; got != "a" {
		t.Errorf("first row %v, want a (4.14 and 4.06 tie at 4.1)", got)
	}
}
