package post

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/result"
)

// windowQuery is SELECT year, type, n, n / sum(n) OVER (PARTITION BY
// year) AS share, sum(n) OVER () AS total over a result of (year, type,
// n) rows, with HAVING n > having when having is set.
func windowQuery(having *float64) *query.Query {
	q := &query.Query{
		Keys: []query.GroupKey{{Name: "year"}, {Name: "type"}},
		Aggs: []query.Aggregate{{Name: "n", Kind: query.AggCountStar}},
		Output: []query.OutputColumn{
			{Name: "year", Key: 0, Agg: -1}, {Name: "type", Key: 1, Agg: -1}, {Name: "n", Key: -1, Agg: 0},
			{Name: "share", Key: -1, Agg: -1, Measure: arith("/", &query.AggRef{Agg: 0}, &query.WindowSum{Agg: 0, Partition: []int{0}})},
			{Name: "total", Key: -1, Agg: -1, Measure: &query.WindowSum{Agg: 0}},
		},
	}
	if having != nil {
		q.Having = &query.Compare{Op: ">", L: &query.OutputRef{Column: 2}, R: num(*having)}
	}
	return q
}

func windowResult(rows ...result.Row) *result.Result {
	return &result.Result{
		Columns: []result.Column{{Name: "year", Role: result.RoleKey}, {Name: "type", Role: result.RoleKey}, {Name: "n", Role: result.RoleMeasure}},
		Rows:    rows,
	}
}

func yearRow(year int64, typ string, n result.Cell) result.Row {
	return result.Row{Cells: []result.Cell{{Value: year}, {Value: typ}, n}}
}

// TestWindowTotals: a window adds up the released values of its
// partition's rows after HAVING, skipping a withheld value (which a note
// says, the same note whatever is withheld; the total alone is released
// in that row too) and before LIMIT; the share's interval holds the shares of every
// combination of the inputs' widened intervals it can reach, and its
// stddev is the first-order one with the row's own value counted once.
func TestWindowTotals(t *testing.T) {
	withheld := result.Cell{Suppressed: true, Reason: "min_cell_count"}
	res := windowResult(
		yearRow(2020, "a", released(300, 10)), yearRow(2020, "b", released(100, 10)), yearRow(2020, "c", withheld),
		yearRow(2021, "a", released(50, 10)), yearRow(2021, "b", released(150, 10)))
	q := windowQuery(nil)
	out, err := Apply(res, q)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		share any
		total float64
	}{{0.75, 600}, {0.25, 600}, {nil, 600}, {0.25, 600}, {0.75, 600}}
	for i, w := range want {
		share, total := out.Rows[i].Cells[3], out.Rows[i].Cells[4]
		if w.share == nil {
			// The total of the other released rows is released there too.
			if !share.Suppressed || total.Value != w.total {
				t.Errorf("row %d: share %+v, total %+v of a withheld count, want the share withheld, the total %v", i, share, total, w.total)
			}
			continue
		}
		if v, _ := share.Value.(float64); !near(v, w.share.(float64)) {
			t.Errorf("row %d: share %v, want %v", i, share.Value, w.share)
		}
		if v, _ := total.Value.(float64); !near(v, w.total) {
			t.Errorf("row %d: total %v, want %v", i, total.Value, w.total)
		}
	}
	if len(out.Meta.Notes) != 2 || !strings.Contains(out.Meta.Notes[0], "share: a window's total adds up the released rows") {
		t.Errorf("notes %q, want one per window column saying a withheld value is not in the total", out.Meta.Notes)
	}
	// 300 / (300 + 100): own ±19.6 f, rest ±19.6 f with f = widening(2),
	// the share's range over them (own read once: shareInterval).
	f := widening(2)
	c := out.Rows[0].Cells[3]
	lo, hi := (300-19.6*f)/(300-19.6*f+100+19.6*f), (300+19.6*f)/(300+19.6*f+100-19.6*f)
	if c.CI == nil || !near(c.CI[0], lo) || !near(c.CI[1], hi) {
		t.Errorf("share CI %v, want [%v, %v]", c.CI, lo, hi)
	}
	// ∂s/∂own = rest/T² = 100/400², ∂s/∂rest = −own/T² = −300/400².
	if sd := math.Hypot(10*100/160000.0, 10*300/160000.0); !near(c.StdDev, sd) {
		t.Errorf("share sd %v, want %v", c.StdDev, sd)
	}
	// The total's sd: √(10² + 10² + 10² + 10²) over the released rows.
	if tc := out.Rows[0].Cells[4]; !near(tc.StdDev, 20) {
		t.Errorf("total sd %v, want 20", tc.StdDev)
	}

	// HAVING before the window: without 2021's 50, 150 is all of 2021
	// and the total is 550.
	h := 60.0
	q = windowQuery(&h)
	out, err = Apply(res, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Rows) != 3 {
		t.Fatalf("%d rows after HAVING n > 60, want 3", len(out.Rows))
	}
	if v := out.Rows[2].Cells[3].Value; v != 1.0 {
		t.Errorf("2021 b's share %v after HAVING, want 1", v)
	}
	if v := out.Rows[2].Cells[4].Value; v != 550.0 {
		t.Errorf("total %v after HAVING, want 550", v)
	}

	// LIMIT after the window: the first row's share is still of 400.
	q = windowQuery(nil)
	one := int64(1)
	q.Limit = &one
	out, err = Apply(res, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Rows) != 1 || out.Rows[0].Cells[3].Value != 0.75 || out.Rows[0].Cells[4].Value != 600.0 {
		t.Errorf("rows %+v with LIMIT 1, want 2020 a's share 0.75 of the total 600", out.Rows)
	}
}

