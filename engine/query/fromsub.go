package query

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/statgate/statgate/engine/refusal"
)

// A subquery in FROM is a WITH query written in place. When the outer
// query's whole FROM is one subquery,
//
//	SELECT ... FROM (SELECT pid, count(*) AS n FROM npr GROUP BY pid) [AS] t ...
//
// Check reads it as
//
//	WITH t AS (SELECT pid, count(*) AS n FROM npr GROUP BY pid) SELECT ... FROM t ...
//
// by rewriting DuckDB's parse tree before checking it, the subquery after
// the statement's own WITH queries; so everything that holds for a
// person-level WITH query holds for it, and what WITH refuses is refused
// with the same code. A subquery without an alias is named as DuckDB names
// it, unnamed_subquery (unnamed_subquery_2, ... when a dataset or a WITH
// query has that name). Only that one level is read so: a subquery inside
// it, in a JOIN, or in a WITH query stays refusal.Subquery.

// unnamedSubquery is the name DuckDB gives a subquery in FROM that has no
// alias: SELECT unnamed_subquery.x FROM (SELECT 1 AS x) is valid DuckDB.
const unnamedSubquery = "unnamed_subquery"

// fromSubquery returns n with a subquery that is its whole FROM rewritten
// as its last WITH query, FROM reading that by name (ck.fromSub); n
// itself when FROM is not a subquery. n is not changed: the AST is shared.
func (ck *checker) fromSubquery(n node) (node, error) {
	from := n.obj("from_table")
	if from.kind() != "SUBQUERY" {
		return n, nil
	}
	if from.set("sample") {
		return nil, refuse(refusal.SampleNotAllowed, "query the whole dataset; the answer is protected either way",
			"TABLESAMPLE / USING SAMPLE is not allowed")
	}
	sub, ok := from.strictObj("subquery")
	if !ok || sub.obj("node") == nil {
		return nil, refuse(refusal.Subquery, fromSubqueryHint, "the subquery in FROM is not understood")
	}
	ctes := n.obj("cte_map").list("map")
	name := from.str("alias")
	if name == "" {
		name = unusedCTEName(ck.cat, ctes)
	}
	entry := map[string]any{"key": name, "value": map[string]any{
		// Column names after the alias, (...) t(a, b), are those of
		// WITH t(a, b) AS (...).
		"aliases": from["column_name_alias"],
		"query":   map[string]any(sub),
	}}
	cteMap := maps.Clone(n.obj("cte_map"))
	if cteMap == nil {
		cteMap = node{}
	}
	cteMap["map"] = append(slices.Clip(ctes), entry)
	out := maps.Clone(n)
	out["cte_map"] = map[string]any(cteMap)
	out["from_table"] = map[string]any{"type": "BASE_TABLE", "table_name": name}
	ck.fromSub = name
	return out, nil
}

// unusedCTEName is unnamedSubquery, or it with a suffix when a dataset of
// the policy or one of ctes has that name.
func unusedCTEName(c *Catalog, ctes []any) string {
	taken := func(name string) bool {
		if c.knows(name) {
			return true
		}
		return slices.ContainsFunc(ctes, func(e any) bool { return strings.EqualFold(asNode(e).str("key"), name) })
	}
	name := unnamedSubquery
	for i := 2; taken(name); i++ {
		name = unnamedSubquery + "_" + strconv.Itoa(i)
	}
	return name
}

// fromSubqueryHint is the hint of refusals of subqueries in FROM that are
// not the outer query's whole FROM.
const fromSubqueryHint = "write the subquery as a WITH query over datasets and join it on the person key: " +
	"WITH t AS (SELECT pid, count(*) AS n FROM npr GROUP BY pid) SELECT ... FROM population p JOIN t USING (pid)"

// fromSubqueryErr says that a refusal of the WITH query a subquery in FROM
// was read as (fromSubquery) is about that subquery; code and hint stay.
func fromSubqueryErr(err error, name string) error {
	r, ok := refusal.As(err)
	if !ok {
		return err
	}
	return refusal.New(r.Code, "the subquery in FROM is read as WITH "+name+" AS (...): "+r.Message, r.Hint)
}
