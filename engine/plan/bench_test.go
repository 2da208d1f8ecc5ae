package plan

import (
	"context"
	"fmt"
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

// windowL0 rewrites a plan's L0 step as the textbook window: keep the
// (person, group) rows ranked ≤ l0 by hash within the person. It is the
// baseline BenchmarkL0Step measures the cut-off join against.
func windowL0(b *testing.B, sqlText string, l0 int) string {
	start := strings.Index(sqlText, "hashed AS (")
	end := strings.Index(sqlText, "\n)\nSELECT")
	if start < 0 || end < 0 {
		b.Fatal("plan has no L0 step")
	}
	hashLine := sqlText[strings.Index(sqlText, "hash("):]
	hashExpr := hashLine[:strings.Index(hashLine, " AS h")]
	return sqlText[:start] + fmt.Sprintf("kept AS (\n  SELECT *\n  FROM partials\n  QUALIFY row_number() OVER (PARTITION BY person ORDER BY %s) <= %d", hashExpr, l0) + sqlText[end:]
}

// BenchmarkL0Step compares the plan's per-person cut-off with the window
// version on 1 M rows: 100 k persons with 10 codes each (all over L0 = 4).
func BenchmarkL0Step(b *testing.B) {
	db := openDB(b, testPolicy())
	mustExec(b, db, `INSERT INTO npr
		SELECT pid, DATE '2015-01-01', 'C' || ((pid * 7 + g * 13) % 200), 'day', 'Helse Bergen', g
		FROM range(100000) p(pid), range(10) s(g)`)
	q := &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("icd10", nprICD)},
		Aggs: []query.Aggregate{countStar("n"), countPersons("persons"), losBounded(query.AggAvg, "a")}}
	p := mustBound(b, q, 11)
	for _, v := range []struct{ name, sql string }{
		{"cutoff", p.SQL},
		{"window", windowL0(b, p.SQL, p.Bounds.MaxGroupsPerPerson)},
	} {
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
