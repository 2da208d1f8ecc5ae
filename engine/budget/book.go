package budget

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// Book is the accountant's view of the policy's budgets: it decides
// whether a debit may be taken and reports balances. It stores nothing; a
// ledger store (engine/state) keeps the spending and calls Admit inside the
// transaction that debits. A Book is safe for concurrent use when its
// limits are.
type Book struct {
	acct   Accountant
	limits AccountLimits
}

// NewBook returns the book of the project × dataset budgets limits gives,
// read through acct (nil: Basic); no other account is capped.
func NewBook(limits Limits, acct Accountant) (*Book, error) {
	if limits == nil {
		return nil, errors.New("budget.NewBook: nil limits")
	}
	return NewAccountBook(datasetLimits(limits), acct)
}

// NewPolicyBook returns the book of every budget p declares
// (PolicyAccountLimits), read through acct (nil: Basic).
func NewPolicyBook(p *policies.Policy, acct Accountant) (*Book, error) {
	if p == nil {
		return nil, errors.New("budget.NewPolicyBook: nil policy")
	}
	return NewAccountBook(PolicyAccountLimits(p), acct)
}

// NewAccountBook returns the book of the budgets limits gives, read
// through acct (nil: Basic).
func NewAccountBook(limits AccountLimits, acct Accountant) (*Book, error) {
	if limits == nil {
		return nil, errors.New("budget.NewAccountBook: nil limits")
	}
	if acct == nil {
		acct = Basic{}
	}
	return &Book{acct: acct, limits: limits}, nil
}

// Admit decides a debit: st holds the standing of the accounts s is
// charged to (s.Accounts(); an account without debits or grants may be
// absent). It returns a *refusal.Error with code
// refusal.DatasetNotInProject for the first dataset (in order) the project
// has no budget for, else refusal.BudgetExhausted naming every capped
// account (project × dataset, project-wide, member, lifetime) that cannot
// pay s.Cost, else nil: then every account can pay. A cap is the policy's
// budget raised by the account's grants. Admit only reads, so a store may
// call it again when it retries a transaction.
func (b *Book) Admit(s Spend, st map[Account]Standing) error {
	datasets := slices.Clone(s.Datasets)
	slices.Sort(datasets)
	for _, d := range slices.Compact(datasets) {
		if _, _, ok := b.limits(Account{Scope: ScopeDataset, Project: s.Project, Dataset: d}); !ok {
			return noBudget(s.Project, d)
		}
	}
	var short []shortfall
	for _, a := range s.Accounts() {
		l, capped, _ := b.limits(a)
		if !capped {
			continue
		}
		l = raised(l, st[a].Granted)
		spent := st[a].Spent
		_, representable := spent.Add(s.Cost)
		if !representable || !b.acct.Covers(l, spent, s.Cost) {
			bal := b.acct.Balance(l, spent)
			short = append(short, shortfall{a, bal.RemainingEpsilon, bal.RemainingDelta})
		}
	}
	if len(short) > 0 {
		return exhausted(s.Project, s.Cost, short)
	}
	return nil
}

// StandingReader reads an account's standing (the zero Standing when it
// has neither debits nor grants); a ledger store in engine/state is one.
type StandingReader interface {
	Standing(ctx context.Context, a Account) (Standing, error)
}

// Balance returns the balance of project × dataset, with its standing read
// from r. A project × dataset without a budget is a KindNotFound refusal
// (refusal.BudgetNotFound).
func (b *Book) Balance(ctx context.Context, r StandingReader, project, dataset string) (Balance, error) {
	bal, _, err := b.AccountBalance(ctx, r, Account{Scope: ScopeDataset, Project: project, Dataset: dataset}, Cost{})
	return bal, err
}

