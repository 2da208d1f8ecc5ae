package budget

import "github.com/statgate/statgate/policies"

// An Accountant reads what a budget has spent and decides whether it can
// pay one more cost. Every accountant composes by adding Costs (Cost.Add):
// that sum is what a ledger store records per project × dataset.
// Accountants differ in which of its accounts (ε, δ, ρ) they read and how
// they turn them into a guarantee to compare with the policy's (ε, δ)
// budget. Implementations are safe for concurrent use.
type Accountant interface {
	// Covers reports whether budget b, having spent spent, can also pay
	// cost.
	Covers(b policies.Budget, spent, cost Cost) bool
	// Balance returns b's total, spent and remaining ε and δ after spent;
	// Project and Dataset are left empty. Remaining is never negative.
	Balance(b policies.Budget, spent Cost) Balance
}

// Basic is basic composition: a budget has spent the sum of its costs' ε
// and, separately, of their δ, and can pay a cost when both sums stay
// within the budget's ε and δ. ρ is not read. The comparison is exact, in
// the units of Cost, with the budget rounded down to a whole unit.
type Basic struct{}

var _ Accountant = Basic{}

// Covers implements Accountant.
func (Basic) Covers(b policies.Budget, spent, cost Cost) bool {
	totalEps, totalDel := limitUnits(b.Epsilon, epsilonScale), limitUnits(b.Delta, deltaScale)
	// Compare as remaining ≥ cost so that nothing can overflow.
	return cost.eps <= max(totalEps-spent.eps, 0) && cost.del <= max(totalDel-spent.del, 0)
}

// Balance implements Accountant.
func (Basic) Balance(b policies.Budget, spent Cost) Balance {
	totalEps, totalDel := limitUnits(b.Epsilon, epsilonScale), limitUnits(b.Delta, deltaScale)
	bal := Balance{
		TotalEpsilon:     fromUnits(totalEps, epsilonScale),
		SpentEpsilon:     fromUnits(spent.eps, epsilonScale),
		RemainingEpsilon: fromUnits(max(totalEps-spent.eps, 0), epsilonScale),
		TotalDelta:       fromUnits(totalDel, deltaScale),
		SpentDelta:       fromUnits(spent.del, deltaScale),
		RemainingDelta:   fromUnits(max(totalDel-spent.del, 0), deltaScale),
		Accounting:       AccountingBasic,
		Bound:            AccountingBasic,
	}
	bal.fill(b, spent)
	return bal
}
