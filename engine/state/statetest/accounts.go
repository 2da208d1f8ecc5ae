package statetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/state"
	"github.com/statgate/statgate/policies"
)

// TestAccounts tests a backend's accounts beyond project × dataset: every
// debit is recorded once on the project-wide and the member's account and
// on each dataset's lifetime account; grants raise an account and are
// listed; and concurrent debits from two handles never overspend a member
// cap or a lifetime cap shared by two projects.
func TestAccounts(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"EveryDebitOnEveryAccount", accountsRecorded},
		{"RefusedDebitTouchesNoAccount", accountsRefused},
		{"Grants", accountsGrants},
		{"GrantAndItsAuditEntryTogether", accountsGrantAudited},
		{"ConcurrentDebitsRespectAMemberCap", accountsConcurrentMember},
		{"ConcurrentDebitsRespectALifetimeCap", accountsConcurrentLifetime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}

func standingOf(t *testing.T, l state.Ledger, a budget.Account) budget.Standing {
	t.Helper()
	st, err := l.Standing(context.Background(), a)
	if err != nil {
		t.Fatalf("Standing(%v): %v", a, err)
	}
	return st
}

func projectAccount(p string) budget.Account {
	return budget.Account{Scope: budget.ScopeProject, Project: p}
}

func memberAccount(p, who string) budget.Account {
	return budget.Account{Scope: budget.ScopeMember, Project: p, Principal: who}
}

func lifetimeAccount(d string) budget.Account {
	return budget.Account{Scope: budget.ScopeLifetime, Dataset: d}
}

func datasetAccount(p, d string) budget.Account {
	return budget.Account{Scope: budget.ScopeDataset, Project: p, Dataset: d}
}

func accountsRecorded(t *testing.T, b Backend) {
	ctx := context.Background()
	s, reopen := open(t, b)
	l := s.Ledger()
	join, one := cost(t, 0.5, 1e-8, 2e-3), cost(t, 0.25, 0, 0)
	spends := []budget.Spend{
		{QueryID: "q1", Project: "p", Principal: "ingrid", Datasets: []string{"a", "b", "c"}, Cost: join},
		{QueryID: "q2", Project: "p", Principal: "kari", Datasets: []string{"a"}, Cost: one},
		{QueryID: "q3", Project: "other", Principal: "ingrid", Datasets: []string{"a"}, Cost: one},
	}
	for _, sp := range spends {
		if err := l.Debit(ctx, sp, admitAll{}); err != nil {
			t.Fatal(err)
		}
	}
	sum := func(cs ...budget.Cost) budget.Cost {
		var out budget.Cost
		for _, c := range cs {
			out, _ = out.Add(c)
		}
		return out
	}
	l2 := reopen(t).Ledger()
	tests := []struct {
		account budget.Account
		want    budget.Cost
	}{
		{projectAccount("p"), sum(join, one)}, // the three-dataset join once
		{projectAccount("other"), one},
		{memberAccount("p", "ingrid"), join},
		{memberAccount("p", "kari"), one},
		{memberAccount("other", "ingrid"), one},
		{lifetimeAccount("a"), sum(join, one, one)}, // over both projects
		{lifetimeAccount("b"), join},
		{datasetAccount("p", "a"), sum(join, one)},
		{datasetAccount("p", "c"), join},
		{projectAccount("none"), budget.Cost{}},
	}
	for _, tc := range tests {
		if got := standingOf(t, l2, tc.account); got.Spent != tc.want || !got.Granted.IsZero() {
			t.Errorf("%v: standing %+v, want spent %v and no grants", tc.account, got, tc.want)
		}
	}
	if got := spentOf(t, l2, "p", "a"); got != sum(join, one) {
		t.Errorf("Spent(p, a) = %v, want %v (the same as its account)", got, sum(join, one))
	}
}

func accountsRefused(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	l := s.Ledger()
	refuse := admitFunc(func(budget.Spend, map[budget.Account]budget.Standing) error {
		return &refusal.Error{Code: refusal.BudgetExhausted, Message: "member cap"}
	})
	sp := budget.Spend{QueryID: "q", Project: "p", Principal: "ingrid", Datasets: []string{"a", "b"}, Cost: cost(t, 0.5, 0, 0)}
	if err := l.Debit(ctx, sp, refuse); refusal.CodeOf(err) != refusal.BudgetExhausted {
		t.Fatalf("Debit = %v, want the admitter's refusal", err)
	}
	for _, a := range sp.Accounts() {
		if st := standingOf(t, l, a); st != (budget.Standing{}) {
			t.Errorf("%v after a refused debit: %+v, want nothing", a, st)
		}
	}
	if d, err := l.Debits(ctx, "p", budget.Page{}); err != nil || len(d) != 0 {
		t.Errorf("Debits after a refused debit = %v, %v", d, err)
	}
}