// TestWindowShareCoverage: shares of a total (Gaussian and Laplace noise
// on every group's count, 2 to 12 groups, large and small shares) are
// covered by their intervals at least 95% of the time, and the interval is
// not wider than interval arithmetic over the widened inputs makes it.
func TestWindowShareCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for _, tc := range []struct {
		name    string
		counts  []float64
		sd      float64
		laplace bool
	}{
		{"two groups", []float64{700, 300}, 20, false},
		{"twelve groups", []float64{900, 50, 60, 80, 100, 120, 40, 300, 30, 70, 200, 45}, 15, false},
		{"twelve groups, Laplace", []float64{900, 50, 60, 80, 100, 120, 40, 300, 30, 70, 200, 45}, 15, true},
		{"a small share", []float64{5000, 40}, 10, true},
		{"shares of small counts, intervals below 0", []float64{12, 30, 8, 50}, 10, true},
		{"forty counts of 1 and one of 200", append(slices.Repeat([]float64{1}, 40), 200), 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var truth float64
			for _, c := range tc.counts {
				truth += c
			}
			// draw is a count as protect releases it: the noisy value
			// and its interval cut at 0, the uncut ones kept as Unbiased.
			draw := func(v float64) result.Cell {
				x, hw := v+rng.NormFloat64()*tc.sd, 1.96*tc.sd
				if tc.laplace {
					b := tc.sd / math.Sqrt2
					x, hw = v+b*rng.ExpFloat64()*float64(1-2*rng.IntN(2)), b*math.Log(20)
				}
				return result.Cell{Value: max(x, 0), StdDev: tc.sd, CI: &[2]float64{max(x-hw, 0), max(x+hw, 0)},
					Unbiased: &result.Estimate{Value: x, CI: [2]float64{x - hw, x + hw}}}
			}
			q := windowQuery(nil)
			const trials = 3000
			covered, cells, widths, deltaWidths := 0, 0, 0.0, 0.0
			totalsCovered := 0
			for range trials {
				var rows []result.Row
				for i, c := range tc.counts {
					rows = append(rows, yearRow(2020, string(rune('a'+i)), draw(c)))
				}
				out, err := Apply(windowResult(rows...), q)
				if err != nil {
					t.Fatal(err)
				}
				if tc := out.Rows[0].Cells[4]; tc.CI != nil && tc.CI[0] <= truth && truth <= tc.CI[1] {
					totalsCovered++
				}
				for i, r := range out.Rows {
					c := r.Cells[3]
					if c.CI == nil {
						continue // a total whose interval holds 0: none here
					}
					cells++
					widths += c.CI[1] - c.CI[0]
					deltaWidths += 2 * 1.96 * c.StdDev
					if s := tc.counts[i] / truth; c.CI[0] <= s && s <= c.CI[1] {
						covered++
					}
				}
			}
			if cells < trials*len(tc.counts)*99/100 {
				t.Fatalf("only %d of %d shares have intervals", cells, trials*len(tc.counts))
			}
			if cov := float64(covered) / float64(cells); cov < 0.95 {
				t.Errorf("coverage %.2f%%, want at least 95%%", 100*cov)
			}
			// The total alone is one input: 95%, less three binomial sds.
			if cov := float64(totalsCovered) / trials; cov < 0.94 {
				t.Errorf("the total's coverage %.2f%%, want 95%%", 100*cov)
			}
			// The range over two widened inputs (the row's own count and
			// the rest) against the delta method's ±1.96 sd: wider by
			// about the widening (1.23 for two inputs), not by counting
			// the own count twice (3.3× for the two groups).
			if r := widths / deltaWidths; r < 1 || r > 2 {
				t.Errorf("interval %.2f× as wide as the delta method's, want 1–2×", r)
			}
			t.Logf("coverage %.2f%% over %d shares, width %.2f× the delta method's; the total's coverage %.2f%%",
				100*float64(covered)/float64(cells), cells, widths/deltaWidths, 100*float64(totalsCovered)/trials)
		})
	}
}

