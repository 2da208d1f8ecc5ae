package query

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// checker holds the state of checking one statement.
type checker struct {
	cat *Catalog
	// params declares a template's parameters (nil: none may appear).
	params map[string]Type
	tables []*table
	// nodes counts expression nodes walked (see maxNodes).
	nodes int
	// ctes are the statement's person-level WITH queries, in order, with
	// the dataset each stands for and whether FROM reads it.
	ctes   []*Derived
	cteDS  map[*Derived]*policies.Dataset
	cteUse map[*Derived]bool
	// cteNames, in a WITH query's checker, are the names of the WITH
	// queries, which its FROM may not read.
	cteNames []string
	// fromSub names the WITH query the outer query's subquery in FROM is
	// read as (fromSubquery); "" when FROM is not a subquery.
	fromSub string
	// semiJoins counts the semi joins of WHERE (outerWhere), naming their
	// aliases.
	semiJoins int
	// windows is true while the SELECT list is checked, where a measure
	// may hold sum(...) OVER (...) (windowSum).
	windows bool
}

func newChecker(c *Catalog) *checker { return &checker{cat: c} }

// policyColumn returns the policy column ref refers to, or nil.
func (ck *checker) policyColumn(ref *ColumnRef) *policies.Column {
	for _, t := range ck.tables {
		if t.alias == ref.Table {
			return column(t.ds, ref.Column)
		}
	}
	return nil
}

// selectItem is one entry of the SELECT list while checking.
type selectItem struct {
	alias string
	// round is the decimal places of round(agg, n) (OutputColumn.Round).
	round *int
	// agg indexes Query.Aggs for an aggregate; -1 for a scalar.
	agg  int
	expr Expr // the scalar; nil for an aggregate or a measure
	key  int  // the key the scalar is, once grouped
	// measure is an expression of aggregates (OutputColumn.Measure).
	measure Expr
}

// Check checks a parsed statement against the catalog and returns the
// typed query. Anything the model cannot express, or the privacy rules
// forbid, is refused with a *refusal.Error (codes in engine/refusal/codes.go).
//
// Output names: an item's alias if it has one; otherwise a bare column's
// name; a function of columns its (normalised) function name (year,
// left, icd10_chapter, ...; date_part of other parts the part, e.g. week);
// any other key expression "key"; count(*) and count(<person key>)
// "count"; count(DISTINCT
// <person key>) "persons"; count(col) "count_<col>"; sum/avg/stddev/
// variance "<kind>_<col>"; median and the 0.5 quantile "median_<col>";
// other quantiles "p<100·p>_<col>" (p90_ddd, p99_5_ddd). A derived name
// already taken gets a suffix _2, _3, ...; two equal aliases are refused.
// GROUP BY keys that are not selected are allowed: they group the rows
// but are not output, and get derived names too.
//
// Check is an allow-list: every part of DuckDB's tree that carries meaning
// is matched against the forms of model.go (the refused ones are listed in
// engine/refusal/codes.go). Fields a newer DuckDB adds that Check does not
// know are ignored; since the SQL that runs is generated from the model,
// an ignored field can only make the answer differ from the question,
// never release more.
func Check(ast *AST, c *Catalog) (*Query, error) {
	if ast == nil || ast.stmt == nil {
		return nil, errors.New("query.Check: no statement")
	}
	if err := ast.refuseParams(); err != nil {
		return nil, err
	}
	ck := newChecker(c)
	return ck.statement(ast.stmt)
}

// CheckTemplate checks a template's statement like Check, with the
// parameters params declares ($name → its type) allowed wherever a
// constant of that type may stand in an expression: each becomes a Param
// of the declared type, which comparisons, functions and arithmetic type
// like a literal. A parameter that is not declared, a positional one ($1,
// ?), or one where only a literal may stand (a GROUP BY or ORDER BY
// position, a quantile, LIMIT, an INTERVAL count, a date part name) is
// refused. Every declared parameter must be used. Refusals name a
// parameter :name, as template SQL in policy files writes it. The result
// is immutable: Bind makes the query of one run.
func CheckTemplate(ast *AST, c *Catalog, params map[string]Type) (*Query, error) {
	if ast == nil || ast.stmt == nil {
		return nil, errors.New("query.CheckTemplate: no statement")
	}
	for _, name := range ast.params {
		if _, ok := params[name]; !ok {
			return nil, undeclaredParam(name)
		}
	}
	ck := newChecker(c)
	ck.params = params
	if ck.params == nil {
		ck.params = map[string]Type{}
	}
	q, err := ck.statement(ast.stmt)
	if err != nil {
		return nil, err
	}
	used := q.ParamNames()
	for name := range params {
		if !slices.Contains(used, name) {
			return nil, refuse(refusal.ParameterNotAllowed, "use the parameter in an expression, or remove its declaration",
				"the parameter :%s is declared but the checked query does not use it", name)
		}
	}
	return q, nil
}