func accountsGrants(t *testing.T, b Backend) {
	ctx := context.Background()
	clk := newClock()
	s, reopen := b(t, clk.Now)
	l := s.Ledger()
	if err := l.Debit(ctx, budget.Spend{QueryID: "q", Project: "p", Principal: "ingrid", Datasets: []string{"a"}, Cost: cost(t, 1, 0, 0)}, admitAll{}); err != nil {
		t.Fatal(err)
	}
	two, err := budget.NewGrant(2, 1e-6)
	if err != nil {
		t.Fatal(err)
	}
	half, err := budget.NewGrant(0.5, 0)
	if err != nil {
		t.Fatal(err)
	}
	grants := []budget.Grant{
		{Account: projectAccount("p"), Amount: two, Principal: "registry-admin", Reason: "2027"},
		{Account: datasetAccount("p", "a"), Amount: half, Principal: "registry-admin"},
		{Account: projectAccount("p"), Amount: half, Principal: "registry-admin", Reason: "top-up"},
		{Account: projectAccount("other"), Amount: half, Principal: "registry-admin"},
	}
	var ids []int64
	for _, g := range grants {
		clk.Advance(time.Minute)
		got, _, err := l.Grant(ctx, g, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID == 0 || !got.Time.Equal(clk.Now()) {
			t.Errorf("Grant returned %+v: want an id and the store's time", got)
		}
		ids = append(ids, got.ID)
	}
	l2 := reopen(t).Ledger()
	wantProject, _ := two.Add(half)
	if st := standingOf(t, l2, projectAccount("p")); st.Granted != wantProject || st.Spent != cost(t, 1, 0, 0) {
		t.Errorf("project p: %+v, want granted %v beside its spending", st, wantProject)
	}
	if st := standingOf(t, l2, datasetAccount("p", "a")); st.Granted != half {
		t.Errorf("p × a: %+v, want granted %v", st, half)
	}
	if st := standingOf(t, l2, projectAccount("fresh")); st != (budget.Standing{}) {
		t.Errorf("an account without grants: %+v", st)
	}
	list, err := l2.Grants(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].ID != ids[0] || list[0].Account != projectAccount("p") || list[0].Amount != two ||
		list[0].Principal != "registry-admin" || list[0].Reason != "2027" || list[1].Account != datasetAccount("p", "a") || list[2].Reason != "top-up" {
		t.Errorf("Grants(p) = %+v", list)
	}
	if all, err := l2.Grants(ctx, ""); err != nil || len(all) != 4 {
		t.Errorf("Grants(all) = %d, %v; want 4", len(all), err)
	}
	if _, _, err := l.Grant(ctx, budget.Grant{Account: projectAccount("p")}, nil); !errors.Is(err, budget.ErrInvalidCost) {
		t.Errorf("a grant without ε = %v, want ErrInvalidCost", err)
	}
}

// accountsGrantAudited: a grant with an audit entry stores both in one
// transaction — the entry chained in the log, naming the grant's id —
// and when the entry cannot be appended (an invalid entry, or the
// caller's own error) neither is stored: no grant listed, the account
// not raised, the log unchanged, also after reopening.
func accountsGrantAudited(t *testing.T, b Backend) {
	ctx := context.Background()
	clk := newClock()
	s, reopen := b(t, clk.Now)
	l := s.Ledger()
	one, err := budget.NewGrant(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	g := budget.Grant{Account: projectAccount("p"), Amount: one, Principal: "registry-admin", Reason: "2027"}
	entry := func(outcome string) func(budget.Grant) (audit.Entry, error) {
		return func(g budget.Grant) (audit.Entry, error) {
			return audit.Entry{QueryID: fmt.Sprintf("grant_%d", g.ID), Principal: g.Principal, Project: g.Account.Project,
				Kind: audit.KindBudgetGrant, Epsilon: g.Amount.Epsilon(), Outcome: outcome}, nil
		}
	}
	got, en, err := l.Grant(ctx, g, entry(audit.OutcomeGranted))
	if err != nil {
		t.Fatal(err)
	}
	if en.Seq == 0 || en.Hash == "" || en.QueryID != fmt.Sprintf("grant_%d", got.ID) || en.Epsilon != 1 {
		t.Errorf("stored entry %+v for grant %d", en, got.ID)
	}
	// Refused appends: an entry the log cannot store, the caller's error.
	for _, fail := range []func(budget.Grant) (audit.Entry, error){
		entry("maybe"),
		func(budget.Grant) (audit.Entry, error) { return audit.Entry{}, errors.New("no entry") },
	} {
		if _, _, err := l.Grant(ctx, budget.Grant{Account: projectAccount("p"), Amount: one, Principal: "registry-admin"}, fail); err == nil {
			t.Error("a grant whose audit entry fails was recorded")
		}
	}
	s2 := reopen(t)
	grants, err := s2.Ledger().Grants(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if len(grants) != 1 || grants[0].ID != got.ID {
		t.Errorf("grants %+v, want only grant %d (the failed ones left none)", grants, got.ID)
	}
	if st := standingOf(t, s2.Ledger(), projectAccount("p")); st.Granted != one {
		t.Errorf("project p granted %v, want %v: a failed grant raised it", st.Granted, one)
	}
	entries, err := s2.Audit().List(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Seq != en.Seq {
		t.Errorf("audit log %+v, want the one grant's entry", entries)
	}
	if rep, err := s2.Audit().Verify(ctx); err != nil || !rep.OK {
		t.Errorf("the log after grants: %+v, %v", rep, err)
	}
}

// capBook is a Book over p × a at ε 100 and other × a at ε 100, with caps.
func capBook(t *testing.T, caps map[budget.Account]policies.Budget) *budget.Book {
	t.Helper()
	bk, err := budget.NewAccountBook(func(a budget.Account) (policies.Budget, bool, bool) {
		if a.Scope == budget.ScopeDataset {
			ok := a.Dataset == "a" && (a.Project == "p" || a.Project == "other")
			return policies.Budget{Epsilon: 100}, ok, ok
		}
		c, ok := caps[a]
		return c, ok, true
	}, budget.Basic{})
	if err != nil {
		t.Fatal(err)
	}
	return bk
}

func accountsConcurrentMember(t *testing.T, b Backend) {
	bk := capBook(t, map[budget.Account]policies.Budget{memberAccount("p", "x"): {Epsilon: 3}})
	s, reopen := open(t, b)
	ledgers := []state.Ledger{s.Ledger(), reopen(t).Ledger()}
	c := cost(t, 0.01, 0, 0)
	got := raceSpends(t, ledgers, bk, 32, 800, func(i int64) budget.Spend {
		who := "x"
		if i%4 == 0 {
			who = "y" // uncapped: always admitted
		}
		return budget.Spend{QueryID: fmt.Sprint("q", i), Project: "p", Principal: who, Datasets: []string{"a"}, Cost: c}
	})
	if got != 300+200 {
		t.Errorf("%d debits succeeded, want 300 of x's (its cap) and all 200 of y's", got)
	}
	if st := standingOf(t, ledgers[0], memberAccount("p", "x")); st.Spent != cost(t, 3, 0, 0) {
		t.Errorf("x spent %v, want exactly its cap ε 3", st.Spent)
	}
	if st := standingOf(t, ledgers[1], projectAccount("p")); st.Spent != cost(t, 5, 0, 0) {
		t.Errorf("the project spent %v, want ε 5", st.Spent)
	}
}

func accountsConcurrentLifetime(t *testing.T, b Backend) {
	bk := capBook(t, map[budget.Account]policies.Budget{lifetimeAccount("a"): {Epsilon: 4}})
	s, reopen := open(t, b)
	ledgers := []state.Ledger{s.Ledger(), reopen(t).Ledger()}
	c := cost(t, 0.01, 0, 0)
	got := raceSpends(t, ledgers, bk, 32, 800, func(i int64) budget.Spend {
		project := "p"
		if i%2 == 0 {
			project = "other"
		}
		return budget.Spend{QueryID: fmt.Sprint("q", i), Project: project, Principal: "x", Datasets: []string{"a"}, Cost: c}
	})
	if got != 400 {
		t.Errorf("%d debits succeeded, want exactly 400 (the lifetime cap over both projects)", got)
	}
	p, other := spentOf(t, ledgers[0], "p", "a"), spentOf(t, ledgers[0], "other", "a")
	if total, _ := p.Add(other); total != cost(t, 4, 0, 0) {
		t.Errorf("p spent %v and other %v on a, want ε 4 together", p, other)
	}
}
