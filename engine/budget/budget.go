// Package budget is the privacy accountant: it says what a query costs
// (Cost), how costs compose into what a project × dataset has spent, and
// whether a budget the policy declares can pay one more query (Accountant,
// Book). Spending is never refunded.
//
// The package stores nothing. The ledger that records spending durably, and
// takes a debit from several datasets all or none, is a store in
// engine/state (engine/state/sqlite is the embedded one); it asks a Book,
// inside its transaction, whether a debit may be taken.
//
// Composition is basic today (sums of ε and of δ: Basic); a Cost also
// carries ρ, the account of zero-concentrated DP, so that a zCDP
// accountant can read the same ledger.
package budget

import (
	"fmt"
	"slices"
	"time"

	"github.com/statgate/statgate/policies"
)

// Cost is a privacy cost, or a sum of costs: ε and δ, the accounts of
// basic composition, and ρ, the account of zero-concentrated DP. Amounts
// are held in fixed point (ε in units of 1e-9, δ of 1e-15, ρ of 1e-12), so
// that sums are exact: a thousand costs of ε 0.01 add up to exactly 10. A
// Cost is a value; the zero Cost is free.
type Cost struct {
	eps, del, rho int64 // units of epsilonScale, deltaScale, rhoScale
}

// NewCost returns the cost of ε, δ and ρ, each rounded up to the next unit
// (a positive amount below one unit costs one unit): the ledger never
// charges less than asked. Each amount must be finite, zero or positive
// and at most the largest the ledger records (ε 1e9, δ 1, ρ 1e6);
// otherwise the error wraps ErrInvalidCost.
func NewCost(epsilon, delta, rho float64) (Cost, error) {
	if err := checkAmount("epsilon", epsilon, maxEpsilon); err != nil {
		return Cost{}, err
	}
	if err := checkAmount("delta", delta, maxDelta); err != nil {
		return Cost{}, err
	}
	if err := checkAmount("rho", rho, maxRho); err != nil {
		return Cost{}, err
	}
	return Cost{
		eps: costUnits(epsilon, epsilonScale),
		del: costUnits(delta, deltaScale),
		rho: costUnits(rho, rhoScale),
	}, nil
}

// Epsilon is the cost's ε.
func (c Cost) Epsilon() float64 { return fromUnits(c.eps, epsilonScale) }

// Delta is the cost's δ.
func (c Cost) Delta() float64 { return fromUnits(c.del, deltaScale) }

// Rho is the cost's ρ (zCDP).
func (c Cost) Rho() float64 { return fromUnits(c.rho, rhoScale) }

// IsZero reports whether c costs nothing.
func (c Cost) IsZero() bool { return c == Cost{} }

// Add returns the sum of c and d, the composition every accountant starts
// from, and false when a sum exceeds what the ledger can hold (far above
// any budget: such a debit is refused).
func (c Cost) Add(d Cost) (Cost, bool) {
	s := Cost{eps: c.eps + d.eps, del: c.del + d.del, rho: c.rho + d.rho}
	ok := c.eps <= maxUnits-d.eps && c.del <= maxUnits-d.del && c.rho <= maxUnits-d.rho
	return s, ok
}

// String shows the cost's non-zero accounts, e.g. "ε 0.5 δ 1e-07".
func (c Cost) String() string {
	s := fmt.Sprintf("ε %g", c.Epsilon())
	if c.del != 0 {
		s += fmt.Sprintf(" δ %g", c.Delta())
	}
	if c.rho != 0 {
		s += fmt.Sprintf(" ρ %g", c.Rho())
	}
	return s
}

// Units returns the cost's exact amounts in the ledger's units (ε in 1e-9,
// δ in 1e-15, ρ in 1e-12), for a ledger store to record. CostOfUnits is
// its inverse.
func (c Cost) Units() (epsilon, delta, rho int64) { return c.eps, c.del, c.rho }

// CostOfUnits returns the Cost a ledger store recorded with Units. A
// negative amount, which no sum of costs has, is an error (ErrInvalidCost):
// the store is damaged.
func CostOfUnits(epsilon, delta, rho int64) (Cost, error) {
	if epsilon < 0 || delta < 0 || rho < 0 {
		return Cost{}, fmt.Errorf("%w: negative units (ε %d, δ %d, ρ %d)", ErrInvalidCost, epsilon, delta, rho)
	}
	return Cost{eps: epsilon, del: delta, rho: rho}, nil
}

// Spend is one query's debit: Cost is taken from the budget of Project on
// each of Datasets (the query reads all of them, so each pays in full).
type Spend struct {
	// QueryID identifies the request (it is also in the audit log).
	QueryID string
	// Project pays for the query.
	Project string
	// Principal asked the query.
	Principal string
	// Datasets the query reads; duplicates are paid for once.
	Datasets []string
	// Cost is what each dataset pays. Every query spends some ε.
	Cost Cost
}

// Normalize checks s and returns it with Datasets sorted and without
// duplicates. A Spend the engine should never build (no project, no
// dataset or an empty dataset name, no ε) is an error wrapping
// ErrInvalidSpend: a programming error, not a refusal. Ledger stores call
// it before they debit.
func (s Spend) Normalize() (Spend, error) {
	if s.Project == "" {
		return Spend{}, fmt.Errorf("%w: no project", ErrInvalidSpend)
	}
	if len(s.Datasets) == 0 {
		return Spend{}, fmt.Errorf("%w: no datasets", ErrInvalidSpend)
	}
	for _, d := range s.Datasets {
		if d == "" {
			return Spend{}, fmt.Errorf("%w: empty dataset name", ErrInvalidSpend)
		}
	}
	if s.Cost.eps <= 0 {
		return Spend{}, fmt.Errorf("%w: the cost has no epsilon", ErrInvalidSpend)
	}
	ds := slices.Clone(s.Datasets)
	slices.Sort(ds)
	s.Datasets = slices.Compact(ds)
	return s, nil
}

// Entry is one recorded debit on one dataset (a Spend over three datasets
// records three entries).
type Entry struct {
	// ID numbers entries in the order the ledger recorded them.
	ID                          int64
	Time                        time.Time
	QueryID, Project, Principal string
	Dataset                     string
	Cost                        Cost
}

// Balance is the state of one project × dataset budget. Remaining is
// never negative, also when a policy lowers a budget below what is spent.
type Balance struct {
	Project, Dataset                             string
	TotalEpsilon, SpentEpsilon, RemainingEpsilon float64
	TotalDelta, SpentDelta, RemainingDelta       float64
}

// Limits returns the total budget of a project on a dataset, and false when
// the project has no budget there (unknown project, or a dataset outside
// the project). It is consulted on every debit and balance, so a closure
// over a reloaded policy applies a changed budget to the next debit.
type Limits func(project, dataset string) (policies.Budget, bool)

// PolicyLimits returns the budgets p declares per project × dataset.
func PolicyLimits(p *policies.Policy) Limits {
	return func(project, dataset string) (policies.Budget, bool) {
		pr, ok := p.Projects[project]
		if !ok || !slices.Contains(pr.Datasets, dataset) {
			return policies.Budget{}, false
		}
		return pr.Budget, true
	}
}
