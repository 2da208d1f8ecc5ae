package query

import (
	"strings"

	"github.com/statgate/statgate/engine/refusal"
)

// clause says where in the query an expression stands; refusals depend on it.
type clause int

const (
	inWhere clause = iota
	inSelect
	inGroupBy
	inAggregate // the argument of an aggregate
	inHaving
	inOrderBy
)

func (c clause) String() string {
	switch c {
	case inWhere:
		return "WHERE"
	case inSelect:
		return "the SELECT list"
	case inGroupBy:
		return "GROUP BY"
	case inAggregate:
		return "an aggregate's argument"
	case inHaving:
		return "HAVING"
	case inOrderBy:
		return "ORDER BY"
	}
	return "the query"
}

// comparisons maps DuckDB's comparison types to the model's operators.
var comparisons = map[string]string{
	"COMPARE_EQUAL":                "=",
	"COMPARE_NOTEQUAL":             "<>",
	"COMPARE_LESSTHAN":             "<",
	"COMPARE_GREATERTHAN":          ">",
	"COMPARE_LESSTHANOREQUALTO":    "<=",
	"COMPARE_GREATERTHANOREQUALTO": ">=",
}

// expr checks a scalar expression (no aggregate may appear in it).
func (ck *checker) expr(n node, cl clause, depth int) (Expr, error) {
	ck.nodes++
	if depth > maxDepth || ck.nodes > maxNodes {
		return nil, refuse(refusal.QueryTooComplex, "simplify the query", "the query's expressions are nested too deeply or too many")
	}
	if n == nil {
		return nil, refuse(refusal.ExpressionNotAllowed, "", "an expression in %s is missing or not understood", cl)
	}
	switch n.class() {
	case "COLUMN_REF":
		return ck.columnExpr(n, cl)
	case "CONSTANT":
		return literal(n.obj("value"))
	case "CAST":
		return ck.cast(n, cl, depth)
	case "COMPARISON":
		return ck.comparison(n, cl, depth)
	case "CONJUNCTION":
		return ck.conjunction(n, cl, depth)
	case "OPERATOR":
		return ck.operator(n, cl, depth)
	case "BETWEEN":
		return ck.between(n, cl, depth, false)
	case "CASE":
		return ck.caseExpr(n, cl, depth)
	case "FUNCTION":
		return ck.function(n, cl, depth)
	case "SUBQUERY":
		return nil, refuse(refusal.Subquery, "filter with the columns of the datasets in FROM; join datasets on the person key instead",
			"subqueries are not allowed (found one in %s)", cl)
	case "WINDOW":
		return nil, refuse(refusal.WindowFunction, windowHint, "window functions (OVER ...) are not allowed here")
	case "STAR":
		return nil, refuse(refusal.SelectStar, "name the columns you group by and aggregate them",
			"* and COLUMNS(...) are not allowed")
	case "PARAMETER":
		return ck.param(n)
	case "COLLATE":
		return nil, refuse(refusal.OperatorNotAllowed, "compare with lower(...) or ILIKE instead", "COLLATE is not supported")
	}
	return nil, refuse(refusal.ExpressionNotAllowed, "use comparisons, AND/OR/NOT, IN, BETWEEN, LIKE, CASE, CAST, arithmetic and the allowed functions",
		"this kind of expression (%s) is not supported", strings.ToLower(n.class()))
}

// param checks a parameter: only a template's declared parameters are
// allowed, each typed from its declaration.
func (ck *checker) param(n node) (Expr, error) {
	if ck.params == nil {
		return nil, refuse(refusal.ParameterNotAllowed, "write constants into the query", "query parameters ($1, ?) are not supported")
	}
	if n.kind() != "VALUE_PARAMETER" {
		return nil, refuse(refusal.ParameterNotAllowed, "", "this kind of parameter is not supported")
	}
	name := n.str("identifier")
	t, ok := ck.params[name]
	if !ok {
		return nil, undeclaredParam(name)
	}
	return &Param{Name: name, Type: t}, nil
}

