package statetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/state"
	"github.com/statgate/statgate/policies"
)

// TestLedger tests a backend's state.Ledger: all-or-none debits that
// refuse what the admitter refuses, exact sums, history, and debits from
// many goroutines and two handles that spend exactly the budget.
func TestLedger(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"RejectsInvalidSpend", ledgerRejectsInvalidSpend},
		{"Refusals", ledgerRefusals},
		{"AllOrNothing", ledgerAllOrNothing},
		{"AdmitterSeesSpent", ledgerAdmitterSeesSpent},
		{"History", ledgerHistory},
		{"Debits", ledgerDebits},
		{"Durable", ledgerDurable},
		{"ConcurrentDebitsSpendExactlyTheBudget", ledgerConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}

// budgets is a budget.Limits over a map keyed "project/dataset".
func book(t *testing.T, m map[string]policies.Budget) *budget.Book {
	t.Helper()
	bk, err := budget.NewBook(func(project, dataset string) (policies.Budget, bool) {
		v, ok := m[project+"/"+dataset]
		return v, ok
	}, budget.Basic{})
	if err != nil {
		t.Fatal(err)
	}
	return bk
}

func cost(t testing.TB, eps, del, rho float64) budget.Cost {
	t.Helper()
	c, err := budget.NewCost(eps, del, rho)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func spentOf(t *testing.T, l state.Ledger, project, dataset string) budget.Cost {
	t.Helper()
	c, err := l.Spent(context.Background(), project, dataset)
	if err != nil {
		t.Fatalf("Spent(%s, %s): %v", project, dataset, err)
	}
	return c
}

// admitAll admits every debit.
type admitAll struct{}

func (admitAll) Admit(budget.Spend, map[budget.Account]budget.Standing) error { return nil }

func ledgerRejectsInvalidSpend(t *testing.T, b Backend) {
	s, _ := open(t, b)
	l := s.Ledger()
	ok := budget.Spend{QueryID: "q", Project: "p", Principal: "ingrid", Datasets: []string{"a"}, Cost: cost(t, 1, 0, 0)}
	tests := []struct {
		desc   string
		modify func(*budget.Spend)
	}{
		{"no ε", func(s *budget.Spend) { s.Cost = cost(t, 0, 1e-9, 0) }},
		{"no project", func(s *budget.Spend) { s.Project = "" }},
		{"no datasets", func(s *budget.Spend) { s.Datasets = nil }},
		{"empty dataset name", func(s *budget.Spend) { s.Datasets = []string{"a", ""} }},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			sp := ok
			tc.modify(&sp)
			err := l.Debit(context.Background(), sp, admitAll{})
			if !errors.Is(err, budget.ErrInvalidSpend) {
				t.Fatalf("Debit = %v, want ErrInvalidSpend", err)
			}
			if _, isRefusal := refusal.As(err); isRefusal {
				t.Errorf("invalid spend reported as a refusal: %v", err)
			}
		})
	}
	if c := spentOf(t, l, "p", "a"); !c.IsZero() {
		t.Errorf("invalid spends spent %v, want nothing", c)
	}
	if err := l.Debit(context.Background(), ok, nil); err == nil {
		t.Error("Debit with a nil admitter succeeded")
	}
	if err := l.Debit(context.Background(), ok, admitAll{}); err != nil {
		t.Errorf("valid spend: %v", err)
	}
}

