package engine

import (
	"math"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/post"
	"github.com/statgate/statgate/engine/refusal"
)

// TestMeasureOfAggregates: an expression of aggregates in the SELECT list
// is computed from the aggregates' released values (the same noisy values
// when they are selected too), with an interval that holds its value; an
// aggregate only the expression reads is protected and debited as one of
// the query's own, under the expression's name, and not released.
func TestMeasureOfAggregates(t *testing.T) {
	e := openEngine(t, func(o *Options) { o.NoRepeats = true })
	res, err := e.Query(t.Context(), ingrid, Request{Project: "diabetes-2026",
		SQL: "SELECT contact_type, count(*) * 1.0 / count(DISTINCT pid) AS per_patient, count(*) AS contacts, count(DISTINCT pid) AS patients FROM npr GROUP BY 1"})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Columns[1]; c.Name != "per_patient" || c.Aggregate != post.MeasureAggregate {
		t.Fatalf("column %+v", c)
	}
	released := 0
	for _, r := range res.Rows {
		m, n, p := r.Cells[1], r.Cells[2], r.Cells[3]
		if n.Suppressed || p.Suppressed {
			if !m.Suppressed {
				t.Errorf("%v: ratio %+v of a suppressed count", r.Cells[0].Value, m)
			}
			continue
		}
		released++
		nv, _ := n.Value.(float64)
		pv, _ := p.Value.(float64)
		if v, ok := m.Value.(float64); !ok || math.Abs(v-nv/pv) > 1e-9*v {
			t.Errorf("%v: released %v, want %v / %v", r.Cells[0].Value, m.Value, nv, pv)
		}
		if m.CI == nil || m.CI[0] > nv/pv || m.CI[1] < nv/pv || m.StdDev <= 0 {
			t.Errorf("%v: interval %v, sd %v of %v", r.Cells[0].Value, m.CI, m.StdDev, nv/pv)
		}
	}
	if released == 0 {
		t.Fatal("no ratio was released: the test says nothing")
	}

	res, err = e.Query(t.Context(), ingrid, Request{Project: "diabetes-2026",
		SQL: "SELECT contact_type, sum(length_of_stay_days) / count(DISTINCT pid) AS days_per_patient FROM npr GROUP BY 1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Columns) != 2 {
		t.Errorf("columns %+v: the hidden aggregates are released", res.Columns)
	}
	hidden := 0
	for _, sp := range res.Meta.Split {
		if strings.HasPrefix(sp.Purpose, "days_per_patient/") {
			hidden++
		}
	}
	if hidden == 0 {
		t.Errorf("split %+v: the sum the ratio reads has no share", res.Meta.Split)
	}

	// Numbers beyond float64's range or precision are withheld, never an
	// error after the debit (the audit log holds finite numbers only).
	for _, sql := range []string{"SELECT count(*) / (count(*) * 1e-170) AS x FROM npr",
		"SELECT contact_type, 1 / (count(*) * 1e-200) * 1e-200 AS x, count(*) * 1e308 * 10 AS y, count(*) / 0 AS z FROM npr GROUP BY 1"} {
		res, err := e.Query(t.Context(), ingrid, Request{Project: "diabetes-2026", SQL: sql})
		if err != nil {
			t.Errorf("%s: %v", sql, err)
			continue
		}
		for _, r := range res.Rows {
			for _, c := range r.Cells[1:] {
				if v, ok := c.Value.(float64); ok && (math.IsInf(v, 0) || math.IsNaN(v) || math.IsInf(c.StdDev, 0)) {
					t.Errorf("%s: cell %+v", sql, c)
				}
			}
		}
	}
}

// TestMeasureCoverage: over repeated queries, a ratio's interval holds the
// exact ratio (plain DuckDB on the same extract) at least about 95% of the
// time.
func TestMeasureCoverage(t *testing.T) {
	e := openEngine(t, func(o *Options) { o.NoRepeats = true })
	db := openPlainDB(t)
	exact := map[string]float64{}
	tb := mustQuery(t, db, "SELECT contact_type, sum(length_of_stay_days) / count(DISTINCT pid) FROM npr WHERE icd10 LIKE 'E%' GROUP BY 1")
	for _, r := range tb.rows {
		v, _ := toFloat64(r[1])
		exact[r[0].(string)] = v
	}
	cells, covered := 0, 0
	for range 30 {
		res, err := e.Query(t.Context(), ingrid, Request{Project: "diabetes-2026",
			SQL: "SELECT contact_type, sum(length_of_stay_days) / count(DISTINCT pid) AS days FROM npr WHERE icd10 LIKE 'E%' GROUP BY 1"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Rows {
			c := r.Cells[1]
			truth, ok := exact[r.Cells[0].Value.(string)]
			if !ok || c.CI == nil {
				continue
			}
			cells++
			if c.CI[0] <= truth && truth <= c.CI[1] {
				covered++
			}
		}
	}
	if cells < 30 {
		t.Fatalf("%d cells released: the test says nothing", cells)
	}
	if cov := float64(covered) / float64(cells); cov < 0.9 {
		t.Errorf("coverage %.1f%% of %d cells, want about 95%% or more", 100*cov, cells)
	} else {
		t.Logf("coverage %.1f%% of %d cells", 100*cov, cells)
	}
}

// TestHavingOnHiddenAggregates: HAVING and ORDER BY may read aggregates the
// SELECT list does not hold; they are protected and debited (a share of
// the split under "having/…" or "order_by/…"), filter and sort by their
// released values, and are not released.
func TestHavingOnHiddenAggregates(t *testing.T) {
	e := openEngine(t, func(o *Options) { o.NoRepeats = true })
	run := func(sql string) [][]any {
		t.Helper()
		res, err := e.Query(t.Context(), ingrid, Request{Project: "diabetes-2026", SQL: sql})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Columns) != 2 || res.Columns[0].Name != "hospital" || res.Columns[1].Name != "patients" {
			t.Fatalf("columns %+v: a hidden aggregate is released", res.Columns)
		}
		shares := map[string]bool{}
		for _, sp := range res.Meta.Split {
			shares[sp.Purpose] = true
		}
		if !shares["having/count"] && !shares["order_by/count"] {
			t.Errorf("split %+v: the hidden count has no share", res.Meta.Split)
		}
		var rows [][]any
		for _, r := range res.Rows {
			if len(r.Cells) != 2 {
				t.Fatalf("row %+v", r)
			}
			rows = append(rows, []any{r.Cells[0].Value, r.Cells[1].Value})
		}
		return rows
	}
	all := run("SELECT hospital, count(DISTINCT pid) AS patients FROM npr GROUP BY 1 HAVING count(*) > -1000000")
	if len(all) < 5 {
		t.Fatalf("%d hospitals with more than −10⁶ contacts", len(all))
	}
	if none := run("SELECT hospital, count(DISTINCT pid) AS patients FROM npr GROUP BY 1 HAVING count(*) > 1000000000"); len(none) != 0 {
		t.Errorf("%d hospitals with more than 10⁹ contacts", len(none))
	}
	if sorted := run("SELECT hospital, count(DISTINCT pid) AS patients FROM npr GROUP BY 1 ORDER BY count(*) DESC LIMIT 3"); len(sorted) != 3 {
		t.Errorf("ORDER BY a hidden count LIMIT 3: %d rows", len(sorted))
	}
	// ORDER BY an expression of aggregates: sorted by its value, computed
	// from the released aggregates, and not released.
	res, err := e.Query(t.Context(), ingrid, Request{Project: "diabetes-2026",
		SQL: "SELECT hospital, count(DISTINCT pid) AS patients FROM npr GROUP BY 1 ORDER BY count(*) * 1.0 / count(DISTINCT pid) DESC LIMIT 3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Columns) != 2 || len(res.Rows) != 3 {
		t.Errorf("ORDER BY a ratio LIMIT 3: columns %+v, %d rows", res.Columns, len(res.Rows))
	}
}

// TestWindowShareOfReleasedRows: count(*) * 100.0 / sum(count(*)) OVER
// (PARTITION BY key) through the engine divides each released count by
// one total per partition (so shares are in the ratio of the counts), a
// total of the released counts before their rounding (so the shares add
// up to about 100), with an interval that holds the share; the window's
// aggregate is debited once, as the count the share reads.
func TestWindowShareOfReleasedRows(t *testing.T) {
	e := openEngine(t, func(o *Options) { o.NoRepeats = true })
	res, err := e.Query(t.Context(), ingrid, Request{Project: "diabetes-2026",
		SQL: "SELECT sex, contact_type, count(*) AS contacts, count(*) * 100.0 / sum(count(*)) OVER (PARTITION BY sex) AS pct " +
			"FROM npr JOIN population USING (pid) GROUP BY 1, 2"})
	if err != nil {
		t.Fatal(err)
	}
	type first struct{ n, pct float64 }
	firsts, sums := map[any]first{}, map[any]float64{}
	released := 0
	for _, r := range res.Rows {
		n, pct := r.Cells[2], r.Cells[3]
		if n.Suppressed {
			if !pct.Suppressed {
				t.Errorf("%v: share %+v of a withheld count", r.Cells[:2], pct)
			}
			continue
		}
		nv, _ := n.Value.(float64)
		v, ok := pct.Value.(float64)
		if !ok || pct.CI == nil || pct.CI[0] > v || pct.CI[1] < v || pct.CI[0] < 0 || pct.CI[1] > 100 {
			t.Errorf("%v: share %+v", r.Cells[:2], pct)
			continue
		}
		released++
		sex := r.Cells[0].Value
		sums[sex] += v
		if f, seen := firsts[sex]; !seen {
			firsts[sex] = first{nv, v}
		} else if math.Abs(v*f.n-f.pct*nv) > 1e-9*v*f.n {
			t.Errorf("%v: share %v of %v, but %v of %v in the same partition", r.Cells[:2], v, nv, f.pct, f.n)
		}
	}
	if released < 4 {
		t.Fatalf("%d shares released: the test says little", released)
	}
	for sex, s := range sums {
		if math.Abs(s-100) > 5 {
			t.Errorf("%v: shares add up to %v, want about 100", sex, s)
		}
	}
	counts := 0
	for _, sp := range res.Meta.Split {
		if strings.Contains(sp.Purpose, "count") {
			counts++
		}
	}
	if counts != 1 {
		t.Errorf("split %+v: want the count once", res.Meta.Split)
	}
}

// TestWindowWithTotalsRefused: a request for totals adds margins to the
// result, which SQL's window would add up too; it is refused before the
// debit rather than answered with totals of margins.
func TestWindowWithTotalsRefused(t *testing.T) {
	e := openEngine(t, func(o *Options) { o.NoRepeats = true })
	before := spent(t, e, "diabetes-2026", "npr")
	_, err := e.Query(t.Context(), ingrid, Request{Project: "diabetes-2026", Totals: true,
		SQL: "SELECT contact_type, hospital, count(*) * 1.0 / sum(count(*)) OVER () AS share FROM npr GROUP BY 1, 2"})
	if refusal.CodeOf(err) != refusal.WindowFunction {
		t.Fatalf("err %v, want window_function", err)
	}
	if after := spent(t, e, "diabetes-2026", "npr"); after != before {
		t.Errorf("spent %v before, %v after a refused query", before, after)
	}
}
