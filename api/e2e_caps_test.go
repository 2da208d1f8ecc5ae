package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/statgate/statgate/api"
	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/policies"
)

// TestE2EProjectBudgetAndCaps, over HTTP: with a project-wide budget of
// ε 1, a member cap of ε 0.5 for the analyst and a lifetime budget on lmr,
// a join over three datasets is charged once to the project (and the
// history shows one debit); the query the project cannot pay is a 409
// naming the project-wide budget and debits nothing anywhere; the
// analyst's second template run is a 409 naming their cap; the budget
// endpoint states the caps and the per-person guarantee; the dry run
// lists every capped budget after.
func TestE2EProjectBudgetAndCaps(t *testing.T) {
	s := startE2E(t, e2eConfig{accounting: "basic", policy: func(p *policies.Policy) {
		pr := p.Projects["diabetes-2026"]
		pr.ProjectBudget = &policies.Budget{Epsilon: 1, Delta: 1e-5}
		for i := range pr.Members {
			if pr.Members[i].Principal == analyst {
				pr.Members[i].Budget = &policies.Budget{Epsilon: 0.5}
			}
		}
		p.Datasets["lmr"].LifetimeBudget = &policies.Budget{Epsilon: 5}
	}})
	const join = "SELECT p.sex AS sex, count(DISTINCT pid) AS persons FROM npr n JOIN population p USING (pid) JOIN lmr l USING (pid) GROUP BY 1"
	decodeResult(t, s.must(t, call{method: http.MethodPost, path: "/v1/query", as: researcher, body: queryBody(t, "diabetes-2026", join, 0.4)}, http.StatusOK))

	var rep api.BudgetReport
	decodeJSON(t, s.must(t, call{method: http.MethodGet, path: "/v1/projects/diabetes-2026/budget", as: analyst}, http.StatusOK), &rep)
	caps := map[string]api.CapBudget{}
	for _, c := range rep.Caps {
		caps[c.Scope+":"+c.Dataset+c.Principal] = c
	}
	if c := caps["project:"]; c.Epsilon.Total != 1 || c.Epsilon.Spent != 0.4 {
		t.Errorf("project-wide budget %+v, want ε 0.4 of 1 spent (the three-dataset join once)", c)
	}
	if c := caps["lifetime:lmr"]; c.Epsilon.Total != 5 || c.Epsilon.Spent != 0.4 {
		t.Errorf("lmr's lifetime budget %+v, want ε 0.4 of 5 spent", c)
	}
	if c, ok := caps["member:"+analyst]; !ok || c.Epsilon.Spent != 0 || c.Epsilon.Total != 0.5 {
		t.Errorf("analyst's cap %+v, want ε 0 of 0.5 spent", c)
	}
	// The analyst's cap and lmr's lifetime budget are written with ε
	// alone: the report says where their δ comes from (review F5).
	if c := caps["member:"+analyst]; c.DeltaFrom != "project_budget" || c.Delta.Total != 1e-5 {
		t.Errorf("analyst's cap δ %+v from %q, want 1e-5 from the project_budget", c.Delta, c.DeltaFrom)
	}
	if c := caps["lifetime:lmr"]; (c.DeltaFrom != "projects" && c.DeltaFrom != "ceiling") || !(c.Delta.Total > 0) {
		t.Errorf("lmr's lifetime δ %+v from %q, want the projects' sum", c.Delta, c.DeltaFrom)
	}
	if c := caps["project:"]; c.DeltaFrom != "declared" {
		t.Errorf("the project-wide budget's δ from %q, want declared", c.DeltaFrom)
	}
	if pp := rep.PerPerson; pp.Epsilon != 1 || pp.From != "project_budget" || pp.SpentEpsilon != 0.4 {
		t.Errorf("per_person %+v, want at most ε 1, ε 0.4 spent", pp)
	}
	for _, d := range rep.Datasets {
		want := 0.0
		if d.Dataset == "npr" || d.Dataset == "population" || d.Dataset == "lmr" {
			want = 0.4
		}
		if d.Epsilon.Spent != want {
			t.Errorf("%s spent ε %g, want %g", d.Dataset, d.Epsilon.Spent, want)
		}
	}
	var h api.BudgetHistory
	decodeJSON(t, s.must(t, call{method: http.MethodGet, path: "/v1/projects/diabetes-2026/budget/history", as: researcher}, http.StatusOK), &h)
	if len(h.Debits) != 1 || len(h.Debits[0].Datasets) != 3 || h.Debits[0].Epsilon != 0.4 {
		t.Errorf("history %+v, want one debit of ε 0.4 over three datasets", h.Debits)
	}

	// The analyst's template (ε 0.5): the first fits everything.
	run := call{method: http.MethodPost, path: "/v1/templates/prescriptions_by_atc_year/run", as: analyst,
		body: `{"project": "diabetes-2026", "params": {"atc_prefix": "A10B%"}}`}
	decodeResult(t, s.must(t, run, http.StatusOK))
	// ε 0.9 spent of the project's 1: ε 0.2 more is a 409 naming it.
	dry := s.must(t, call{method: http.MethodPost, path: "/v1/query?dry_run=true", as: researcher, body: queryBody(t, "diabetes-2026", contactsSQL, 0.2)}, http.StatusOK)
	res := decodeResult(t, dry)
	if d := res.Meta.DryRun; d == nil || d.Fits || len(d.BudgetAfter) != 2 || d.BudgetAfter[0].Scope != "dataset" || d.BudgetAfter[1].Scope != "project" {
		t.Errorf("dry run %+v, want not fitting, with the npr and the project-wide budget after", res.Meta.DryRun)
	}
	before := s.budgetReport(t)
	p := problem(t, s.must(t, call{method: http.MethodPost, path: "/v1/query", as: researcher, body: queryBody(t, "diabetes-2026", contactsSQL, 0.2)}, http.StatusConflict))
	if p.Code != "budget_exhausted" || !strings.Contains(p.Detail, "project-wide budget has ε 0.1") {
		t.Errorf("problem %+v, want budget_exhausted naming the project-wide budget", p)
	}
	// The analyst's second run: their cap (ε 0) and the project's stop it.
	p = problem(t, s.must(t, call{method: http.MethodPost, path: "/v1/templates/prescriptions_by_atc_year/run", as: analyst,
		body: `{"project": "diabetes-2026", "params": {"atc_prefix": "C10%"}}`}, http.StatusConflict))
	if !strings.Contains(p.Detail, `member "pharma-analyst"'s cap in project "diabetes-2026" has ε 0`) || !strings.Contains(p.Hint, "your cap") {
		t.Errorf("problem %+v, want the analyst's cap named", p)
	}
	if after := s.budgetReport(t); after != before {
		t.Errorf("refused queries debited: before %s, after %s", before, after)
	}
}