// columnExpr checks a column reference in a scalar expression.
func (ck *checker) columnExpr(n node, cl clause) (Expr, error) {
	names, ok := n.strings("column_names")
	if !ok || len(names) == 0 {
		return nil, refuse(refusal.ExpressionNotAllowed, "", "a column reference in %s is not understood", cl)
	}
	ref, isKey, err := ck.resolve(names)
	if err != nil {
		return nil, err
	}
	if isKey {
		return nil, personKeyUse(ref.Column, cl)
	}
	return ref, nil
}

// personKeyUse refuses a use of the person key in clause cl.
func personKeyUse(col string, cl clause) error {
	switch cl {
	case inWhere:
		return refuse(refusal.PersonKeyInWhere, "filter on other columns; to link registries, JOIN them USING ("+col+")",
			"the person key %s may not be used in WHERE", col)
	case inGroupBy:
		return refuse(refusal.GroupByPersonKey, "group by other columns; count persons with count(DISTINCT "+col+")",
			"grouping by the person key %s would release one row per person", col)
	case inAggregate:
		return refuse(refusal.PersonKeyAggregated, "count persons with count(DISTINCT "+col+"), rows with count(*) or count("+col+")",
			"the person key %s may only be counted: count(DISTINCT %s) or count(%s)", col, col, col)
	}
	return refuse(refusal.PersonKeyInSelect, "count persons with count(DISTINCT "+col+")",
		"the person key %s may not be released or used in %s", col, cl)
}

// comparison checks L op R.
func (ck *checker) comparison(n node, cl clause, depth int) (Expr, error) {
	op, ok := comparisons[n.kind()]
	if !ok {
		switch n.kind() {
		case "COMPARE_DISTINCT_FROM", "COMPARE_NOT_DISTINCT_FROM":
			return nil, refuse(refusal.OperatorNotAllowed, "use =, <>, IS NULL or IS NOT NULL",
				"IS [NOT] DISTINCT FROM, IS TRUE and IS FALSE are not supported")
		}
		return nil, refuse(refusal.OperatorNotAllowed, "use = <> < <= > >=", "the comparison %s is not supported", strings.ToLower(n.kind()))
	}
	l, err := ck.expr(n.obj("left"), cl, depth+1)
	if err != nil {
		return nil, err
	}
	r, err := ck.expr(n.obj("right"), cl, depth+1)
	if err != nil {
		return nil, err
	}
	l, r, err = comparable(l, r, "compare")
	if err != nil {
		return nil, err
	}
	return &Compare{Op: op, L: l, R: r}, nil
}

// conjunction checks AND / OR.
func (ck *checker) conjunction(n node, cl clause, depth int) (Expr, error) {
	var op string
	switch n.kind() {
	case "CONJUNCTION_AND":
		op = "AND"
	case "CONJUNCTION_OR":
		op = "OR"
	default:
		return nil, refuse(refusal.OperatorNotAllowed, "use AND, OR and NOT", "the operator %s is not supported", strings.ToLower(n.kind()))
	}
	kids, ok := n.nodes("children")
	if !ok || len(kids) < 2 {
		return nil, refuse(refusal.ExpressionNotAllowed, "", "an %s in %s is not understood", op, cl)
	}
	out := &Logical{Op: op}
	for _, k := range kids {
		e, err := ck.boolExpr(k, cl, depth+1)
		if err != nil {
			return nil, err
		}
		out.Args = append(out.Args, e)
	}
	return out, nil
}

// boolExpr checks an expression that must be a condition.
func (ck *checker) boolExpr(n node, cl clause, depth int) (Expr, error) {
	e, err := ck.expr(n, cl, depth)
	if err != nil {
		return nil, err
	}
	if t := e.ExprType(); t != TypeBool && t != TypeNull && t != TypeUnknown {
		return nil, refuse(refusal.TypeMismatch, "write a condition such as col = value",
			"a condition in %s is of type %s, not boolean", cl, t)
	}
	return e, nil
}

