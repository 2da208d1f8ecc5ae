package engine

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/google/differential-privacy/go/v3/noise"

	"github.com/statgate/statgate/engine/internal/testkit"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/result"
	"github.com/statgate/statgate/engine/template"
	"github.com/statgate/statgate/policies"
)

// offTemplate is a template whose filter is written birth_year-:off: with
// off = -5 the old engine spliced the text birth_year--5, where -- starts a
// comment, so the rest of the line was lost. The template is on several
// lines, so losing the line changes the question instead of failing.
const offTemplate = `  born_after_offset:
    datasets: [population]
    sql: |
      SELECT sex, count(*) AS persons FROM population
      WHERE birth_year-:off > 1950 AND sex = 'F'
      GROUP BY sex
    params:
      off: {type: integer, min: -50, max: 50}
    epsilon: 1
`

// policyWith is the shipped policy with extra templates appended to its
// (last) templates section.
func policyWith(t *testing.T, extra string) *policies.Policy {
	t.Helper()
	data, err := os.ReadFile(policyPath)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policies.Parse(append(data, "\n"+extra...), policyPath)
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// openWithTemplates opens an engine with policyWith(extra) and no noise.
func openWithTemplates(t *testing.T, extra string) *Engine {
	t.Helper()
	pol := policyWith(t, extra)
	return openEngine(t, func(o *Options) { o.Policy, o.Noise = pol, testkit.FakeNoise{Noise: noise.Laplace()} })
}

// compiledTemplate compiles the templates of the engine's policy as New
// does and returns the one called name.
func compiledTemplate(t *testing.T, e *Engine, name string) *template.Template {
	t.Helper()
	ts, err := template.Compile(context.Background(), e.parser, e.pol)
	if err != nil {
		t.Fatal(err)
	}
	if ts[name] == nil {
		t.Fatalf("no template %q", name)
	}
	return ts[name]
}

// TestTemplateMinusNegativeParameter: the bound template is the literal
// question birth_year - (-5) > 1950 (the same plan, to the letter, for the
// same seed), plans like birth_year+5 > 1950 but for the filter's spelling,
// and releases the same answer.
func TestTemplateMinusNegativeParameter(t *testing.T) {
	e := openWithTemplates(t, offTemplate)
	ctx := context.Background()
	run, err := compiledTemplate(t, e, "born_after_offset").Bind(map[string]any{"off": -5.0})
	if err != nil {
		t.Fatal(err)
	}
	cat := query.NewCatalog(e.pol, []string{"population"})
	planOf := func(q *query.Query) *plan.Plan {
		t.Helper()
		p, err := plan.Bound(q, e.pol, &plan.Options{Seed: 7, TableRows: e.current().sizes})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	compile := func(sql string) *query.Query {
		t.Helper()
		q, err := e.parser.Compile(ctx, sql, cat)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	got := planOf(run.Query)
	same := planOf(compile("SELECT sex, count(*) AS persons FROM population WHERE birth_year - (-5) > 1950 AND sex = 'F' GROUP BY sex"))
	if !reflect.DeepEqual(got, same) {
		t.Errorf("template plan\n%s\nwant the literal query's\n%s", got.SQL, same.SQL)
	}
	plusQ := compile("SELECT sex, count(*) AS persons FROM population WHERE birth_year+5 > 1950 AND sex='F' GROUP BY sex")
	plus := planOf(plusQ)
	respelt := *got
	respelt.SQL = strings.Replace(got.SQL, plan.RenderExpr(run.Query.Where), plan.RenderExpr(plusQ.Where), 1)
	if !reflect.DeepEqual(&respelt, plus) {
		t.Errorf("template plan, filter respelt\n%s\nwant the plan of birth_year+5\n%s", respelt.SQL, plus.SQL)
	}

	rows := sameAnswer(t, e, "born_after_offset", map[string]any{"off": -5.0},
		"SELECT sex, count(*) AS persons FROM population WHERE birth_year+5 > 1950 AND sex='F' GROUP BY sex")
	for _, r := range rows {
		if r.Cells[0].Value == "M" && !r.Cells[1].Suppressed && r.Cells[1].Value != 0.0 {
			t.Errorf("the sex = 'F' filter was lost: %+v", rows)
		}
	}
}

// TestTemplateParametersNarrowDomains: the years a template's parameters
// leave narrow the public domain of its year key as constants do, since
// the query is bound before it is planned.
func TestTemplateParametersNarrowDomains(t *testing.T) {
	e := openEngine(t, nil)
	run, err := compiledTemplate(t, e, "cancer_incidence_by_site_year").Bind(map[string]any{"sex": "F", "from_year": 2015.0, "to_year": 2018.0})
	if err != nil {
		t.Fatal(err)
	}
	lit, err := e.parser.Compile(context.Background(), `SELECT left(c.icd10, 3) AS site, year(c.diagnosis_date) AS year, count(DISTINCT pid) AS persons
		FROM cancer c JOIN population p USING (pid) WHERE p.sex = 'F' AND year(c.diagnosis_date) BETWEEN 2015 AND 2018 GROUP BY 1, 2`,
		query.NewCatalog(e.pol, []string{"cancer", "population"}))
	if err != nil {
		t.Fatal(err)
	}
	opts := &plan.Options{Seed: 7, TableRows: e.current().sizes}
	got, err := plan.Bound(run.Query, e.pol, opts)
	if err != nil {
		t.Fatal(err)
	}
	want, err := plan.Bound(lit, e.pol, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("template plan\n%s\nwant the literal query's\n%s", got.SQL, want.SQL)
	}
	if years := got.Keys[1].Domain; len(years) != 4 || years[0] != int64(2015) {
		t.Errorf("year domain %v, want 2015..2018", years)
	}
}

// TestTemplateLexicalForms runs a template with an apostrophe in a --
// comment (once "unterminated quote"), a placeholder-like text inside a
// string literal and :: casts.
func TestTemplateLexicalForms(t *testing.T) {
	e := openWithTemplates(t, `  lexical:
    datasets: [population]
    sql: |
      SELECT sex, count(*) AS persons -- don't count anyone twice
      FROM population
      WHERE birth_year::INTEGER >= :from::INTEGER AND sex <> ':from'
      GROUP BY sex
    params:
      from: {type: integer, min: 1915, max: 2024}
    epsilon: 1
`)
	rows := sameAnswer(t, e, "lexical", map[string]any{"from": 1950.0},
		"SELECT sex, count(*) AS persons FROM population WHERE birth_year >= 1950 GROUP BY sex")
	if len(rows) != 2 {
		t.Errorf("rows %+v, want one per sex", rows)
	}
}

// sameAnswer runs a template (as the analyst) and the same question as
// SQL at the template's ε 1 (as the researcher), with no noise, requires
// the same released rows, and returns them.
func sameAnswer(t *testing.T, e *Engine, template string, params map[string]any, sql string) []result.Row {
	t.Helper()
	ctx := context.Background()
	res, err := e.Query(ctx, analyst, Request{Project: "diabetes-2026", Template: template, Params: params})
	if err != nil {
		t.Fatal(err)
	}
	lit, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026", Epsilon: 1, SQL: sql})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Rows, lit.Rows) || len(res.Rows) == 0 {
		t.Errorf("template rows %+v, want the literal query's %+v", res.Rows, lit.Rows)
	}
	return res.Rows
}

// TestOpenRefusesBrokenTemplate: a template the checker refuses stops the
// engine from starting, with a policy error naming the template; it is not
// first found by an analyst running it.
func TestOpenRefusesBrokenTemplate(t *testing.T) {
	pol := policyWith(t, `  broken:
    datasets: [lmr]
    sql: SELECT pid, count(*) FROM lmr WHERE atc LIKE :atc GROUP BY pid
    params:
      atc: {type: string}
    epsilon: 0.5
`)
	dir := t.TempDir()
	_, err := New(context.Background(), &Options{Policy: pol, DataDir: dir, State: openState(t, dir)})
	if err == nil {
		t.Fatal("Open accepted a template that selects the person key")
	}
	for _, want := range []string{"norway-synthetic.yaml", "templates.broken.sql", "person_key_in_select"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}
