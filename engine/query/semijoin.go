package query

import (
	"fmt"
	"strings"

	"github.com/statgate/statgate/engine/refusal"
)

// semiJoinHint is the hint of a subquery in WHERE that is not one of the
// forms outerWhere accepts.
const semiJoinHint = "filter persons by their rows in a dataset with pid IN (SELECT pid FROM lmr WHERE atc LIKE 'A10%'), " +
	"pid NOT IN (...), or [NOT] EXISTS (SELECT 1 FROM lmr l WHERE l.pid = p.pid AND ...), as a condition of WHERE's top-level AND"

// outerWhere checks the main statement's WHERE: a condition, whose
// top-level AND arguments (or the whole condition) may also be a
// person-level semi join on a dataset (semiJoin): the person key IN or
// NOT IN a subquery selecting a dataset's person key, or [NOT] EXISTS of a
// dataset's rows correlated on the person key alone. Each becomes an
// Exists, which a person's own rows in that dataset decide, so the
// query's contribution bounds hold as they are (see Exists). Anywhere
// else (under OR, NOT of more than the subquery, in keys, aggregates or
// HAVING, in a WITH query) a subquery stays refused.
func (ck *checker) outerWhere(n node) (Expr, error) {
	if n == nil {
		return nil, nil
	}
	if x, ok, err := ck.semiJoin(n); ok || err != nil {
		return x, err
	}
	if n.class() == "CONJUNCTION" && n.kind() == "CONJUNCTION_AND" {
		kids, ok := n.nodes("children")
		if ok && len(kids) >= 2 && anySemiJoin(kids) {
			out := &Logical{Op: "AND"}
			for _, k := range kids {
				e, err := ck.outerWhere(k)
				if err != nil {
					return nil, err
				}
				out.Args = append(out.Args, e)
			}
			return out, nil
		}
	}
	return ck.where(n)
}

// anySemiJoin reports whether some of the nodes is, or is an AND holding,
// a subquery or the NOT of one.
func anySemiJoin(kids []node) bool {
	for _, k := range kids {
		if isSubquery(k) {
			return true
		}
		if k.class() == "CONJUNCTION" && k.kind() == "CONJUNCTION_AND" {
			if sub, ok := k.nodes("children"); ok && anySemiJoin(sub) {
				return true
			}
		}
	}
	return false
}

// isSubquery reports whether n is a subquery or NOT of one.
func isSubquery(n node) bool {
	if n.class() == "SUBQUERY" {
		return true
	}
	kids, ok := n.nodes("children")
	return n.kind() == "OPERATOR_NOT" && ok && len(kids) == 1 && kids[0].class() == "SUBQUERY"
}

// semiJoin checks n as a person-level semi join; ok is false (and the
// error nil) when n is not a subquery or the NOT of one.
func (ck *checker) semiJoin(n node) (x *Exists, ok bool, err error) {
	if !isSubquery(n) {
		return nil, false, nil
	}
	not := n.kind() == "OPERATOR_NOT"
	if not {
		kids, _ := n.nodes("children")
		n = kids[0]
	}
	ck.nodes++
	body := n.obj("subquery").obj("node")
	switch n.str("subquery_type") {
	case "ANY":
		if n.str("comparison_type") != "COMPARE_EQUAL" {
			return nil, true, refuse(refusal.Subquery, semiJoinHint, "only = ANY (IN) of a subquery is supported")
		}
		x, err = ck.inSubquery(n.obj("child"), body)
	case "EXISTS":
		x, err = ck.existsSubquery(body)
	default:
		return nil, true, refuse(refusal.Subquery, semiJoinHint, "subqueries in WHERE must be [NOT] IN or [NOT] EXISTS of a dataset's rows")
	}
	if err != nil {
		return nil, true, err
	}
	x.Not = not
	return x, true, nil
}

