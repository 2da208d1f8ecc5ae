package engine

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/result"
)

// finish applies the query's SELECT order, HAVING, ORDER BY and LIMIT to a
// protected result. It only reads released values (post-processing), so it
// costs no privacy.
func finish(res *result.Result, q *query.Query) (*result.Result, error) {
	idx := make([]int, len(q.Output))
	for i, o := range q.Output {
		name, role := "", result.RoleMeasure
		if o.Key >= 0 {
			name, role = q.Keys[o.Key].Name, result.RoleKey
		} else {
			name = q.Aggs[o.Agg].Name
		}
		idx[i] = slices.IndexFunc(res.Columns, func(c result.Column) bool { return c.Name == name && c.Role == role })
		if idx[i] < 0 {
			return nil, fmt.Errorf("engine.finish: protected result has no %s column %q", role, name)
		}
	}
	out := &result.Result{Meta: res.Meta}
	for i, j := range idx {
		c := res.Columns[j]
		c.Name = q.Output[i].Name
		out.Columns = append(out.Columns, c)
	}
	for _, row := range res.Rows {
		nr := result.Row{Margin: row.Margin, Cells: make([]result.Cell, len(idx))}
		for i, j := range idx {
			nr.Cells[i] = row.Cells[j]
		}
		if q.Having != nil {
			v, err := eval(q.Having, nr)
			if err != nil {
				return nil, err
			}
			if b, ok := v.(bool); !ok || !b {
				continue
			}
		}
		out.Rows = append(out.Rows, nr)
	}
	if len(q.OrderBy) > 0 {
		slices.SortStableFunc(out.Rows, func(a, b result.Row) int {
			for _, o := range q.OrderBy {
				av, bv := a.Cells[o.Column].Value, b.Cells[o.Column].Value
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
	return out, nil
}

// eval evaluates a HAVING expression over one released row. NULL
// propagates as in SQL; a suppressed cell is NULL, so it never passes a
// comparison.
func eval(e query.Expr, row result.Row) (any, error) {
	switch x := e.(type) {
	case *query.OutputRef:
		return row.Cells[x.Column].Value, nil
	case *query.Literal:
		return x.Value, nil
	case *query.Compare:
		l, err := eval(x.L, row)
		if err != nil {
			return nil, err
		}
		r, err := eval(x.R, row)
		if err != nil || l == nil || r == nil {
			return nil, err
		}
		c := result.Compare(l, r)
		switch x.Op {
		case "=":
			return c == 0, nil
		case "<>", "!=":
			return c != 0, nil
		case "<":
			return c < 0, nil
		case "<=":
			return c <= 0, nil
		case ">":
			return c > 0, nil
		case ">=":
			return c >= 0, nil
		}
		return nil, fmt.Errorf("engine.eval: comparison %q", x.Op)
	case *query.Logical:
		return evalLogical(x, row)
	case *query.IsNull:
		v, err := eval(x.X, row)
		return (v == nil) != x.Not, err
	case *query.Between:
		v, err := eval(x.X, row)
		if err != nil {
			return nil, err
		}
		lo, err := eval(x.Lo, row)
		if err != nil {
			return nil, err
		}
		hi, err := eval(x.Hi, row)
		if err != nil || v == nil || lo == nil || hi == nil {
			return nil, err
		}
		in := result.Compare(v, lo) >= 0 && result.Compare(v, hi) <= 0
		return in != x.Not, nil
	case *query.In:
		v, err := eval(x.X, row)
		if err != nil || v == nil {
			return nil, err
		}
		for _, le := range x.List {
			lv, err := eval(le, row)
			if err != nil {
				return nil, err
			}
			if lv != nil && result.Compare(v, lv) == 0 {
				return !x.Not, nil
			}
		}
		return x.Not, nil
	case *query.Arith:
		l, err := eval(x.L, row)
		if err != nil {
			return nil, err
		}
		r, err := eval(x.R, row)
		if err != nil || l == nil || r == nil {
			return nil, err
		}
		a, ok1 := result.Number(l)
		b, ok2 := result.Number(r)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("engine.eval: arithmetic on non-numbers")
		}
		switch x.Op {
		case "+":
			return a + b, nil
		case "-":
			return a - b, nil
		case "*":
			return a * b, nil
		case "/":
			if b == 0 {
				return nil, nil
			}
			return a / b, nil
		case "%":
			if b == 0 {
				return nil, nil
			}
			return math.Mod(a, b), nil
		}
		return nil, fmt.Errorf("engine.eval: operator %q", x.Op)
	}
	return nil, fmt.Errorf("engine.eval: %T is not supported in HAVING", e)
}

// evalLogical evaluates AND, OR and NOT with SQL's three-valued logic.
func evalLogical(x *query.Logical, row result.Row) (any, error) {
	op := strings.ToUpper(x.Op)
	if op == "NOT" {
		v, err := eval(x.Args[0], row)
		if b, ok := v.(bool); ok {
			return !b, err
		}
		return nil, err
	}
	sawNull := false
	for _, a := range x.Args {
		v, err := eval(a, row)
		if err != nil {
			return nil, err
		}
		b, ok := v.(bool)
		if !ok {
			sawNull = true
			continue
		}
		if op == "AND" && !b {
			return false, nil
		}
		if op == "OR" && b {
			return true, nil
		}
	}
	if sawNull {
		return nil, nil
	}
	return op == "AND", nil
}
