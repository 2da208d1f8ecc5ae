package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/statgate/statgate/engine/query"
)

// sql renders the bounded query (see Bound for its shape), with the L0
// step in the given number of person buckets.
func (b *builder) sql(seed uint64, buckets int) string {
	q := b.q
	keys := make([]string, len(q.Keys))
	for i := range q.Keys {
		keys[i] = keyCol(i)
	}
	var s strings.Builder
	s.WriteString("WITH ")
	b.writeDerived(&s)
	var having []string
	switch {
	case b.step != L0Applied:
		having = b.writeBounded(&s, keys, "", "", seed)
	case buckets <= 1:
		b.writeRanked(&s, keys, seed, "", "")
	default:
		base := q.From[0]
		person := quoteIdent(aliasOf(base)) + "." + quoteIdent(b.tables[aliasOf(base)].PersonKey)
		branches := make([]string, buckets)
		for i := range buckets {
			sfx := strconv.Itoa(i)
			b.writeRanked(&s, keys, seed, sfx, fmt.Sprintf("hash(%s) %% %d = %d", person, buckets, i))
			s.WriteString(",\n")
			branches[i] = "  SELECT * FROM partials" + sfx
		}
		s.WriteString("partials AS (\n" + strings.Join(branches, "\n  UNION ALL\n") + "\n)")
	}
	s.WriteString("\n")
	b.writeTotals(&s, keys, "partials", having)
	return s.String()
}

// writeBounded writes the src and partials CTEs of a plan without the L0
// step: partials aggregates (person, keys) over the rows of src whose keys
// lie in their domains. When src holds one row per person, semi joins
// it (semiJoined) and there are no grouping sets, the domain filters are
// returned instead, for writeTotals to apply to the groups: the same
// groups, and DuckDB orders the joins as it would without them (see
// writeTotals). Without a join, filtering the groups took 5 % longer than
// filtering the rows, so the rows are filtered.
func (b *builder) writeBounded(s *strings.Builder, keys []string, sfx, cond string, seed uint64) (having []string) {
	s.WriteString("src" + sfx + " AS (\n")
	b.writeSrc(s, cond)
	s.WriteString("),\npartials" + sfx + " AS (\n")
	switch {
	case rowPartials && b.rowPerPerson() && b.q.GroupingSets == nil && b.semiJoined():
		having = b.domainFilters(keys)
		b.writeRowPartials(s, keys, "src"+sfx, nil)
	case rowPartials && b.rowPerPerson():
		b.writeRowPartials(s, keys, "src"+sfx, b.domainFilters(keys))
	default:
		b.writePartials(s, keys, "src"+sfx, b.domainFilters(keys), seed)
	}
	s.WriteString(")")
	return having
}

// rowPartials turns writeRowPartials on; tests turn it off to compare
// its result with writePartials'.
var rowPartials = true

// rowPerPerson reports whether every row of src is a person of its own:
// FROM reads only datasets declared one_row_per_person (statgate load
// refuses a file in which such a dataset repeats a person key), joined on
// the person key, and [NOT] EXISTS conditions only filter. Partials then
// need no GROUP BY person, keys (writeRowPartials), and every aggregate
// takes one row per person whatever its caps.
func (b *builder) rowPerPerson() bool {
	for _, t := range b.q.From {
		ds := b.tables[aliasOf(t)]
		if b.derivedIndex(t.Dataset) >= 0 || ds == nil || !ds.OneRowPerPerson {
			return false
		}
	}
	for _, a := range b.q.Aggs {
		switch a.Kind {
		case query.AggCountStar, query.AggCount, query.AggCountDistinct, query.AggSum, query.AggAvg:
		default:
			return false // lists of values: kept as writePartials builds them
		}
	}
	return true
}

