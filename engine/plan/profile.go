package plan

import (
	"fmt"
	"strings"

	"github.com/statgate/statgate/engine/query"
)

// Profile is the SQL that measures, for one query, how much each person
// contributes: how many of the query's groups a person has rows in, and
// the most rows a person has in one group. Its result is two histograms
// of persons, one row per bucket:
//
//	what    VARCHAR  "groups" or "rows"
//	bucket  BIGINT   1..GroupsCap (groups) or 1..RowsCap (rows); the last
//	                 bucket holds every person at or above it
//	persons BIGINT   the persons in the bucket
//
// Every person is in exactly one bucket of each histogram, so one person
// changes each histogram by one in one bucket: noised with Laplace at ε,
// each histogram is ε-DP. The engine reads it (after the debit, paying
// from the query's "bound_selection" share) to choose L0 and L∞.
type Profile struct {
	SQL string
	// GroupsCap and RowsCap are the largest buckets: the most L0 and L∞
	// the query may use.
	GroupsCap, RowsCap int
	// Groups is the number of groups the query may release when every key
	// has a public domain (the narrowed domains' product), or 0 when
	// partition selection chooses them.
	Groups int
	// Rows is true when some aggregate counts or sums rows (so L∞ matters);
	// false when every aggregate counts distinct persons.
	Rows bool
}

// The values of Profile's what column.
const (
	ProfileGroups = "groups"
	ProfileRows   = "rows"
)

// profile returns the query's profile, or nil when the bounds need no
// estimate: a person can be in one group only (keys from one-row-per-person
// data, or no keys), the request fixed the bounds, or every dataset is one
// row per person.
func (b *builder) profile() *Profile {
	q := b.q
	if b.step == L0OneGroupPerPerson || b.l0cap <= 1 && b.rowsCap <= 1 {
		return nil
	}
	if r := b.request; r != nil && (r.MaxGroupsPerPerson > 0 || r.MaxRowsPerPersonPerGroup > 0) {
		return nil
	}
	pr := &Profile{GroupsCap: b.l0cap, RowsCap: b.rowsCap}
	for _, a := range q.Aggs {
		if a.Kind != query.AggCountDistinct {
			pr.Rows = true
		}
	}
	if b.allDomains {
		pr.Groups = b.product
	}
	keys := make([]string, len(q.Keys))
	for i := range q.Keys {
		keys[i] = keyCol(i)
	}
	var s strings.Builder
	s.WriteString("WITH src AS (\n")
	b.writeSrc(&s, "")
	s.WriteString("),\npg AS (\n")
	selectList(&s, "  ", append(append([]string{"person"}, keys...), "count(*) AS r"))
	s.WriteString("  FROM src\n")
	var filters []string
	for i, k := range q.Keys {
		if f := domainFilter(keys[i], b.domains[i], k.Expr.ExprType()); f != "" {
			filters = append(filters, f)
		}
	}
	if len(filters) > 0 {
		s.WriteString("  WHERE " + strings.Join(filters, "\n    AND ") + "\n")
	}
	s.WriteString("  GROUP BY " + strings.Join(append([]string{"person"}, keys...), ", ") + "\n),\n")
	s.WriteString("per AS (\n  SELECT person, count(*) AS g, max(r) AS m\n  FROM pg\n  GROUP BY person\n)\n")
	fmt.Fprintf(&s, "SELECT '%s' AS what, least(g, %d)::BIGINT AS bucket, count(*)::BIGINT AS persons FROM per GROUP BY 2\n", ProfileGroups, pr.GroupsCap)
	fmt.Fprintf(&s, "UNION ALL\nSELECT '%s' AS what, least(m, %d)::BIGINT AS bucket, count(*)::BIGINT AS persons FROM per GROUP BY 2\n", ProfileRows, pr.RowsCap)
	pr.SQL = s.String()
	return pr
}
