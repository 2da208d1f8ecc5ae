package query

import (
	"reflect"
	"slices"
	"strings"

	"github.com/statgate/statgate/engine/refusal"
)

// A measure expression is arithmetic over aggregates and numeric
// constants in the SELECT list: count(*) * 1.0 / count(DISTINCT pid),
// sum(ddd) / 365.0, 100.0 * count(*) FILTER (WHERE c) / count(*). Each
// aggregate in it is checked and protected as if it were selected on its
// own (Query.Aggs); the expression is computed from their released values
// afterwards (engine/post), which costs no privacy, with a confidence
// interval that holds wherever theirs do.

// hasAggregate reports whether an aggregate call occurs anywhere in n.
// A subquery's aggregates are its own.
func hasAggregate(n node) bool {
	if isAggregateCall(n) {
		return true
	}
	if n.class() == "SUBQUERY" {
		return false
	}
	for _, v := range n {
		if hasAggregateIn(v) {
			return true
		}
	}
	return false
}

func hasAggregateIn(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		return hasAggregate(node(x))
	case []any:
		for _, e := range x {
			if hasAggregateIn(e) {
				return true
			}
		}
	}
	return false
}

// measureCasts are the casts a measure expression may apply to a value:
// to a floating type, which changes nothing of a released number.
var measureCasts = map[string]bool{"DOUBLE": true, "FLOAT": true}

// measure checks a SELECT item that holds aggregates inside arithmetic:
// +, -, * and / (and unary minus) over aggregates, numeric constants and
// casts of them to DOUBLE. Aggregates are added to q.Aggs (equal ones
// once) and appear as AggRef.
func (ck *checker) measure(q *Query, n node, depth int) (Expr, error) {
	ck.nodes++
	if depth > maxDepth || ck.nodes > maxNodes {
		return nil, refuse(refusal.QueryTooComplex, "simplify the expression", "the expression of aggregates is nested too deeply")
	}
	if isAggregateCall(n) {
		a, err := ck.aggregate(n)
		if err != nil {
			return nil, err
		}
		return &AggRef{Agg: addAgg(q, a)}, nil
	}
	switch n.class() {
	case "WINDOW":
		return ck.windowSum(q, n)
	case "CONSTANT":
		lit, err := literal(n.obj("value"))
		if err != nil {
			return nil, err
		}
		if lit.Type == TypeInteger || lit.Type == TypeNumber {
			return lit, nil
		}
	case "CAST":
		if measureCasts[n.obj("cast_type").str("id")] && !n.flag("try_cast") && !n.obj("cast_type").set("type_info") {
			return ck.measure(q, n.obj("child"), depth+1)
		}
	case "FUNCTION":
		name := n.str("function_name")
		kids, ok := n.nodes("children")
		if !ok || n.set("schema") || n.flag("distinct") || n.set("filter") || !strings.Contains("+-*/", name) || len(name) != 1 {
			break
		}
		args := make([]Expr, len(kids))
		for i, k := range kids {
			e, err := ck.measure(q, k, depth+1)
			if err != nil {
				return nil, err
			}
			args[i] = e
		}
		switch {
		case len(args) == 1 && name == "+":
			return args[0], nil
		case len(args) == 1 && name == "-":
			return &Arith{Op: "-", L: &Literal{Value: int64(0), Type: TypeInteger}, R: args[0], Type: TypeNumber}, nil
		case len(args) == 2:
			return &Arith{Op: name, L: args[0], R: args[1], Type: TypeNumber}, nil
		}
	}
	// What the SELECT list refuses anyway keeps its own refusal (a
	// subquery, a function not allowed, …).
	if _, err := ck.expr(n, inSelect, depth); err != nil && !refusalIs(err, refusal.AggregateInExpression) {
		return nil, err
	}
	return nil, refuse(refusal.AggregateInExpression,
		"combine aggregates and numeric constants with + - * / only, e.g. sum(ddd) / count(DISTINCT pid) or count(*) / 12.0; compute anything else from the released values",
		"this expression of aggregates is not supported in the SELECT list")
}

// windowHint is what a refused window function is told.
const windowHint = "totals for shares are allowed as sum(<aggregate>) OVER () or OVER (PARTITION BY <group keys>), " +
	"e.g. count(*) * 100.0 / sum(count(*)) OVER (); other window functions release row-level values"