// writeRowPartials writes the body of partials when src holds one row per
// person (rowPerPerson): writePartials' columns computed from the one row
// instead of aggregated over the person's rows, the same values (each cap
// M, V is at least 1, so a count of one row is 1 or 0; a clamped value
// lies within the clamp of the person's sum). Grouping by person, keys
// over one row per person is a hash aggregate of every row for nothing
// (about half of a small population query's time in DuckDB).
func (b *builder) writeRowPartials(s *strings.Builder, keys []string, src string, filters []string) {
	m := b.m
	items := append([]string{"person"}, keys...)
	for i, a := range b.q.Aggs {
		x := fmt.Sprintf("x%d", i)
		lo, hi := a.Bounds[0], a.Bounds[1]
		clamped := clampSQL(x, lo, hi)
		switch a.Kind {
		case query.AggCountStar:
			items = append(items, fmt.Sprintf("1::BIGINT AS c%d", i))
		case query.AggCount:
			items = append(items, fmt.Sprintf("(%s IS NOT NULL)::BIGINT AS c%d", x, i))
		case query.AggCountDistinct:
			if a.Arg != nil {
				items = append(items, fmt.Sprintf("coalesce(%s, false) AS f%d", x, i))
			}
		case query.AggSum:
			items = append(items, fmt.Sprintf("%s AS s%d", clampSumSQL("coalesce("+clamped+", 0)", m, lo, hi), i))
		case query.AggAvg:
			items = append(items,
				fmt.Sprintf("(%s IS NOT NULL)::BIGINT AS c%d", x, i),
				fmt.Sprintf("coalesce(%s - %s, 0)::DOUBLE AS n%d", clamped, renderFloat(lo+(hi-lo)/2), i))
		}
	}
	writeSelect(s, items, src, filters)
}

// writeRanked writes the CTEs of a plan with the L0 step (named with the
// suffix sfx; src keeps only the rows that also pass cond when it is not
// ""):
//
//   - src<sfx>: the rows, with person, keys and arguments;
//   - kept<sfx>: those whose keys lie in their domains and whose group is
//     among the person's l0 groups with the smallest h = hash(person, keys,
//     seed): a dense_rank() window over the person's rows ordered by h
//     gives every row of a (person, group) its group's rank among the
//     person's distinct groups, and QUALIFY keeps the ranks up to l0;
//   - partials<sfx>: (person, keys) aggregated over the kept rows only.
//
// h is a function of (person, keys), so the groups kept are those the l0
// smallest hashes name, whatever order the rows arrive in, and the
// (person, group) aggregation runs over the kept rows only (with most
// persons over L0 a fraction of them). One window over the rows replaces
// the earlier distinct (person, h) aggregate, row_number() window and
// join back (the same rows kept for the same seed, 0.6× the time at 10 M
// rows, and each person bucket reads its rows once instead of twice;
// issue 14). The window's sort and the hash aggregate can both spill to
// DuckDB's temp_directory, so the step runs within memory_limit at any
// table size; the per-person list_sort(list_distinct(list(h)))[l0] before
// them could not (Out of Memory at 100 M rows and a 2.5 GB limit).
func (b *builder) writeRanked(s *strings.Builder, keys []string, seed uint64, sfx, cond string) {
	s.WriteString("src" + sfx + " AS (\n")
	b.writeSrc(s, cond)
	s.WriteString("),\n")
	hashArgs := strings.Join(append(append([]string{"person"}, keys...), fmt.Sprintf("%d::UBIGINT", seed)), ", ")
	fmt.Fprintf(s, "kept%[1]s AS (\n  SELECT *\n  FROM src%[1]s\n", sfx)
	if f := b.domainFilters(keys); len(f) > 0 {
		s.WriteString("  WHERE " + strings.Join(f, "\n    AND ") + "\n")
	}
	fmt.Fprintf(s, "  QUALIFY dense_rank() OVER (PARTITION BY person ORDER BY hash(%s)) <= %d\n),\n", hashArgs, b.groups)
	s.WriteString("partials" + sfx + " AS (\n")
	b.writePartials(s, keys, "kept"+sfx, nil, seed)
	s.WriteString(")")
}

