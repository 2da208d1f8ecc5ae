package query

import (
	"encoding/json"
	"strings"

	"github.com/statgate/statgate/engine/refusal"
)

// isAggregateCall reports whether n calls an aggregate function.
func isAggregateCall(n node) bool {
	return n.class() == "FUNCTION" && aggregateNames[strings.ToLower(n.str("function_name"))]
}

// aggregate checks one aggregate call of the SELECT list (or of HAVING /
// ORDER BY, which must then match one of the SELECT list). Name is left empty.
func (ck *checker) aggregate(n node) (Aggregate, error) {
	filter, ok := n.strictObj("filter")
	if !ok {
		return Aggregate{}, refuse(refusal.AggregateFilter, "", "the FILTER of an aggregate is not understood")
	}
	if filter == nil {
		return ck.aggregateCall(n)
	}
	// agg(x) FILTER (WHERE c) is agg(CASE WHEN c THEN x END): the
	// aggregates ignore NULLs, and count(*) counts the rows where c holds.
	plain := make(node, len(n))
	for k, v := range n {
		plain[k] = v
	}
	delete(plain, "filter")
	a, err := ck.aggregateCall(plain)
	if err != nil {
		return Aggregate{}, err
	}
	cond, err := ck.boolExpr(filter, inAggregate, 1)
	if err != nil {
		return Aggregate{}, err
	}
	switch a.Kind {
	case AggCountDistinct:
		// The persons with at least one row in the group where c holds
		// (and, for count(DISTINCT CASE WHEN c2 THEN pid END), c2).
		if a.Arg != nil {
			cond = &Logical{Op: "AND", Args: []Expr{cond, a.Arg}}
		}
		a.Arg = cond
		return a, nil
	case AggCountStar:
		a.Kind, a.Arg = AggCount, &Literal{Value: int64(1), Type: TypeInteger}
	}
	a.Arg = &Case{Whens: []When{{Cond: cond, Then: a.Arg}}, Type: a.Arg.ExprType()}
	return a, nil
}

