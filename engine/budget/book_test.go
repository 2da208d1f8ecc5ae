package budget

import (
	"context"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// mapLimits is a Limits over a map keyed "project/dataset".
func mapLimits(m map[string]policies.Budget) Limits {
	return func(project, dataset string) (policies.Budget, bool) {
		b, ok := m[project+"/"+dataset]
		return b, ok
	}
}

// spentMap is a StandingReader over project × dataset spending keyed
// "project/dataset".
type spentMap map[string]Cost

func (m spentMap) Standing(_ context.Context, a Account) (Standing, error) {
	if a.Scope != ScopeDataset {
		return Standing{}, nil
	}
	return Standing{Spent: m[a.Project+"/"+a.Dataset]}, nil
}

// onDatasets returns the standings of project's datasets spent as m says.
func onDatasets(project string, m map[string]Cost) map[Account]Standing {
	out := map[Account]Standing{}
	for d, c := range m {
		out[Account{Scope: ScopeDataset, Project: project, Dataset: d}] = Standing{Spent: c}
	}
	return out
}

func newBook(t *testing.T, m map[string]policies.Budget) *Book {
	t.Helper()
	b, err := NewBook(mapLimits(m), nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewBookArgs(t *testing.T) {
	if _, err := NewBook(nil, Basic{}); err == nil {
		t.Error("NewBook(nil limits) succeeded")
	}
}

func TestAdmit(t *testing.T) {
	b := newBook(t, map[string]policies.Budget{
		"p/a":    {Epsilon: 1, Delta: 1e-6},
		"p/b":    {Epsilon: 1, Delta: 1e-6},
		"pure/a": {Epsilon: 1},
	})
	tests := []struct {
		desc  string
		spend Spend
		spent map[string]Cost
		code  refusal.Code // zero admits
		kind  refusal.Kind
		inMsg []string
		notIn []string
	}{
		{desc: "fits", spend: Spend{Project: "p", Datasets: []string{"a", "b"}, Cost: mustCost(t, 0.5, 1e-7, 0)}},
		{desc: "fits exactly", spend: Spend{Project: "p", Datasets: []string{"a"}, Cost: mustCost(t, 0.2, 0, 0)},
			spent: map[string]Cost{"a": mustCost(t, 0.8, 0, 0)}},
		{
			desc:  "ε above the budget",
			spend: Spend{Project: "p", Datasets: []string{"a"}, Cost: mustCost(t, 1.5, 0, 0)},
			code:  refusal.BudgetExhausted, kind: refusal.KindBudget,
			inMsg: []string{`project "p"`, "cannot spend ε 1.5", "a has ε 1 and δ 1e-06 left"},
		},
		{
			desc:  "δ above the budget",
			spend: Spend{Project: "p", Datasets: []string{"a"}, Cost: mustCost(t, 0.1, 1e-5, 0)},
			code:  refusal.BudgetExhausted, kind: refusal.KindBudget,
			inMsg: []string{"δ 1e-05", "a has ε 1 and δ 1e-06 left"},
		},
		{
			desc:  "δ on a pure-ε budget",
			spend: Spend{Project: "pure", Datasets: []string{"a"}, Cost: mustCost(t, 0.1, 1e-9, 0)},
			code:  refusal.BudgetExhausted, kind: refusal.KindBudget,
			inMsg: []string{"a has ε 1 and δ 0 left"},
		},
		{
			desc:  "only the short dataset is named",
			spend: Spend{Project: "p", Datasets: []string{"a", "b"}, Cost: mustCost(t, 0.5, 0, 0)},
			spent: map[string]Cost{"b": mustCost(t, 0.8, 0, 0)},
			code:  refusal.BudgetExhausted, kind: refusal.KindBudget,
			inMsg: []string{"b has ε 0.2"}, notIn: []string{"a has"},
		},
		{
			desc:  "dataset outside the project",
			spend: Spend{Project: "pure", Datasets: []string{"a", "b"}, Cost: mustCost(t, 0.1, 0, 0)},
			code:  refusal.DatasetNotInProject, kind: refusal.KindForbidden,
			inMsg: []string{`"pure"`, `"b"`},
		},
		{
			desc:  "unknown project",
			spend: Spend{Project: "nope", Datasets: []string{"a"}, Cost: mustCost(t, 0.1, 0, 0)},
			code:  refusal.DatasetNotInProject, kind: refusal.KindForbidden,
			inMsg: []string{`"nope"`},
		},
		{
			desc:  "a sum the ledger cannot hold",
			spend: Spend{Project: "p", Datasets: []string{"a"}, Cost: mustCost(t, 0.1, 0, 1e6)},
			spent: map[string]Cost{"a": {rho: maxUnits}},
			code:  refusal.BudgetExhausted, kind: refusal.KindBudget,
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			err := b.Admit(tc.spend, onDatasets(tc.spend.Project, tc.spent))
			if tc.code == (refusal.Code{}) {
				if err != nil {
					t.Fatalf("Admit = %v, want nil", err)
				}
				return
			}
			r, ok := refusal.As(err)
			if !ok {
				t.Fatalf("Admit = %v, want a refusal", err)
			}
			if r.Kind() != tc.kind || r.Code != tc.code {
				t.Errorf("refusal kind %v code %q, want %v %q", r.Kind(), r.Code, tc.kind, tc.code)
			}
			for _, s := range tc.inMsg {
				if !strings.Contains(r.Message, s) {
					t.Errorf("message %q does not contain %q", r.Message, s)
				}
			}
			for _, s := range tc.notIn {
				if strings.Contains(r.Message, s) {
					t.Errorf("message %q contains %q", r.Message, s)
				}
			}
		})
	}
}

// TestBasicIsExact: a budget of ε 10 pays exactly a thousand costs of ε
// 0.01 and not one more.
func TestBasicIsExact(t *testing.T) {
	budget := policies.Budget{Epsilon: 10}
	c := mustCost(t, 0.01, 0, 0)
	var (
		acct  Basic
		spent Cost
	)
	n := 0
	for acct.Covers(budget, spent, c) {
		spent, _ = spent.Add(c)
		n++
	}
	if n != 1000 {
		t.Errorf("a budget of 10 paid %d costs of 0.01, want 1000", n)
	}
	if bal := acct.Balance(budget, spent); bal.SpentEpsilon != 10 || bal.RemainingEpsilon != 0 {
		t.Errorf("balance = %+v, want 10 spent and 0 remaining", bal)
	}
}

func TestLoweredBudgetShowsZeroRemaining(t *testing.T) {
	ctx := context.Background()
	m := map[string]policies.Budget{"p/a": {Epsilon: 10, Delta: 1e-6}}
	b := newBook(t, m)
	spent := spentMap{"p/a": mustCost(t, 5, 5e-7, 0)}
	m["p/a"] = policies.Budget{Epsilon: 3, Delta: 1e-7}
	got, err := b.Balance(ctx, spent, "p", "a")
	if err != nil {
		t.Fatal(err)
	}
	want := Balance{Scope: ScopeDataset, Project: "p", Dataset: "a",
		TotalEpsilon: 3, SpentEpsilon: 5, RemainingEpsilon: 0,
		TotalDelta: 1e-7, SpentDelta: 5e-7, RemainingDelta: 0,
		Accounting: "basic", Bound: "basic", BasicEpsilon: 5, BasicDelta: 5e-7, SpentZDelta: 5e-7}
	if got != want {
		t.Errorf("Balance = %+v, want %+v", got, want)
	}
	small := Spend{Project: "p", Datasets: []string{"a"}, Cost: mustCost(t, 0.001, 0, 0)}
	if err := b.Admit(small, onDatasets("p", map[string]Cost{"a": spent["p/a"]})); refusal.CodeOf(err) != refusal.BudgetExhausted {
		t.Errorf("Admit over a lowered budget = %v, want %s", err, refusal.BudgetExhausted)
	}
	// Raising it again makes the difference available.
	m["p/a"] = policies.Budget{Epsilon: 6, Delta: 1e-6}
	got, err = b.Balance(ctx, spent, "p", "a")
	if err != nil {
		t.Fatal(err)
	}
	if got.RemainingEpsilon != 1 || got.RemainingDelta != 5e-7 {
		t.Errorf("after raising: remaining ε %v δ %v, want 1 and 5e-07", got.RemainingEpsilon, got.RemainingDelta)
	}
	if _, err := b.Balance(ctx, spent, "nope", "a"); refusal.CodeOf(err) != refusal.BudgetNotFound {
		t.Errorf("Balance(unknown) = %v, want %s", err, refusal.BudgetNotFound)
	}
}
