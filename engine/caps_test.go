package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// standing reads one account of e's ledger.
func standing(t *testing.T, e *Engine, a budget.Account) float64 {
	t.Helper()
	st, err := e.ledger.Standing(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return st.Spent.Epsilon()
}

// every returns the ε spent on each account of the diabetes project and
// on the lifetime accounts of its datasets.
func every(t *testing.T, e *Engine) map[string]float64 {
	t.Helper()
	out := map[string]float64{
		"project":        standing(t, e, budget.Account{Scope: budget.ScopeProject, Project: "diabetes-2026"}),
		"member:ingrid":  standing(t, e, budget.Account{Scope: budget.ScopeMember, Project: "diabetes-2026", Principal: "ingrid"}),
		"member:analyst": standing(t, e, budget.Account{Scope: budget.ScopeMember, Project: "diabetes-2026", Principal: analyst.Name}),
	}
	for _, d := range []string{"population", "npr", "lmr", "death_causes"} {
		out[d] = spent(t, e, "diabetes-2026", d)
		out["lifetime:"+d] = standing(t, e, budget.Account{Scope: budget.ScopeLifetime, Dataset: d})
	}
	return out
}

const threeWayJoin = "SELECT p.sex AS sex, count(DISTINCT pid) AS persons FROM npr n JOIN population p USING (pid) JOIN lmr l USING (pid) GROUP BY 1"

// TestProjectBudgetChargesAJoinOnce: with a project-wide budget, a join
// over three datasets is charged once to it (and once to each dataset's
// own budget), the person being the unit; the query it cannot pay is
// refused naming the project-wide budget and debits nothing anywhere; the
// dry run shows its budget after; the budget report states the
// per-person guarantee.
func TestProjectBudgetChargesAJoinOnce(t *testing.T) {
	e := openEngine(t, func(o *Options) {
		o.Policy.Accounting = policies.AccountingBasic // exact sums to compare
		o.Policy.Projects["diabetes-2026"].ProjectBudget = &policies.Budget{Epsilon: 1.2, Delta: 1e-5}
	})
	ctx := context.Background()
	res, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: threeWayJoin, Epsilon: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if ds := slices.Sorted(slices.Values(res.Meta.Datasets)); !slices.Equal(ds, []string{"lmr", "npr", "population"}) {
		t.Fatalf("the join read %v", res.Meta.Datasets)
	}
	got := every(t, e)
	want := map[string]float64{"project": 0.5, "member:ingrid": 0.5, "npr": 0.5, "population": 0.5, "lmr": 0.5,
		"lifetime:npr": 0.5, "lifetime:population": 0.5, "lifetime:lmr": 0.5}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("after the join: %s spent ε %g, want %g (charged once)", k, got[k], v)
		}
	}
	h, err := e.BudgetHistory(ctx, ingrid, "diabetes-2026", 0, 0)
	if err != nil || len(h.Debits) != 1 || len(h.Debits[0].Datasets) != 3 || h.Debits[0].Epsilon != 0.5 {
		t.Fatalf("history after the join: %+v, %v; want one debit of ε 0.5 over three datasets", h, err)
	}
	if _, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: "SELECT prescriber_type, count(*) AS n FROM lmr GROUP BY 1", Epsilon: 0.5}); err != nil {
		t.Fatal(err)
	}
	// ε 1 spent of the project's 1.2: another 0.5 does not fit, although
	// every dataset has ε 9 or more left.
	q := Request{Project: "diabetes-2026", SQL: "SELECT contact_type, count(*) AS n FROM npr GROUP BY 1", Epsilon: 0.5}
	before := every(t, e)
	dry := q
	dry.DryRun = true
	dres, err := e.Query(ctx, ingrid, dry)
	if err != nil {
		t.Fatal(err)
	}
	if d := dres.Meta.DryRun; d.Fits {
		t.Errorf("dry run says ε 0.5 fits ε 0.2 left")
	} else {
		var scopes []string
		for _, a := range d.BudgetAfter {
			scopes = append(scopes, a.Scope)
			if a.Scope == "project" && a.RemainingEpsilon != 0 {
				t.Errorf("project-wide budget after: %+v, want nothing left", a)
			}
		}
		if !slices.Equal(scopes, []string{"dataset", "project"}) {
			t.Errorf("dry run's budgets after: %v, want the dataset's and the project's", scopes)
		}
	}
	_, err = e.Query(ctx, ingrid, q)
	r, ok := refusal.As(err)
	if !ok || r.Code != refusal.BudgetExhausted || !strings.Contains(r.Message, "project-wide budget has ε 0.2") || strings.Contains(r.Message, "budget on npr") {
		t.Fatalf("query over the project budget: %v; want budget_exhausted naming the project-wide budget only", err)
	}
	if after := every(t, e); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a refused query debited: before %v, after %v", before, after)
	}
	rep, err := e.Budget(ctx, ingrid, "diabetes-2026")
	if err != nil {
		t.Fatal(err)
	}
	if pp := rep.PerPerson; pp.Epsilon != 1.2 || pp.From != "project_budget" || pp.SpentEpsilon != 1 || pp.Bound != "basic" {
		t.Errorf("per-person guarantee %+v, want at most ε 1.2 from the project budget, ε 1 spent", pp)
	}
	if len(rep.Caps) != 1 || rep.Caps[0].Scope != "project" || rep.Caps[0].Epsilon.Spent != 1 || rep.Caps[0].Epsilon.Remaining != 0.2 {
		t.Errorf("caps %+v, want the project-wide budget with ε 1 spent and 0.2 left", rep.Caps)
	}
}