// domainFilters are the conditions that keep a row's keys inside their
// public domains (none for keys without one).
func (b *builder) domainFilters(keys []string) []string {
	var filters []string
	for i, k := range b.q.Keys {
		if f := domainFilter(keys[i], b.domains[i], k.Expr.ExprType()); f != "" {
			filters = append(filters, f)
		}
	}
	return filters
}

// selectList writes "SELECT a,\n    b" with the given indent.
func selectList(s *strings.Builder, indent string, items []string) {
	s.WriteString(indent + "SELECT " + strings.Join(items, ",\n"+indent+"    ") + "\n")
}

// writeSrc writes the body of the src CTE: person, keys and arguments of
// the rows passing WHERE (and cond, when not "").
func (b *builder) writeSrc(s *strings.Builder, cond string) {
	q := b.q
	base := q.From[0]
	baseKey := quoteIdent(aliasOf(base)) + "." + quoteIdent(b.tables[aliasOf(base)].PersonKey)
	items := []string{baseKey + " AS person"}
	for i, k := range q.Keys {
		items = append(items, RenderKey(k.Expr)+" AS "+keyCol(i))
	}
	for i, a := range q.Aggs {
		switch a.Kind {
		case query.AggCount:
			items = append(items, RenderValue(a.Arg)+fmt.Sprintf(" AS x%d", i))
		case query.AggCountDistinct:
			if a.Arg != nil {
				items = append(items, RenderFilter(a.Arg)+fmt.Sprintf(" AS x%d", i))
			}
		case query.AggSum, query.AggAvg, query.AggQuantile, query.AggStddev, query.AggVariance:
			items = append(items, "CAST("+RenderValue(a.Arg)+fmt.Sprintf(" AS DOUBLE) AS x%d", i))
		}
	}
	selectList(s, "  ", items)
	s.WriteString("  FROM " + b.relation(base) + " AS " + quoteIdent(aliasOf(base)) + "\n")
	for _, t := range q.From[1:] {
		alias := quoteIdent(aliasOf(t))
		join := "  JOIN "
		if t.Left {
			join = "  LEFT JOIN "
		}
		s.WriteString(join + b.relation(t) + " AS " + alias +
			" ON " + baseKey + " = " + alias + "." + quoteIdent(b.tables[aliasOf(t)].PersonKey) + "\n")
	}
	conds, keyed := b.srcConditions(aliasOf(base))
	if !keyed {
		conds = append([]string{baseKey + " IS NOT NULL"}, conds...)
	}
	if cond != "" {
		conds = append(conds, cond)
	}
	s.WriteString("  WHERE " + strings.Join(conds, " AND ") + "\n")
}

// srcConditions renders WHERE for src as conditions to AND together, and
// reports whether they keep only rows whose base person key is not NULL.
// An [NOT] EXISTS on the base table's person key that is one of WHERE's
// top-level conjuncts is rendered as a bare semi (anti) join,
// "key [NOT] IN (SELECT ...)", without renderExists' NULL guards: a row
// whose key is NULL is dropped anyway, by "key IS NOT NULL" or by a bare
// IN (NULL IN a set is NULL, which WHERE drops), and a positive one makes
// "key IS NOT NULL" needless (keyed). Each redundant condition on the
// base table divides DuckDB's estimate of its rows, enough to make it
// build the semi joins' hash tables on the whole base table instead of on
// the criteria's few persons: a three-registry cohort by sex took 1.4×
// the CPU of the same query written without them (issue 14).
func (b *builder) srcConditions(alias string) (conds []string, keyed bool) {
	where := b.q.Where
	if where == nil {
		return nil, false
	}
	var rest []query.Expr
	var joins []string
	for _, c := range flattenAnd(where) {
		x := b.baseSemiJoin(c, alias)
		if x == nil {
			rest = append(rest, c)
			continue
		}
		var j strings.Builder
		renderSemiJoin(&j, x, false)
		joins = append(joins, j.String())
		keyed = keyed || !x.Not
	}
	if len(joins) == 0 {
		return []string{RenderFilter(where)}, false // as it always was
	}
	for _, c := range rest {
		conds = append(conds, RenderFilter(c))
	}
	return append(conds, joins...), keyed
}