// inSubquery checks outer IN (SELECT key FROM dataset [WHERE cond]).
func (ck *checker) inSubquery(outer, body node) (*Exists, error) {
	out, err := ck.outerKey(outer)
	if err != nil {
		return nil, err
	}
	sub, alias, err := ck.subqueryTable(body)
	if err != nil {
		return nil, err
	}
	sel, ok := body.nodes("select_list")
	if !ok || len(sel) != 1 || !sub.isPersonKey(sel[0]) || sel[0].set("alias") {
		return nil, refuse(refusal.Subquery, semiJoinHint, "the subquery of IN must select its dataset's person key and nothing else")
	}
	where, ok := body.strictObj("where_clause")
	if !ok {
		return nil, refuse(refusal.ExpressionNotAllowed, "", "the subquery's WHERE is not understood")
	}
	cond, err := sub.where(where)
	ck.nodes = sub.nodes
	if err != nil {
		return nil, err
	}
	return ck.exists(sub, alias, out, cond)
}

// existsSubquery checks EXISTS (SELECT ... FROM dataset WHERE key =
// outer key [AND cond]).
func (ck *checker) existsSubquery(body node) (*Exists, error) {
	sub, alias, err := ck.subqueryTable(body)
	if err != nil {
		return nil, err
	}
	sel, ok := body.nodes("select_list")
	if !ok || len(sel) != 1 || !(sel[0].class() == "CONSTANT" || sel[0].class() == "STAR" || sub.isPersonKey(sel[0])) {
		return nil, refuse(refusal.Subquery, semiJoinHint, "the subquery of EXISTS must select 1, * or its person key")
	}
	where := body.obj("where_clause")
	var conds []node
	if where.class() == "CONJUNCTION" && where.kind() == "CONJUNCTION_AND" {
		conds, _ = where.nodes("children")
	} else if where != nil {
		conds = []node{where}
	}
	var out *ColumnRef
	var rest []node
	for _, c := range conds {
		if out == nil {
			if o, ok := ck.correlation(sub, c); ok {
				out = o
				continue
			}
		}
		rest = append(rest, c)
	}
	if out == nil {
		return nil, refuse(refusal.Subquery, semiJoinHint,
			"the subquery of EXISTS must be correlated on the person key: WHERE %s.%s = <outer>.%s", alias, sub.tables[0].ds.PersonKey, sub.tables[0].ds.PersonKey)
	}
	var args []Expr
	for _, r := range rest {
		e, err := sub.where(r)
		if err != nil {
			return nil, err
		}
		args = append(args, e)
	}
	ck.nodes = sub.nodes
	var cond Expr
	switch len(args) {
	case 0:
	case 1:
		cond = args[0]
	default:
		cond = &Logical{Op: "AND", Args: args}
	}
	return ck.exists(sub, alias, out, cond)
}

// correlation reports whether c is inner key = outer key (either way
// round), with the subquery's person key on one side and an outer
// table's on the other, both qualified, and returns the outer one. The
// outer side's qualifier must name no table of the subquery: DuckDB binds
// a name to the innermost scope first, so `l.pid = pid` or, under a
// shadowing alias, `l.pid = l.pid` compares the subquery's key with
// itself (an uncorrelated EXISTS), which read as correlated answered a
// NOT EXISTS with the rows plain DuckDB drops.
func (ck *checker) correlation(sub *checker, c node) (*ColumnRef, bool) {
	if c.class() != "COMPARISON" || c.kind() != "COMPARE_EQUAL" {
		return nil, false
	}
	l, r := c.obj("left"), c.obj("right")
	for _, p := range [][2]node{{l, r}, {r, l}} {
		if !sub.isPersonKey(p[0]) || !qualified(p[0]) || !qualified(p[1]) {
			continue
		}
		if names, _ := p[1].strings("column_names"); sub.aliasTaken(names[0]) || strings.EqualFold(names[0], sub.tables[0].ds.Name) {
			continue
		}
		if out, err := ck.outerKey(p[1]); err == nil {
			return out, true
		}
	}
	return nil, false
}

// qualified reports whether the column reference n names its table.
func qualified(n node) bool {
	names, _ := n.strings("column_names")
	return len(names) == 2
}

