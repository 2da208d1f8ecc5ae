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
// Limits is.
type Book struct {
	acct   Accountant
	limits Limits
}

// NewBook returns the book of the budgets limits gives, read through acct
// (nil: Basic).
func NewBook(limits Limits, acct Accountant) (*Book, error) {
	if limits == nil {
		return nil, errors.New("budget.NewBook: nil limits")
	}
	if acct == nil {
		acct = Basic{}
	}
	return &Book{acct: acct, limits: limits}, nil
}

// Admit decides a debit: spent holds what s.Project has spent on each of
// s.Datasets (a dataset without debits may be absent). It returns a
// *refusal.Error with code refusal.DatasetNotInProject for the first
// dataset (in order) the project has no budget for, else
// refusal.BudgetExhausted naming every dataset that cannot pay s.Cost,
// else nil: then every dataset can pay. Admit only reads, so a store may
// call it again when it retries a transaction.
func (b *Book) Admit(s Spend, spent map[string]Cost) error {
	datasets := slices.Clone(s.Datasets)
	slices.Sort(datasets)
	datasets = slices.Compact(datasets)
	limits := make([]policies.Budget, len(datasets))
	for i, d := range datasets {
		l, ok := b.limits(s.Project, d)
		if !ok {
			return noBudget(s.Project, d)
		}
		limits[i] = l
	}
	var short []shortfall
	for i, d := range datasets {
		_, representable := spent[d].Add(s.Cost)
		if !representable || !b.acct.Covers(limits[i], spent[d], s.Cost) {
			bal := b.acct.Balance(limits[i], spent[d])
			short = append(short, shortfall{d, bal.RemainingEpsilon, bal.RemainingDelta})
		}
	}
	if len(short) > 0 {
		return exhausted(s.Project, s.Cost, short)
	}
	return nil
}

// SpentReader reads what a project has spent on a dataset (the zero Cost
// when nothing); a ledger store in engine/state is one.
type SpentReader interface {
	Spent(ctx context.Context, project, dataset string) (Cost, error)
}

// Balance returns the balance of project × dataset, with what was spent
// read from r. A project × dataset without a budget is a KindNotFound
// refusal (refusal.BudgetNotFound).
func (b *Book) Balance(ctx context.Context, r SpentReader, project, dataset string) (Balance, error) {
	l, ok := b.limits(project, dataset)
	if !ok {
		return Balance{}, notFound(project, dataset)
	}
	spent, err := r.Spent(ctx, project, dataset)
	if err != nil {
		return Balance{}, fmt.Errorf("budget.Balance: %w", err)
	}
	bal := b.acct.Balance(l, spent)
	bal.Project, bal.Dataset = project, dataset
	return bal, nil
}

// Balances returns the balance of every dataset of project in p, in the
// project's dataset order, or of every project (sorted by id) when project
// is "". An unknown project is a KindNotFound refusal.
func (b *Book) Balances(ctx context.Context, r SpentReader, p *policies.Policy, project string) ([]Balance, error) {
	var ids []string
	if project != "" {
		if _, ok := p.Projects[project]; !ok {
			return nil, &refusal.Error{Code: refusal.ProjectNotFound,
				Message: fmt.Sprintf("there is no project %q in the policy", project)}
		}
		ids = []string{project}
	} else {
		for id := range p.Projects {
			ids = append(ids, id)
		}
		slices.Sort(ids)
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

// Check reports, from what r says was spent, whether s could be debited
// now: Admit's answer, without taking anything. A dry run uses it; the
// answer may change before a real debit, which decides again.
func (b *Book) Check(ctx context.Context, r SpentReader, s Spend) error {
	spent := make(map[string]Cost, len(s.Datasets))
	for _, d := range s.Datasets {
		c, err := r.Spent(ctx, s.Project, d)
		if err != nil {
			return fmt.Errorf("budget.Check: %w", err)
		}
		spent[d] = c
	}
	return b.Admit(s, spent)
}

// BalanceAfter returns the balance of project × dataset as it would be
// after paying cost, with what was spent read from r.
func (b *Book) BalanceAfter(ctx context.Context, r SpentReader, project, dataset string, cost Cost) (Balance, error) {
	l, ok := b.limits(project, dataset)
	if !ok {
		return Balance{}, notFound(project, dataset)
	}
	spent, err := r.Spent(ctx, project, dataset)
	if err != nil {
		return Balance{}, fmt.Errorf("budget.BalanceAfter: %w", err)
	}
	after, ok := spent.Add(cost)
	if !ok {
		after = Cost{eps: maxUnits, del: maxUnits, rho: maxUnits, zdel: maxUnits}
	}
	bal := b.acct.Balance(l, after)
	bal.Project, bal.Dataset = project, dataset
	return bal, nil
}