// budgetReport returns the diabetes-2026 budget body as text, to compare.
func (s *e2eServer) budgetReport(t *testing.T) string {
	t.Helper()
	return string(s.must(t, call{method: http.MethodGet, path: "/v1/projects/diabetes-2026/budget", as: researcher}, http.StatusOK).body)
}

// TestE2EGrantRaisesABudget: a grant recorded in the shared store (what
// `statgate budget grant` writes) raises the budget for the very next
// request of a running server: the project-wide budget that stopped a
// query pays it after a grant, and the budget endpoint counts the grant.
func TestE2EGrantRaisesABudget(t *testing.T) {
	s := startE2E(t, e2eConfig{accounting: "basic", policy: func(p *policies.Policy) {
		p.Projects["diabetes-2026"].ProjectBudget = &policies.Budget{Epsilon: 0.5, Delta: 1e-5}
	}})
	ask := func(sql string, status int) {
		t.Helper()
		s.must(t, call{method: http.MethodPost, path: "/v1/query", as: researcher, body: queryBody(t, "diabetes-2026", sql, 0.5)}, status)
	}
	ask(contactsSQL, http.StatusOK)
	ask("SELECT prescriber_type, count(*) AS n FROM lmr GROUP BY 1", http.StatusConflict)
	amount, err := budget.NewGrant(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.store.Ledger().Grant(context.Background(), budget.Grant{
		Account: budget.Account{Scope: budget.ScopeProject, Project: "diabetes-2026"}, Amount: amount, Principal: admin}, nil); err != nil {
		t.Fatal(err)
	}
	ask("SELECT prescriber_type, count(*) AS n FROM lmr GROUP BY 1", http.StatusOK)
	var rep api.BudgetReport
	decodeJSON(t, s.must(t, call{method: http.MethodGet, path: "/v1/projects/diabetes-2026/budget", as: researcher}, http.StatusOK), &rep)
	if len(rep.Caps) != 1 || rep.Caps[0].Epsilon.Total != 1.5 || rep.Caps[0].Epsilon.Spent != 1 || rep.PerPerson.Epsilon != 1.5 {
		t.Errorf("after the grant: caps %+v, per person %+v; want ε 1 spent of 1.5", rep.Caps, rep.PerPerson)
	}
}