// operator checks NOT, IS [NOT] NULL and [NOT] IN.
func (ck *checker) operator(n node, cl clause, depth int) (Expr, error) {
	kids, ok := n.nodes("children")
	if !ok || len(kids) == 0 {
		return nil, refuse(refusal.ExpressionNotAllowed, "", "an operator in %s is not understood", cl)
	}
	switch n.kind() {
	case "OPERATOR_NOT":
		if len(kids) != 1 {
			break
		}
		if kids[0].class() == "BETWEEN" {
			return ck.between(kids[0], cl, depth+1, true)
		}
		e, err := ck.boolExpr(kids[0], cl, depth+1)
		if err != nil {
			return nil, err
		}
		return &Logical{Op: "NOT", Args: []Expr{e}}, nil
	case "OPERATOR_IS_NULL", "OPERATOR_IS_NOT_NULL":
		if len(kids) != 1 {
			break
		}
		x, err := ck.expr(kids[0], cl, depth+1)
		if err != nil {
			return nil, err
		}
		return &IsNull{X: x, Not: n.kind() == "OPERATOR_IS_NOT_NULL"}, nil
	case "COMPARE_IN", "COMPARE_NOT_IN":
		if len(kids) < 2 {
			break
		}
		x, err := ck.expr(kids[0], cl, depth+1)
		if err != nil {
			return nil, err
		}
		in := &In{X: x, Not: n.kind() == "COMPARE_NOT_IN"}
		for _, k := range kids[1:] {
			e, err := ck.expr(k, cl, depth+1)
			if err != nil {
				return nil, err
			}
			if in.X, e, err = comparable(in.X, e, "compare with IN"); err != nil {
				return nil, err
			}
			in.List = append(in.List, e)
		}
		return in, nil
	case "OPERATOR_COALESCE": // coalesce(...) and ifnull(...)
		args := make([]Expr, len(kids))
		for i, k := range kids {
			e, err := ck.expr(k, cl, depth+1)
			if err != nil {
				return nil, err
			}
			args[i] = e
		}
		return scalarFuncs["coalesce"]("coalesce", args)
	case "GROUPING_FUNCTION":
		return nil, refuse(refusal.AggregateNotAllowed, otherAggregateHint("grouping"), "grouping(...) is not supported")
	default:
		return nil, refuse(refusal.ExpressionNotAllowed, "use comparisons, AND/OR/NOT, IN, BETWEEN, LIKE and IS NULL",
			"the operation %s is not supported", strings.ToLower(n.kind()))
	}
	return nil, refuse(refusal.ExpressionNotAllowed, "", "an operator in %s is not understood", cl)
}

// between checks X [NOT] BETWEEN Lo AND Hi.
func (ck *checker) between(n node, cl clause, depth int, not bool) (Expr, error) {
	x, err := ck.expr(n.obj("input"), cl, depth+1)
	if err != nil {
		return nil, err
	}
	lo, err := ck.expr(n.obj("lower"), cl, depth+1)
	if err != nil {
		return nil, err
	}
	hi, err := ck.expr(n.obj("upper"), cl, depth+1)
	if err != nil {
		return nil, err
	}
	if x, lo, err = comparable(x, lo, "compare with BETWEEN"); err != nil {
		return nil, err
	}
	if x, hi, err = comparable(x, hi, "compare with BETWEEN"); err != nil {
		return nil, err
	}
	return &Between{X: x, Lo: lo, Hi: hi, Not: not}, nil
}

