package compile

import (
	"context"
	"math"
	"reflect"
	"testing"

	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/template"
	"github.com/statgate/statgate/policies"
)

// policyPath is the shipped policy.
const policyPath = "../../policies/norway-synthetic.yaml"

// Principals of the shipped policy: ingrid is a researcher (templates,
// sql, cohorts) in both projects, the analyst runs templates in
// diabetes-2026 only.
const (
	ingrid  = "ingrid"
	analyst = "pharma-analyst"
)

// fixture is a Compiler of the shipped policy and the templates it was
// given.
type fixture struct {
	*Compiler
	templates map[string]*template.Template
}

// newFixture compiles the shipped policy's templates and returns its
// Compiler.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	pol, parser := shipped(t)
	tmpls, err := template.Compile(context.Background(), parser, pol)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(&Options{Policy: pol, Parser: parser, Templates: tmpls})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{Compiler: c, templates: tmpls}
}

// shipped loads the shipped policy and opens a parser, closed when t ends.
func shipped(t *testing.T) (*policies.Policy, *query.Parser) {
	t.Helper()
	pol, err := policies.Load(policyPath)
	if err != nil {
		t.Fatal(err)
	}
	parser, err := query.NewParser(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { parser.Close() })
	return pol, parser
}

func TestNewValidates(t *testing.T) {
	pol, parser := shipped(t)
	tests := []struct {
		desc string
		opts *Options
	}{
		{"nil options", nil},
		{"no policy", &Options{Parser: parser}},
		{"no parser", &Options{Policy: pol}},
		{"templates not compiled", &Options{Policy: pol, Parser: parser}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if c, err := New(tc.opts); err == nil {
				t.Errorf("New = %v, want an error", c)
			}
		})
	}
}

// TestCompileRefusals: what a request may not be or do is refused with
// its code; a malformed request is refused before anyone is authorised.
func TestCompileRefusals(t *testing.T) {
	f := newFixture(t)
	const sql = "SELECT count(*) FROM npr"
	npr := []Criterion{{Dataset: "npr"}}
	tests := []struct {
		desc      string
		principal string
		req       Request
		code      string
	}{
		{"nothing asked", ingrid, Request{Project: "diabetes-2026"}, "bad_request"},
		{"two kinds", ingrid, Request{Project: "diabetes-2026", SQL: sql, Cohort: &CohortSpec{Include: npr}}, "bad_request"},
		{"malformed before membership", "mallory", Request{Project: "diabetes-2026", SQL: sql, Template: "x"}, "bad_request"},
		{"no project", ingrid, Request{SQL: sql}, "missing_project"},
		{"epsilon NaN", ingrid, Request{Project: "diabetes-2026", SQL: sql, Epsilon: math.NaN()}, "bad_epsilon"},
		{"epsilon infinite", ingrid, Request{Project: "diabetes-2026", SQL: sql, Epsilon: math.Inf(1)}, "bad_epsilon"},
		{"epsilon negative", ingrid, Request{Project: "diabetes-2026", SQL: sql, Epsilon: -1}, "bad_epsilon"},
		{"unknown project", ingrid, Request{Project: "nope", SQL: sql}, "unknown_project"},
		{"not a member", "mallory", Request{Project: "diabetes-2026", SQL: sql}, "not_a_member"},
		{"analyst may not write SQL", analyst, Request{Project: "diabetes-2026", SQL: sql}, "role_not_allowed"},
		{"analyst may not ask cohorts", analyst, Request{Project: "diabetes-2026", Cohort: &CohortSpec{Include: npr}}, "role_not_allowed"},
		{"checker refusal", ingrid, Request{Project: "diabetes-2026", SQL: "SELECT count(*) FROM cancer"}, "dataset_not_in_project"},
		{"unknown template", analyst, Request{Project: "diabetes-2026", Template: "nope"}, "unknown_template"},
		{"template outside project", analyst, Request{Project: "diabetes-2026", Template: "cancer_incidence_by_site_year"}, "template_not_in_project"},
		{"template missing parameter", analyst, Request{Project: "diabetes-2026", Template: "prescriptions_by_atc_year"}, "missing_parameter"},
		{"cohort without include", ingrid, Request{Project: "diabetes-2026", Cohort: &CohortSpec{}}, "cohort_needs_include"},
		{"cohort of 11 criteria", ingrid, Request{Project: "diabetes-2026", Cohort: &CohortSpec{Include: make([]Criterion, 6), Exclude: make([]Criterion, 5)}}, "cohort_too_many_criteria"},
		{"cohort of 4 breakdowns", ingrid, Request{Project: "diabetes-2026", Cohort: &CohortSpec{Include: npr, Breakdown: []string{"sex", "municipality", "birth_year", "age_band"}}}, "cohort_too_many_breakdowns"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			c, err := f.Compile(context.Background(), tc.principal, tc.req)
			r, ok := refusal.As(err)
			if !ok || r.Code.String() != tc.code {
				t.Fatalf("Compile = %v, %v; want refusal %s", c, err, tc.code)
			}
			if c != nil {
				t.Errorf("a refusal came with %+v", c)
			}
		})
	}
}

