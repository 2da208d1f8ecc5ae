package plan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/statgate/statgate/engine/query"
)

// Fold is a bounded query folded into its contribution profile's pass:
// one statement that reads the rows once and returns both the profile and
// the bounded query's result at every candidate L∞, so that the engine,
// once it has chosen L∞ from the noisy profile, takes the result at the
// chosen L∞ instead of running the bounded SQL as a second statement. On a
// small registry the second statement was about half of a request's
// DuckDB time (its scan, planning and aggregation repeat the profile's;
// issue 14).
//
// A query folds when its result at given bounds is a function of the
// per-(person, group) row counts and the groups' ranks by the L0 step's
// hash: every aggregate counts rows or persons (count(*), count(x),
// count(DISTINCT person)), the keys put each person in one group or their
// public domains span no more groups than the policy's cap (the prepared
// plan has no L0 step; a chosen L0 under the domain's size adds one, which
// the fold computes with the same seed), there are no grouping sets, and
// the rows are not one per person. Sums, means, quantiles and spreads do
// not fold: their clamps and values per person are chosen from the same
// profile too.
//
// SQL returns, ordered by part, l0 and cand:
//
//	part  BIGINT  0 for a profile row, 1 for a result row
//	l0    BIGINT  the result row's L0 (NULL in a profile row)
//	cand  BIGINT  the result row's L∞ (NULL in a profile row)
//	g, m, persons_profile: the profile's columns (Profile's SQL: g, m,
//	        persons), NULL in a result row
//	the bounded query's columns (Plan.Columns, in order) at L0 = l0 and
//	        L∞ = cand, NULL in a profile row
//
// The profile rows are those of Profile.SQL over every person (a folded
// profile is never sampled: the rows are read anyway), and the result
// rows at (l0, cand) equal what the plan's SQL returns with
// max_groups_per_person = l0, max_rows_per_person_per_group = cand and
// seed Seed, row for row.
type Fold struct {
	SQL string
	// Seed is the L0 step's seed the fold ranks groups with: a plan
	// re-made from the profile takes its result from the fold only when
	// made with this seed (plan.Options.Seed). Like Plan.SQL, it is never
	// released.
	Seed uint64
	// L0s and LInfs are the candidate L0 and L∞ (ascending): every L0 up
	// to the keys' domain size (1 for one group per person); the rows
	// histogram's edges up to the cap and the policy's default.
	L0s, LInfs []int
	// ProfileColumns is how many columns of SQL after part, l0 and cand
	// are the profile's (the columns Profile's SQL returns).
	ProfileColumns int
}

// FoldLead is the number of columns of Fold.SQL before the profile's:
// part, l0 and cand.
const FoldLead = 3

// Has reports whether the fold holds the result at L0 = l0, L∞ = m.
func (f *Fold) Has(l0, m int) bool { return slices.Contains(f.L0s, l0) && slices.Contains(f.LInfs, m) }

// Folds reports whether a plan made with bounds chosen from the profile
// (with the fold's seed) can take its result from the fold: it has no
// grouping sets and its L0 and L∞ are candidates of the fold's.
func (f *Fold) Folds(p *Plan) bool {
	return f != nil && p.GroupingSets == nil && f.Has(p.Bounds.MaxGroupsPerPerson, p.Bounds.MaxRowsPerPersonPerGroup)
}

// foldable reports whether the query folds into its profile's pass (see
// Fold).
func (b *builder) foldable() bool {
	q := b.q
	if b.step == L0Applied || q.GroupingSets != nil || b.rowPerPerson() {
		return false
	}
	for _, a := range q.Aggs {
		switch a.Kind {
		case query.AggCountStar, query.AggCount, query.AggCountDistinct:
		default:
			return false
		}
	}
	return true
}

// foldCandidates are the L∞ a folded query may be asked for: those the
// bound chooser picks from (bounds.Choose: the rows histogram's edges
// under the cap, and the cap) and the policy's default.
func (b *builder) foldCandidates(pr *Profile) []int {
	var out []int
	for _, e := range pr.RowEdges() {
		if e < b.rowsCap {
			out = append(out, e)
		}
	}
	out = append(out, max(b.rowsCap, 1), b.m)
	slices.Sort(out)
	return slices.Compact(out)
}

