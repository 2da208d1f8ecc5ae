package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/google/differential-privacy/go/v3/noise"

	"github.com/statgate/statgate/engine/internal/testkit"
)

// TestFoldedResultsEqualTheBoundedSQL: for count-only questions without
// an L0 step the engine takes the bounded result from the profile's one
// statement (plan.Fold), and that result is, row for row, what the chosen
// plan's own SQL returns; questions that do not fold run the SQL.
func TestFoldedResultsEqualTheBoundedSQL(t *testing.T) {
	e := openEngine(t, func(o *Options) { o.Noise = testkit.FakeNoise{Noise: noise.Laplace()} })
	ctx := context.Background()
	for _, tc := range []struct {
		sql   string
		folds bool
	}{
		{"SELECT contact_type, count(*) AS contacts, count(DISTINCT pid) AS patients FROM npr WHERE icd10 LIKE 'E%' GROUP BY 1", true},
		{"SELECT contact_type, count(length_of_stay_days) AS stays FROM npr WHERE length_of_stay_days BETWEEN 2 AND 30 GROUP BY 1", true},
		{"SELECT count(*) AS contacts FROM npr WHERE icd10 LIKE 'C%'", true},
		{"SELECT p.sex AS sex, count(*) AS contacts FROM npr n JOIN population p USING (pid) GROUP BY 1", true},
		{"SELECT count(*) AS contacts FROM npr WHERE icd10 = 'no such code'", true},
		{"SELECT substr(icd10, 1, 3) AS icd3, count(*) AS contacts FROM npr GROUP BY 1", false},
		{"SELECT contact_type, avg(length_of_stay_days) AS stay FROM npr GROUP BY 1", false},
	} {
		t.Run(tc.sql, func(t *testing.T) {
			pr, err := e.prepare(ctx, e.current(), ingrid, Request{Project: "diabetes-2026", SQL: tc.sql})
			if err != nil {
				t.Fatal(err)
			}
			est, err := e.estimateBounds(ctx, pr)
			if err != nil {
				t.Fatal(err)
			}
			defer est.close()
			rr, folded := est.result()
			if folded != tc.folds {
				t.Fatalf("folded %v, want %v (L0 step %s, L∞ %d)", folded, tc.folds, est.plan.Bounds.L0Step, est.plan.Bounds.MaxRowsPerPersonPerGroup)
			}
			if !folded {
				return
			}
			got := arrowRows(t, rr)
			rr.Release()
			plain, err := pr.x.db.QueryArrow(ctx, est.plan.SQL)
			if err != nil {
				t.Fatal(err)
			}
			want := arrowRows(t, plain)
			plain.Release()
			if !slices.Equal(got, want) {
				t.Errorf("folded result differs from the plan's SQL:\nfolded %v\nSQL    %v", got, want)
			}
			// And the whole request, through the same path.
			if _, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: tc.sql}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// arrowRows renders a reader's rows ("a|b|c", with their types), sorted.
func arrowRows(t *testing.T, rr array.RecordReader) []string {
	t.Helper()
	var out []string
	for rr.Next() {
		rec := rr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			cells := make([]string, rec.NumCols())
			for c := range cells {
				col := rec.Column(c)
				cells[c] = fmt.Sprintf("%s:%s", col.DataType(), col.ValueStr(i))
			}
			out = append(out, strings.Join(cells, "|"))
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