// TestWithoutProjectBudgetEachDatasetPays: the shipped policy has no
// project-wide budget: each dataset's budget alone decides (today's
// behaviour), and the per-person guarantee is the sum of the datasets'
// budgets; the project-wide account still records each query once.
func TestWithoutProjectBudgetEachDatasetPays(t *testing.T) {
	e := openEngine(t, func(o *Options) { o.Policy.Accounting = policies.AccountingBasic })
	ctx := context.Background()
	if _, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: threeWayJoin, Epsilon: 0.5}); err != nil {
		t.Fatal(err)
	}
	rep, err := e.Budget(ctx, ingrid, "diabetes-2026")
	if err != nil {
		t.Fatal(err)
	}
	if pp := rep.PerPerson; pp.Epsilon != 40 || pp.From != "datasets" || pp.SpentEpsilon != 0.5 {
		t.Errorf("per-person guarantee %+v, want at most ε 40 (four datasets at 10), ε 0.5 spent (the join once)", pp)
	}
	if len(rep.Caps) != 0 {
		t.Errorf("caps %+v, want none declared", rep.Caps)
	}
}

// TestMemberCapStopsOnlyThatMember: a member's cap stops their queries
// (refused naming the cap, nothing debited) while another member of the
// project still spends.
func TestMemberCapStopsOnlyThatMember(t *testing.T) {
	e := openEngine(t, func(o *Options) {
		o.NoRepeats = true
		for i, m := range o.Policy.Projects["diabetes-2026"].Members {
			if m.Principal == analyst.Name {
				o.Policy.Projects["diabetes-2026"].Members[i].Budget = &policies.Budget{Epsilon: 0.7}
			}
		}
	})
	ctx := context.Background()
	run := Request{Project: "diabetes-2026", Template: "prescriptions_by_atc_year", Params: map[string]any{"atc_prefix": "A10B%"}}
	if _, err := e.Query(ctx, analyst, run); err != nil {
		t.Fatal(err)
	}
	before := every(t, e)
	_, err := e.Query(ctx, analyst, run) // another ε 0.5 > 0.2 left
	if r, ok := refusal.As(err); !ok || r.Code != refusal.BudgetExhausted || !strings.Contains(r.Message, `member "pharma-analyst"'s cap`) || !strings.Contains(r.Hint, "your cap") {
		t.Fatalf("second run: %v; want budget_exhausted naming the member's cap", err)
	}
	if after := every(t, e); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a refused query debited: before %v, after %v", before, after)
	}
	if _, err := e.Query(ctx, ingrid, run); err != nil {
		t.Errorf("another member is stopped by the analyst's cap: %v", err)
	}
	rep, err := e.Budget(ctx, analyst, "diabetes-2026")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Caps) != 1 || rep.Caps[0].Scope != "member" || rep.Caps[0].Principal != analyst.Name || rep.Caps[0].Epsilon.Spent != 0.5 {
		t.Errorf("caps %+v, want the analyst's cap with ε 0.5 spent", rep.Caps)
	}
}

