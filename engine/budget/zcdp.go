package budget

import (
	"fmt"
	"math"

	"github.com/statgate/statgate/policies"
)

// The accountings a policy may name (policies.Policy.Accounting).
const (
	AccountingBasic = policies.AccountingBasic
	AccountingZCDP  = policies.AccountingZCDP
)

// ForAccounting returns the accountant a policy's accounting names ("" is
// the default, zcdp).
func ForAccounting(name string) (Accountant, error) {
	switch name {
	case "", AccountingZCDP:
		return ZCDP{}, nil
	case AccountingBasic:
		return Basic{}, nil
	}
	return nil, fmt.Errorf("budget: unknown accounting %q (want %q or %q)", name, AccountingZCDP, AccountingBasic)
}

// ZCDP is zero-concentrated DP accounting (Bun–Steinke 2016) beside basic
// composition. Every debit carries both accounts (Cost): ε and δ, summed
// by basic composition, and ρ with its additive δ (the δ of mechanisms ρ
// does not cover, such as partition selection). Both sums are valid
// bounds on what was spent, so a budget (ε, δ) can pay a cost when either
// fits after it: the basic sums within (ε, δ), or the additive δ below δ
// and ρ converted at the δ left (EpsilonForRho) within ε. ZCDP therefore
// never admits fewer queries than Basic, and admits far more Gaussian
// answers of the same accuracy: n of them cost ρ in proportion to n, and
// ε in proportion to √n.
type ZCDP struct{}

var _ Accountant = ZCDP{}

// Covers implements Accountant.
func (ZCDP) Covers(b policies.Budget, spent, cost Cost) bool {
	if (Basic{}).Covers(b, spent, cost) {
		return true
	}
	if cost.rho == 0 && cost.eps > 0 {
		return false // no zCDP account: basic only
	}
	after, ok := spent.Add(cost)
	if !ok {
		return false
	}
	eps, ok := zcdpEpsilon(b, after)
	return ok && eps <= fromUnits(limitUnits(b.Epsilon, epsilonScale), epsilonScale)
}

// Balance implements Accountant: the stated guarantee is the smaller of
// the basic and the zCDP bound that fit the budget's δ.
func (ZCDP) Balance(b policies.Budget, spent Cost) Balance {
	bal := (Basic{}).Balance(b, spent)
	bal.Accounting = AccountingZCDP
	eps, ok := zcdpEpsilon(b, spent)
	basicValid := spent.del <= limitUnits(b.Delta, deltaScale)
	if ok && (eps < bal.SpentEpsilon || !basicValid) {
		bal.Bound = AccountingZCDP
		bal.SpentEpsilon = eps
		bal.RemainingEpsilon = math.Max(bal.TotalEpsilon-eps, 0)
		bal.SpentDelta = bal.TotalDelta
		if spent.rho == 0 {
			bal.SpentDelta = bal.SpentZDelta
		}
		bal.RemainingDelta = math.Max(bal.TotalDelta-bal.SpentZDelta, 0)
	}
	return bal
}

// zcdpEpsilon is the ε of the zCDP bound on spent at the budget's δ: ρ
// converted at the δ its additive account has left. ok is false when no
// δ is left for the conversion.
func zcdpEpsilon(b policies.Budget, spent Cost) (float64, bool) {
	totalDel := limitUnits(b.Delta, deltaScale)
	if spent.zdel > totalDel || (spent.zdel == totalDel && spent.rho > 0) {
		return 0, false
	}
	if spent.rho == 0 {
		return 0, true
	}
	return EpsilonForRho(spent.Rho(), fromUnits(totalDel-spent.zdel, deltaScale)), true
}

// EpsilonForRho is the ε of the (ε, δ)-DP guarantee of a ρ-zCDP
// mechanism, for 0 < δ < 1: the smaller of the standard conversion
// ρ + 2√(ρ·ln(1/δ)) (Bun–Steinke 2016, Proposition 1.3) and the tighter
// one of Canonne, Kamath and Steinke (2020, Proposition 12 with Rényi
// divergence αρ at every order α > 1):
//
//	ε = inf over α > 1 of αρ + (ln(1/δ) + (α−1)·ln(1−1/α) − ln α)/(α−1).
//
// Every α gives a valid bound, so the numerical minimisation can only err
// towards a larger, still valid, ε. It returns 0 for ρ = 0 and +Inf for a
// δ outside (0, 1).
func EpsilonForRho(rho, delta float64) float64 {
	switch {
	case !(delta > 0 && delta < 1) || math.IsNaN(rho):
		return math.Inf(1)
	case rho <= 0:
		return 0
	}
	l := math.Log(1 / delta)
	standard := rho + 2*math.Sqrt(rho*l)
	f := func(a float64) float64 {
		return a*rho + (l+(a-1)*math.Log1p(-1/a)-math.Log(a))/(a-1)
	}
	// α−1 on a logarithmic grid, then golden-section refinement around the
	// best grid point (f is unimodal in α; any α is a valid bound).
	const lo, hi, n = -12.0, 12.0, 241
	best, bestX := math.Inf(1), 0.0
	for i := range n {
		x := lo + (hi-lo)*float64(i)/(n-1)
		if v := f(1 + math.Exp(x)); v < best {
			best, bestX = v, x
		}
	}
	step := (hi - lo) / (n - 1)
	a, c := bestX-step, bestX+step
	g := (math.Sqrt(5) - 1) / 2
	for range 60 {
		x1, x2 := c-g*(c-a), a+g*(c-a)
		if f(1+math.Exp(x1)) < f(1+math.Exp(x2)) {
			c = x2
		} else {
			a = x1
		}
	}
	if v := f(1 + math.Exp((a+c)/2)); v < best {
		best = v
	}
	return math.Max(math.Min(best, standard), 0)
}

// RhoForEpsilon is the largest ρ whose EpsilonForRho at delta is at most
// epsilon: what a budget (ε, δ) allows in ρ. It is 0 for ε ≤ 0 or δ
// outside (0, 1).
func RhoForEpsilon(epsilon, delta float64) float64 {
	if !(epsilon > 0) || !(delta > 0 && delta < 1) {
		return 0
	}
	// EpsilonForRho ≥ ρ, so ρ ≤ ε; and it increases with ρ.
	lo, hi := 0.0, epsilon
	for range 100 {
		mid := (lo + hi) / 2
		if EpsilonForRho(mid, delta) <= epsilon {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}