// undeclaredParam refuses a parameter no declaration types.
func undeclaredParam(name string) error {
	if name == "" || isDigit(name[0]) {
		return refuse(refusal.ParameterNotAllowed, "name parameters, and declare them", "positional parameters ($1, ?) are not supported")
	}
	return refuse(refusal.ParameterNotAllowed, "declare the parameter under the template's params", "the parameter :%s is not declared", name)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// where checks a WHERE condition (nil: none).
func (ck *checker) where(n node) (Expr, error) {
	if n == nil {
		return nil, nil
	}
	return ck.boolExpr(n, inWhere, 0)
}

// statement checks one SELECT node into a Query.
func (ck *checker) statement(n node) (*Query, error) {
	switch n.kind() {
	case "SELECT_NODE":
	case "SET_OPERATION_NODE":
		return nil, refuse(refusal.SetOperation, "ask one query at a time, or group by the column that tells the parts apart",
			"UNION, EXCEPT and INTERSECT are not allowed")
	case "RECURSIVE_CTE_NODE", "CTE_NODE":
		return nil, refuse(refusal.CTENotAllowed, "write one SELECT over the datasets", "WITH queries are not allowed")
	default:
		return nil, refuse(refusal.ClauseNotAllowed, "ask one aggregate SELECT query", "this kind of query is not supported")
	}
	n, err := ck.fromSubquery(n)
	if err != nil {
		return nil, err
	}
	if err := ck.derivedTables(n); err != nil {
		return nil, err
	}
	mods, err := parseModifiers(n)
	if err != nil {
		return nil, err
	}
	if n.set("qualify") {
		return nil, refuse(refusal.QualifyNotAllowed, "filter groups with HAVING", "QUALIFY is not allowed")
	}
	if n.set("sample") {
		return nil, refuse(refusal.SampleNotAllowed, "query the whole dataset; the answer is protected either way", "USING SAMPLE is not allowed")
	}
	groupAll := false
	switch h := n.str("aggregate_handling"); h {
	case "", "STANDARD_HANDLING":
	case "FORCE_AGGREGATES":
		groupAll = true
	default:
		return nil, refuse(refusal.ClauseNotAllowed, "", "this form of aggregation is not supported")
	}
	if err := ck.from(n.obj("from_table")); err != nil {
		return nil, err
	}
	sel, ok := n.nodes("select_list")
	if !ok || len(sel) == 0 {
		return nil, refuse(refusal.ExpressionNotAllowed, "", "the SELECT list is not understood")
	}
	for _, s := range sel {
		if s.class() == "STAR" {
			return nil, refuse(refusal.SelectStar, "select group keys and aggregates, e.g. SELECT sex, count(*) ... GROUP BY sex",
				"SELECT * would release rows; name the group keys and aggregates")
		}
	}
	q := &Query{}
	for _, t := range ck.tables {
		q.From = append(q.From, TableRef{Dataset: t.ds.Name, Alias: t.alias, Left: t.left})
	}
	for _, d := range ck.ctes {
		if ck.cteUse[d] {
			q.Derived = append(q.Derived, d)
		}
	}
	where, ok := n.strictObj("where_clause")
	having, ok2 := n.strictObj("having")
	if !ok || !ok2 {
		return nil, refuse(refusal.ExpressionNotAllowed, "", "WHERE or HAVING is not understood")
	}
	if q.Where, err = ck.outerWhere(where); err != nil {
		return nil, err
	}
	ck.windows = true
	items, err := ck.selectItems(q, sel)
	ck.windows = false
	if err != nil {
		return nil, err
	}
	if len(q.Aggs) == 0 {
		return nil, refuse(refusal.NoAggregate, "add an aggregate, e.g. count(*) or count(DISTINCT pid)",
			"the query has no aggregate; only aggregates are released")
	}
	if len(q.Aggs) > MaxAggregates {
		return nil, refuse(refusal.TooManyAggregates, "split the query", "the query has %d aggregates; at most %d are allowed", len(q.Aggs), MaxAggregates)
	}
	if err := ck.groupBy(q, n, items, groupAll); err != nil {
		return nil, err
	}
	if err := ck.resolveWindows(q, items); err != nil {
		return nil, err
	}
	if err := nameOutputs(q, items); err != nil {
		return nil, err
	}
	if having != nil {
		if q.Having, err = ck.havingExpr(q, having, 0); err != nil {
			return nil, err
		}
		if t := q.Having.ExprType(); t != TypeBool && !loose(t) {
			return nil, refuse(refusal.TypeMismatch, "write a condition, e.g. HAVING persons >= 100", "HAVING must be a condition")
		}
		windowed := false
		walk(q.Having, func(e Expr) {
			if r, ok := e.(*OutputRef); ok && len(MeasureWindows(q.Output[r.Column].Measure)) > 0 {
				windowed = true
			}
		})
		if windowed {
			// SQL computes windows after HAVING.
			return nil, refuse(refusal.WindowFunction, "filter on the aggregates themselves, e.g. HAVING count(*) >= 100",
				"HAVING cannot read a column computed with a window function")
		}
	}
	if q.OrderBy, err = ck.orderBy(q, mods.order); err != nil {
		return nil, err
	}
	if len(q.Aggs) > MaxAggregates {
		return nil, refuse(refusal.TooManyAggregates, "split the query", "the query has %d aggregates with those HAVING and ORDER BY read; at most %d are allowed", len(q.Aggs), MaxAggregates)
	}
	q.Limit = mods.limit
	return q, nil
}

// selectItems checks the SELECT list: aggregates go to q.Aggs (equal
// aggregates once), scalars are checked for grouping later.
func (ck *checker) selectItems(q *Query, sel []node) ([]*selectItem, error) {
	var items []*selectItem
	for _, s := range sel {
		it := &selectItem{alias: s.str("alias"), agg: -1, key: -1}
		if inner, places, ok, err := roundOfAggregate(s); err != nil {
			return nil, err
		} else if ok && isAggregateCall(inner) {
			a, err := ck.aggregate(inner)
			if err != nil {
				return nil, err
			}
			it.agg, it.round = addAgg(q, a), &places
		} else if ok {
			m, err := ck.measure(q, inner, 1)
			if err != nil {
				return nil, err
			}
			it.measure, it.round = m, &places
		} else if isAggregateCall(s) {
			a, err := ck.aggregate(s)
			if err != nil {
				return nil, err
			}
			it.agg = addAgg(q, a)
		} else if hasAggregate(s) {
			m, err := ck.measure(q, s, 0)
			if err != nil {
				return nil, err
			}
			it.measure = m
		} else {
			e, err := ck.expr(s, inSelect, 0)
			if err != nil {
				return nil, err
			}
			it.expr = e
		}
		items = append(items, it)
	}
	return items, nil
}

// MaxRoundPlaces bounds the decimal places of round(agg, n).
const MaxRoundPlaces = 12

// roundOfAggregate reports whether n is round(<aggregate>) or
// round(<aggregate>, <integer constant>), returning the aggregate's node
// and the places (0 by default); the aggregate may be a measure
// expression of aggregates (measure.go).
func roundOfAggregate(n node) (inner node, places int, ok bool, err error) {
	if n.class() != "FUNCTION" || !strings.EqualFold(n.str("function_name"), "round") || n.set("schema") || n.flag("distinct") || n.set("filter") {
		return nil, 0, false, nil
	}
	kids, _ := n.nodes("children")
	if len(kids) < 1 || len(kids) > 2 || !hasAggregate(kids[0]) {
		return nil, 0, false, nil
	}
	if len(kids) == 2 {
		c := kids[1]
		v, isInt := c.obj("value").int("value")
		if c.class() != "CONSTANT" || !isInt || c.obj("value").flag("is_null") || v < -MaxRoundPlaces || v > MaxRoundPlaces {
			return nil, 0, true, refuse(refusal.BadArgument, fmt.Sprintf("round an aggregate to a constant number of places from %d to %d, e.g. round(avg(ddd), 1)", -MaxRoundPlaces, MaxRoundPlaces),
				"the places of round(aggregate, places) must be an integer constant")
		}
		places = int(v)
	}
	return kids[0], places, true, nil
}

// addAgg adds a to q.Aggs unless an equal aggregate is there; it returns the index.
func addAgg(q *Query, a Aggregate) int {
	for i, b := range q.Aggs {
		if sameAgg(a, b) {
			return i
		}
	}
	q.Aggs = append(q.Aggs, a)
	return len(q.Aggs) - 1
}

func sameAgg(a, b Aggregate) bool {
	a.Name, b.Name = "", ""
	return reflect.DeepEqual(a, b)
}

// groupBy builds q.Keys and q.GroupingSets and makes sure every selected
// scalar is a key.
func (ck *checker) groupBy(q *Query, n node, items []*selectItem, groupAll bool) error {
	exprs, ok := n.nodes("group_expressions")
	if !ok {
		return refuse(refusal.ExpressionNotAllowed, "", "GROUP BY is not understood")
	}
	// exprKey maps a group_expressions index to its (deduplicated) key.
	exprKey := make([]int, len(exprs))
	addKey := func(e Expr) int {
		for i, k := range q.Keys {
			if reflect.DeepEqual(k.Expr, e) {
				return i
			}
		}
		q.Keys = append(q.Keys, GroupKey{Expr: e})
		return len(q.Keys) - 1
	}
	if groupAll {
		for _, it := range items {
			if it.expr != nil {
				if hasColumn(it.expr) {
					it.key = addKey(it.expr)
				}
			}
		}
	}
	for i, g := range exprs {
		e, err := ck.groupExpr(g, items)
		if err != nil {
			return err
		}
		if !hasColumn(e) {
			return refuse(refusal.ConstantInSelect, "group by columns or expressions of columns",
				"GROUP BY a constant groups nothing")
		}
		exprKey[i] = addKey(e)
	}
	if len(q.Keys) > MaxGroupKeys {
		return refuse(refusal.TooManyGroupKeys, "group by fewer columns, or combine them in one CASE expression",
			"the query groups by %d keys; at most %d are allowed", len(q.Keys), MaxGroupKeys)
	}
	for _, it := range items {
		if it.expr == nil || it.key >= 0 {
			continue
		}
		for i, k := range q.Keys {
			if reflect.DeepEqual(k.Expr, it.expr) {
				it.key = i
				break
			}
		}
		if it.key >= 0 {
			continue
		}
		if !hasColumn(it.expr) {
			return refuse(refusal.ConstantInSelect, "remove the constant from the SELECT list",
				"constants may not be selected; only group keys and aggregates are released")
		}
		return refuse(refusal.ColumnNotGrouped, "add the expression to GROUP BY (or GROUP BY its position), or aggregate it",
			"a selected expression is neither grouped nor aggregated")
	}
	return ck.groupingSets(q, n, exprKey)
}

// groupingSets reads DuckDB's group_sets (index sets into
// group_expressions) into q.GroupingSets; a single set of all keys is a
// plain GROUP BY (nil).
func (ck *checker) groupingSets(q *Query, n node, exprKey []int) error {
	raw := n.list("group_sets")
	var sets [][]int
	for _, s := range raw {
		l, ok := s.([]any)
		if !ok {
			return refuse(refusal.ExpressionNotAllowed, "", "GROUP BY grouping sets are not understood")
		}
		set := []int{}
		for _, v := range l {
			i, ok := jsonInt(v)
			if !ok || i >= len(exprKey) {
				return refuse(refusal.ExpressionNotAllowed, "", "GROUP BY grouping sets are not understood")
			}
			if k := exprKey[i]; !slices.Contains(set, k) {
				set = append(set, k)
			}
		}
		slices.Sort(set)
		if !slices.ContainsFunc(sets, func(x []int) bool { return slices.Equal(x, set) }) {
			sets = append(sets, set)
		}
	}
	if len(sets) > 1<<MaxGroupKeys {
		return refuse(refusal.TooManyGroupKeys, "use fewer grouping sets", "the query has %d grouping sets", len(sets))
	}
	all := make([]int, len(q.Keys))
	for i := range all {
		all[i] = i
	}
	if len(sets) == 0 || (len(sets) == 1 && slices.Equal(sets[0], all)) {
		return nil
	}
	if len(q.Keys) == 0 {
		return nil
	}
	q.GroupingSets = sets
	return nil
}

// groupExpr checks one GROUP BY expression: a position, a SELECT alias, a
// column or an expression of columns.
func (ck *checker) groupExpr(g node, items []*selectItem) (Expr, error) {
	if g.class() == "CONSTANT" {
		lit, err := literal(g.obj("value"))
		if err != nil {
			return nil, err
		}
		pos, ok := lit.Value.(int64)
		if !ok {
			return nil, refuse(refusal.ConstantInSelect, "group by columns, expressions or SELECT positions (GROUP BY 1, 2)",
				"GROUP BY a constant groups nothing")
		}
		if pos < 1 || pos > int64(len(items)) {
			return nil, refuse(refusal.BadPosition, "positions count SELECT items from 1",
				"GROUP BY %d: the SELECT list has %d items", pos, len(items))
		}
		it := items[pos-1]
		if it.expr == nil {
			return nil, refuse(refusal.BadPosition, "group by the key columns' positions only",
				"GROUP BY %d refers to an aggregate", pos)
		}
		return it.expr, nil
	}
	if g.class() == "COLUMN_REF" {
		names, _ := g.strings("column_names")
		if len(names) == 1 {
			var alias *selectItem
			for _, it := range items {
				if it.alias != "" && strings.EqualFold(it.alias, names[0]) {
					alias = it
					break
				}
			}
			if alias != nil {
				col, colErr := ck.expr(g, inGroupBy, 0)
				switch {
				case alias.expr == nil && colErr != nil:
					return nil, refuse(refusal.AggregateInGroupBy, "group by the key columns only",
						"GROUP BY %s refers to an aggregate", names[0])
				case colErr != nil && refusalIs(colErr, refusal.UnknownColumn):
					return alias.expr, nil
				case colErr != nil:
					return nil, colErr
				case alias.expr != nil && reflect.DeepEqual(col, alias.expr):
					return col, nil
				}
				return nil, refuse(refusal.AmbiguousColumn, "give the SELECT item an alias that is not a column name, or GROUP BY its position",
					"GROUP BY %s could mean the column or the SELECT item with that alias", names[0])
			}
		}
	}
	return ck.expr(g, inGroupBy, 0)
}

// hasColumn reports whether e refers to a column.
func hasColumn(e Expr) bool { return holds[*ColumnRef](e) }

// holds reports whether e or an expression below it is a T.
func holds[T Expr](e Expr) bool {
	found := false
	walk(e, func(x Expr) {
		if _, ok := x.(T); ok {
			found = true
		}
	})
	return found
}

// walk calls f on e and every expression below it.
func walk(e Expr, f func(Expr)) {
	if e == nil || reflect.ValueOf(e).IsNil() {
		return
	}
	f(e)
	switch x := e.(type) {
	case *Func:
		for _, a := range x.Args {
			walk(a, f)
		}
	case *Compare:
		walk(x.L, f)
		walk(x.R, f)
	case *Logical:
		for _, a := range x.Args {
			walk(a, f)
		}
	case *In:
		walk(x.X, f)
		for _, a := range x.List {
			walk(a, f)
		}
	case *Between:
		walk(x.X, f)
		walk(x.Lo, f)
		walk(x.Hi, f)
	case *Like:
		walk(x.X, f)
		walk(x.Pattern, f)
	case *IsNull:
		walk(x.X, f)
	case *Arith:
		walk(x.L, f)
		walk(x.R, f)
	case *Case:
		for _, w := range x.Whens {
			walk(w.Cond, f)
			walk(w.Then, f)
		}
		walk(x.Else, f)
	case *Cast:
		walk(x.X, f)
	}
}
