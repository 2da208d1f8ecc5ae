package plan

import (
	"strings"

	"github.com/statgate/statgate/engine/query"
)

// Runtime errors are a side channel: if an expression can fail on some
// rows (integer overflow in arithmetic, date overflow), whether a query
// succeeds would reveal whether such a row exists, whatever noise the
// result gets. Expressions that may fail are therefore wrapped in DuckDB's
// try(), which yields NULL instead of an error; a filter that yields NULL
// excludes the row. Plain column comparisons, which cannot fail, are left
// unwrapped so DuckDB can still push them into the scan.

// RenderFilter renders a WHERE condition that never raises a runtime error.
// An AND holding query.Exists conditions is rendered argument by argument
// (DuckDB refuses try() around a subquery, and an EXISTS renders its own
// condition safely), which keeps exactly the rows the wrapped AND would.
func RenderFilter(e query.Expr) string {
	if l, ok := e.(*query.Logical); ok && l != nil && l.Op == "AND" && containsExists(l) {
		parts := make([]string, len(l.Args))
		for i, a := range l.Args {
			parts[i] = RenderFilter(a)
		}
		return "(" + strings.Join(parts, " AND ") + ")"
	}
	if !mayFail(e) {
		return RenderExpr(e)
	}
	return "coalesce(try(" + RenderExpr(e) + "), false)"
}

// RenderValue renders a key or aggregate argument that never raises a
// runtime error (NULL where it would have).
func RenderValue(e query.Expr) string {
	if !mayFail(e) {
		return RenderExpr(e)
	}
	return "try(" + RenderExpr(e) + ")"
}

// RenderKey renders a group key like RenderValue, except that a number
// key that evaluates to NaN or ±Infinity (x / 0, exp(1000)) is NULL: a
// non-finite key could not be released (nor written to the audit log), and
// failing on it after the debit would tell whether such a row exists.
func RenderKey(e query.Expr) string {
	v := RenderValue(e)
	if e.ExprType() != query.TypeNumber {
		return v
	}
	return "CASE WHEN isfinite(" + v + ") THEN " + v + " END"
}

// mayFail reports whether evaluating e could raise a runtime error: it
// holds arithmetic, a cast or a function call.
func mayFail(e query.Expr) bool {
	switch x := e.(type) {
	case nil, *query.ColumnRef, *query.Literal, *query.OutputRef:
		return false
	case *query.Exists:
		// Its condition is rendered by RenderFilter inside the subquery.
		return false
	case *query.Arith, *query.Cast, *query.Func:
		return true
	case *query.Compare:
		return mayFail(x.L) || mayFail(x.R)
	case *query.Logical:
		return anyFail(x.Args)
	case *query.In:
		return mayFail(x.X) || anyFail(x.List)
	case *query.Between:
		return mayFail(x.X) || mayFail(x.Lo) || mayFail(x.Hi)
	case *query.Like:
		return mayFail(x.X) || mayFail(x.Pattern)
	case *query.IsNull:
		return mayFail(x.X)
	case *query.Case:
		for _, w := range x.Whens {
			if mayFail(w.Cond) || mayFail(w.Then) {
				return true
			}
		}
		return mayFail(x.Else)
	}
	return true
}

func anyFail(es []query.Expr) bool {
	for _, e := range es {
		if mayFail(e) {
			return true
		}
	}
	return false
}