// AccountBalance returns the balance of account a after paying cost (the
// zero Cost: as it stands), with its standing read from r; capped says
// whether the policy caps a (an uncapped account's balance has its
// spending and no total). A ScopeDataset account without a budget is a
// KindNotFound refusal (refusal.BudgetNotFound).
func (b *Book) AccountBalance(ctx context.Context, r StandingReader, a Account, cost Cost) (Balance, bool, error) {
	l, capped, ok := b.limits(a)
	if !ok {
		return Balance{}, false, notFound(a.Project, a.Dataset)
	}
	st, err := r.Standing(ctx, a)
	if err != nil {
		return Balance{}, false, fmt.Errorf("budget.Balance: %w", err)
	}
	after, ok := st.Spent.Add(cost)
	if !ok {
		after = Cost{eps: maxUnits, del: maxUnits, rho: maxUnits, zdel: maxUnits}
	}
	bal := b.acct.Balance(raised(l, st.Granted), after)
	bal.Scope, bal.Project, bal.Dataset, bal.Principal = a.Scope, a.Project, a.Dataset, a.Principal
	bal.GrantedEpsilon, bal.GrantedDelta = st.Granted.Epsilon(), st.Granted.Delta()
	return bal, capped, nil
}

// Balances returns the balance of every dataset of project in p, in the
// project's dataset order, or of every project (sorted by id) when project
// is "". An unknown project is a KindNotFound refusal.
func (b *Book) Balances(ctx context.Context, r StandingReader, p *policies.Policy, project string) ([]Balance, error) {
	ids, err := projectIDs(p, project)
	if err != nil {
		return nil, err
	}
	var out []Balance
	for _, id := range ids {
		for _, d := range p.Projects[id].Datasets {
			bal, err := b.Balance(ctx, r, id, d)
			if err != nil {
				return nil, fmt.Errorf("budget.Balances: %w", err)
			}
			out = append(out, bal)
		}
	}
	return out, nil
}