func ledgerRefusals(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	l := s.Ledger()
	bk := book(t, map[string]policies.Budget{
		"p/a":    {Epsilon: 1, Delta: 1e-6},
		"p/b":    {Epsilon: 1, Delta: 1e-6},
		"pure/a": {Epsilon: 1},
	})
	tests := []struct {
		desc  string
		spend budget.Spend
		code  refusal.Code
	}{
		{"ε above the budget", budget.Spend{Project: "p", Datasets: []string{"a"}, Cost: cost(t, 1.5, 0, 0)}, refusal.BudgetExhausted},
		{"δ above the budget", budget.Spend{Project: "p", Datasets: []string{"a"}, Cost: cost(t, 0.1, 1e-5, 0)}, refusal.BudgetExhausted},
		{"δ on a pure-ε budget", budget.Spend{Project: "pure", Datasets: []string{"a"}, Cost: cost(t, 0.1, 1e-9, 0)}, refusal.BudgetExhausted},
		{"dataset outside the project", budget.Spend{Project: "pure", Datasets: []string{"a", "b"}, Cost: cost(t, 0.1, 0, 0)}, refusal.DatasetNotInProject},
		{"unknown project", budget.Spend{Project: "nope", Datasets: []string{"a"}, Cost: cost(t, 0.1, 0, 0)}, refusal.DatasetNotInProject},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			err := l.Debit(ctx, tc.spend, bk)
			if refusal.CodeOf(err) != tc.code {
				t.Fatalf("Debit = %v, want refusal %s", err, tc.code)
			}
			// The refusal is the admitter's, unwrapped and whole.
			if r, _ := refusal.As(err); err != error(r) || r.Message == "" {
				t.Errorf("Debit returned %T %v, want the admitter's *refusal.Error as it is", err, err)
			}
		})
	}
	for _, key := range [][2]string{{"p", "a"}, {"p", "b"}, {"pure", "a"}} {
		if c := spentOf(t, l, key[0], key[1]); !c.IsZero() {
			t.Errorf("%s × %s: refused debits spent %v", key[0], key[1], c)
		}
	}
	if h, err := l.History(ctx, "p", 0); err != nil || len(h) != 0 {
		t.Errorf("History after refusals = %v, %v; want none", h, err)
	}
	// Any error of the admitter refuses the debit and comes back.
	boom := errors.New("boom")
	err := l.Debit(ctx, budget.Spend{Project: "p", Datasets: []string{"a"}, Cost: cost(t, 0.1, 0, 0)}, admitFunc(func(budget.Spend, map[budget.Account]budget.Standing) error { return boom }))
	if !errors.Is(err, boom) {
		t.Errorf("Debit with a failing admitter = %v, want its error", err)
	}
	if c := spentOf(t, l, "p", "a"); !c.IsZero() {
		t.Errorf("a refused debit spent %v", c)
	}
}

type admitFunc func(budget.Spend, map[budget.Account]budget.Standing) error

func (f admitFunc) Admit(s budget.Spend, spent map[budget.Account]budget.Standing) error {
	return f(s, spent)
}

