package query

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/statgate/statgate/engine/refusal"
)

// modifiers are the statement's ORDER BY and LIMIT.
type modifiers struct {
	order []node
	limit *int64
}

// parseModifiers reads DISTINCT, ORDER BY and LIMIT.
func parseModifiers(n node) (modifiers, error) {
	var m modifiers
	mods, ok := n.nodes("modifiers")
	if !ok {
		return m, refuse(refusal.ClauseNotAllowed, "", "a clause of the query is not understood")
	}
	for _, mod := range mods {
		switch mod.kind() {
		case "DISTINCT_MODIFIER":
			return m, refuse(refusal.SelectDistinct, "GROUP BY the columns instead; count persons with count(DISTINCT pid)",
				"SELECT DISTINCT is not allowed")
		case "ORDER_MODIFIER":
			orders, ok := mod.nodes("orders")
			if !ok {
				return m, refuse(refusal.ClauseNotAllowed, "", "ORDER BY is not understood")
			}
			m.order = append(m.order, orders...)
		case "LIMIT_MODIFIER":
			if mod.set("offset") {
				return m, refuse(refusal.OffsetNotAllowed, "use ORDER BY and LIMIT, and skip rows in the client", "OFFSET is not supported")
			}
			l, ok := mod.strictObj("limit")
			if !ok {
				return m, refuse(refusal.BadLimit, "", "LIMIT is not understood")
			}
			if l != nil {
				lim, err := limitValue(l)
				if err != nil {
					return m, err
				}
				m.limit = lim
			}
		case "LIMIT_PERCENT_MODIFIER":
			return m, refuse(refusal.BadLimit, "write LIMIT with a row count", "LIMIT with a percentage is not supported")
		default:
			return m, refuse(refusal.ClauseNotAllowed, "", "the clause %s is not supported", strings.ToLower(mod.kind()))
		}
	}
	return m, nil
}

// limitValue reads LIMIT n (nil for LIMIT ALL).
func limitValue(l node) (*int64, error) {
	bad := refuse(refusal.BadLimit, "write LIMIT with a constant row count, e.g. LIMIT 10", "LIMIT must be a constant integer of at least 0")
	if l.class() != "CONSTANT" {
		return nil, bad
	}
	lit, err := literal(l.obj("value"))
	if err != nil {
		return nil, bad
	}
	if lit.Type == TypeNull {
		return nil, nil
	}
	v, ok := lit.Value.(int64)
	if !ok || v < 0 {
		return nil, bad
	}
	return &v, nil
}

// nameOutputs builds q.Output and names keys and aggregates (see Check).
func nameOutputs(q *Query, items []*selectItem) error {
	taken := map[string]bool{}
	for _, it := range items {
		if it.alias == "" {
			continue
		}
		if !validOutputName(it.alias) {
			return refuse(refusal.BadAlias, "use at most 64 printable characters without double quotes in column aliases",
				"a SELECT alias is too long or holds control characters or double quotes")
		}
		a := strings.ToLower(it.alias)
		if taken[a] {
			return refuse(refusal.DuplicateOutputName, "give each SELECT item its own alias", "two SELECT items are named %s", it.alias)
		}
		taken[a] = true
	}
	unique := func(base string) string {
		name := base
		for i := 2; taken[strings.ToLower(name)]; i++ {
			name = fmt.Sprintf("%s_%d", base, i)
		}
		taken[strings.ToLower(name)] = true
		return name
	}
	for _, it := range items {
		name := it.alias
		if name == "" {
			switch {
			case it.measure != nil:
				name = unique("expr")
			case it.agg >= 0:
				name = unique(aggName(q.Aggs[it.agg]))
			default:
				name = unique(exprName(it.expr))
			}
		}
		oc := OutputColumn{Name: name, Key: -1, Agg: -1, Round: it.round, Measure: it.measure}
		switch {
		case it.measure != nil:
		case it.agg >= 0:
			oc.Agg = it.agg
			if q.Aggs[it.agg].Name == "" {
				q.Aggs[it.agg].Name = name
			}
		default:
			oc.Key = it.key
			if q.Keys[it.key].Name == "" {
				q.Keys[it.key].Name = name
			}
		}
		q.Output = append(q.Output, oc)
	}
	// An aggregate that only a measure expression reads is named for
	// the first output that reads it (its share of the budget is listed
	// under that name).
	for _, o := range q.Output {
		for _, i := range MeasureAggs(o.Measure) {
			if q.Aggs[i].Name == "" {
				q.Aggs[i].Name = unique(o.Name + "/" + aggName(q.Aggs[i]))
			}
		}
	}
	for i := range q.Keys {
		if q.Keys[i].Name == "" {
			q.Keys[i].Name = unique(exprName(q.Keys[i].Expr))
		}
	}
	return nil
}