// baseSemiJoin returns c when it is an [NOT] EXISTS on the person key of
// the table alias that srcConditions renders as a bare semi join, else
// nil.
func (b *builder) baseSemiJoin(c query.Expr, alias string) *query.Exists {
	x, ok := c.(*query.Exists)
	if !ok || x == nil || x.Temporal != nil || x.Inner == nil || x.Outer == nil ||
		x.Outer.Table != alias || x.Outer.Column != b.tables[alias].PersonKey {
		return nil
	}
	return x
}

// semiJoined reports whether src semi joins its base table
// (srcConditions renders a bare semi join).
func (b *builder) semiJoined() bool {
	if b.q.Where == nil {
		return false
	}
	alias := aliasOf(b.q.From[0])
	for _, c := range flattenAnd(b.q.Where) {
		if b.baseSemiJoin(c, alias) != nil {
			return true
		}
	}
	return false
}

// clampSQL is x clamped to [lo, hi] (NULL stays NULL).
func clampSQL(x string, lo, hi float64) string {
	return fmt.Sprintf("CASE WHEN %s < %s THEN %s WHEN %s > %s THEN %s ELSE %s END",
		x, renderFloat(lo), renderFloat(lo), x, renderFloat(hi), renderFloat(hi), x)
}

// clampSumSQL is a person's sum of values clamped to [lo, hi], clamped to
// [m·min(lo, 0), m·max(hi, 0)].
func clampSumSQL(sum string, m int, lo, hi float64) string {
	return fmt.Sprintf("least(greatest(%s, %s), %s)", sum, renderFloat(float64(m)*min(lo, 0)), renderFloat(float64(m)*max(hi, 0)))
}

// writeSelect writes "SELECT items FROM src [WHERE filters]" with partials'
// indent.
func writeSelect(s *strings.Builder, items []string, src string, filters []string) {
	selectList(s, "  ", items)
	s.WriteString("  FROM " + src + "\n")
	if len(filters) > 0 {
		s.WriteString("  WHERE " + strings.Join(filters, "\n    AND ") + "\n")
	}
}

// writePartials writes the body of the partials CTE: one row per (person,
// keys) of the CTE src with each aggregate's capped or clamped partial,
// over the rows that pass filters.
func (b *builder) writePartials(s *strings.Builder, keys []string, src string, filters []string, seed uint64) {
	m, mv := b.m, b.mv
	items := append([]string{"person"}, keys...)
	for i, a := range b.q.Aggs {
		x := fmt.Sprintf("x%d", i)
		lo, hi := a.Bounds[0], a.Bounds[1]
		clamped := clampSQL(x, lo, hi)
		switch a.Kind {
		case query.AggCountStar:
			items = append(items, fmt.Sprintf("least(count(*), %d) AS c%d", m, i))
		case query.AggCount:
			items = append(items, fmt.Sprintf("least(count(%s), %d) AS c%d", x, m, i))
		case query.AggCountDistinct:
			// 1 at most per person and group, whatever M: whether c
			// holds on one of the person's rows in the group.
			if a.Arg != nil {
				items = append(items, fmt.Sprintf("coalesce(bool_or(%s), false) AS f%d", x, i))
			}
		case query.AggSum:
			items = append(items, fmt.Sprintf("%s AS s%d", clampSumSQL("coalesce(sum("+clamped+"), 0)", m, lo, hi), i))
		case query.AggAvg:
			items = append(items,
				fmt.Sprintf("least(count(%s), %d) AS c%d", x, mv, i),
				fmt.Sprintf("coalesce(sum(%s - %s), 0) * (least(count(%s), %d) / greatest(count(%s), 1)) AS n%d",
					clamped, renderFloat(lo+(hi-lo)/2), x, mv, x, i))
		case query.AggQuantile, query.AggStddev, query.AggVariance:
			// Which V of a person's values are kept must not depend on
			// the order rows arrive in (a join before partials makes it
			// vary between runs), nor favour values the person has few
			// copies of (ordering by hash(value) alone keeps the copies
			// of one value together): the values are sorted, so the
			// position j of each copy is a function of the values alone,
			// and the V with the smallest hash(value, j, seed) are kept,
			// a random sample of the person's values.
			items = append(items, fmt.Sprintf("list_slice(list_transform(list_sort(list_transform(list_sort(list(%s) FILTER (WHERE %s IS NOT NULL)), "+
				"lambda v, j: {'h': hash(v, j, %d::UBIGINT), 'v': v})), lambda e: e.v), 1, %d) AS l%d", clamped, x, seed, mv, i))
		}
	}
	writeSelect(s, items, src, filters)
	s.WriteString("  GROUP BY " + strings.Join(items[:1+len(keys)], ", ") + "\n")
}

