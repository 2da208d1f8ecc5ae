package query

import (
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

// MeasureAggs returns the indexes into Query.Aggs that a measure
// expression reads, each once, in the order they first appear.
func MeasureAggs(e Expr) []int {
	var out []int
	var walk func(Expr)
	walk = func(e Expr) {
		switch x := e.(type) {
		case *AggRef:
			for _, i := range out {
				if i == x.Agg {
					return
				}
			}
			out = append(out, x.Agg)
		case *Arith:
			walk(x.L)
			walk(x.R)
		}
	}
	walk(e)
	return out
}