// aggregateCall checks an aggregate call without a FILTER.
func (ck *checker) aggregateCall(n node) (Aggregate, error) {
	name := strings.ToLower(n.str("function_name"))
	shown := name
	if name == "count_star" {
		shown = "count"
	}
	if n.set("schema") || n.set("catalog") || n.flag("export_state") {
		return Aggregate{}, refuse(refusal.AggregateNotAllowed, "call aggregates by their plain name", "the aggregate %s is qualified or exported", shown)
	}
	kids, ok := n.nodes("children")
	if !ok {
		return Aggregate{}, refuse(refusal.ExpressionNotAllowed, "", "the arguments of %s are not understood", shown)
	}
	orders, ok := n.obj("order_bys").nodes("orders")
	if !ok {
		return Aggregate{}, refuse(refusal.AggregateOrderBy, "", "the ORDER BY of %s is not understood", shown)
	}
	isQuantile := name == "quantile_cont" || name == "quantile"
	if len(orders) > 0 && !(isQuantile && len(orders) == 1 && len(kids) == 1) {
		return Aggregate{}, refuse(refusal.AggregateOrderBy, "remove the ORDER BY inside the aggregate",
			"ORDER BY inside an aggregate is not supported")
	}
	distinct := n.flag("distinct")
	switch name {
	case "min", "max":
		return Aggregate{}, refuse(refusal.MinMaxNotAllowed, minMaxHint,
			"%s is not allowed: it would release a single person's value", name)
	case "count_star":
		if len(kids) != 0 || distinct {
			break
		}
		return Aggregate{Kind: AggCountStar}, nil
	case "count":
		if len(kids) != 1 {
			break
		}
		if distinct {
			return ck.countDistinct(kids[0])
		}
		if kids[0].class() == "STAR" {
			return Aggregate{Kind: AggCountStar}, nil
		}
		if ck.isPersonKey(kids[0]) {
			// The plan reads only rows whose person key is not NULL (and
			// a joined dataset's key equals the first's), so count(pid)
			// counts what count(*) counts: rows, not persons.
			return Aggregate{Kind: AggCountStar}, nil
		}
		if ref, ok := ck.leftJoinedKey(kids[0]); ok {
			return Aggregate{}, refuse(refusal.PersonKeyAggregated,
				"count rows with count(*); keep the rows with a row in the LEFT JOINed dataset with WHERE <its column> IS NOT NULL",
				"count(%s.%s) counts a LEFT JOINed dataset's key, which is NULL for persons without a row there", ref.Table, ref.Column)
		}
		arg, err := ck.expr(kids[0], inAggregate, 1)
		if err != nil {
			return Aggregate{}, err
		}
		return Aggregate{Kind: AggCount, Arg: arg}, nil
	case "approx_count_distinct":
		// The persons, exactly: a released count is noisy, approximate
		// anyway, so DuckDB's estimate would only add an error of its own.
		if len(kids) == 1 {
			if _, isKey := ck.keyRef(kids[0]); isKey {
				return ck.countDistinct(kids[0])
			}
		}
		return Aggregate{}, refuse(refusal.CountDistinctNotPerson,
			"approx_count_distinct counts persons only: approx_count_distinct(pid), the same as count(DISTINCT pid); group by the column to count its values",
			"approx_count_distinct(...) is supported for the person key only")
	case "sum", "avg", "mean", "median", "stddev", "stddev_samp", "variance", "var_samp", "quantile_cont", "quantile":
		// the names of numericAggregates (TestNumericAggregatesSwitch keeps the two equal)
		if distinct {
			return Aggregate{}, refuse(refusal.DistinctAggregate, "aggregate all rows; only count(DISTINCT <person key>) is supported",
				"%s(DISTINCT ...) is not supported", shown)
		}
		a := Aggregate{Kind: numericAggregates[name]}
		argNode := node(nil)
		switch {
		case isQuantile && len(orders) == 1:
			// percentile_cont(p) WITHIN GROUP (ORDER BY col)
			if t := orders[0].kind(); t != "ORDER_DEFAULT" && t != "ASCENDING" {
				return Aggregate{}, refuse(refusal.AggregateOrderBy, "use quantile_cont(col, p)",
					"percentile_cont ... WITHIN GROUP (ORDER BY ... DESC) is not supported")
			}
			argNode = orders[0].obj("expression")
			p, err := quantileP(kids[0])
			if err != nil {
				return Aggregate{}, err
			}
			a.P = p
		case isQuantile:
			if len(kids) != 2 {
				return Aggregate{}, refuse(refusal.BadQuantile, "write quantile_cont(col, 0.9)", "%s takes a column and one quantile", name)
			}
			argNode = kids[0]
			p, err := quantileP(kids[1])
			if err != nil {
				return Aggregate{}, err
			}
			a.P = p
		default:
			if len(kids) != 1 {
				return Aggregate{}, refuse(refusal.BadArgument, "", "%s takes one column", name)
			}
			argNode = kids[0]
			if name == "median" {
				a.P = 0.5
			}
		}
		arg, bounds, err := ck.numericArg(argNode, shown)
		if err != nil {
			return Aggregate{}, err
		}
		a.Arg, a.Bounds = arg, bounds
		return a, nil
	default:
		return Aggregate{}, refuse(refusal.AggregateNotAllowed, otherAggregateHint(name),
			"the aggregate %s is not supported", shown)
	}
	return Aggregate{}, refuse(refusal.BadArgument, "write count(*), count(col) or count(DISTINCT <person key>)",
		"this form of count is not supported")
}

// personCounts are the names of the counts aggregate() accepts by the
// shape of their argument (rows or persons) rather than by name.
var personCounts = map[string]bool{"count": true, "count_star": true, "approx_count_distinct": true}