// TestWindowTotalWidenedForWhatTheBoundsCut: where the contribution
// bounds are estimated to cut a fifth of every count (each released 800
// of a true 1,000, its interval widened to hold it), the total of forty
// such counts is widened by the same fifth after the noise's root sum of
// squares, so that it holds the true 40,000; adding the widened intervals
// up as noise would not.
func TestWindowTotalWidenedForWhatTheBoundsCut(t *testing.T) {
	var rows []result.Row
	for i := range 40 {
		c := released(800, 10)
		c.CI[1] /= 0.8
		c.Unbiased = &result.Estimate{Value: 800, CI: [2]float64{780.4, 819.6}, Widen: 0.2}
		rows = append(rows, yearRow(2020, fmt.Sprint(i), c))
	}
	out, err := Apply(windowResult(rows...), windowQuery(nil))
	if err != nil {
		t.Fatal(err)
	}
	total := out.Rows[0].Cells[4]
	if v, _ := total.Value.(float64); v != 32000 {
		t.Errorf("total %v, want 32000", total.Value)
	}
	// The noise alone: 32,000 ± 19.6·√40 = ±124; then over 0.8.
	if total.CI == nil || total.CI[1] < 40000 || total.CI[1] > (32000+19.6*math.Sqrt(40)+1)/0.8 || total.CI[0] > 32000-19.6*math.Sqrt(40)+1 {
		t.Errorf("total's interval %v, want [≈31,876, ≈40,155] holding 40,000", total.CI)
	}
	// A share stays within [0, 1].
	for _, r := range out.Rows {
		if v, _ := r.Cells[3].Value.(float64); v < 0 || v > 1 {
			t.Errorf("share %v outside [0, 1]", v)
		}
	}
}

// TestWindowTotalOfRoundedCounts: counts released rounded to multiples of
// 5 with noise small against 5 (Laplace b = 1) all round the same way when
// they share a remainder (100 counts of 1,002 are each released as 1,000):
// their total is the rounded sum of the noisy counts, not the sum of the
// rounded ones, so its interval holds the true 100,200; and it is itself
// a multiple of 5.
func TestWindowTotalOfRoundedCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 1))
	const trials, cells, truth = 2000, 100, 1002
	covered := 0
	for range trials {
		var rows []result.Row
		for i := range cells {
			x := truth + rng.ExpFloat64()*float64(1-2*rng.IntN(2))
			hw := math.Log(20)
			c := result.Cell{Value: max(math.Round(x/5)*5, 0), StdDev: math.Sqrt2,
				CI:       &[2]float64{max(math.Floor((x-hw)/5)*5, 0), max(math.Ceil((x+hw)/5)*5, 0)},
				Unbiased: &result.Estimate{Value: x, CI: [2]float64{x - hw, x + hw}}}
			rows = append(rows, yearRow(2020, fmt.Sprint(i), c))
		}
		res := windowResult(rows...)
		res.Meta.RoundTo = 5
		out, err := Apply(res, windowQuery(nil))
		if err != nil {
			t.Fatal(err)
		}
		total := out.Rows[0].Cells[4]
		v, _ := total.Value.(float64)
		if math.Mod(v, 5) != 0 {
			t.Fatalf("total %v is not a multiple of 5", v)
		}
		if total.CI != nil && total.CI[0] <= cells*truth && cells*truth <= total.CI[1] {
			covered++
		}
	}
	if cov := float64(covered) / trials; cov < 0.94 {
		t.Errorf("the total's coverage %.1f%%, want 95%%", 100*cov)
	}
}