// writeTotals writes the final SELECT: per group (and grouping set) the
// keys, the grouping id, the persons and the aggregates' sums of partials,
// of the groups that pass having (the keys' domain filters, when
// writeBounded left them to it). having is written into an aggregate,
// bool_or, which holds the filter's value: every row of a group has the
// same keys. DuckDB pushes a filter on the keys, whether in partials'
// WHERE or in a plain HAVING, down into the scan of the base table, which
// divides its estimated rows as a redundant condition does (see
// srcConditions) and evaluates the filter on every row of the table; an
// aggregate it cannot push down, and the filter is evaluated on the rows
// that reach the groups only.
func (b *builder) writeTotals(s *strings.Builder, keys []string, from string, having []string) {
	q := b.q
	items := append([]string{}, keys...)
	persons := "count(*) AS persons"
	if q.GroupingSets != nil {
		items = append(items, "grouping_id("+strings.Join(keys, ", ")+") AS gid")
		// One person's fine groups may merge in a margin cell.
		persons = "count(DISTINCT person) AS persons"
	}
	items = append(items, persons)
	for i, a := range q.Aggs {
		switch a.Kind {
		case query.AggCountStar, query.AggCount:
			items = append(items, fmt.Sprintf("coalesce(sum(c%d), 0)::DOUBLE AS %s", i, aggCol(i, "count")))
		case query.AggCountDistinct:
			if a.Arg != nil {
				// Distinct in a margin cell too, like the persons.
				flagged := "count(*)"
				if q.GroupingSets != nil {
					flagged = "count(DISTINCT person)"
				}
				items = append(items, fmt.Sprintf("CAST(%s FILTER (WHERE f%d) AS DOUBLE) AS %s", flagged, i, aggCol(i, "count")))
			}
		case query.AggSum:
			items = append(items, fmt.Sprintf("coalesce(sum(s%d), 0)::DOUBLE AS %s", i, aggCol(i, "sum")))
		case query.AggAvg:
			items = append(items,
				fmt.Sprintf("coalesce(sum(c%d), 0)::DOUBLE AS %s", i, aggCol(i, "count")),
				fmt.Sprintf("coalesce(sum(n%d), 0)::DOUBLE AS %s", i, aggCol(i, "norm_sum")))
		case query.AggQuantile, query.AggStddev, query.AggVariance:
			items = append(items, fmt.Sprintf("coalesce(flatten(list(l%d)), [])::DOUBLE[] AS %s", i, aggCol(i, "values")))
		}
	}
	selectList(s, "", items)
	s.WriteString("FROM " + from)
	switch {
	case q.GroupingSets != nil:
		sets := make([]string, len(q.GroupingSets))
		for i, set := range q.GroupingSets {
			cols := make([]string, len(set))
			for j, k := range set {
				cols[j] = keys[k]
			}
			sets[i] = "(" + strings.Join(cols, ", ") + ")"
		}
		s.WriteString("\nGROUP BY GROUPING SETS (" + strings.Join(sets, ", ") + ")")
	case len(keys) > 0:
		s.WriteString("\nGROUP BY " + strings.Join(keys, ", "))
		if len(having) > 0 {
			s.WriteString("\nHAVING bool_or(" + strings.Join(having, " AND ") + ")")
		}
	}
}