// TestCompiled: each kind of request yields its checked query with the
// ε asked for (the template's own, pinned), its notes and run key, and
// the request's totals and bounds for the plan.
func TestCompiled(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rb := &plan.RequestBounds{MaxGroupsPerPerson: 2}

	c, err := f.Compile(ctx, ingrid, Request{Project: "diabetes-2026", SQL: "SELECT sex, count(*) AS n FROM population GROUP BY sex",
		Epsilon: 0.7, Totals: true, Bounds: rb})
	if err != nil {
		t.Fatal(err)
	}
	if c.Project.ID != "diabetes-2026" || c.Epsilon != 0.7 || c.Pinned || c.RunKey != "" || c.Notes != nil {
		t.Errorf("SQL compiled to %+v", c)
	}
	if got := c.PlanOptions(map[string]int64{"population": 9}); !reflect.DeepEqual(got,
		&plan.Options{TableRows: map[string]int64{"population": 9}, Totals: true, Bounds: rb}) {
		t.Errorf("plan options %+v", got)
	}
	if len(c.Query.Keys) != 1 || c.Query.Keys[0].Name != "sex" {
		t.Errorf("query keys %+v", c.Query.Keys)
	}

	params := map[string]any{"atc_prefix": "A10B%"}
	c, err = f.Compile(ctx, analyst, Request{Project: "diabetes-2026", Template: "prescriptions_by_atc_year", Params: params, Epsilon: 3})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := f.templates["prescriptions_by_atc_year"]
	run, err := tmpl.Bind(params)
	if err != nil {
		t.Fatal(err)
	}
	if c.Epsilon != 0.5 || !c.Pinned || c.RunKey != run.Key() || c.Notes != nil {
		t.Errorf("template compiled to ε %g pinned %v key %q notes %q; want its 0.5, pinned, key %q", c.Epsilon, c.Pinned, c.RunKey, c.Notes, run.Key())
	}
	if c.Query == tmpl.Query() || !reflect.DeepEqual(c.Query, run.Query) {
		t.Error("the template's compiled query is not the run's own bound copy")
	}

	c, err = f.Compile(ctx, ingrid, Request{Project: "diabetes-2026", Epsilon: 0.25,
		Cohort: &CohortSpec{Include: []Criterion{{Dataset: "npr"}}, Breakdown: []string{"age_band"}}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Epsilon != 0.25 || c.Pinned || c.RunKey != "" || len(c.Notes) != 1 {
		t.Errorf("cohort compiled to ε %g pinned %v key %q notes %q", c.Epsilon, c.Pinned, c.RunKey, c.Notes)
	}
}