func ledgerAllOrNothing(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	l := s.Ledger()
	bk := book(t, map[string]policies.Budget{"p/a": {Epsilon: 1}, "p/b": {Epsilon: 1}, "p/c": {Epsilon: 1}})
	// Spend most of b only.
	if err := l.Debit(ctx, budget.Spend{Project: "p", Datasets: []string{"b"}, Cost: cost(t, 0.8, 0, 0)}, bk); err != nil {
		t.Fatal(err)
	}
	err := l.Debit(ctx, budget.Spend{Project: "p", Datasets: []string{"a", "b", "c"}, Cost: cost(t, 0.5, 0, 0)}, bk)
	if refusal.CodeOf(err) != refusal.BudgetExhausted {
		t.Fatalf("Debit = %v, want %s", err, refusal.BudgetExhausted)
	}
	if r, _ := refusal.As(err); !strings.Contains(r.Message, "b has ε 0.2") || strings.Contains(r.Message, "a has") || strings.Contains(r.Message, "c has") {
		t.Errorf("message %q should name b (0.2 left) and only b", r.Message)
	}
	want := map[string]budget.Cost{"a": {}, "b": cost(t, 0.8, 0, 0), "c": {}}
	for d, w := range want {
		if got := spentOf(t, l, "p", d); got != w {
			t.Errorf("spent on %s = %v, want %v", d, got, w)
		}
	}
	// A spend all three can cover is taken from each, the duplicate once.
	if err := l.Debit(ctx, budget.Spend{Project: "p", Datasets: []string{"c", "a", "b", "a"}, Cost: cost(t, 0.2, 0, 0)}, bk); err != nil {
		t.Fatal(err)
	}
	want = map[string]budget.Cost{"a": cost(t, 0.2, 0, 0), "b": cost(t, 1, 0, 0), "c": cost(t, 0.2, 0, 0)}
	for d, w := range want {
		if got := spentOf(t, l, "p", d); got != w {
			t.Errorf("spent on %s = %v, want %v", d, got, w)
		}
	}
	h, err := l.History(ctx, "p", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 4 {
		t.Errorf("history has %d entries, want 4 (one, then three with the duplicate paid once)", len(h))
	}
}

// ledgerAdmitterSeesSpent: the admitter is asked with the sums spent on
// exactly the debit's datasets, ρ and the zCDP δ included.
func ledgerAdmitterSeesSpent(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	l := s.Ledger()
	first, err := budget.NewZCost(0.5, 1e-8, 1.25e-4, 4e-9)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := l.Debit(ctx, budget.Spend{Project: "p", Datasets: []string{"a"}, Cost: first}, admitAll{}); err != nil {
			t.Fatal(err)
		}
	}
	var seen map[budget.Account]budget.Standing
	var datasets []string
	spy := admitFunc(func(s budget.Spend, spent map[budget.Account]budget.Standing) error {
		seen, datasets = spent, s.Datasets
		return nil
	})
	if err := l.Debit(ctx, budget.Spend{Project: "p", Datasets: []string{"b", "a"}, Cost: cost(t, 0.1, 0, 0)}, spy); err != nil {
		t.Fatal(err)
	}
	twice, _ := first.Add(first)
	onA, onB := budget.Account{Scope: budget.ScopeDataset, Project: "p", Dataset: "a"}, budget.Account{Scope: budget.ScopeDataset, Project: "p", Dataset: "b"}
	if seen[onA].Spent != twice || !seen[onB].Spent.IsZero() || seen[budget.Account{Scope: budget.ScopeProject, Project: "p"}].Spent != twice ||
		seen[budget.Account{Scope: budget.ScopeLifetime, Dataset: "a"}].Spent != twice {
		t.Errorf("admitter saw %v, want a: %v and b: nothing", seen, twice)
	}
	if strings.Join(datasets, ",") != "a,b" {
		t.Errorf("admitter saw datasets %v, want them sorted: [a b]", datasets)
	}
	want, _ := twice.Add(cost(t, 0.1, 0, 0))
	if got := spentOf(t, l, "p", "a"); got != want || got.Rho() != 2.5e-4 || got.ZDelta() != 8e-9 {
		t.Errorf("spent on a = %v, want %v", got, want)
	}
}

