package query

import (
	"math"
	"slices"
	"strings"

	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// Derived is a person-level derived table: a WITH query grouped by the
// person key alone (or a subquery in FROM read as one; SELECT DISTINCT
// <person key> is read as GROUP BY it), so it has one row per person, each
// column an aggregate of that person's own rows.
// The enclosing query reads it like a one-row-per-person dataset
// (TableRef.Dataset is Name), so joining it adds no row to any person and
// grouping by its columns puts each person in one group. Package plan renders it as a CTE from the model; the
// user's text never runs.
type Derived struct {
	// Name is the WITH name (for a subquery in FROM its alias, or
	// unnamed_subquery: see fromSubquery), which TableRefs of the
	// enclosing query use as their Dataset; it is no policy dataset's name.
	Name string
	// PersonKey names its person key column.
	PersonKey string
	// From lists the datasets read, joined as in Query.From; never a Derived.
	From []TableRef
	// Where filters their rows before grouping; nil when absent.
	Where Expr
	// Columns are the aggregates, in SELECT order.
	Columns []DerivedColumn
}

// DerivedKind is the aggregate of a derived column.
type DerivedKind string

// The aggregates a person-level WITH query may use.
const (
	DerivedMin       DerivedKind = "min"        // min(x)
	DerivedMax       DerivedKind = "max"        // max(x)
	DerivedCountStar DerivedKind = "count_star" // count(*), capped at RowsCap
	DerivedCount     DerivedKind = "count"      // count(x), capped at RowsCap
	DerivedSum       DerivedKind = "sum"        // sum(x) of clamped values, the sum clamped
	DerivedBoolOr    DerivedKind = "bool_or"    // bool_or(cond): false when no row holds
	DerivedArgMin    DerivedKind = "arg_min"    // arg_min(col, by): col at the smallest by
	DerivedArgMax    DerivedKind = "arg_max"    // arg_max(col, by): col at the largest by
)

// DerivedColumn is one column of a Derived table.
type DerivedColumn struct {
	Name string
	Kind DerivedKind
	// Arg is the aggregated expression (the column for arg_min/arg_max,
	// the condition for bool_or); nil for count(*).
	Arg Expr
	// By orders the rows for arg_min and arg_max; nil otherwise.
	By Expr
	// ArgBounds are the bounds Arg's values are clamped to for sum.
	ArgBounds [2]float64
	// RowsCap is the most rows a count counts and a sum adds up (the
	// largest max_rows_per_person_per_group cap of From's datasets), so a
	// count is in [0, RowsCap] and a sum in RowsCap × ArgBounds ∪ {0}.
	RowsCap int
	// Column describes the column to the enclosing query: its type, and
	// the bounds, integer domain, date years and public domains that
	// follow from Arg's (see Check).
	Column policies.Column
}

// Dataset is d as the enclosing query sees it: a one-row-per-person
// dataset with the person key and the derived columns.
func (d *Derived) Dataset() *policies.Dataset {
	ds := &policies.Dataset{Name: d.Name, PersonKey: d.PersonKey, OneRowPerPerson: true,
		MaxGroupsPerPerson: 1, MaxGroupsPerPersonCap: 1, MaxRowsPerPersonPerGroup: 1, MaxRowsPerPersonPerGroupCap: 1,
		Columns: []*policies.Column{{Name: d.PersonKey, Type: policies.TypeID}}}
	for _, c := range d.Columns {
		col := c.Column
		ds.Columns = append(ds.Columns, &col)
	}
	return ds
}

// derivedAggs are the aggregates a WITH query may use, by the names DuckDB
// knows them.
var derivedAggs = map[string]DerivedKind{
	"min": DerivedMin, "max": DerivedMax, "count_star": DerivedCountStar, "count": DerivedCount, "sum": DerivedSum,
	"bool_or": DerivedBoolOr, "arg_min": DerivedArgMin, "argmin": DerivedArgMin, "min_by": DerivedArgMin,
	"arg_max": DerivedArgMax, "argmax": DerivedArgMax, "max_by": DerivedArgMax,
}

// cteHint is the hint of refusals of a WITH query's shape.
const cteHint = "write WITH x AS (SELECT pid, min(d) AS first_d, count(*) AS n FROM ds WHERE ... GROUP BY pid): one row per person, every other column an aggregate"

// derivedTables checks the WITH list of a statement into ck.ctes.
func (ck *checker) derivedTables(n node) error {
	ctes := n.obj("cte_map").list("map")
	for _, e := range ctes {
		if strings.Contains(string(mustJSON(e)), `"RECURSIVE_CTE_NODE"`) {
			return refuse(refusal.RecursiveQuery, "write one SELECT over the datasets", "recursive queries are not allowed")
		}
	}
	for i, e := range ctes {
		if err := ck.derivedTable(asNode(e)); err != nil {
			if ck.fromSub != "" && i == len(ctes)-1 {
				// The last is the subquery in FROM (fromSubquery).
				return fromSubqueryErr(err, ck.fromSub)
			}
			return err
		}
	}
	return nil
}

// derivedTable checks one entry of the WITH list into ck.ctes.
func (ck *checker) derivedTable(entry node) error {
	name := entry.str("key")
	val := entry.obj("value")
	if !tableAliasRe.MatchString(name) {
		return refuse(refusal.BadAlias, "name WITH queries with letters, digits and _", "a WITH query's name is not a plain name")
	}
	if ck.cat.knows(name) {
		return refuse(refusal.CTENameTaken, "give the WITH query a name that no dataset has",
			"the WITH query %s has the name of a dataset", name)
	}
	for _, d := range ck.ctes {
		if strings.EqualFold(d.Name, name) {
			return refuse(refusal.CTENameTaken, "give each WITH query its own name", "two WITH queries are named %s", name)
		}
	}
	if aliases := val.list("aliases"); len(aliases) > 0 {
		return refuse(refusal.CTENotAllowed, "name the columns with AS inside the WITH query: SELECT pid, min(d) AS first_d ...",
			"column names after a WITH query's name are not supported")
	}
	body := val.obj("query").obj("node")
	if body == nil {
		return refuse(refusal.CTENotAllowed, cteHint, "the WITH query %s is not understood", name)
	}
	d, err := ck.derived(name, body)
	if err != nil {
		return err
	}
	ck.ctes = append(ck.ctes, d)
	return nil
}

// derived checks one WITH query's body.
func (ck *checker) derived(name string, n node) (*Derived, error) {
	switch n.kind() {
	case "SELECT_NODE":
	case "SET_OPERATION_NODE":
		return nil, refuse(refusal.SetOperation, cteHint, "UNION, EXCEPT and INTERSECT are not allowed")
	default:
		return nil, refuse(refusal.CTENotAllowed, cteHint, "the WITH query %s is not a SELECT", name)
	}
	if len(n.obj("cte_map").list("map")) > 0 {
		return nil, refuse(refusal.CTENested, "write every WITH query at the top, each over datasets", "a WITH query may not have a WITH of its own")
	}
	distinct, err := distinctModifier(n)
	if err != nil {
		return nil, err
	}
	if n.set("qualify") || n.set("sample") || n.set("having") {
		return nil, refuse(refusal.ClauseNotAllowed, "filter in the outer query's WHERE on the WITH query's columns",
			"HAVING, QUALIFY and USING SAMPLE are not allowed in a WITH query")
	}
	if h := n.str("aggregate_handling"); h != "" && h != "STANDARD_HANDLING" {
		return nil, refuse(refusal.CTENotPersonLevel, cteHint, "a WITH query must be grouped by the person key: GROUP BY pid")
	}
	sub := newChecker(ck.cat)
	sub.nodes = ck.nodes
	sub.cteNames = ck.cteNamesSoFar(name)
	defer func() { ck.nodes = sub.nodes }()
	if err := sub.from(n.obj("from_table")); err != nil {
		return nil, err
	}
	d := &Derived{Name: name}
	for _, t := range sub.tables {
		d.From = append(d.From, TableRef{Dataset: t.ds.Name, Alias: t.alias, Left: t.left})
	}
	where, ok := n.strictObj("where_clause")
	if !ok {
		return nil, refuse(refusal.ExpressionNotAllowed, "", "WHERE is not understood")
	}
	if d.Where, err = sub.where(where); err != nil {
		return nil, err
	}
	sel, ok := n.nodes("select_list")
	if !ok || len(sel) == 0 {
		return nil, refuse(refusal.ExpressionNotAllowed, "", "the SELECT list of %s is not understood", name)
	}
	if distinct {
		if err := sub.distinctKey(name, n, sel); err != nil {
			return nil, err
		}
	}
	keyItem := -1
	for i, s := range sel {
		if s.class() == "STAR" {
			return nil, refuse(refusal.SelectStar, cteHint, "SELECT * is not allowed in a WITH query")
		}
		if isAggregateCall(s) {
			continue
		}
		if keyItem >= 0 || !sub.isPersonKey(s) {
			return nil, refuse(refusal.CTENotPersonLevel,
				"make every other column an aggregate (min(sex) AS sex, count(*) AS n) and GROUP BY pid, or read the dataset in the outer query and filter in its WHERE",
				"every column of the WITH query %s but the person key must be an aggregate (min, max, count, sum, bool_or, arg_min, arg_max)", name)
		}
		keyItem = i
	}
	if keyItem < 0 {
		return nil, refuse(refusal.CTENotPersonLevel, cteHint, "the WITH query %s must select the person key", name)
	}
	groups, ok := n.nodes("group_expressions")
	if distinct {
		groups = sel // SELECT DISTINCT pid ... is SELECT pid ... GROUP BY pid
	}
	if !ok || len(groups) != 1 || !sub.groupsByKey(groups[0], keyItem) {
		return nil, refuse(refusal.CTENotPersonLevel, cteHint, "the WITH query %s must be grouped by the person key alone", name)
	}
	d.PersonKey = sel[keyItem].str("alias")
	if d.PersonKey == "" {
		names, _ := sel[keyItem].strings("column_names")
		d.PersonKey = names[len(names)-1]
	}
	if !tableAliasRe.MatchString(d.PersonKey) {
		return nil, refuse(refusal.BadAlias, "name the WITH query's columns with letters, digits and _", "a column name of %s is not a plain name", name)
	}
	taken := []string{strings.ToLower(d.PersonKey)}
	for i, s := range sel {
		if i == keyItem {
			continue
		}
		c, err := sub.derivedColumn(s)
		if err != nil {
			return nil, err
		}
		if !tableAliasRe.MatchString(c.Name) {
			return nil, refuse(refusal.BadAlias, "name the WITH query's columns with letters, digits and _", "a column name of %s is not a plain name", name)
		}
		if slices.Contains(taken, strings.ToLower(c.Name)) {
			return nil, refuse(refusal.DuplicateOutputName, "give each column of the WITH query its own name (AS ...)",
				"two columns of the WITH query %s are named %s", name, c.Name)
		}
		taken = append(taken, strings.ToLower(c.Name))
		d.Columns = append(d.Columns, c)
	}
	if len(d.Columns) > MaxAggregates {
		return nil, refuse(refusal.TooManyAggregates, "split the WITH query", "the WITH query %s has %d columns; at most %d are allowed", name, len(d.Columns), MaxAggregates)
	}
	return d, nil
}

// distinctModifier reports whether the WITH query n is SELECT DISTINCT;
// any other modifier (ORDER BY, LIMIT, DISTINCT ON) is refused.
func distinctModifier(n node) (bool, error) {
	mods, ok := n.nodes("modifiers")
	if ok && len(mods) == 0 {
		return false, nil
	}
	if !ok || len(mods) > 1 || mods[0].kind() != "DISTINCT_MODIFIER" {
		return false, refuse(refusal.ClauseNotAllowed, cteHint, "ORDER BY, LIMIT and DISTINCT are not allowed in a WITH query")
	}
	if mods[0].set("distinct_on_targets") {
		return false, refuse(refusal.SelectDistinct, "take a person's value with arg_min or arg_max: SELECT pid, arg_min(stage, diagnosis_date) AS stage FROM ... GROUP BY pid",
			"SELECT DISTINCT ON is not allowed in a WITH query")
	}
	return true, nil
}

// distinctKey checks the SELECT list sel of a WITH query n written with
// SELECT DISTINCT: the person key alone, with no GROUP BY, so that it is
// SELECT <key> ... GROUP BY <key>, one row per person.
func (ck *checker) distinctKey(name string, n node, sel []node) error {
	if n.set("group_expressions") || n.set("group_sets") {
		return refuse(refusal.SelectDistinct, "drop DISTINCT: SELECT pid, ... GROUP BY pid has one row per person",
			"SELECT DISTINCT with GROUP BY is not allowed in a WITH query")
	}
	if len(sel) != 1 || !ck.isPersonKey(sel[0]) {
		return refuse(refusal.SelectDistinct,
			"select the person key alone, SELECT DISTINCT pid FROM ... WHERE ..., or group by it with every other column an aggregate: SELECT pid, min(sex) AS sex ... GROUP BY pid",
			"SELECT DISTINCT in the WITH query %s may select the person key alone, which has one row per person", name)
	}
	return nil
}

// cteNamesSoFar are the names of the WITH queries before (and including) name.
func (ck *checker) cteNamesSoFar(name string) []string {
	out := []string{name}
	for _, d := range ck.ctes {
		out = append(out, d.Name)
	}
	return out
}

// isPersonKey reports whether n is a reference to a person key of FROM
// that no LEFT JOIN brings in.
func (ck *checker) isPersonKey(n node) bool {
	ref, ok := ck.keyRef(n)
	return ok && !ck.leftJoined(ref)
}

// leftJoinedKey returns the reference n is when it names the person key
// of a LEFT JOINed dataset, NULL for persons without a row there.
func (ck *checker) leftJoinedKey(n node) (*ColumnRef, bool) {
	ref, ok := ck.keyRef(n)
	return ref, ok && ck.leftJoined(ref)
}

// keyRef returns the reference n is when it names a person key of FROM.
func (ck *checker) keyRef(n node) (*ColumnRef, bool) {
	if n.class() != "COLUMN_REF" {
		return nil, false
	}
	names, ok := n.strings("column_names")
	if !ok || len(names) == 0 {
		return nil, false
	}
	ref, isKey, err := ck.resolve(names)
	return ref, err == nil && isKey
}

// leftJoined reports whether ref reads a LEFT JOINed dataset.
func (ck *checker) leftJoined(ref *ColumnRef) bool {
	for _, t := range ck.tables {
		if t.alias == ref.Table && t.left {
			return true
		}
	}
	return false
}

// groupsByKey reports whether the GROUP BY expression g is the person key
// (by name or as the position of the selected key item).
func (ck *checker) groupsByKey(g node, keyItem int) bool {
	if g.class() == "CONSTANT" {
		lit, err := literal(g.obj("value"))
		pos, isInt := lit.Value.(int64)
		return err == nil && isInt && pos == int64(keyItem)+1
	}
	return ck.isPersonKey(g)
}

// derivedColumn checks one aggregate of a WITH query.
func (ck *checker) derivedColumn(n node) (DerivedColumn, error) {
	name := strings.ToLower(n.str("function_name"))
	kind, ok := derivedAggs[name]
	if !ok {
		return DerivedColumn{}, refuse(refusal.CTEAggregateNotAllowed, "a WITH query may use min, max, count, sum, bool_or, arg_min and arg_max",
			"the aggregate %s is not allowed in a WITH query", strings.TrimSuffix(name, "_star"))
	}
	if n.set("schema") || n.set("catalog") || n.flag("export_state") || n.flag("distinct") {
		return DerivedColumn{}, refuse(refusal.CTEAggregateNotAllowed, "call the aggregate plainly, without DISTINCT", "%s(DISTINCT ...) is not allowed in a WITH query", name)
	}
	if n.set("filter") {
		return DerivedColumn{}, refuse(refusal.AggregateFilter, "move the condition into the WITH query's WHERE, or use bool_or(condition)", "FILTER (WHERE ...) is not supported")
	}
	if orders, ok := n.obj("order_bys").nodes("orders"); !ok || len(orders) > 0 {
		return DerivedColumn{}, refuse(refusal.AggregateOrderBy, "use arg_min(col, by) or arg_max(col, by)", "ORDER BY inside an aggregate is not supported")
	}
	kids, ok := n.nodes("children")
	if !ok {
		return DerivedColumn{}, refuse(refusal.ExpressionNotAllowed, "", "the arguments of %s are not understood", name)
	}
	c := DerivedColumn{Kind: kind, Name: n.str("alias")}
	args := make([]Expr, len(kids))
	for i, k := range kids {
		if kind == DerivedCount && (k.class() == "STAR" || ck.isPersonKey(k)) {
			// count(pid) is count(*): the person's rows have its key.
			c.Kind = DerivedCountStar
			kids = nil
			args = nil
			break
		}
		e, err := ck.expr(k, inAggregate, 1)
		if err != nil {
			return DerivedColumn{}, err
		}
		args[i] = e
	}
	want := map[DerivedKind]int{DerivedMin: 1, DerivedMax: 1, DerivedCountStar: 0, DerivedCount: 1, DerivedSum: 1, DerivedBoolOr: 1, DerivedArgMin: 2, DerivedArgMax: 2}[c.Kind]
	if len(args) != want {
		return DerivedColumn{}, refuse(refusal.BadArgument, cteHint, "%s takes %d arguments in a WITH query", name, want)
	}
	c.RowsCap = ck.rowsCap()
	span := func(e Expr) span { return spanOf(e, ck.policyColumn) }
	switch c.Kind {
	case DerivedCountStar, DerivedCount:
		c.Column = policies.Column{Type: policies.TypeInteger, Bounds: &[2]float64{0, float64(c.RowsCap)},
			Domain: &policies.Domain{Range: &[2]int{0, c.RowsCap}}}
		if c.Kind == DerivedCount {
			c.Arg = args[0]
		}
	case DerivedSum:
		c.Arg = args[0]
		if !isNumeric(c.Arg.ExprType()) {
			return DerivedColumn{}, refuse(refusal.AggregateNonNumeric, "sum a number", "sum needs a numeric argument, not %s", c.Arg.ExprType())
		}
		s := span(c.Arg)
		if !s.finite() {
			return DerivedColumn{}, refuse(refusal.ExpressionUnbounded, "sum columns with declared bounds, or bound the expression with least/greatest",
				"sum of %s in a WITH query cannot be bounded: %s", describe(c.Arg), s.why)
		}
		if s.empty {
			s = point(0)
		}
		c.ArgBounds = s.bounds()
		r := float64(c.RowsCap)
		c.Column = policies.Column{Type: policies.TypeNumber, Bounds: &[2]float64{r * math.Min(s.lo, 0), r * math.Max(s.hi, 0)}}
	case DerivedBoolOr:
		c.Arg = args[0]
		if t := c.Arg.ExprType(); t != TypeBool && !loose(t) {
			return DerivedColumn{}, refuse(refusal.TypeMismatch, "write a condition, e.g. bool_or(icd10 LIKE 'E11%')", "bool_or needs a condition")
		}
		c.Column = policies.Column{Type: policyBool}
	case DerivedMin, DerivedMax:
		c.Arg = args[0]
		col, err := ck.derivedValue(c.Arg, name)
		if err != nil {
			return DerivedColumn{}, err
		}
		c.Column = col
	case DerivedArgMin, DerivedArgMax:
		ref, isCol := args[0].(*ColumnRef)
		if !isCol {
			return DerivedColumn{}, refuse(refusal.CTEAggregateNotAllowed, "arg_min and arg_max return a column: arg_min(stage, diagnosis_date)",
				"the first argument of %s must be a column", name)
		}
		if t := args[1].ExprType(); t == TypeInterval || t == TypeBool {
			return DerivedColumn{}, refuse(refusal.TypeMismatch, "order by a date, number or string", "%s cannot order by a %s", name, t)
		}
		c.Arg, c.By = ref, args[1]
		col, err := ck.derivedValue(ref, name)
		if err != nil {
			return DerivedColumn{}, err
		}
		c.Column = col
	}
	if c.Name == "" {
		c.Name = string(c.Kind)
		if c.Kind == DerivedCountStar {
			c.Name = "count"
		}
		if ref, isCol := c.Arg.(*ColumnRef); isCol {
			c.Name += "_" + ref.Column
		}
	}
	c.Column.Name = c.Name
	return c, nil
}

// policyBool is the policy column type the checker reads as a boolean
// (no policy declares one; only derived columns are).
const policyBool policies.ColumnType = "boolean"

// derivedValue describes the value of min, max, arg_min or arg_max of x:
// one of x's values, so x's bounds, integer domain, years and public
// domains hold for it.
func (ck *checker) derivedValue(x Expr, agg string) (policies.Column, error) {
	var col policies.Column
	if ref, ok := x.(*ColumnRef); ok {
		if c := ck.policyColumn(ref); c != nil {
			col = *c
			col.Description = ""
			return col, nil
		}
	}
	switch t := x.ExprType(); t {
	case TypeInteger, TypeNumber:
		col.Type = policies.TypeNumber
		if t == TypeInteger {
			col.Type = policies.TypeInteger
		}
		if s := spanOf(x, ck.policyColumn); s.finite() && !s.empty {
			col.Bounds = &[2]float64{s.lo, s.hi}
		}
	case TypeDate:
		col.Type = policies.TypeDate
		if s := spanOf(x, ck.policyColumn); s.finite() && !s.empty {
			col.Years = &[2]int{dayOf(s.lo).Year(), dayOf(s.hi).Year()}
		}
	case TypeString:
		col.Type = policies.TypeString
	default:
		return col, refuse(refusal.TypeMismatch, "take the "+agg+" of a date, number or string", "%s of a %s is not supported in a WITH query", agg, t)
	}
	return col, nil
}

// rowsCap is the most rows per person a WITH query's count counts: the
// smallest max_rows_per_person_per_group cap of its datasets (1 when all
// are one row per person).
func (ck *checker) rowsCap() int {
	var names []string
	for _, t := range ck.tables {
		names = append(names, t.ds.Name)
	}
	if ck.cat == nil || ck.cat.policy == nil {
		return 1
	}
	eff, err := ck.cat.policy.Resolve(names)
	if err != nil {
		return 1
	}
	return eff.RowsCap
}