// minMaxHint is the hint of a refused min or max.
const minMaxHint = "use quantile_cont(col, 0.01) or quantile_cont(col, 0.99): extremes are one person's value"

// numericAggregates are the aggregates of a bounded numeric column, by the
// names users call, with the kind each checks into. The reference
// (reference.go) lists them from here.
var numericAggregates = map[string]AggKind{"sum": AggSum, "avg": AggAvg, "mean": AggAvg, "median": AggQuantile,
	"stddev": AggStddev, "stddev_samp": AggStddev, "variance": AggVariance, "var_samp": AggVariance,
	"quantile_cont": AggQuantile, "quantile": AggQuantile}

// otherAggregateHint suggests a supported aggregate in place of name.
func otherAggregateHint(name string) string {
	switch name {
	case "stddev_pop", "var_pop":
		return "use stddev(col) or variance(col)"
	case "quantile_disc", "percentile_disc", "approx_quantile", "reservoir_quantile", "mode":
		return "use quantile_cont(col, p) or median(col)"
	case "count_if", "countif":
		return "put the condition in WHERE and use count(*)"
	case "grouping", "grouping_id":
		return "margin rows of ROLLUP/CUBE are marked in the result"
	}
	return "supported aggregates: count(*), count(col), count(DISTINCT <person key>), sum, avg, median, quantile_cont, stddev, variance"
}

// countDistinct checks count(DISTINCT x): x must be a person key, or
// CASE WHEN c THEN <person key> END (ELSE NULL or none), which counts the
// persons for whom c holds on one of their rows at least, as count(DISTINCT
// pid) FILTER (WHERE c) does: Arg is then c.
func (ck *checker) countDistinct(k node) (Aggregate, error) {
	bad := refuse(refusal.CountDistinctNotPerson, "count(DISTINCT) counts persons only: count(DISTINCT pid); group by the column to count its values",
		"count(DISTINCT ...) is supported for the person key only")
	if then, when, ok := personCase(k); ok {
		a, err := ck.countDistinct(then)
		if err != nil {
			return Aggregate{}, err
		}
		cond, err := ck.boolExpr(when, inAggregate, 1)
		if err != nil {
			return Aggregate{}, err
		}
		a.Arg = cond
		return a, nil
	}
	if k.class() == "CASE" {
		return Aggregate{}, refuse(refusal.CountDistinctNotPerson,
			"count the persons with a condition as count(DISTINCT pid) FILTER (WHERE c), or count(DISTINCT CASE WHEN c THEN pid END) with one WHEN and no ELSE",
			"this count(DISTINCT CASE ...) is not a count of persons")
	}
	if k.class() != "COLUMN_REF" {
		if _, err := ck.expr(k, inAggregate, 1); err != nil && k.class() != "STAR" {
			return Aggregate{}, err
		}
		return Aggregate{}, bad
	}
	names, ok := k.strings("column_names")
	if !ok || len(names) == 0 {
		return Aggregate{}, bad
	}
	ref, isKey, err := ck.resolve(names)
	if err != nil {
		return Aggregate{}, err
	}
	if !isKey {
		return Aggregate{}, bad
	}
	if ck.leftJoined(ref) {
		return Aggregate{}, refuse(refusal.CountDistinctNotPerson,
			"count persons by the key of the first dataset, count(DISTINCT pid); keep persons with a row in the LEFT JOINed one with WHERE <its column> IS NOT NULL",
			"count(DISTINCT %s.%s) counts a LEFT JOINed dataset's key, which is NULL for persons without a row there", ref.Table, ref.Column)
	}
	return Aggregate{Kind: AggCountDistinct}, nil
}

