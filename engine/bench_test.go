package engine

import (
	"context"
	"os"
	"testing"

	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/policies"
)

// benchEngine opens an engine on a copy of the checked-in 5,000-person
// extract whose diabetes-2026 budget never runs out.
func benchEngine(b *testing.B) *Engine {
	b.Helper()
	dir := b.TempDir()
	src, err := os.ReadFile(exec.ExtractsPath(loadedDir))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(exec.ExtractsPath(dir), src, 0o600); err != nil {
		b.Fatal(err)
	}
	pol, err := policies.Load(policyPath)
	if err != nil {
		b.Fatal(err)
	}
	pol.Projects["diabetes-2026"].Budget = policies.Budget{Epsilon: 1e12, Delta: 0.99}
	return newEngine(b, &Options{Policy: pol, DataDir: dir})
}

// BenchmarkQuery times Engine.Query end to end (check, plan, debit,
// execute, protect, audit) on the small test extract, where the fixed
// costs dominate. benchmarks/ measures it on 1 M to 100 M rows.
func BenchmarkQuery(b *testing.B) {
	cases := []struct {
		name string
		req  Request
	}{
		{"sql/npr_by_icd3_l0", Request{Project: "diabetes-2026",
			SQL: "SELECT substr(icd10, 1, 3) AS icd3, count(DISTINCT pid) AS persons, count(*) AS contacts, avg(length_of_stay_days) AS mean_los FROM npr GROUP BY 1"}},
		{"sql/e11_by_sex_join", Request{Project: "diabetes-2026",
			SQL: "SELECT p.sex AS sex, count(DISTINCT pid) AS persons, avg(n.length_of_stay_days) AS mean_los FROM npr n JOIN population p USING (pid) WHERE n.icd10 LIKE 'E11%' GROUP BY 1"}},
		{"sql/contacts_by_type_totals", Request{Project: "diabetes-2026", Totals: true,
			SQL: "SELECT contact_type, year(contact_date) AS year, count(*) AS contacts FROM npr GROUP BY 1, 2"}},
		{"template/prescriptions_by_atc_year", Request{Project: "diabetes-2026",
			Template: "prescriptions_by_atc_year", Params: map[string]any{"atc_prefix": "A10B%"}}},
		{"cohort/e11_metformin_by_sex", Request{Project: "diabetes-2026", Cohort: &CohortSpec{
			Include:   []Criterion{{Dataset: "npr", Where: "icd10 LIKE 'E11%'"}, {Dataset: "lmr", Where: "atc LIKE 'A10BA%'"}},
			Breakdown: []string{"sex"}}}},
	}
	e := benchEngine(b)
	ctx := context.Background()
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Query(ctx, ingrid, tc.req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
