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
// Every cost is kept in two accounts: basic composition (sums of ε and of
// δ) and zero-concentrated DP (a sum of ρ, and beside it the δ of the
// mechanisms ρ does not cover, such as partition selection). Basic reads
// the first; ZCDP states the smaller of the two valid guarantees, so it
// never admits fewer queries than Basic would.
package budget

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/statgate/statgate/policies"
)

// Cost is a privacy cost, or a sum of costs, in two accounts: ε and δ, the
// account of basic composition, and ρ with its additive δ (ZDelta), the
// account of zero-concentrated DP (Bun–Steinke: the query is
// ZDelta-approximately ρ-zCDP). Amounts are held in fixed point (ε in
// units of 1e-9, δ of 1e-15, ρ of 1e-12), so that sums are exact: a
// thousand costs of ε 0.01 add up to exactly 10. A Cost is a value; the
// zero Cost is free.
type Cost struct {
	eps, del, rho, zdel int64 // units of epsilonScale, deltaScale, rhoScale, deltaScale
}

// NewCost returns the cost of an (ε, δ)-DP query whose zCDP account is ρ
// with all of δ additive (NewZCost with zdelta = delta). A cost without ρ
// is not read as free by ZCDP: it pays through the basic account only.
func NewCost(epsilon, delta, rho float64) (Cost, error) {
	return NewZCost(epsilon, delta, rho, delta)
}

// NewZCost returns the cost of a query that is (ε, δ)-DP and
// zdelta-approximately ρ-zCDP, each amount rounded up to the next unit (a
// positive amount below one unit costs one unit): the ledger never charges
// less than asked. Each amount must be finite, zero or positive and at most
// the largest the ledger records (ε 1e9, δ 1, ρ 1e6); otherwise the error
// wraps ErrInvalidCost.
func NewZCost(epsilon, delta, rho, zdelta float64) (Cost, error) {
	if err := checkAmount("epsilon", epsilon, maxEpsilon); err != nil {
		return Cost{}, err
	}
	if err := checkAmount("delta", delta, maxDelta); err != nil {
		return Cost{}, err
	}
	if err := checkAmount("rho", rho, maxRho); err != nil {
		return Cost{}, err
	}
	if err := checkAmount("zcdp delta", zdelta, maxDelta); err != nil {
		return Cost{}, err
	}
	return Cost{
		eps:  costUnits(epsilon, epsilonScale),
		del:  costUnits(delta, deltaScale),
		rho:  costUnits(rho, rhoScale),
		zdel: costUnits(zdelta, deltaScale),
	}, nil
}

// Epsilon is the cost's ε.
func (c Cost) Epsilon() float64 { return fromUnits(c.eps, epsilonScale) }

// Delta is the cost's δ.
func (c Cost) Delta() float64 { return fromUnits(c.del, deltaScale) }

// Rho is the cost's ρ (zCDP).
func (c Cost) Rho() float64 { return fromUnits(c.rho, rhoScale) }

// ZDelta is the δ of the cost's zCDP account: the part of its privacy loss
// that ρ does not bound (partition selection), added to the δ of the
// conversion to (ε, δ).
func (c Cost) ZDelta() float64 { return fromUnits(c.zdel, deltaScale) }

// IsZero reports whether c costs nothing.
func (c Cost) IsZero() bool { return c == Cost{} }

// Add returns the sum of c and d, the composition every accountant starts
// from, and false when a sum exceeds what the ledger can hold (far above
// any budget: such a debit is refused).
func (c Cost) Add(d Cost) (Cost, bool) {
	s := Cost{eps: c.eps + d.eps, del: c.del + d.del, rho: c.rho + d.rho, zdel: c.zdel + d.zdel}
	ok := c.eps <= maxUnits-d.eps && c.del <= maxUnits-d.del && c.rho <= maxUnits-d.rho && c.zdel <= maxUnits-d.zdel
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
// δ and the zCDP δ in 1e-15, ρ in 1e-12), for a ledger store to record.
// CostOfUnits is its inverse.
func (c Cost) Units() (epsilon, delta, rho, zdelta int64) { return c.eps, c.del, c.rho, c.zdel }

// CostOfUnits returns the Cost a ledger store recorded with Units. A
// negative amount, which no sum of costs has, is an error (ErrInvalidCost):
// the store is damaged.
func CostOfUnits(epsilon, delta, rho, zdelta int64) (Cost, error) {
	if epsilon < 0 || delta < 0 || rho < 0 || zdelta < 0 {
		return Cost{}, fmt.Errorf("%w: negative units (ε %d, δ %d, ρ %d, zCDP δ %d)", ErrInvalidCost, epsilon, delta, rho, zdelta)
	}
	return Cost{eps: epsilon, del: delta, rho: rho, zdel: zdelta}, nil
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
	// Kind is the request's kind ("sql", "template", "cohort", "rates",
	// "survival"), recorded with the debit for the budget history.
	Kind string
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

// Balance is the state of one budget. Spent is the guarantee the
// accountant states for everything spent (for ZCDP the smaller of the two
// valid bounds, named by Bound); Remaining is Total − Spent, never
// negative, also when a policy lowers a budget below what is spent.
type Balance struct {
	// Scope, Project, Dataset and Principal name the account (a balance
	// of a project × dataset has Scope ScopeDataset or "").
	Scope                                        Scope
	Project, Dataset, Principal                  string
	TotalEpsilon, SpentEpsilon, RemainingEpsilon float64
	// SpentDelta is the δ of the stated guarantee: the sum of δ under the
	// basic bound; under the zCDP bound the budget's whole δ, since the
	// conversion of ρ uses every δ the additive account has not spent.
	// RemainingDelta is then that unspent additive δ (what partition
	// selection may still spend).
	TotalDelta, SpentDelta, RemainingDelta float64
	// Accounting is the accountant's name ("basic" or "zcdp") and Bound
	// the account the stated guarantee comes from.
	Accounting, Bound string
	// BasicEpsilon and BasicDelta are the basic account: the sums of every
	// debit's ε and δ.
	BasicEpsilon, BasicDelta float64
	// SpentRho and SpentZDelta are the zCDP account: the sum of ρ and of
	// the δ beside it. TotalRho is the ρ the budget allows with that δ
	// spent (the largest ρ whose (ε, δ) fits), RemainingRho the rest.
	SpentRho, SpentZDelta, TotalRho, RemainingRho float64
	// GrantedEpsilon and GrantedDelta are what grants added to the
	// policy's budget; the totals include them.
	GrantedEpsilon, GrantedDelta float64
	// DeltaFrom says where TotalDelta comes from for a cap written with
	// ε alone (DeltaSource); set by Book.CapBalances, "" elsewhere.
	DeltaFrom string
}

// fill sets the accounts of bal from spent, and TotalRho and RemainingRho
// from b.
func (bal *Balance) fill(b policies.Budget, spent Cost) {
	bal.BasicEpsilon, bal.BasicDelta = spent.Epsilon(), spent.Delta()
	bal.SpentRho, bal.SpentZDelta = spent.Rho(), spent.ZDelta()
	totalEps, totalDel := fromUnits(limitUnits(b.Epsilon, epsilonScale), epsilonScale), fromUnits(limitUnits(b.Delta, deltaScale), deltaScale)
	if free := totalDel - bal.SpentZDelta; free > 0 {
		bal.TotalRho = RhoForEpsilon(totalEps, free)
	}
	bal.RemainingRho = math.Max(bal.TotalRho-bal.SpentRho, 0)
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
