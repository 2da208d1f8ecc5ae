package plan

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/query"
)

func BenchmarkBound(b *testing.B) {
	pol := testPolicy()
	for _, tc := range goldenCases() {
		if tc.name != "template_contacts_by_chapter_age_band" && tc.name != "rollup_type_year" {
			continue
		}
		b.Run(tc.name, func(b *testing.B) {
			opts := &Options{Seed: goldenSeed}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Bound(tc.q, pol, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// cutoffL0 rewrites a plan's L0 step as the formulation before issue 14's
// window: per person the l0-th smallest distinct hash is the cut-off
// (row_number() over the distinct (person, h)), joined back to the rows,
// which keep h at or under it. It is the baseline BenchmarkL0Step measures
// the plan's dense_rank() step against.
func cutoffL0(b *testing.B, sqlText string, l0 int) string {
	start := strings.Index(sqlText, "kept AS (")
	end := strings.Index(sqlText, "partials AS (")
	if start < 0 || end < 0 {
		b.Fatal("plan has no L0 step")
	}
	hashLine := sqlText[strings.Index(sqlText, "ORDER BY hash(")+len("ORDER BY "):]
	hashExpr := hashLine[:strings.Index(hashLine, ")) <=")+1]
	kept := sqlText[start:end]
	where := ""
	if i := strings.Index(kept, "  WHERE "); i >= 0 {
		where = kept[i:strings.Index(kept, "  QUALIFY")]
	}
	return sqlText[:start] + fmt.Sprintf(`hashed AS (
  SELECT *, %s AS h
  FROM src
%s),
pairs AS (SELECT person, h FROM hashed GROUP BY person, h),
cutoffs AS (SELECT person, h AS cut FROM pairs QUALIFY row_number() OVER (PARTITION BY person ORDER BY h) = %d),
kept AS (
  SELECT hashed.* EXCLUDE (h)
  FROM hashed LEFT JOIN cutoffs ON hashed.person = cutoffs.person
  WHERE cutoffs.cut IS NULL OR hashed.h <= cutoffs.cut
),
`, hashExpr, where, l0) + sqlText[end:]
}

// BenchmarkL0Step compares the plan's dense_rank() step with the earlier
// per-person cut-off on 1 M rows: 100 k persons with 10 codes each (all
// over L0 = 4).
func BenchmarkL0Step(b *testing.B) {
	db := openDB(b, testPolicy())
	mustExec(b, db, `INSERT INTO npr
		SELECT pid, DATE '2015-01-01', 'C' || ((pid * 7 + g * 13) % 200), 'day', 'Helse Bergen', g
		FROM range(100000) p(pid), range(10) s(g)`)
	q := &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("icd10", nprICD)},
		Aggs: []query.Aggregate{countStar("n"), countPersons("persons"), losBounded(query.AggAvg, "a")}}
	p := mustBound(b, q, 11)
	variants := []struct{ name, sql string }{
		{"ranked", p.SQL},
		{"cutoff", cutoffL0(b, p.SQL, p.Bounds.MaxGroupsPerPerson)},
	}
	if a, c := canonical(b, queryRows(b, db, variants[0].sql)), canonical(b, queryRows(b, db, variants[1].sql)); !slices.Equal(sorted(a), sorted(c)) {
		b.Fatalf("the two L0 steps differ:\n%v\n%v", a, c)
	}
	for _, v := range variants {
		b.Run("rows=1e6,groups=200/"+v.name, func(b *testing.B) {
			for b.Loop() {
				rows, err := db.QueryContext(context.Background(), v.sql)
				if err != nil {
					b.Fatal(err)
				}
				for rows.Next() {
				}
				if err := rows.Err(); err != nil {
					b.Fatal(err)
				}
				rows.Close()
			}
		})
	}
}

// sorted returns s sorted.
func sorted(s []string) []string { slices.Sort(s); return s }
