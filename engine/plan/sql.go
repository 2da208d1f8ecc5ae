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
	from := "partials"
	switch {
	case b.step != L0Applied:
		b.writeBounded(&s, keys, "", "")
	case buckets <= 1:
		b.writeBounded(&s, keys, "", "")
		s.WriteString(",\n")
		writeL0Step(&s, keys, b.groups, seed, "")
		from = "kept"
	default:
		base := q.From[0]
		person := quoteIdent(aliasOf(base)) + "." + quoteIdent(b.tables[aliasOf(base)].PersonKey)
		branches := make([]string, buckets)
		for i := range buckets {
			sfx := strconv.Itoa(i)
			b.writeBounded(&s, keys, sfx, fmt.Sprintf("hash(%s) %% %d = %d", person, buckets, i))
			s.WriteString(",\n")
			writeL0Step(&s, keys, b.groups, seed, sfx)
			s.WriteString(",\n")
			branches[i] = "  SELECT * FROM kept" + sfx
		}
		s.WriteString("kept AS (\n" + strings.Join(branches, "\n  UNION ALL\n") + "\n)")
		from = "kept"
	}
	s.WriteString("\n")
	b.writeTotals(&s, keys, from)
	return s.String()
}

// writeBounded writes the src and partials CTEs (named with the suffix
// sfx), src keeping only the rows that also pass cond when it is not "".
func (b *builder) writeBounded(s *strings.Builder, keys []string, sfx, cond string) {
	s.WriteString("src" + sfx + " AS (\n")
	b.writeSrc(s, cond)
	s.WriteString("),\npartials" + sfx + " AS (\n")
	b.writePartials(s, keys, "src"+sfx)
	s.WriteString(")")
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
		case query.AggSum, query.AggAvg, query.AggQuantile, query.AggStddev, query.AggVariance:
			items = append(items, "CAST("+RenderValue(a.Arg)+fmt.Sprintf(" AS DOUBLE) AS x%d", i))
		}
	}
	selectList(s, "  ", items)
	s.WriteString("  FROM " + quoteIdent(base.Dataset) + " AS " + quoteIdent(aliasOf(base)) + "\n")
	for _, t := range q.From[1:] {
		alias := quoteIdent(aliasOf(t))
		s.WriteString("  JOIN " + quoteIdent(t.Dataset) + " AS " + alias +
			" ON " + baseKey + " = " + alias + "." + quoteIdent(b.tables[aliasOf(t)].PersonKey) + "\n")
	}
	s.WriteString("  WHERE " + baseKey + " IS NOT NULL")
	if q.Where != nil {
		s.WriteString(" AND " + RenderFilter(q.Where))
	}
	if cond != "" {
		s.WriteString(" AND " + cond)
	}
	s.WriteString("\n")
}

// writePartials writes the body of the partials CTE: one row per (person,
// keys) of the CTE src with each aggregate's capped or clamped partial.
func (b *builder) writePartials(s *strings.Builder, keys []string, src string) {
	m := b.m
	items := append([]string{"person"}, keys...)
	for i, a := range b.q.Aggs {
		x := fmt.Sprintf("x%d", i)
		lo, hi := a.Bounds[0], a.Bounds[1]
		clamped := fmt.Sprintf("CASE WHEN %s < %s THEN %s WHEN %s > %s THEN %s ELSE %s END",
			x, renderFloat(lo), renderFloat(lo), x, renderFloat(hi), renderFloat(hi), x)
		switch a.Kind {
		case query.AggCountStar:
			items = append(items, fmt.Sprintf("least(count(*), %d) AS c%d", m, i))
		case query.AggCount:
			items = append(items, fmt.Sprintf("least(count(%s), %d) AS c%d", x, m, i))
		case query.AggSum:
			items = append(items, fmt.Sprintf("least(greatest(coalesce(sum(%s), 0), %s), %s) AS s%d",
				clamped, renderFloat(float64(m)*min(lo, 0)), renderFloat(float64(m)*max(hi, 0)), i))
		case query.AggAvg:
			items = append(items,
				fmt.Sprintf("least(count(%s), %d) AS c%d", x, m, i),
				fmt.Sprintf("coalesce(sum(%s - %s), 0) * (least(count(%s), %d) / greatest(count(%s), 1)) AS n%d",
					clamped, renderFloat(lo+(hi-lo)/2), x, m, x, i))
		case query.AggQuantile, query.AggStddev, query.AggVariance:
			items = append(items, fmt.Sprintf("list_slice(list(%s) FILTER (WHERE %s IS NOT NULL), 1, %d) AS l%d", clamped, x, m, i))
		}
	}
	selectList(s, "  ", items)
	s.WriteString("  FROM " + src + "\n")
	var filters []string
	for i, k := range b.q.Keys {
		if f := domainFilter(keys[i], b.domains[i], k.Expr.ExprType()); f != "" {
			filters = append(filters, f)
		}
	}
	if len(filters) > 0 {
		s.WriteString("  WHERE " + strings.Join(filters, "\n    AND ") + "\n")
	}
	s.WriteString("  GROUP BY " + strings.Join(items[:1+len(keys)], ", ") + "\n")
}

// writeL0Step writes the hashed, cutoffs and kept CTEs (named with the
// suffix sfx, reading partials+sfx): a person with more than l0 (person,
// keys) rows keeps those whose hash is at most the l0-th smallest of the
// person's hashes.
func writeL0Step(s *strings.Builder, keys []string, l0 int, seed uint64, sfx string) {
	hashArgs := strings.Join(append(append([]string{"person"}, keys...), fmt.Sprintf("%d::UBIGINT", seed)), ", ")
	fmt.Fprintf(s, "hashed%[1]s AS (\n  SELECT *, hash(%[2]s) AS h\n  FROM partials%[1]s\n),\n", sfx, hashArgs)
	fmt.Fprintf(s, "cutoffs%[1]s AS (\n  SELECT person, list_sort(list(h))[%[2]d] AS cut\n  FROM hashed%[1]s\n  GROUP BY person\n  HAVING count(*) > %[2]d\n),\n", sfx, l0)
	if sfx == "" {
		s.WriteString("kept AS (\n  SELECT hashed.*\n  FROM hashed LEFT JOIN cutoffs ON hashed.person = cutoffs.person\n" +
			"  WHERE cutoffs.cut IS NULL OR hashed.h <= cutoffs.cut\n)")
		return
	}
	fmt.Fprintf(s, "kept%[1]s AS (\n  SELECT hashed.*\n  FROM hashed%[1]s AS hashed LEFT JOIN cutoffs%[1]s AS cutoffs ON hashed.person = cutoffs.person\n"+
		"  WHERE cutoffs.cut IS NULL OR hashed.h <= cutoffs.cut\n)", sfx)
}

// writeTotals writes the final SELECT: per group (and grouping set) the
// keys, the grouping id, the persons and the aggregates' sums of partials.
func (b *builder) writeTotals(s *strings.Builder, keys []string, from string) {
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
	}
}