// TestLifetimeBudgetSpansProjects: a dataset's lifetime budget is shared
// by every project reading it: what one project spent stops the other.
func TestLifetimeBudgetSpansProjects(t *testing.T) {
	e := openEngine(t, func(o *Options) {
		o.Policy.Accounting = policies.AccountingBasic
		o.Policy.Datasets["death_causes"].LifetimeBudget = &policies.Budget{Epsilon: 0.8}
	})
	ctx := context.Background()
	deaths := "SELECT year(death_date) AS year, count(*) AS deaths FROM death_causes GROUP BY 1"
	if _, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: deaths, Epsilon: 0.5}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Query(ctx, ingrid, Request{Project: "cancer-survival", SQL: deaths, Epsilon: 0.5})
	if r, ok := refusal.As(err); !ok || r.Code != refusal.BudgetExhausted || !strings.Contains(r.Message, `dataset "death_causes"'s lifetime budget over all projects has ε 0.3`) {
		t.Fatalf("the other project's query: %v; want budget_exhausted naming the lifetime budget", err)
	}
	if got := spent(t, e, "cancer-survival", "death_causes"); got != 0 {
		t.Errorf("cancer-survival spent ε %g on death_causes after a refusal", got)
	}
	if _, err := e.Query(ctx, ingrid, Request{Project: "cancer-survival", SQL: deaths, Epsilon: 0.3}); err != nil {
		t.Errorf("the rest of the lifetime budget: %v", err)
	}
	rep, err := e.Budget(ctx, ingrid, "cancer-survival")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Caps) != 1 || rep.Caps[0].Scope != "lifetime" || rep.Caps[0].Dataset != "death_causes" || rep.Caps[0].Epsilon.Spent != 0.8 || rep.Caps[0].Epsilon.Remaining != 0 {
		t.Errorf("caps %+v, want death_causes' lifetime budget spent", rep.Caps)
	}
}

// TestRatesChargeTheProjectBudget: an epidemiology request (rates) goes
// through the same debit: charged once to the project-wide budget, named
// in the history with its kind, and refused with nothing debited when the
// project cannot pay it.
func TestRatesChargeTheProjectBudget(t *testing.T) {
	e := openEngine(t, func(o *Options) {
		o.Policy.Accounting = policies.AccountingBasic
		o.Policy.Projects["diabetes-2026"].ProjectBudget = &policies.Budget{Epsilon: 1.5, Delta: 1e-5}
	})
	ctx := context.Background()
	r := RatesRequest{Project: "diabetes-2026", Event: EventSpec{Dataset: "npr", Where: "icd10 LIKE 'E11%'"},
		Period: Period{From: "2015-01-01", To: "2024-12-31"}, Strata: []string{"sex"}, Epsilon: 1}
	if _, err := e.Rates(ctx, ingrid, r); err != nil {
		t.Fatal(err)
	}
	if got := every(t, e)["project"]; got != 1 {
		t.Errorf("project-wide account after rates at ε 1: %g", got)
	}
	h, err := e.BudgetHistory(ctx, ingrid, "diabetes-2026", 0, 0)
	if err != nil || len(h.Debits) != 1 || h.Debits[0].Kind != "rates" || h.Debits[0].Epsilon != 1 {
		t.Fatalf("history %+v, %v; want one rates debit of ε 1", h, err)
	}
	before := every(t, e)
	r.Strata = []string{"age_band"}
	_, err = e.Rates(ctx, ingrid, r)
	if rf, ok := refusal.As(err); !ok || rf.Code != refusal.BudgetExhausted || !strings.Contains(rf.Message, "project-wide budget") {
		t.Fatalf("second rates request: %v; want budget_exhausted naming the project-wide budget", err)
	}
	if after := every(t, e); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a refused rates request debited: before %v, after %v", before, after)
	}
}

// TestCapsWithoutDeltaBoundEpsilonOnly: a member cap or a lifetime budget
// declared with ε alone does not refuse a query for its δ (the cancer
// registry's Gaussian noise): its δ is what the budgets it sits over
// allow; its ε still binds.
func TestCapsWithoutDeltaBoundEpsilonOnly(t *testing.T) {
	e := openEngine(t, func(o *Options) {
		o.NoRepeats = true
		o.Policy.Accounting = policies.AccountingBasic // ε adds up: the cap's ε binds at 0.7
		pr := o.Policy.Projects["cancer-survival"]
		for i, m := range pr.Members {
			if m.Principal == ingrid.Name {
				pr.Members[i].Budget = &policies.Budget{Epsilon: 0.7}
			}
		}
		o.Policy.Datasets["cancer"].LifetimeBudget = &policies.Budget{Epsilon: 5}
	})
	ctx := context.Background()
	q := Request{Project: "cancer-survival", SQL: "SELECT stage, count(*) AS cases FROM cancer GROUP BY 1", Epsilon: 0.5}
	res, err := e.Query(ctx, ingrid, q)
	if err != nil {
		t.Fatalf("a Gaussian query under ε-only caps: %v", err)
	}
	if res.Meta.Delta <= 0 {
		t.Fatalf("meta.delta %g: the query spends no δ, the test shows nothing", res.Meta.Delta)
	}
	q.Epsilon = 0.4 // 0.5 + 0.4 > the member's ε 0.7
	if _, err := e.Query(ctx, ingrid, q); err == nil {
		t.Error("the member's ε cap did not bind")
	} else if r, ok := refusal.As(err); !ok || r.Code != refusal.BudgetExhausted || !strings.Contains(r.Message, "cap") {
		t.Errorf("second query: %v; want budget_exhausted naming the member's cap", err)
	}
}