// fold writes the folded statement of a query whose profile is pr (see
// Fold), ranking groups with seed.
func (b *builder) fold(pr *Profile, seed uint64) *Fold {
	q := b.q
	keys := make([]string, len(q.Keys))
	for i := range q.Keys {
		keys[i] = keyCol(i)
	}
	f := &Fold{Seed: seed, LInfs: b.foldCandidates(pr), ProfileColumns: 3}
	for l := 1; l <= b.groups; l++ {
		f.L0s = append(f.L0s, l)
	}
	var s strings.Builder
	s.WriteString("WITH ")
	b.writeDerived(&s)
	s.WriteString("src AS (\n")
	b.writeSrc(&s, "")
	s.WriteString("),\npg AS MATERIALIZED (\n")
	// Per (person, group): the rows, and each count(x)'s non-null rows.
	pgItems := append(append([]string{"person"}, keys...), "count(*) AS r")
	counts := map[int]string{} // aggregate index → its pg column
	for i, a := range q.Aggs {
		switch a.Kind {
		case query.AggCountStar:
			counts[i] = "r"
		case query.AggCount:
			counts[i] = fmt.Sprintf("r%d", i)
			pgItems = append(pgItems, fmt.Sprintf("count(x%d) AS r%d", i, i))
		}
	}
	selectList(&s, "  ", pgItems)
	s.WriteString("  FROM src\n")
	if f := b.domainFilters(keys); len(f) > 0 {
		s.WriteString("  WHERE " + strings.Join(f, "\n    AND ") + "\n")
	}
	s.WriteString("  GROUP BY " + strings.Join(append([]string{"person"}, keys...), ", ") + "\n),\n")
	s.WriteString("per AS (\n  SELECT person, count(*) AS g, max(r) AS m\n  FROM pg\n  GROUP BY person\n),\n")
	// Each (person, group)'s rank among the person's groups by the L0
	// step's hash (writeRanked): the groups an L0 of l keeps are those
	// ranked at most l.
	rank := "1"
	if len(f.L0s) > 1 {
		hashArgs := strings.Join(append(append([]string{"person"}, keys...), fmt.Sprintf("%d::UBIGINT", seed)), ", ")
		rank = fmt.Sprintf("dense_rank() OVER (PARTITION BY person ORDER BY hash(%s))", hashArgs)
	}
	// The (person, group) pairs by group and capped counts: the bounded
	// query at any L∞ ≤ the cap is a sum over these.
	histItems := append(append([]string{}, keys...), rank+" AS rk")
	histCols := []string{"rk"}
	for i := range q.Aggs {
		if c, ok := counts[i]; ok && !slices.Contains(histCols, c) {
			histCols = append(histCols, c)
			histItems = append(histItems, fmt.Sprintf("least(%s, %d) AS %s", c, max(b.rowsCap, 1), c))
		}
	}
	s.WriteString("ranked AS (\n")
	selectList(&s, "  ", histItems)
	s.WriteString("  FROM pg\n),\n")
	hist := append(append([]string{}, keys...), histCols...)
	s.WriteString("hist AS (\n  SELECT " + strings.Join(append(slices.Clone(hist), "count(*) AS n"), ", ") + "\n  FROM ranked\n  GROUP BY " + strings.Join(hist, ", ") + "\n),\n")
	l0s := make([]string, len(f.L0s))
	for i, l := range f.L0s {
		l0s[i] = strconv.Itoa(l)
	}
	s.WriteString("l0s AS (\n  SELECT unnest([" + strings.Join(l0s, ", ") + "]::BIGINT[]) AS l0\n),\n")
	cands := make([]string, len(f.LInfs))
	for i, m := range f.LInfs {
		cands[i] = strconv.Itoa(m)
	}
	s.WriteString("cands AS (\n  SELECT unnest([" + strings.Join(cands, ", ") + "]::BIGINT[]) AS cand\n)\n")

	g, m := pr.GroupEdges(), pr.RowEdges()
	profile := []string{"0::BIGINT AS part", "NULL::BIGINT AS l0", "NULL::BIGINT AS cand",
		fmt.Sprintf("least(g, %d)::BIGINT AS g", g[len(g)-1]), fmt.Sprintf("least(m, %d)::BIGINT AS m", m[len(m)-1]),
		"count(*)::BIGINT AS persons_profile"}
	result := []string{"1::BIGINT AS part", "l0", "cand", "NULL::BIGINT AS g", "NULL::BIGINT AS m", "NULL::BIGINT AS persons_profile"}
	for _, k := range keys {
		profile = append(profile, "NULL AS "+k)
		result = append(result, k)
	}
	profile = append(profile, "NULL::BIGINT AS persons")
	result = append(result, "coalesce(sum(n), 0)::BIGINT AS persons")
	for i, a := range q.Aggs {
		if a.Kind == query.AggCountDistinct {
			continue
		}
		name := aggCol(i, "count")
		profile = append(profile, "NULL::DOUBLE AS "+name)
		result = append(result, fmt.Sprintf("coalesce(sum(least(%s, cand) * n), 0)::DOUBLE AS %s", counts[i], name))
	}
	s.WriteString("SELECT " + strings.Join(profile, ", ") + "\nFROM per\nGROUP BY 4, 5\nUNION ALL\n")
	s.WriteString("SELECT " + strings.Join(result, ", ") + "\n")
	if len(keys) == 0 {
		// One row per candidate even when no row passes, as the bounded
		// query's aggregate without GROUP BY returns one (no keys: one
		// group per person, L0 1).
		s.WriteString("FROM l0s CROSS JOIN cands LEFT JOIN hist ON true\nGROUP BY l0, cand\n")
	} else {
		// A group no person keeps at an L0 has no row at it, as in the
		// bounded query.
		s.WriteString("FROM hist CROSS JOIN l0s CROSS JOIN cands\nWHERE rk <= l0\nGROUP BY l0, cand, " + strings.Join(keys, ", ") + "\n")
	}
	s.WriteString("ORDER BY part, l0, cand")
	f.SQL = s.String()
	return f
}
