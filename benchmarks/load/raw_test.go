package load

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/statgate/statgate/api"
	"github.com/statgate/statgate/benchmarks/utility"
	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/compile"
	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/template"
)

// rawIs are questions the raw-kind tests check: both breakdowns of the
// cohort, several letters, ATC groups and year ranges, and ATC prefixes
// the synthetic registry has (A10 260, A10B 5460, C09 236, C09C 8036, N06
// 169, N06A 2769; most prefixes of a run match no dispensing).
var rawIs = []int{0, 4, 30, 169, 236, 260, 400, 2769, 3650, 5000, 5460, 8036, 18200, 18204, 20000, 30003}

// TestRawTemplateIsTheTemplate: the raw-template SQL of i is
// prescriptions_by_atc_year's SQL in the policy with the template run's
// atc_prefix written in.
func TestRawTemplateIsTheTemplate(t *testing.T) {
	tpl := loadPolicy(t).Templates["prescriptions_by_atc_year"]
	if tpl == nil {
		t.Fatal("the policy has no template prescriptions_by_atc_year")
	}
	for _, i := range rawIs {
		var body api.TemplateRunBody
		if err := json.Unmarshal(templateRun(i).body, &body); err != nil {
			t.Fatal(err)
		}
		want := strings.ReplaceAll(strings.TrimSpace(tpl.SQL), ":atc_prefix", "'"+body.Params["atc_prefix"].(string)+"'")
		if got := question(RawTemplate, i).sql; got != want {
			t.Errorf("%d: raw-template SQL\n%s\nwant the template's\n%s", i, got, want)
		}
	}
}

// TestRawKindsAnswerTheEnginesQuestions runs the raw-template and
// raw-cohort SQL on a synthetic extract through the same locked-down
// DuckDB connection as a run, and compares the answers with the engine's
// own plans of the same template run and cohort estimate (compiled and
// bounded as the engine does, run before any noise or suppression), and
// the cohorts also with utility.CohortExactSQL, written separately: the
// same groups, and for the cohorts the same exact counts (a cohort counts
// each person once, so its plan bounds nothing). The template's plan is
// bounded with L0 = 15, its years' domain, so that it cuts no person's
// years either.
func TestRawKindsAnswerTheEnginesQuestions(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a small extract")
	}
	ctx := context.Background()
	pol, data := prepare(t)
	pol, err := withClients(pol, 1)
	if err != nil {
		t.Fatal(err)
	}
	if ref, ok := pol.Datasets["population"].AgeReferenceYear(); !ok || ref != ageReferenceYear {
		t.Fatalf("age_band's reference year is %d (%v) in the policy, %d in cohortSQL", ref, ok, ageReferenceYear)
	}
	raw, err := exec.Open(ctx, &exec.Options{Path: exec.ExtractsPath(data.ExtractsDir()), ReadOnly: true, QueryTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	exact, err := utility.OpenExact(ctx, data.Dir, data.TableNames())
	if err != nil {
		t.Fatal(err)
	}
	defer exact.Close()
	parser, err := query.NewParser(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer parser.Close()
	templates, err := template.Compile(ctx, parser, pol)
	if err != nil {
		t.Fatal(err)
	}
	comp, err := compile.New(&compile.Options{Policy: pol, Parser: parser, Templates: templates})
	if err != nil {
		t.Fatal(err)
	}
	// planned runs the engine's bounded plan of r, as "key|…|persons" rows.
	planned := func(r compile.Request, bounds *plan.RequestBounds) []string {
		t.Helper()
		c, err := comp.Compile(ctx, principal(0), r)
		if err != nil {
			t.Fatal(err)
		}
		p, err := plan.Bound(c.Query, pol, &plan.Options{Bounds: bounds})
		if err != nil {
			t.Fatal(err)
		}
		var cols []int
		for _, role := range []plan.Role{plan.RoleKey, plan.RolePersons} {
			for j, col := range p.Columns {
				if col.Role == role {
					cols = append(cols, j)
				}
			}
		}
		return arrowRows(t, raw, p.SQL, cols)
	}
	templateGroups, cohortGroups := 0, 0 // with groups
	for _, i := range rawIs {
		// Template: the same groups; L0 = 15 bounds nothing, so the same
		// persons too.
		var tb api.TemplateRunBody
		if err := json.Unmarshal(templateRun(i).body, &tb); err != nil {
			t.Fatal(err)
		}
		got := arrowRows(t, raw, question(RawTemplate, i).sql, []int{0, 1})
		want := planned(compile.Request{Project: Project, Template: "prescriptions_by_atc_year", Params: tb.Params},
			&plan.RequestBounds{MaxGroupsPerPerson: 15})
		if !slices.Equal(got, want) {
			t.Errorf("template %d (%v): raw %v, the engine's plan %v", i, tb.Params, got, want)
		}
		if len(got) > 0 {
			templateGroups++
		}

		// Cohort: the same groups and exact counts as the engine's plan
		// and as the separately written exact SQL.
		var cb api.CohortBody
		if err := json.Unmarshal(cohort(i).body, &cb); err != nil {
			t.Fatal(err)
		}
		spec := &engine.CohortSpec{Include: criteria(cb.Include), Exclude: criteria(cb.Exclude), Breakdown: cb.Breakdown}
		got = arrowRows(t, raw, question(RawCohort, i).sql, []int{0, 1})
		if want := planned(compile.Request{Project: Project, Cohort: spec}, nil); !slices.Equal(got, want) {
			t.Errorf("cohort %d: raw %v, the engine's plan %v\n%s", i, got, want, question(RawCohort, i).sql)
		}
		xsql, err := utility.CohortExactSQL(spec, pol)
		if err != nil {
			t.Fatal(err)
		}
		x, err := exact.Query(ctx, xsql)
		if err != nil {
			t.Fatal(err)
		}
		var exactRows []string
		for _, r := range x.Rows {
			exactRows = append(exactRows, fmt.Sprintf("%v|%v", r[0], r[1]))
		}
		slices.Sort(exactRows)
		if !slices.Equal(got, exactRows) {
			t.Errorf("cohort %d: raw %v, exact %v", i, got, exactRows)
		}
		if len(got) > 0 {
			cohortGroups++
		}
	}
	if templateGroups < 6 || cohortGroups < len(rawIs)/2 {
		t.Errorf("only %d templates and %d cohorts of %d have groups: the comparison says little", templateGroups, cohortGroups, len(rawIs))
	}
}

// criteria converts the API's cohort criteria to the engine's.
func criteria(cs []api.Criterion) []engine.Criterion {
	out := make([]engine.Criterion, len(cs))
	for i, c := range cs {
		out[i] = engine.Criterion{Dataset: c.Dataset, Where: c.Where, From: c.From, To: c.To}
	}
	return out
}

// arrowRows runs sql on db and returns its rows, the columns cols joined
// by "|", sorted.
func arrowRows(t *testing.T, db *exec.DB, sql string, cols []int) []string {
	t.Helper()
	rr, err := db.QueryArrow(context.Background(), sql)
	if err != nil {
		t.Fatalf("%v\n%s", err, sql)
	}
	defer rr.Release()
	var out []string
	for rr.Next() {
		rec := rr.RecordBatch()
		for r := range int(rec.NumRows()) {
			vals := make([]string, len(cols))
			for k, c := range cols {
				vals[k] = rec.Column(c).ValueStr(r)
			}
			out = append(out, strings.Join(vals, "|"))
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