// projectIDs returns project, checked, or every project of p sorted by id
// when project is "".
func projectIDs(p *policies.Policy, project string) ([]string, error) {
	if project != "" {
		if _, ok := p.Projects[project]; !ok {
			return nil, &refusal.Error{Code: refusal.ProjectNotFound,
				Message: fmt.Sprintf("there is no project %q in the policy", project)}
		}
		return []string{project}, nil
	}
	var ids []string
	for id := range p.Projects {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// Check reports, from what r says the accounts stand at, whether s could
// be debited now: Admit's answer, without taking anything. A dry run uses
// it; the answer may change before a real debit, which decides again.
func (b *Book) Check(ctx context.Context, r StandingReader, s Spend) error {
	s, err := s.Normalize()
	if err != nil {
		return fmt.Errorf("budget.Check: %w", err)
	}
	accounts := s.Accounts()
	st := make(map[Account]Standing, len(accounts))
	for _, a := range accounts {
		c, err := r.Standing(ctx, a)
		if err != nil {
			return fmt.Errorf("budget.Check: %w", err)
		}
		st[a] = c
	}
	return b.Admit(s, st)
}

// Capped returns the accounts of s the policy caps: the budgets a dry run
// shows after the debit. The project × dataset accounts come first, in the
// order of s.Datasets, then the project's, the member's and the lifetime
// accounts.
func (b *Book) Capped(s Spend) []Account {
	var all []Account
	for _, d := range s.Datasets {
		all = append(all, Account{Scope: ScopeDataset, Project: s.Project, Dataset: d})
	}
	for _, a := range s.Accounts() {
		if a.Scope != ScopeDataset {
			all = append(all, a)
		}
	}
	var out []Account
	for _, a := range all {
		if _, capped, _ := b.limits(a); capped && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// CheckGrant refuses a grant to an account the policy does not cap (there
// is no budget to raise): refusal.BudgetNotFound.
func (b *Book) CheckGrant(a Account) error {
	if _, capped, ok := b.limits(a); !ok || !capped {
		return &refusal.Error{Code: refusal.BudgetNotFound,
			Message: fmt.Sprintf("the policy declares no %s to raise", a),
			Hint:    "grant to a budget the policy declares: the project's project_budget (no --dataset) or its budget per dataset (--dataset)"}
	}
	return nil
}

// CapBalances returns the balances of the accounts of project in p beyond
// project × dataset that the policy caps: its project-wide budget, its
// members' caps and its datasets' lifetime budgets, in that order.
func (b *Book) CapBalances(ctx context.Context, r StandingReader, p *policies.Policy, project string) ([]Balance, error) {
	if _, err := projectIDs(p, project); err != nil {
		return nil, err
	}
	proj := p.Projects[project]
	accounts := []Account{{Scope: ScopeProject, Project: project}}
	for _, m := range proj.Members {
		accounts = append(accounts, Account{Scope: ScopeMember, Project: project, Principal: m.Principal})
	}
	for _, d := range proj.Datasets {
		accounts = append(accounts, Account{Scope: ScopeLifetime, Dataset: d})
	}
	var out []Balance
	for _, a := range accounts {
		bal, capped, err := b.AccountBalance(ctx, r, a, Cost{})
		if err != nil {
			return nil, fmt.Errorf("budget.CapBalances: %w", err)
		}
		if capped {
			bal.DeltaFrom = DeltaSource(p, a)
			out = append(out, bal)
		}
	}
	return out, nil
}

// Guarantee is what one person can lose in one project, the person being
// the privacy unit across registries: every query of the project may read
// them, whatever datasets it joins.
type Guarantee struct {
	Project string
	// SpentEpsilon and SpentDelta bound what the project has spent on one
	// person: the composition of all its queries, each counted once (the
	// project-wide account), under Bound, the smaller valid bound.
	SpentEpsilon, SpentDelta float64
	Bound                    string
	// MaxEpsilon and MaxDelta are the most the policy lets the project
	// spend on one person: its project-wide budget with its grants, or
	// without one the sum of its datasets' budgets (basic composition over
	// the datasets, valid under either accounting); the smaller when both
	// are declared. From says which: "project_budget" or "datasets".
	MaxEpsilon, MaxDelta float64
	From                 string
}

// Guarantee returns the per-person guarantee of project in p, with the
// project-wide account and the grants read from r. An unknown project is
// a KindNotFound refusal.
func (b *Book) Guarantee(ctx context.Context, r StandingReader, p *policies.Policy, project string) (Guarantee, error) {
	if _, err := projectIDs(p, project); err != nil {
		return Guarantee{}, err
	}
	g := Guarantee{Project: project}
	var sum policies.Budget
	sumOK := true
	for _, d := range p.Projects[project].Datasets {
		a := Account{Scope: ScopeDataset, Project: project, Dataset: d}
		l, capped, _ := b.limits(a)
		if !capped {
			sumOK = false
			break
		}
		st, err := r.Standing(ctx, a)
		if err != nil {
			return Guarantee{}, fmt.Errorf("budget.Guarantee: %w", err)
		}
		l = raised(l, st.Granted)
		sum.Epsilon, sum.Delta = sum.Epsilon+l.Epsilon, sum.Delta+l.Delta
	}
	pa := Account{Scope: ScopeProject, Project: project}
	st, err := r.Standing(ctx, pa)
	if err != nil {
		return Guarantee{}, fmt.Errorf("budget.Guarantee: %w", err)
	}
	max, from := sum, "datasets"
	if l, capped, _ := b.limits(pa); capped {
		if l = raised(l, st.Granted); !sumOK || l.Epsilon <= sum.Epsilon {
			max, from = l, "project_budget"
		}
	}
	bal := b.acct.Balance(max, st.Spent)
	g.SpentEpsilon, g.SpentDelta, g.Bound = bal.SpentEpsilon, bal.SpentDelta, bal.Bound
	g.MaxEpsilon, g.MaxDelta, g.From = bal.TotalEpsilon, bal.TotalDelta, from
	return g, nil
}