// caseExpr checks a (searched) CASE; DuckDB's parser already rewrites a
// simple CASE x WHEN v into searched form.
func (ck *checker) caseExpr(n node, cl clause, depth int) (Expr, error) {
	checks, ok := n.nodes("case_checks")
	if !ok || len(checks) == 0 {
		return nil, refuse(refusal.ExpressionNotAllowed, "", "a CASE in %s is not understood", cl)
	}
	c := &Case{}
	var results []Expr
	for _, w := range checks {
		cond, err := ck.boolExpr(w.obj("when_expr"), cl, depth+1)
		if err != nil {
			return nil, err
		}
		then, err := ck.expr(w.obj("then_expr"), cl, depth+1)
		if err != nil {
			return nil, err
		}
		c.Whens = append(c.Whens, When{Cond: cond, Then: then})
		results = append(results, then)
	}
	if e := n.obj("else_expr"); e != nil {
		el, err := ck.expr(e, cl, depth+1)
		if err != nil {
			return nil, err
		}
		if lit, ok := el.(*Literal); !ok || lit.Value != nil {
			c.Else = el
			results = append(results, el)
		}
	}
	results, t, err := unify(results, "CASE results")
	if err != nil {
		return nil, err
	}
	for i := range c.Whens {
		c.Whens[i].Then = results[i]
	}
	if c.Else != nil {
		c.Else = results[len(results)-1]
	}
	c.Type = t
	return c, nil
}

// isNumeric reports whether t is integer or number.
func isNumeric(t Type) bool { return t == TypeInteger || t == TypeNumber }

// loose reports whether t is compatible with any type (NULL or not known).
func loose(t Type) bool { return t == TypeNull || t == TypeUnknown }

// comparable makes l and r comparable: a string constant compared with a
// date becomes a date literal. what names the operation for the message.
func comparable(l, r Expr, what string) (Expr, Expr, error) {
	l, r, err := coercePair(l, r)
	if err != nil {
		return nil, nil, err
	}
	lt, rt := l.ExprType(), r.ExprType()
	if lt == rt || loose(lt) || loose(rt) || (isNumeric(lt) && isNumeric(rt)) {
		if lt == TypeInterval || rt == TypeInterval {
			return nil, nil, refuse(refusal.TypeMismatch, "compare dates, or use date_diff(...) to get a number",
				"intervals cannot be compared")
		}
		return l, r, nil
	}
	return nil, nil, refuse(refusal.TypeMismatch, "cast one side, e.g. CAST(col AS VARCHAR), or compare with a value of the column's type",
		"cannot %s %s with %s", what, lt, rt)
}

// coercePair turns a string constant facing a date into a date literal.
func coercePair(l, r Expr) (Expr, Expr, error) {
	var err error
	if l.ExprType() == TypeDate && r.ExprType() == TypeString {
		r, err = coerceDate(r)
	} else if r.ExprType() == TypeDate && l.ExprType() == TypeString {
		l, err = coerceDate(l)
	}
	return l, r, err
}

// coerceDate turns a string literal into a date literal; other
// expressions are returned unchanged.
func coerceDate(e Expr) (Expr, error) {
	lit, ok := e.(*Literal)
	if !ok || lit.Type != TypeString {
		return e, nil
	}
	s, _ := lit.Value.(string)
	return dateLiteral(s)
}

// unify gives exprs one type (numbers widen to number, string constants
// next to dates become dates) and returns it. NULL constants take any type.
func unify(exprs []Expr, what string) ([]Expr, Type, error) {
	t := TypeNull
	for _, e := range exprs {
		if e.ExprType() == TypeDate {
			t = TypeDate
		}
	}
	out := make([]Expr, len(exprs))
	for i, e := range exprs {
		if t == TypeDate {
			var err error
			if e, err = coerceDate(e); err != nil {
				return nil, "", err
			}
		}
		out[i] = e
	}
	t = TypeNull
	for _, e := range out {
		et := e.ExprType()
		switch {
		case et == TypeNull:
		case et == TypeUnknown:
			if t == TypeNull {
				t = TypeUnknown
			}
		case t == TypeNull || t == TypeUnknown || t == et:
			t = et
		case isNumeric(t) && isNumeric(et):
			t = TypeNumber
		default:
			return nil, "", refuse(refusal.TypeMismatch, "make the values the same type, e.g. with CAST",
				"%s mix %s and %s", what, t, et)
		}
	}
	if t == TypeInterval {
		return nil, "", refuse(refusal.TypeMismatch, "use date_diff(...) to get a number", "%s may not be intervals", what)
	}
	return out, t, nil
}
