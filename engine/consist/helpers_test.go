package consist

import (
	"math"
	"testing"

	"github.com/statgate/statgate/engine/internal/testkit"
	"github.com/statgate/statgate/engine/protect"
	"github.com/statgate/statgate/engine/result"
)

// z95 is the normal quantile of the 95% intervals the tests build.
const z95 = 1.959963984540054

// rel builds a released count cell with value v, stddev sd and the
// interval v ± z95·sd, clamped at 0 as protect clamps counts.
func rel(v, sd float64) result.Cell {
	return result.Cell{Value: v, StdDev: sd, CI: &[2]float64{math.Max(v-z95*sd, 0), math.Max(v+z95*sd, 0)}}
}

// sup builds a suppressed cell.
func sup(reason string) result.Cell {
	return result.Cell{Suppressed: true, Reason: reason}
}

// tableRow is one row of a hand-built table: key values (nil where
// rolled up) and measure cells.
type tableRow struct {
	keys   []any
	cells  []result.Cell
	margin bool
}

// build makes a result with the named keys, the measures (name and
// aggregate kind) and rows, its groups from public domains.
func build(keys []string, measures [][2]string, rows []tableRow) *result.Result {
	res := &result.Result{Meta: result.Meta{Groups: protect.GroupsPublicDomain, Mechanism: "gaussian",
		Bounding: result.Bounding{MaxGroupsPerPerson: 1, MaxRowsPerPersonPerGroup: 1}, Notes: []string{"protect note"}}}
	for _, k := range keys {
		res.Columns = append(res.Columns, result.Column{Name: k, Role: result.RoleKey, Type: result.TypeString})
	}
	for _, m := range measures {
		res.Columns = append(res.Columns, result.Column{Name: m[0], Role: result.RoleMeasure, Type: result.TypeNumber, Aggregate: m[1]})
	}
	for _, r := range rows {
		row := result.Row{Margin: r.margin}
		for _, v := range r.keys {
			row.Cells = append(row.Cells, result.Cell{Value: v})
		}
		row.Cells = append(row.Cells, r.cells...)
		res.Rows = append(res.Rows, row)
	}
	return res
}

// cube builds the CUBE of a two-key table a × b with one count column
// "n": the finest cells (a major), then the a margins, the b margins and
// the grand total, each cell f(a, b) with nil for a rolled-up key.
func cube(as, bs []string, f func(a, b any) result.Cell) *result.Result {
	var rows []tableRow
	for _, a := range as {
		for _, b := range bs {
			rows = append(rows, tableRow{keys: []any{a, b}, cells: []result.Cell{f(a, b)}})
		}
	}
	for _, a := range as {
		rows = append(rows, tableRow{keys: []any{a, nil}, cells: []result.Cell{f(a, nil)}, margin: true})
	}
	for _, b := range bs {
		rows = append(rows, tableRow{keys: []any{nil, b}, cells: []result.Cell{f(nil, b)}, margin: true})
	}
	rows = append(rows, tableRow{keys: []any{nil, nil}, cells: []result.Cell{f(nil, nil)}, margin: true})
	return build([]string{"a", "b"}, [][2]string{{"n", "count_star"}}, rows)
}

// checkTable checks what Apply promises for count column c of res, whose
// keys are its first nKeys columns: every released count a non-negative
// multiple of unit inside its interval (itself of multiples of unit);
// every relation without a suppressed row exact, every relation with one
// a margin at least its released details; and, when additive is true, no
// relation with exactly one suppressed row.
func checkTable(t *testing.T, res *result.Result, nKeys, c int, unit float64) {
	t.Helper()
	for r, row := range res.Rows {
		cell := row.Cells[c]
		if cell.Suppressed {
			if cell.Value != nil || cell.CI != nil {
				t.Errorf("row %d: suppressed cell has a value: %+v", r, cell)
			}
			continue
		}
		v, ok := cell.Value.(float64)
		if !ok || v < 0 || math.Mod(v, unit) != 0 {
			t.Errorf("row %d: count %v is not a non-negative multiple of %g", r, cell.Value, unit)
			continue
		}
		if cell.CI == nil || cell.CI[0] > v || cell.CI[1] < v || cell.CI[0] < 0 ||
			math.Mod(cell.CI[0], unit) != 0 || math.Mod(cell.CI[1], unit) != 0 {
			t.Errorf("row %d: interval %v does not hold %g in multiples of %g from 0 up", r, cell.CI, v, unit)
		}
	}
	for _, rl := range testkit.Relations(res, nKeys) {
		m := res.Rows[rl.Margin].Cells[c]
		suppressed, sum := rl.Tally(res, c)
		switch {
		case suppressed == 1:
			t.Errorf("relation %v has exactly one suppressed row: it would be derivable", rl)
		case suppressed == 0 && m.Value.(float64) != sum:
			t.Errorf("relation %v: margin %v ≠ sum of its cells %g", rl, m.Value, sum)
		case suppressed > 0 && !m.Suppressed && m.Value.(float64) < sum:
			t.Errorf("relation %v: margin %v < sum of its released cells %g", rl, m.Value, sum)
		}
	}
}

// values returns column c's values (nil where suppressed).
func values(res *result.Result, c int) []any {
	out := make([]any, len(res.Rows))
	for i, r := range res.Rows {
		out[i] = r.Cells[c].Value
	}
	return out
}
