package query

import (
	"regexp"
	"strings"

	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// tableAliasRe is what a dataset alias may look like: a plain identifier.
var tableAliasRe = regexp.MustCompile(`^[\p{L}_][\p{L}\p{N}_]{0,62}$`)

// table is one dataset in FROM as the checker sees it.
type table struct {
	ds    *policies.Dataset
	alias string
	// left: the dataset is LEFT JOINed (see TableRef.Left).
	left bool
}

// addTable adds dataset ds under alias, refusing a second use of the
// dataset or of the alias.
func (ck *checker) addTable(ds *policies.Dataset, alias string) error {
	for _, t := range ck.tables {
		if t.ds == ds {
			return refuse(refusal.SelfJoin, "read each dataset once; count persons with count(DISTINCT "+ds.PersonKey+")",
				"dataset %s appears twice in FROM; a dataset may not be joined with itself", ds.Name)
		}
		if strings.EqualFold(t.alias, alias) {
			return refuse(refusal.DuplicateTableAlias, "give each dataset its own alias",
				"two datasets in FROM are both named %s", alias)
		}
	}
	ck.tables = append(ck.tables, &table{ds: ds, alias: alias})
	return nil
}

// from checks FROM: one dataset, or datasets inner-joined on the person key.
func (ck *checker) from(n node) error {
	switch n.kind() {
	case "BASE_TABLE":
		return ck.baseTable(n)
	case "JOIN":
		return ck.join(n)
	case "", "EMPTY":
		return refuse(refusal.NoFrom, "add FROM with a dataset, e.g. FROM npr", "the query reads no dataset")
	case "TABLE_FUNCTION":
		name := strings.ToLower(n.obj("function").str("function_name"))
		return refuse(refusal.TableFunction, "read the datasets by name, e.g. FROM npr; GET /v1/datasets lists them",
			"table functions such as %s(...) are not allowed in FROM", name)
	case "SUBQUERY":
		// The outer query's whole FROM is read as a WITH query before
		// this (fromSubquery); any other subquery in FROM is refused.
		if ck.cteNames != nil {
			return refuse(refusal.Subquery, "read datasets in a WITH query (or a subquery in FROM); write every WITH query at the top, each over datasets",
				"a WITH query or a subquery in FROM may not read a subquery")
		}
		return refuse(refusal.Subquery, fromSubqueryHint,
			"a subquery in FROM must be the whole FROM; a subquery in a join is not allowed")
	case "SHOW_REF":
		return refuse(refusal.NotASelect, "GET /v1/datasets describes the datasets",
			"DESCRIBE, SHOW and SUMMARIZE are not accepted")
	case "EXPRESSION_LIST":
		return refuse(refusal.FromNotDataset, "read a dataset, e.g. FROM npr", "VALUES lists are not allowed in FROM")
	case "PIVOT":
		return refuse(refusal.FromNotDataset, "GROUP BY the pivot column instead", "PIVOT and UNPIVOT are not allowed")
	}
	return refuse(refusal.FromNotDataset, "read a dataset, e.g. FROM npr", "FROM may only name datasets")
}

// baseTable checks one dataset reference.
func (ck *checker) baseTable(n node) error {
	name := n.str("table_name")
	if n.set("schema_name") || n.set("catalog_name") {
		return refuse(refusal.UnknownDataset, "name datasets without a schema, e.g. FROM npr",
			"%q is not a dataset", strings.Trim(n.str("catalog_name")+"."+n.str("schema_name")+"."+name, "."))
	}
	for _, c := range ck.cteNames {
		if strings.EqualFold(c, name) {
			return refuse(refusal.CTENested, "read datasets in a WITH query, and join WITH queries in the outer query",
				"the WITH query reads %s, another WITH query (or itself)", name)
		}
	}
	ds, err := ck.cteDataset(name)
	if err != nil {
		return err
	}
	if ds == nil {
		if ds, err = ck.cat.dataset(name); err != nil {
			return err
		}
	}
	if n.set("sample") {
		return refuse(refusal.SampleNotAllowed, "query the whole dataset; the answer is protected either way",
			"TABLESAMPLE / USING SAMPLE is not allowed")
	}
	if n.set("at_clause") || n.set("column_name_alias") {
		return refuse(refusal.TableModifierNotAllowed, "name the dataset, optionally with an alias: FROM npr AS n",
			"time travel (AT ...) and column aliases on a dataset are not allowed")
	}
	alias := n.str("alias")
	if alias == "" {
		alias = ds.Name
	} else if !tableAliasRe.MatchString(alias) {
		return refuse(refusal.BadAlias, "use letters, digits and _ in dataset aliases, e.g. FROM npr AS n",
			"the alias of dataset %s is not a plain name", ds.Name)
	}
	return ck.addTable(ds, alias)
}

// cteDataset returns the dataset the WITH query name stands for (marking
// it read), or nil when no WITH query has that name.
func (ck *checker) cteDataset(name string) (*policies.Dataset, error) {
	for _, d := range ck.ctes {
		if strings.EqualFold(d.Name, name) {
			if ck.cteDS == nil {
				ck.cteDS, ck.cteUse = map[*Derived]*policies.Dataset{}, map[*Derived]bool{}
			}
			if ck.cteDS[d] == nil {
				ck.cteDS[d] = d.Dataset()
			}
			ck.cteUse[d] = true
			return ck.cteDS[d], nil
		}
	}
	return nil, nil
}

// join checks an inner join on the person key, or a LEFT JOIN on it of
// one dataset that has at most one row per person.
func (ck *checker) join(n node) error {
	jt, rt := n.str("join_type"), n.str("ref_type")
	if (jt != "INNER" && jt != "LEFT") || rt != "REGULAR" {
		what := strings.ToLower(jt)
		if rt != "REGULAR" {
			what = strings.ToLower(rt)
		}
		return refuse(refusal.JoinTypeNotAllowed, "use an inner JOIN ... USING (pid) / ON a.pid = b.pid, or LEFT JOIN a one-row-per-person dataset",
			"%s joins are not allowed; datasets are joined on the person key only (inner joins, or LEFT JOIN of one row per person)", what)
	}
	if n.set("alias") || n.set("sample") {
		return refuse(refusal.TableModifierNotAllowed, "join datasets without aliasing or sampling the join", "a join may not be aliased or sampled")
	}
	before := len(ck.tables)
	if err := ck.from(n.obj("left")); err != nil {
		return err
	}
	mid := len(ck.tables)
	if err := ck.from(n.obj("right")); err != nil {
		return err
	}
	left, right := ck.tables[before:mid], ck.tables[mid:]
	if jt == "LEFT" {
		if len(right) != 1 || !right[0].ds.OneRowPerPerson {
			return refuse(refusal.LeftJoinNotPersonLevel,
				"LEFT JOIN one dataset with one row per person (population, death_causes, or a WITH grouped by the person key); join other datasets with an inner JOIN",
				"the right side of a LEFT JOIN must be one dataset with at most one row per person, so that no person's rows multiply")
		}
	}
	if err := ck.joinCondition(n, before, left, right); err != nil {
		return err
	}
	if jt == "LEFT" {
		right[0].left = true
	}
	return nil
}

// joinCondition checks USING (person key) or ON a.key = b.key of a join
// whose sides hold left and right (the tables from before on).
func (ck *checker) joinCondition(n node, before int, left, right []*table) error {
	using, ok := n.strings("using_columns")
	if !ok {
		return joinConditionErr()
	}
	cond := n.obj("condition")
	switch {
	case len(using) > 0 && cond == nil:
		if len(using) != 1 {
			return joinConditionErr()
		}
		// USING (k): k must be the person key of every dataset joined.
		for _, t := range ck.tables[before:] {
			if !strings.EqualFold(t.ds.PersonKey, using[0]) {
				return joinConditionErr()
			}
		}
		return nil
	case len(using) == 0 && cond != nil:
		return ck.joinOn(cond, left, right)
	}
	return joinConditionErr()
}

// joinOn checks ON a.key = b.key with a on one side of the join and b on the other.
func (ck *checker) joinOn(cond node, left, right []*table) error {
	if cond.class() != "COMPARISON" || cond.kind() != "COMPARE_EQUAL" {
		return joinConditionErr()
	}
	l, lok := ck.joinKey(cond.obj("left"))
	r, rok := ck.joinKey(cond.obj("right"))
	if !lok || !rok {
		return joinConditionErr()
	}
	if l.left || r.left {
		// Rows without a person there have a NULL key: an inner join on it
		// would drop them, which the plan (joining on the base key) would not.
		return refuse(refusal.JoinConditionNotAllowed, "join on the person key of a dataset that is not LEFT JOINed, e.g. of the first dataset in FROM",
			"a join condition may not use the person key of a LEFT JOINed dataset")
	}
	in := func(t *table, ts []*table) bool {
		for _, x := range ts {
			if x == t {
				return true
			}
		}
		return false
	}
	if (in(l, left) && in(r, right)) || (in(l, right) && in(r, left)) {
		return nil
	}
	return joinConditionErr()
}

// joinKey resolves a join operand; ok when it is some dataset's person key.
func (ck *checker) joinKey(n node) (*table, bool) {
	if n.class() != "COLUMN_REF" {
		return nil, false
	}
	names, ok := n.strings("column_names")
	if !ok || len(names) == 0 {
		return nil, false
	}
	ref, isKey, err := ck.resolve(names)
	if err != nil || !isKey || len(names) != 2 {
		// An unqualified key cannot say which side of the join it is on.
		return nil, false
	}
	for _, t := range ck.tables {
		if t.alias == ref.Table {
			return t, true
		}
	}
	return nil, false
}

func joinConditionErr() error {
	return refuse(refusal.JoinConditionNotAllowed, "join on the person key only: JOIN b USING (pid) or ON a.pid = b.pid; filter in WHERE",
		"datasets may only be joined on equal person keys")
}

// resolve finds the column names refers to ([col] or [alias, col]). isKey
// reports that it is its dataset's person key. An unqualified person key
// present in several joined datasets resolves to the first: the keys are
// equal in an inner join on them.
func (ck *checker) resolve(names []string) (ref *ColumnRef, isKey bool, err error) {
	var col string
	var cands []*table
	switch len(names) {
	case 1:
		col = names[0]
		cands = ck.tables
	case 2:
		col = names[1]
		for _, t := range ck.tables {
			if strings.EqualFold(t.alias, names[0]) {
				cands = append(cands, t)
			}
		}
		if len(cands) == 0 {
			return nil, false, refuse(refusal.UnknownColumn, "qualify columns with a dataset name or alias from FROM",
				"%s.%s: there is no dataset or alias %s in FROM", names[0], names[1], names[0])
		}
	default:
		return nil, false, refuse(refusal.UnknownColumn, "write columns as col or alias.col",
			"%s is not a column reference the query language supports", strings.Join(names, "."))
	}
	var found []*ColumnRef
	keys := 0
	for _, t := range cands {
		c := column(t.ds, col)
		if c == nil {
			continue
		}
		r := &ColumnRef{Table: t.alias, Dataset: t.ds.Name, Column: c.Name, Type: modelType(c)}
		if c.Name == t.ds.PersonKey {
			keys++
		}
		found = append(found, r)
	}
	switch {
	case len(found) == 0:
		if nonDeterministic[strings.ToLower(col)] && len(names) == 1 {
			return nil, false, refuse(refusal.FunctionNotAllowed, "write dates and values as constants, e.g. DATE '2024-12-31'",
				"%s is not allowed: results must depend on the data and the query only", strings.ToLower(col))
		}
		return nil, false, refuse(refusal.UnknownColumn, "GET /v1/datasets/{name} lists a dataset's columns",
			"no dataset in FROM has a column %s", col)
	case len(found) > 1 && keys != len(found):
		return nil, false, refuse(refusal.AmbiguousColumn, "qualify the column with its dataset or alias, e.g. "+found[0].Table+"."+found[0].Column,
			"column %s is in more than one dataset in FROM", col)
	}
	return found[0], keys > 0, nil
}