// outerKey checks that n is the person key of a table of the enclosing
// query's FROM (not a LEFT JOINed one, whose key is NULL for persons
// without a row there) and returns it.
func (ck *checker) outerKey(n node) (*ColumnRef, error) {
	names, ok := n.strings("column_names")
	if n.class() != "COLUMN_REF" || !ok || !ck.isPersonKey(n) {
		return nil, refuse(refusal.Subquery, semiJoinHint, "a subquery in WHERE must be matched on the person key of a dataset in FROM")
	}
	ref, _, err := ck.resolve(names)
	return ref, err
}

// subqueryTable checks a subquery's body down to its FROM: one dataset of
// the project, and none of GROUP BY, HAVING, QUALIFY, ORDER BY, LIMIT,
// DISTINCT, WITH or a sample. It returns the checker of the subquery's
// scope and the alias its columns are qualified with there.
func (ck *checker) subqueryTable(body node) (*checker, string, error) {
	if body.kind() != "SELECT_NODE" {
		return nil, "", refuse(refusal.Subquery, semiJoinHint, "the subquery must be one SELECT of a dataset's rows")
	}
	if mods, ok := body.nodes("modifiers"); !ok || len(mods) > 1 || (len(mods) == 1 && (mods[0].kind() != "DISTINCT_MODIFIER" || mods[0].set("distinct_on_targets"))) {
		// DISTINCT ON keeps one arbitrary row per value: which person
		// that is depends on other persons' rows.
		return nil, "", refuse(refusal.Subquery, semiJoinHint, "ORDER BY, LIMIT and DISTINCT ON are not allowed in a subquery")
	}
	if len(body.obj("cte_map").list("map")) > 0 || body.set("group_expressions") || body.set("group_sets") ||
		body.set("having") || body.set("qualify") || body.set("sample") {
		return nil, "", refuse(refusal.Subquery, semiJoinHint, "WITH, GROUP BY, HAVING, QUALIFY and samples are not allowed in a subquery")
	}
	if h := body.str("aggregate_handling"); h != "" && h != "STANDARD_HANDLING" {
		return nil, "", refuse(refusal.Subquery, semiJoinHint, "GROUP BY ALL is not allowed in a subquery")
	}
	from := body.obj("from_table")
	if from.kind() != "BASE_TABLE" {
		return nil, "", refuse(refusal.Subquery, semiJoinHint, "the subquery must read one dataset, without joins")
	}
	sub := newChecker(ck.cat)
	sub.params, sub.nodes = ck.params, ck.nodes
	sub.cteNames = ck.cteNamesOf()
	if err := sub.baseTable(from); err != nil {
		return nil, "", err
	}
	return sub, sub.tables[0].alias, nil
}

// cteNamesOf are the names of the statement's WITH queries, which a
// subquery may not read (it reads datasets only).
func (ck *checker) cteNamesOf() []string {
	var out []string
	for _, d := range ck.ctes {
		out = append(out, d.Name)
	}
	return out
}

// exists builds the Exists of a checked subquery: the subquery's dataset
// under an alias of its own (sq<n>, unused by the enclosing query and its
// other subqueries), its condition requalified to it.
func (ck *checker) exists(sub *checker, alias string, outer *ColumnRef, cond Expr) (*Exists, error) {
	if holds[*Param](cond) {
		return nil, refuse(refusal.ParameterNotAllowed, "filter on the parameter in the outer WHERE",
			"a template parameter may not stand in a subquery")
	}
	ds := sub.tables[0].ds
	ck.semiJoins++
	own := fmt.Sprintf("sq%d", ck.semiJoins)
	for ck.aliasTaken(own) {
		own += "_"
	}
	x := &Exists{
		Table: TableRef{Dataset: ds.Name, Alias: own},
		Inner: &ColumnRef{Table: own, Dataset: ds.Name, Column: ds.PersonKey, Type: outer.Type},
		Outer: outer,
	}
	if cond != nil {
		x.Where = Requalify(cond, alias, own)
	}
	return x, nil
}

// aliasTaken reports whether a is an alias of the enclosing query's FROM.
func (ck *checker) aliasTaken(a string) bool {
	for _, t := range ck.tables {
		if strings.EqualFold(t.alias, a) {
			return true
		}
	}
	return false
}