// personCase reports whether k is CASE WHEN when THEN then END with one
// WHEN, no ELSE (or ELSE NULL) and a column reference as its result: the
// form of a conditional count of persons. Anything else is checked as an
// expression (and refused as count(DISTINCT) of one).
func personCase(k node) (then, when node, ok bool) {
	if k.class() != "CASE" {
		return nil, nil, false
	}
	checks, ok := k.nodes("case_checks")
	if !ok || len(checks) != 1 {
		return nil, nil, false
	}
	when, then = checks[0].obj("when_expr"), checks[0].obj("then_expr")
	if when == nil || then.class() != "COLUMN_REF" {
		return nil, nil, false
	}
	if e := k.obj("else_expr"); e != nil {
		if e.class() != "CONSTANT" {
			return nil, nil, false
		}
		lit, err := literal(e.obj("value"))
		if err != nil || lit.Value != nil {
			return nil, nil, false
		}
	}
	return then, when, true
}

// numericArg checks the argument of sum, avg, quantiles, stddev and
// variance: a numeric column with bounds in the policy, or a numeric
// expression whose bounds follow by interval arithmetic from the declared
// bounds, integer domains and date years of its columns (see spanOf);
// least/greatest in the expression tighten them.
func (ck *checker) numericArg(n node, agg string) (Expr, [2]float64, error) {
	var none [2]float64
	if n.class() != "COLUMN_REF" {
		e, err := ck.expr(n, inAggregate, 1)
		if err != nil {
			return nil, none, err
		}
		if t := e.ExprType(); !isNumeric(t) {
			return nil, none, refuse(refusal.AggregateNonNumeric, "aggregate a number, e.g. year(diagnosis_date) - birth_year or date_diff('day', a, b)",
				"%s needs a numeric expression; this one is %s", agg, t)
		}
		s := spanOf(e, ck.policyColumn)
		if !s.finite() {
			return nil, none, refuse(refusal.ExpressionUnbounded,
				"bound the expression with least(greatest(x, lo), hi), or aggregate columns with declared bounds (GET /v1/datasets/{name})",
				"%s of %s cannot be protected: no finite bound follows from the declared bounds, because %s", agg, describe(e), s.why)
		}
		if s.empty {
			s = point(0)
		}
		return e, s.bounds(), nil
	}
	names, ok := n.strings("column_names")
	if !ok || len(names) == 0 {
		return nil, none, refuse(refusal.ExpressionNotAllowed, "", "the argument of %s is not understood", agg)
	}
	ref, isKey, err := ck.resolve(names)
	if err != nil {
		return nil, none, err
	}
	if isKey {
		return nil, none, personKeyUse(ref.Column, inAggregate)
	}
	if !isNumeric(ref.Type) {
		return nil, none, refuse(refusal.AggregateNonNumeric, "group by the column instead, or count rows with count(*)",
			"%s needs a numeric column; %s is %s", agg, ref.Column, ref.Type)
	}
	c := ck.policyColumn(ref)
	if c == nil || c.Bounds == nil {
		return nil, none, refuse(refusal.AggregateUnbounded, "aggregate a column whose bounds the policy declares (see GET /v1/datasets/{name}), or count rows",
			"%s.%s has no declared bounds, so %s cannot be protected", ref.Dataset, ref.Column, agg)
	}
	return ref, *c.Bounds, nil
}

// quantileP reads a quantile constant in (0, 1).
func quantileP(n node) (float64, error) {
	bad := refuse(refusal.BadQuantile, "write one quantile strictly between 0 and 1, e.g. quantile_cont(ddd, 0.9)",
		"the quantile must be one constant strictly between 0 and 1")
	if n.class() != "CONSTANT" {
		return 0, bad
	}
	lit, err := literal(n.obj("value"))
	if err != nil || !isNumeric(lit.Type) {
		return 0, bad
	}
	p := toFloat(lit.Value)
	if !(p > 0 && p < 1) {
		return 0, bad
	}
	return p, nil
}

// jsonInt reads a JSON integer (a group set index).
func jsonInt(v any) (int, bool) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := num.Int64()
	if err != nil || i < 0 || i > 1<<20 {
		return 0, false
	}
	return int(i), true
}