// ledgerDebits: one debit per spend whatever it joins, with its kind,
// principal, sorted datasets and cost, newest first, paged by Before and
// Limit; a refused spend records none.
func ledgerDebits(t *testing.T, b Backend) {
	ctx := context.Background()
	clk := newClock()
	s, reopen := b(t, clk.Now)
	l := s.Ledger()
	spends := []budget.Spend{
		{QueryID: "q1", Project: "p", Principal: "ingrid", Kind: "sql", Datasets: []string{"c", "a", "b", "a"}, Cost: cost(t, 0.5, 1e-9, 1e-3)},
		{QueryID: "q2", Project: "other", Principal: "ola", Kind: "template", Datasets: []string{"a"}, Cost: cost(t, 1, 0, 0)},
		{QueryID: "q3", Project: "p", Principal: "kari", Kind: "rates", Datasets: []string{"b"}, Cost: cost(t, 0.25, 0, 0)},
		{QueryID: "q4", Project: "p", Principal: "kari", Kind: "cohort", Datasets: []string{"a", "b"}, Cost: cost(t, 0.125, 0, 0)},
	}
	for _, sp := range spends {
		clk.Advance(time.Minute)
		if err := l.Debit(ctx, sp, admitAll{}); err != nil {
			t.Fatal(err)
		}
	}
	refuse := admitFunc(func(budget.Spend, map[budget.Account]budget.Standing) error {
		return &refusal.Error{Code: refusal.BudgetExhausted, Message: "no"}
	})
	if err := l.Debit(ctx, budget.Spend{QueryID: "q5", Project: "p", Datasets: []string{"a"}, Cost: cost(t, 0.1, 0, 0)}, refuse); err == nil {
		t.Fatal("a refused debit was taken")
	}
	all, err := reopen(t).Ledger().Debits(ctx, "p", budget.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range all {
		got = append(got, d.QueryID)
	}
	if strings.Join(got, ",") != "q4,q3,q1" {
		t.Fatalf("Debits of p = %v, want q4,q3,q1", got)
	}
	q1 := all[2]
	if q1.Project != "p" || q1.Principal != "ingrid" || q1.Kind != "sql" || strings.Join(q1.Datasets, ",") != "a,b,c" ||
		q1.Cost != cost(t, 0.5, 1e-9, 1e-3) || !q1.Time.Equal(time.Date(2026, 1, 1, 12, 1, 0, 0, time.UTC)) {
		t.Errorf("q1's debit = %+v", q1)
	}
	if !(all[0].ID > all[1].ID && all[1].ID > all[2].ID) {
		t.Errorf("ids not newest first: %d, %d, %d", all[0].ID, all[1].ID, all[2].ID)
	}
	pages := []struct {
		page budget.Page
		want string
	}{
		{budget.Page{Limit: 2}, "q4,q3"},
		{budget.Page{Before: all[1].ID, Limit: 2}, "q1"},
		{budget.Page{Before: all[0].ID}, "q3,q1"},
		{budget.Page{Before: all[2].ID}, ""},
	}
	for _, pg := range pages {
		d, err := l.Debits(ctx, "p", pg.page)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, x := range d {
			ids = append(ids, x.QueryID)
		}
		if strings.Join(ids, ",") != pg.want {
			t.Errorf("Debits(%+v) = %v, want %s", pg.page, ids, pg.want)
		}
	}
	if d, err := l.Debits(ctx, "none", budget.Page{}); err != nil || len(d) != 0 {
		t.Errorf("Debits of a project without debits = %v, %v", d, err)
	}
}

func ledgerHistory(t *testing.T, b Backend) {
	ctx := context.Background()
	clk := newClock()
	s, _ := b(t, clk.Now)
	l := s.Ledger()
	spends := []budget.Spend{
		{QueryID: "q1", Project: "p", Principal: "ingrid", Datasets: []string{"a"}, Cost: cost(t, 0.5, 0, 0)},
		{QueryID: "q2", Project: "other", Principal: "ola", Datasets: []string{"a"}, Cost: cost(t, 1, 0, 0)},
		{QueryID: "q3", Project: "p", Principal: "kari", Datasets: []string{"b"}, Cost: cost(t, 0.25, 1e-9, 0)},
	}
	for _, sp := range spends {
		clk.Advance(time.Minute)
		if err := l.Debit(ctx, sp, admitAll{}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		desc    string
		project string
		limit   int
		want    []string // query ids, newest first
	}{
		{"all of p", "p", 0, []string{"q3", "q1"}},
		{"limited", "p", 1, []string{"q3"}},
		{"other project", "other", 10, []string{"q2"}},
		{"no debits", "none", 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			h, err := l.History(ctx, tc.project, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range h {
				got = append(got, e.QueryID)
				if e.Project != tc.project || e.Time.IsZero() || e.ID == 0 {
					t.Errorf("entry %+v: wrong project or missing time/id", e)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("History = %v, want %v", got, tc.want)
			}
		})
	}
	h, err := l.History(ctx, "p", 1)
	if err != nil || len(h) != 1 {
		t.Fatalf("History = %v, %v", h, err)
	}
	e := h[0]
	if e.Principal != "kari" || e.Dataset != "b" || e.Cost != cost(t, 0.25, 1e-9, 0) {
		t.Errorf("newest entry = %+v", e)
	}
	if want := time.Date(2026, 1, 1, 12, 3, 0, 0, time.UTC); !e.Time.Equal(want) || e.Time.Location() != time.UTC {
		t.Errorf("newest entry's time = %v, want %v (the store's clock, UTC)", e.Time, want)
	}
}

// ledgerDurable: a debit is in the store, not in the handle: another
// handle sees it and debits on top of it.
func ledgerDurable(t *testing.T, b Backend) {
	ctx := context.Background()
	s, reopen := open(t, b)
	if err := s.Ledger().Debit(ctx, budget.Spend{Project: "p", Datasets: []string{"a"}, Cost: cost(t, 0.5, 0, 0)}, admitAll{}); err != nil {
		t.Fatal(err)
	}
	other := reopen(t).Ledger()
	if got := spentOf(t, other, "p", "a"); got != cost(t, 0.5, 0, 0) {
		t.Errorf("another handle sees %v spent, want ε 0.5", got)
	}
	bk := book(t, map[string]policies.Budget{"p/a": {Epsilon: 1}})
	if err := other.Debit(ctx, budget.Spend{Project: "p", Datasets: []string{"a"}, Cost: cost(t, 0.6, 0, 0)}, bk); refusal.CodeOf(err) != refusal.BudgetExhausted {
		t.Errorf("debit over what the first handle spent = %v, want %s", err, refusal.BudgetExhausted)
	}
}

// raceDebits runs n debits of ε 0.01 on p × a from g goroutines spread over
// ledgers, and returns how many succeeded. Any error but budget_exhausted
// fails the test.
func raceDebits(t *testing.T, ledgers []state.Ledger, a state.Admitter, g, n int) int64 {
	t.Helper()
	c := cost(t, 0.01, 0, 0)
	return raceSpends(t, ledgers, a, g, n, func(int64) budget.Spend {
		return budget.Spend{QueryID: "q", Project: "p", Principal: "x", Datasets: []string{"a"}, Cost: c}
	})
}

// raceSpends has g goroutines, spread over ledgers, debit spend(i) for i
// from 1 to n through a and returns how many succeeded; a refusal other
// than budget_exhausted, or any error, fails the test.
func raceSpends(t *testing.T, ledgers []state.Ledger, a state.Admitter, g, n int, spend func(i int64) budget.Spend) int64 {
	t.Helper()
	var (
		next, ok atomic.Int64
		wg       sync.WaitGroup
	)
	errs := make(chan error, g)
	for i := range g {
		l := ledgers[i%len(ledgers)]
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				err := l.Debit(context.Background(), spend(i), a)
				switch {
				case err == nil:
					ok.Add(1)
				case refusal.CodeOf(err) == refusal.BudgetExhausted:
				default:
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Debit: %v", err)
	}
	return ok.Load()
}

func ledgerConcurrent(t *testing.T, b Backend) {
	tests := []struct {
		desc    string
		handles int // handles on one store: separate "processes"
	}{
		{"one handle, 64 goroutines", 1},
		{"two handles on one store", 2},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			ctx := context.Background()
			bk := book(t, map[string]policies.Budget{"p/a": {Epsilon: 10}})
			s, reopen := open(t, b)
			ledgers := []state.Ledger{s.Ledger()}
			for len(ledgers) < tc.handles {
				ledgers = append(ledgers, reopen(t).Ledger())
			}
			if got := raceDebits(t, ledgers, bk, 64, 5000); got != 1000 {
				t.Errorf("%d debits succeeded, want exactly 1000", got)
			}
			if got := spentOf(t, ledgers[0], "p", "a"); got != cost(t, 10, 0, 0) {
				t.Errorf("spent %v, want exactly ε 10", got)
			}
			h, err := ledgers[0].History(ctx, "p", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(h) != 1000 {
				t.Errorf("%d ledger entries, want 1000", len(h))
			}
			bal, err := bk.Balance(ctx, ledgers[len(ledgers)-1], "p", "a")
			if err != nil {
				t.Fatal(err)
			}
			if bal.SpentEpsilon != 10 || bal.RemainingEpsilon != 0 {
				t.Errorf("balance spent %v remaining %v, want 10 and 0", bal.SpentEpsilon, bal.RemainingEpsilon)
			}
		})
	}
}
