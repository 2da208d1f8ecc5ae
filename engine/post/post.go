// Package post shapes a protected result the way the query asked: the
// SELECT list's order and names, its expressions of aggregates (measure.go),
// HAVING, ORDER BY and LIMIT. It reads
// released values only (post-processing), so it costs no privacy and can
// reveal nothing the released values do not; its evaluator is total, so
// whether a result is released never depends on which rows exist.
// Consistency of tables (package consist, to come) is another step.
package post

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/result"
)

// Apply applies the query's SELECT order, HAVING, ORDER BY and LIMIT to a
// protected result and returns a new result. Its only error is a result
// that lacks a column the query selects (an engine defect, not a data
// condition).
func Apply(res *result.Result, q *query.Query) (*result.Result, error) {
	column := func(name string, role result.ColumnRole) (int, error) {
		j := slices.IndexFunc(res.Columns, func(c result.Column) bool { return c.Name == name && c.Role == role })
		if j < 0 {
			return 0, fmt.Errorf("post.Apply: protected result has no %s column %q", role, name)
		}
		return j, nil
	}
	idx := make([]int, len(q.Output))
	aggCols := make([]int, len(q.Aggs)) // the result column of each aggregate a measure reads
	for i, o := range q.Output {
		var err error
		switch {
		case o.Measure != nil:
			idx[i] = -1
			for _, a := range query.MeasureAggs(o.Measure) {
				if aggCols[a], err = column(q.Aggs[a].Name, result.RoleMeasure); err != nil {
					return nil, err
				}
			}
		case o.Key >= 0:
			idx[i], err = column(q.Keys[o.Key].Name, result.RoleKey)
		default:
			idx[i], err = column(q.Aggs[o.Agg].Name, result.RoleMeasure)
		}
		if err != nil {
			return nil, err
		}
	}
	keyCols := make([]int, len(q.Keys)) // the result column of each key a window partitions by
	for _, o := range q.Output {
		for _, w := range query.MeasureWindows(o.Measure) {
			for _, k := range w.Partition {
				var err error
				if keyCols[k], err = column(q.Keys[k].Name, result.RoleKey); err != nil {
					return nil, err
				}
			}
		}
	}
	out := &result.Result{Meta: res.Meta}
	for i, j := range idx {
		if j < 0 {
			out.Columns = append(out.Columns, result.Column{Name: q.Output[i].Name, Role: result.RoleMeasure,
				Type: result.TypeNumber, Aggregate: MeasureAggregate})
			continue
		}
		c := res.Columns[j]
		c.Name = q.Output[i].Name
		out.Columns = append(out.Columns, c)
	}
	var kept []result.Row // the protected rows of out.Rows, for the windows
	for _, row := range res.Rows {
		nr := result.Row{Margin: row.Margin, Cells: make([]result.Cell, len(idx))}
		for i, j := range idx {
			if j < 0 && len(query.MeasureWindows(q.Output[i].Measure)) > 0 {
				continue // after HAVING, which cannot read it (windowMeasures)
			}
			if j < 0 {
				// A measure is named in HAVING and ORDER BY by its alias
				// or position only, which mean the rounded value.
				nr.Cells[i] = measureCell(q.Output[i].Measure, row, aggCols, nil)
				if r := q.Output[i].Round; r != nil {
					nr.Cells[i] = roundCell(nr.Cells[i], *r)
				}
				continue
			}
			nr.Cells[i] = row.Cells[j]
		}
		if q.Having != nil {
			if b, ok := eval(q.Having, nr).(bool); !ok || !b {
				continue
			}
		}
		out.Rows = append(out.Rows, nr)
		kept = append(kept, row)
	}
	windowMeasures(out, kept, q, aggCols, keyCols)
	for _, r := range out.Rows {
		for j := range r.Cells {
			r.Cells[j].Unbiased = nil // read; not part of the result
		}
	}
	if len(q.OrderBy) > 0 {
		slices.SortStableFunc(out.Rows, func(a, b result.Row) int {
			for _, o := range q.OrderBy {
				av, bv := a.Cells[o.Column].Value, b.Cells[o.Column].Value
				if o.Round != nil {
					av, bv = roundCell(a.Cells[o.Column], *o.Round).Value, roundCell(b.Cells[o.Column], *o.Round).Value
				}
				if (av == nil) != (bv == nil) {
					// Suppressed and NULL values sort last in either direction.
					if av == nil {
						return 1
					}
					return -1
				}
				c := result.Compare(av, bv)
				if o.Desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
	}
	if q.Limit != nil && int64(len(out.Rows)) > *q.Limit {
		out.Rows = out.Rows[:*q.Limit]
	}
	// round(agg, n) last: HAVING and ORDER BY name an aggregate by the
	// first output that holds it, which may be the rounded one, and SQL
	// compares the aggregate itself. (A rounded measure was rounded
	// before HAVING.)
	for i, o := range q.Output {
		if o.Round == nil || o.Measure != nil {
			continue
		}
		for _, r := range out.Rows {
			r.Cells[i] = roundCell(r.Cells[i], *o.Round)
		}
	}
	// What only HAVING or ORDER BY read is not released (hidden outputs
	// come last).
	if n := visibleOutputs(q); n < len(q.Output) {
		out.Columns = out.Columns[:n]
		for i := range out.Rows {
			out.Rows[i].Cells = out.Rows[i].Cells[:n]
		}
	}
	return out, nil
}

// windowMeasures computes the measures that hold windows (query.WindowSum)
// over the rows HAVING kept, as SQL computes windows after HAVING and
// before ORDER BY and LIMIT: kept[i] is the protected row of out.Rows[i].
// A window adds up its aggregate's released values in the rows of the
// partition (windowTotal); a withheld value, and a group the result does
// not hold (outside a key's public domain, or not selected), is not in
// the total, which a note says.
func windowMeasures(out *result.Result, kept []result.Row, q *query.Query, aggCols, keyCols []int) {
	// unbiased is a released cell's value and interval for a total, and
	// the share by which a bound is widened for what the bounds cut (the
	// interval of a cell without Unbiased holds that already).
	unbiased := func(c result.Cell) (v float64, ci *[2]float64, widen float64, ok bool) {
		if c.Suppressed {
			return 0, nil, 0, false
		}
		if c.Unbiased != nil {
			return c.Unbiased.Value, &c.Unbiased.CI, c.Unbiased.Widen, true
		}
		v, ok = result.Number(c.Value)
		return v, c.CI, 0, ok
	}
	for i, o := range q.Output {
		wins := query.MeasureWindows(o.Measure)
		if len(wins) == 0 {
			continue
		}
		totals := make([]map[string]*windowTotal, len(wins))
		for j, w := range wins {
			totals[j] = map[string]*windowTotal{}
			for _, row := range kept {
				p := partitionOf(row, w, keyCols)
				t := totals[j][p]
				if t == nil {
					t = &windowTotal{intervals: true, nonNegative: nonNegative(q.Aggs[w.Agg])}
					if isCount(q.Aggs[w.Agg]) {
						t.roundTo = out.Meta.RoundTo
					}
					totals[j][p] = t
				}
				c := row.Cells[aggCols[w.Agg]]
				v, ci, widen, ok := unbiased(c)
				if !ok {
					continue
				}
				t.widen = max(t.widen, widen)
				t.total += v
				t.restSD = math.Hypot(t.restSD, c.StdDev) // the total's, until each row takes its own out
				if ci != nil {
					t.totalLo2 += (v - ci[0]) * (v - ci[0])
					t.totalHi2 += (ci[1] - v) * (ci[1] - v)
				} else {
					t.intervals = false
				}
			}
		}
		for r, row := range kept {
			own := make(map[*query.WindowSum]windowTotal, len(wins))
			for j, w := range wins {
				// The rest is the total without the row's own value.
				t := *totals[j][partitionOf(row, w, keyCols)]
				t.rest, t.restLo2, t.restHi2 = t.total, t.totalLo2, t.totalHi2
				c := row.Cells[aggCols[w.Agg]]
				if v, ci, _, ok := unbiased(c); ok {
					t.ownIn, t.ownSD = true, c.StdDev
					t.rest -= v
					t.restSD = math.Sqrt(max(0, t.restSD*t.restSD-c.StdDev*c.StdDev))
					if ci != nil {
						t.restLo2 = max(0, t.restLo2-(v-ci[0])*(v-ci[0]))
						t.restHi2 = max(0, t.restHi2-(ci[1]-v)*(ci[1]-v))
					}
				}
				own[w] = t
			}
			out.Rows[r].Cells[i] = measureCell(o.Measure, row, aggCols, own)
			if o.Round != nil {
				out.Rows[r].Cells[i] = roundCell(out.Rows[r].Cells[i], *o.Round)
			}
		}
		// The same note whatever was withheld: which rows are is
		// released anyway, and metadata does not depend on the data.
		out.Meta.Notes = append(slices.Clip(out.Meta.Notes), fmt.Sprintf(
			"%s: a window's total adds up the released rows of its partition as noised (before rounding and the cut at 0, which bias counts), rounded as counts are; "+
				"a withheld value, and a group outside a key's public domain, is not in it", o.Name))
	}
}

// isCount reports whether an aggregate is a count, which protect rounds
// to the policy's round_to.
func isCount(a query.Aggregate) bool {
	switch a.Kind {
	case query.AggCountStar, query.AggCount, query.AggCountDistinct:
		return true
	}
	return false
}

// nonNegative reports whether an aggregate's true value is at least 0:
// a count, or a sum of values bounded below by 0.
func nonNegative(a query.Aggregate) bool {
	switch a.Kind {
	case query.AggCountStar, query.AggCount, query.AggCountDistinct:
		return true
	case query.AggSum:
		return a.Bounds[0] >= 0
	}
	return false
}

// partitionOf names the partition of a window a row is in: its values of
// the partition keys, each typed and length-prefixed so that no two
// tuples share a name.
func partitionOf(row result.Row, w *query.WindowSum, keyCols []int) string {
	var b strings.Builder
	for _, k := range w.Partition {
		v := row.Cells[keyCols[k]].Value
		part := fmt.Sprintf("%T:%v", v, v)
		fmt.Fprintf(&b, "%d:%s;", len(part), part)
	}
	return b.String()
}

// visibleOutputs is the number of outputs before the first hidden one.
func visibleOutputs(q *query.Query) int {
	for i, o := range q.Output {
		if o.Hidden {
			return i
		}
	}
	return len(q.Output)
}

// roundCell rounds a released measure to places decimal places (round
// half away from zero, as DuckDB's round) and its interval outward to the
// same places, so that it still holds what it held; the noise's stddev
// stays. A suppressed or NULL cell is left as it is.
func roundCell(c result.Cell, places int) result.Cell {
	scale := math.Pow(10, float64(places))
	at := func(x float64, f func(float64) float64) float64 {
		if r := f(x*scale) / scale; !math.IsInf(r, 0) && !math.IsNaN(r) {
			return r
		}
		return x
	}
	switch v := c.Value.(type) {
	case float64:
		c.Value = at(v, math.Round)
	case int64:
		if places < 0 {
			c.Value = int64(at(float64(v), math.Round))
		}
	default:
		return c
	}
	if c.CI != nil {
		ci := [2]float64{at(c.CI[0], math.Floor), at(c.CI[1], math.Ceil)}
		c.CI = &ci
	}
	return c
}

// eval evaluates a HAVING expression over one released row. NULL
// propagates as in SQL; a suppressed cell is NULL, so it never passes a
// comparison. eval is total: an operation the checker would not have let
// through (arithmetic on a string, an unknown operator) is NULL, so that
// whether a result is released can never depend on which rows exist.
func eval(e query.Expr, row result.Row) any {
	switch x := e.(type) {
	case *query.OutputRef:
		if x.Round != nil {
			return roundCell(row.Cells[x.Column], *x.Round).Value
		}
		return row.Cells[x.Column].Value
	case *query.Literal:
		return x.Value
	case *query.Compare:
		l, r := eval(x.L, row), eval(x.R, row)
		if l == nil || r == nil {
			return nil
		}
		c := result.Compare(l, r)
		switch x.Op {
		case "=":
			return c == 0
		case "<>", "!=":
			return c != 0
		case "<":
			return c < 0
		case "<=":
			return c <= 0
		case ">":
			return c > 0
		case ">=":
			return c >= 0
		}
		return nil
	case *query.Logical:
		return evalLogical(x, row)
	case *query.IsNull:
		return (eval(x.X, row) == nil) != x.Not
	case *query.Between:
		v, lo, hi := eval(x.X, row), eval(x.Lo, row), eval(x.Hi, row)
		if v == nil || lo == nil || hi == nil {
			return nil
		}
		in := result.Compare(v, lo) >= 0 && result.Compare(v, hi) <= 0
		return in != x.Not
	case *query.In:
		v := eval(x.X, row)
		if v == nil {
			return nil
		}
		for _, le := range x.List {
			if lv := eval(le, row); lv != nil && result.Compare(v, lv) == 0 {
				return !x.Not
			}
		}
		return x.Not
	case *query.Arith:
		a, ok1 := result.Number(eval(x.L, row))
		b, ok2 := result.Number(eval(x.R, row))
		if !ok1 || !ok2 {
			return nil
		}
		switch x.Op {
		case "+":
			return a + b
		case "-":
			return a - b
		case "*":
			return a * b
		case "/":
			if b == 0 {
				return nil
			}
			return a / b
		case "%":
			if b == 0 {
				return nil
			}
			return math.Mod(a, b)
		}
	}
	return nil
}

// evalLogical evaluates AND, OR and NOT with SQL's three-valued logic.
func evalLogical(x *query.Logical, row result.Row) any {
	op := strings.ToUpper(x.Op)
	if op == "NOT" {
		if b, ok := eval(x.Args[0], row).(bool); ok {
			return !b
		}
		return nil
	}
	sawNull := false
	for _, a := range x.Args {
		b, ok := eval(a, row).(bool)
		if !ok {
			sawNull = true
			continue
		}
		if op == "AND" && !b {
			return false
		}
		if op == "OR" && b {
			return true
		}
	}
	if sawNull {
		return nil
	}
	return op == "AND"
}