// windowSum checks sum(<aggregate>) OVER ([PARTITION BY ...]) in a
// SELECT item's measure expression: a sum over the whole partition (no
// ORDER BY, the default frame or one to UNBOUNDED FOLLOWING) of one
// aggregate. PARTITION BY is resolved to group keys once they exist
// (resolveWindows).
func (ck *checker) windowSum(q *Query, n node) (Expr, error) {
	if !ck.windows {
		return nil, refuse(refusal.WindowFunction, "select the share with an alias and sort by the alias",
			"a window function may stand in the SELECT list only")
	}
	kids, ok := n.nodes("children")
	orders, _ := n.nodes("orders")
	argOrders, _ := n.nodes("arg_orders")
	partitions, okp := n.nodes("partitions")
	switch {
	case n.kind() != "WINDOW_AGGREGATE" || !strings.EqualFold(n.str("function_name"), "sum") || n.set("schema") ||
		n.flag("distinct") || n.flag("ignore_nulls") || n.set("filter_expr") || len(orders) > 0 || len(argOrders) > 0 ||
		n.set("offset_expr") || n.set("default_expr") || n.set("start_expr") || n.set("end_expr") || !okp:
		return nil, refuse(refusal.WindowFunction, windowHint, "this window function is not supported")
	case n.str("start") != "UNBOUNDED_PRECEDING" || (n.str("end") != "CURRENT_ROW_RANGE" && n.str("end") != "UNBOUNDED_FOLLOWING") ||
		(n.str("exclude_clause") != "" && n.str("exclude_clause") != "NO_OTHER"):
		return nil, refuse(refusal.WindowFunction, windowHint, "only a window over the whole partition is supported")
	case !ok || len(kids) != 1 || !isAggregateCall(kids[0]):
		return nil, refuse(refusal.WindowFunction, windowHint, "sum(...) OVER (...) must sum one aggregate, e.g. sum(count(*)) OVER ()")
	}
	a, err := ck.aggregate(kids[0])
	if err != nil {
		return nil, err
	}
	return &WindowSum{Agg: addAgg(q, a), partition: partitions}, nil
}

// resolveWindows resolves the PARTITION BY of every window in the SELECT
// list's measures to group keys: each must be a group key (written as
// the key, or by the alias of a selected key), and the query may not
// have grouping sets, whose margins would stand in SQL's window too.
func (ck *checker) resolveWindows(q *Query, items []*selectItem) error {
	for _, it := range items {
		for _, w := range MeasureWindows(it.measure) {
			if q.GroupingSets != nil {
				return refuse(refusal.WindowFunction, "ask for the margins with ROLLUP or CUBE and divide by them yourself, or drop the grouping sets",
					"sum(...) OVER (...) is not supported with grouping sets")
			}
			for _, p := range w.partition {
				if p.class() == "CONSTANT" {
					return refuse(refusal.WindowFunction, "partition by group keys, or leave PARTITION BY out for the whole result",
						"PARTITION BY a constant")
				}
				e, err := ck.groupExpr(p, items)
				if err != nil {
					msg := err.Error()
					if r, ok := refusal.As(err); ok {
						msg = r.Message
					}
					return refuse(refusal.WindowFunction, "partition by group keys (GROUP BY ...), or leave PARTITION BY out for the whole result",
						"PARTITION BY: %s", strings.Replace(msg, "GROUP BY", "PARTITION BY", 1))
				}
				k := slices.IndexFunc(q.Keys, func(g GroupKey) bool { return reflect.DeepEqual(g.Expr, e) })
				if k < 0 {
					return refuse(refusal.WindowFunction, "partition by group keys (GROUP BY ...), or leave PARTITION BY out for the whole result",
						"PARTITION BY must name group keys")
				}
				if !slices.Contains(w.Partition, k) {
					w.Partition = append(w.Partition, k)
				}
			}
			slices.Sort(w.Partition)
			w.partition = nil
		}
	}
	return nil
}

// MeasureAggs returns the indexes into Query.Aggs that a measure
// expression reads, each once, in the order they first appear (a
// window's aggregate too).
func MeasureAggs(e Expr) []int {
	var out []int
	add := func(a int) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	walk(e, func(e Expr) {
		switch x := e.(type) {
		case *AggRef:
			add(x.Agg)
		case *WindowSum:
			add(x.Agg)
		}
	})
	return out
}

// MeasureWindows returns the windows of a measure expression, in the
// order they appear.
func MeasureWindows(e Expr) []*WindowSum {
	var out []*WindowSum
	walk(e, func(e Expr) {
		if w, ok := e.(*WindowSum); ok {
			out = append(out, w)
		}
	})
	return out
}