// validOutputName reports whether an alias is an acceptable output name:
// 1 to 64 printable characters, no double quote.
func validOutputName(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > 64 || strings.ContainsRune(s, '"') {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// exprName derives the name of a key expression.
func exprName(e Expr) string {
	switch x := e.(type) {
	case *ColumnRef:
		return x.Column
	case *Func:
		if x.Name == "date_part" && len(x.Args) == 2 {
			if s, ok := litString(asLiteral(x.Args[0])); ok {
				return s
			}
		}
		return x.Name
	case *Cast:
		return exprName(x.X)
	}
	return "key"
}

func asLiteral(e Expr) *Literal {
	l, _ := e.(*Literal)
	return l
}

// aggName derives the name of an aggregate.
func aggName(a Aggregate) string {
	col := ""
	if c, ok := a.Arg.(*ColumnRef); ok {
		col = "_" + c.Column
	}
	switch a.Kind {
	case AggCountStar:
		return "count"
	case AggCountDistinct:
		return "persons"
	case AggCount:
		return "count" + col
	case AggQuantile:
		if a.P == 0.5 {
			return "median" + col
		}
		return "p" + strings.ReplaceAll(strconv.FormatFloat(a.P*100, 'f', -1, 64), ".", "_") + col
	}
	return string(a.Kind) + col
}

// outputType is the type of output column i.
func outputType(q *Query, i int) Type {
	o := q.Output[i]
	if o.Measure != nil {
		return TypeNumber
	}
	if o.Key >= 0 {
		return q.Keys[o.Key].Expr.ExprType()
	}
	switch q.Aggs[o.Agg].Kind {
	case AggCountStar, AggCount, AggCountDistinct:
		return TypeInteger
	}
	return TypeNumber
}

// outputRef resolves an expression of HAVING or ORDER BY to an output
// column: an output name, or an aggregate or key expression that is
// selected.
func (ck *checker) outputRef(q *Query, n node, cl clause) (int, error) {
	needs := func() error {
		if cl == inHaving {
			return refuse(refusal.HavingNeedsOutput, "add it to the SELECT list (with an alias) and refer to that",
				"HAVING may only use values the query releases; this one is not in the SELECT list")
		}
		return refuse(refusal.OrderByNeedsOutput, "add it to the SELECT list, or order by an output column's alias or position",
			"ORDER BY may only use values the query releases; this one is not in the SELECT list")
	}
	if n.class() == "COLUMN_REF" {
		if names, _ := n.strings("column_names"); len(names) == 1 {
			for i, o := range q.Output {
				if !o.Hidden && strings.EqualFold(o.Name, names[0]) {
					return i, nil
				}
			}
		}
	}
	if isAggregateCall(n) {
		a, err := ck.aggregate(n)
		if err != nil {
			return 0, err
		}
		for i, o := range q.Output {
			if o.Agg >= 0 && sameAgg(q.Aggs[o.Agg], a) {
				return i, nil
			}
		}
		return hiddenOutput(q, a, cl), nil
	}
	e, err := ck.expr(n, cl, 1)
	if err != nil {
		return 0, err
	}
	for i, o := range q.Output {
		if o.Key >= 0 && reflect.DeepEqual(q.Keys[o.Key].Expr, e) {
			return i, nil
		}
	}
	return 0, needs()
}

// uniqueOutputName is base, or base_2, base_3, …: a name no output or
// aggregate of q has.
func uniqueOutputName(q *Query, base string) string {
	taken := map[string]bool{}
	for _, o := range q.Output {
		taken[strings.ToLower(o.Name)] = true
	}
	for _, g := range q.Aggs {
		taken[strings.ToLower(g.Name)] = true
	}
	name := base
	for i := 2; taken[strings.ToLower(name)]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	return name
}

// hiddenOutput adds an output for an aggregate that HAVING or ORDER BY
// reads and the SELECT list does not (HAVING count(*) >= 100): it is
// protected and debited like a selected aggregate, HAVING compares and
// ORDER BY sorts its released (noisy) value, and it is not returned
// (OutputColumn.Hidden). It is named for the clause ("having/count").
func hiddenOutput(q *Query, a Aggregate, cl clause) int {
	prefix := "having/"
	if cl == inOrderBy {
		prefix = "order_by/"
	}
	name := uniqueOutputName(q, prefix+aggName(a))
	i := addAgg(q, a)
	if q.Aggs[i].Name == "" {
		q.Aggs[i].Name = name
	}
	q.Output = append(q.Output, OutputColumn{Name: name, Key: -1, Agg: i, Hidden: true})
	return len(q.Output) - 1
}

// havingExpr checks HAVING: conditions over output columns (released
// values), with the operators the post-processing step evaluates.
func (ck *checker) havingExpr(q *Query, n node, depth int) (Expr, error) {
	ck.nodes++
	if depth > maxDepth || ck.nodes > maxNodes {
		return nil, refuse(refusal.QueryTooComplex, "simplify HAVING", "HAVING is nested too deeply")
	}
	if n == nil {
		return nil, refuse(refusal.ExpressionNotAllowed, "", "HAVING is not understood")
	}
	sub := func(k node) (Expr, error) { return ck.havingExpr(q, k, depth+1) }
	switch n.class() {
	case "CONSTANT", "CAST", "PARAMETER":
		if k := n.obj("child").class(); n.class() != "CAST" || k == "CONSTANT" || k == "PARAMETER" {
			return ck.expr(n, inHaving, depth)
		}
	case "COMPARISON":
		op, ok := comparisons[n.kind()]
		if !ok {
			return nil, refuse(refusal.OperatorNotAllowed, "use = <> < <= > >=", "this comparison is not supported in HAVING")
		}
		l, err := sub(n.obj("left"))
		if err != nil {
			return nil, err
		}
		r, err := sub(n.obj("right"))
		if err != nil {
			return nil, err
		}
		if l, r, err = comparable(l, r, "compare"); err != nil {
			return nil, err
		}
		return &Compare{Op: op, L: l, R: r}, nil
	case "CONJUNCTION":
		kids, ok := n.nodes("children")
		if !ok || len(kids) < 2 || (n.kind() != "CONJUNCTION_AND" && n.kind() != "CONJUNCTION_OR") {
			return nil, refuse(refusal.ExpressionNotAllowed, "", "HAVING is not understood")
		}
		out := &Logical{Op: strings.TrimPrefix(n.kind(), "CONJUNCTION_")}
		for _, k := range kids {
			e, err := sub(k)
			if err != nil {
				return nil, err
			}
			out.Args = append(out.Args, e)
		}
		return out, nil
	case "OPERATOR":
		kids, ok := n.nodes("children")
		if !ok || len(kids) == 0 {
			return nil, refuse(refusal.ExpressionNotAllowed, "", "HAVING is not understood")
		}
		args := make([]Expr, len(kids))
		for i, k := range kids {
			e, err := sub(k)
			if err != nil {
				return nil, err
			}
			args[i] = e
		}
		switch {
		case n.kind() == "OPERATOR_NOT" && len(args) == 1:
			return &Logical{Op: "NOT", Args: args}, nil
		case (n.kind() == "OPERATOR_IS_NULL" || n.kind() == "OPERATOR_IS_NOT_NULL") && len(args) == 1:
			return &IsNull{X: args[0], Not: n.kind() == "OPERATOR_IS_NOT_NULL"}, nil
		case (n.kind() == "COMPARE_IN" || n.kind() == "COMPARE_NOT_IN") && len(args) >= 2:
			in := &In{X: args[0], Not: n.kind() == "COMPARE_NOT_IN"}
			for _, e := range args[1:] {
				var err error
				if in.X, e, err = comparable(in.X, e, "compare with IN"); err != nil {
					return nil, err
				}
				in.List = append(in.List, e)
			}
			return in, nil
		}
		return nil, refuse(refusal.HavingExpressionNotAllowed, "use comparisons, AND/OR/NOT, IN, BETWEEN, IS NULL and arithmetic in HAVING",
			"this operator is not supported in HAVING")
	case "BETWEEN":
		x, err := sub(n.obj("input"))
		if err != nil {
			return nil, err
		}
		lo, err := sub(n.obj("lower"))
		if err != nil {
			return nil, err
		}
		hi, err := sub(n.obj("upper"))
		if err != nil {
			return nil, err
		}
		if x, lo, err = comparable(x, lo, "compare with BETWEEN"); err != nil {
			return nil, err
		}
		if x, hi, err = comparable(x, hi, "compare with BETWEEN"); err != nil {
			return nil, err
		}
		return &Between{X: x, Lo: lo, Hi: hi}, nil
	case "FUNCTION":
		switch name := n.str("function_name"); name {
		case "+", "-", "*", "/", "%":
			kids, ok := n.nodes("children")
			if !ok {
				return nil, refuse(refusal.ExpressionNotAllowed, "", "HAVING is not understood")
			}
			args := make([]Expr, len(kids))
			for i, k := range kids {
				e, err := sub(k)
				if err != nil {
					return nil, err
				}
				args[i] = e
			}
			return arith(name, args)
		}
	}
	i, err := ck.outputRef(q, n, inHaving)
	if err != nil {
		// A column or an aggregate keeps its own refusal; another expression
		// that is not a selected key is one HAVING cannot evaluate.
		if n.class() != "COLUMN_REF" && !isAggregateCall(n) && havingFallback[refusal.CodeOf(err)] {
			return nil, refuse(refusal.HavingExpressionNotAllowed, "use comparisons, AND/OR/NOT, IN, BETWEEN, IS NULL and arithmetic over output columns",
				"this expression is not supported in HAVING")
		}
		return nil, err
	}
	ref := &OutputRef{Column: i, Type: outputType(q, i)}
	if o := q.Output[i]; o.Round != nil && o.Measure == nil && n.class() == "COLUMN_REF" {
		// The alias of round(agg, n) is the rounded value; the aggregate
		// itself (HAVING avg(x) > 4) the unrounded one, which the output
		// holds until post rounds it last.
		if names, _ := n.strings("column_names"); len(names) == 1 && strings.EqualFold(names[0], o.Name) {
			ref.Round = o.Round
		}
	}
	return ref, nil
}

// havingFallback are the refusals of an expression in HAVING that
// mean HAVING cannot evaluate it (rather than that it is forbidden).
var havingFallback = map[refusal.Code]bool{
	refusal.HavingNeedsOutput: true, refusal.UnknownColumn: true, refusal.AmbiguousColumn: true, refusal.TypeMismatch: true,
	refusal.ExpressionNotAllowed: true, refusal.OperatorNotAllowed: true,
}

// orderBy checks ORDER BY items: output names, positions, ALL, or
// selected expressions.
func (ck *checker) orderBy(q *Query, orders []node) ([]OrderItem, error) {
	var out []OrderItem
	// Positions and ALL count the SELECT list only, not the hidden outputs
	// HAVING and ORDER BY add after it.
	selected := len(q.Output)
	for i, o := range q.Output {
		if o.Hidden {
			selected = i
			break
		}
	}
	for _, o := range orders {
		var desc bool
		switch o.kind() {
		case "ORDER_DEFAULT", "ASCENDING":
		case "DESCENDING":
			desc = true
		default:
			return nil, refuse(refusal.ClauseNotAllowed, "", "ORDER BY is not understood")
		}
		if nulls := o.str("null_order"); nulls == "NULLS FIRST" || nulls == "NULLS_FIRST" {
			return nil, refuse(refusal.OrderByNullsFirst, "suppressed (NULL) cells always sort last; remove NULLS FIRST",
				"NULLS FIRST is not supported")
		}
		e := o.obj("expression")
		switch e.class() {
		case "STAR":
			if !e.flag("columns") || e.set("expr") || e.set("exclude_list") || e.set("relation_name") {
				return nil, refuse(refusal.SelectStar, "order by output names or positions", "ORDER BY * is not supported")
			}
			for i := range selected {
				out = append(out, OrderItem{Column: i, Desc: desc})
			}
			continue
		case "CONSTANT":
			lit, err := literal(e.obj("value"))
			if err != nil {
				return nil, err
			}
			pos, ok := lit.Value.(int64)
			if !ok || pos < 1 || pos > int64(selected) {
				return nil, refuse(refusal.BadPosition, "order by output names or positions 1.."+strconv.Itoa(selected),
					"ORDER BY takes an output column's name or position")
			}
			out = append(out, OrderItem{Column: int(pos - 1), Desc: desc})
			continue
		}
		var i int
		var err error
		if hasAggregate(e) && !isAggregateCall(e) {
			// An expression of aggregates: sorted by its value computed
			// from theirs, as a hidden measure.
			i, err = ck.hiddenMeasure(q, e)
		} else {
			i, err = ck.outputRef(q, e, inOrderBy)
		}
		if err != nil {
			return nil, err
		}
		item := OrderItem{Column: i, Desc: desc}
		if oc := q.Output[i]; oc.Round != nil && oc.Measure == nil && e.class() == "COLUMN_REF" {
			// The alias of round(agg, n) sorts by the rounded value, as
			// HAVING compares it (havingExpr).
			if names, _ := e.strings("column_names"); len(names) == 1 && strings.EqualFold(names[0], oc.Name) {
				item.Round = oc.Round
			}
		}
		out = append(out, item)
	}
	return out, nil
}

// hiddenMeasure adds a hidden output (hiddenOutput) for an expression of
// aggregates that ORDER BY sorts by, or returns the output that selects
// the same expression.
func (ck *checker) hiddenMeasure(q *Query, n node) (int, error) {
	m, err := ck.measure(q, n, 1)
	if err != nil {
		return 0, err
	}
	for i, o := range q.Output {
		if o.Measure != nil && reflect.DeepEqual(o.Measure, m) {
			return i, nil
		}
	}
	name := uniqueOutputName(q, "order_by/expr")
	for _, a := range MeasureAggs(m) {
		if q.Aggs[a].Name == "" {
			q.Aggs[a].Name = uniqueOutputName(q, name+"/"+aggName(q.Aggs[a]))
		}
	}
	q.Output = append(q.Output, OutputColumn{Name: name, Key: -1, Agg: -1, Measure: m, Hidden: true})
	return len(q.Output) - 1, nil
}

// refusalIs reports whether err is a refusal with the given code.
func refusalIs(err error, code refusal.Code) bool { return refusal.CodeOf(err) == code }

// mustJSON encodes v; it is used to search parse-tree fragments.
func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
