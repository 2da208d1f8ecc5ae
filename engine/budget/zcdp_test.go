package budget

import (
	"math"
	"testing"

	"github.com/google/differential-privacy/go/v3/noise"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/statgate/statgate/policies"
)

// gaussianDelta is the exact privacy profile of the Gaussian mechanism
// with sensitivity over σ equal to mu (Balle–Wang 2018, Theorem 8): the
// smallest δ at which it is (ε, δ)-DP.
func gaussianDelta(mu, eps float64) float64 {
	phi := distuv.UnitNormal.CDF
	return phi(-eps/mu+mu/2) - math.Exp(eps)*phi(-eps/mu-mu/2)
}

// gaussianEpsilon is the exact ε of that mechanism at δ (bisection).
func gaussianEpsilon(mu, delta float64) float64 {
	lo, hi := 0.0, 1000.0
	for range 200 {
		mid := (lo + hi) / 2
		if gaussianDelta(mu, mid) > delta {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// TestEpsilonForRhoPublished checks the conversion against published
// figures: the standard conversion ρ + 2√(ρ ln 1/δ) (Bun–Steinke 2016,
// Proposition 1.3) is an upper bound it may only improve on, and the
// Gaussian mechanism's exact privacy profile (Balle–Wang 2018), which a ρ
// of μ²/2 describes exactly, is a lower bound no valid conversion goes
// under. Canonne–Kamath–Steinke's bound sits within 20 % of it.
func TestEpsilonForRhoPublished(t *testing.T) {
	for _, tc := range []struct{ rho, delta float64 }{
		{0.5, 1e-5}, {0.01, 1e-6}, {1e-4, 1e-7}, {0.627, 1e-5}, {2, 1e-9}, {5e-6, 1e-5},
	} {
		got := EpsilonForRho(tc.rho, tc.delta)
		standard := tc.rho + 2*math.Sqrt(tc.rho*math.Log(1/tc.delta))
		exact := gaussianEpsilon(math.Sqrt(2*tc.rho), tc.delta)
		if got > standard*(1+1e-12) {
			t.Errorf("ρ %g δ %g: ε %g above the standard conversion %g", tc.rho, tc.delta, got, standard)
		}
		if got < exact {
			t.Errorf("ρ %g δ %g: ε %g below the Gaussian's exact ε %g: not a valid bound", tc.rho, tc.delta, got, exact)
		}
		if got > exact*1.2 {
			t.Errorf("ρ %g δ %g: ε %g more than 20%% above the Gaussian's exact %g", tc.rho, tc.delta, got, exact)
		}
	}
	// A figure worked by hand: ρ 0.5, δ 1e-5: standard 0.5 + 2√(0.5·ln 1e5) = 5.2985.
	if s := 0.5 + 2*math.Sqrt(0.5*math.Log(1e5)); math.Abs(s-5.2985) > 1e-4 {
		t.Fatalf("standard conversion %g", s)
	}
	if got := EpsilonForRho(0.5, 1e-5); !(got < 5.2985 && got > 4.5) {
		t.Errorf("EpsilonForRho(0.5, 1e-5) = %g, want a little below 5.2985", got)
	}
	if EpsilonForRho(0, 1e-5) != 0 || !math.IsInf(EpsilonForRho(1, 0), 1) || !math.IsInf(EpsilonForRho(1, 1), 1) {
		t.Error("edge cases of EpsilonForRho")
	}
	// RhoForEpsilon inverts it.
	for _, eps := range []float64{0.1, 1, 6, 10} {
		r := RhoForEpsilon(eps, 1e-5)
		if got := EpsilonForRho(r, 1e-5); got > eps || got < eps*(1-1e-6) {
			t.Errorf("EpsilonForRho(RhoForEpsilon(%g)) = %g", eps, got)
		}
	}
}

// gaussianRho is the ρ of a Gaussian calibrated by Google's library to
// (eps, delta) for sensitivity 1, as the engine charges it.
func gaussianRho(eps, delta float64) float64 {
	s := noise.SigmaForGaussian(1, 1, eps, delta)
	return 1 / (2 * s * s)
}

// TestZCDPNeverBelowTrueLoss composes Gaussian answers the library
// calibrates, admitted by ZCDP until the budget stops it: the ledger's
// stated guarantee is never below the true composed loss (n Gaussians
// are one Gaussian with μ² the sum of theirs, whose exact ε at the
// budget's δ is known), and never above the declared budget.
func TestZCDPNeverBelowTrueLoss(t *testing.T) {
	b := policies.Budget{Epsilon: 6, Delta: 1e-5}
	for _, q := range []struct{ eps, delta float64 }{{0.06, 1e-7}, {0.5, 1e-6}, {1, 1e-6}} {
		rho := gaussianRho(q.eps, q.delta)
		c := mustZCost(t, q.eps, q.delta, rho, 0)
		var spent Cost
		n := 0
		for (ZCDP{}).Covers(b, spent, c) {
			spent, _ = spent.Add(c)
			n++
			if n%97 == 0 || !(ZCDP{}).Covers(b, spent, c) {
				bal := (ZCDP{}).Balance(b, spent)
				mu := math.Sqrt(float64(n)) / noise.SigmaForGaussian(1, 1, q.eps, q.delta)
				exact := gaussianEpsilon(mu, b.Delta)
				if bal.SpentEpsilon < exact {
					t.Fatalf("ε %g: after %d answers the stated ε %g is below the true loss %g", q.eps, n, bal.SpentEpsilon, exact)
				}
				if bal.SpentEpsilon > b.Epsilon || bal.SpentDelta > b.Delta {
					t.Fatalf("ε %g: after %d answers the stated guarantee (%g, %g) is over the budget", q.eps, n, bal.SpentEpsilon, bal.SpentDelta)
				}
			}
		}
		basic := int(math.Min(b.Epsilon/q.eps, b.Delta/q.delta) + 1e-9)
		if n < basic {
			t.Errorf("ε %g: zCDP admitted %d answers, fewer than basic's %d", q.eps, n, basic)
		}
		t.Logf("Gaussian answers at ε %g δ %g: basic %d, zCDP %d", q.eps, q.delta, basic, n)
	}
	// The setting: ε 0.06, δ 1e-7 per answer; basic pays 100.
	c := mustZCost(t, 0.06, 1e-7, gaussianRho(0.06, 1e-7), 0)
	if n := countAdmitted(ZCDP{}, b, c); n < 1000 {
		t.Errorf("zCDP admitted %d Gaussian answers at ε 0.06, want ≥ 10× basic's 100", n)
	}
	if n := countAdmitted(Basic{}, b, c); n != 100 {
		t.Errorf("basic admitted %d, want 100", n)
	}
}

// TestZCDPNeverFewerThanBasic: pure-ε Laplace answers compose better by
// summing ε; ZCDP then states the basic bound and admits as many.
func TestZCDPNeverFewerThanBasic(t *testing.T) {
	for _, b := range []policies.Budget{{Epsilon: 6, Delta: 1e-5}, {Epsilon: 6}, {Epsilon: 1, Delta: 1e-9}} {
		for _, eps := range []float64{0.5, 0.1, 1, 2} {
			c := mustZCost(t, eps, 0, eps*eps/2, 0)
			nb, nz := countAdmitted(Basic{}, b, c), countAdmitted(ZCDP{}, b, c)
			if nz < nb {
				t.Errorf("budget %+v, Laplace ε %g: zCDP admitted %d, basic %d", b, eps, nz, nb)
			}
		}
	}
	// A dozen Laplace answers at ε 0.5 fill ε 6 under basic; the balance
	// states the basic bound, exactly.
	b := policies.Budget{Epsilon: 6, Delta: 1e-5}
	c := mustZCost(t, 0.5, 0, 0.125, 0)
	var spent Cost
	for range 12 {
		spent, _ = spent.Add(c)
	}
	bal := (ZCDP{}).Balance(b, spent)
	if bal.Bound != AccountingBasic || bal.SpentEpsilon != 6 || bal.RemainingEpsilon != 0 || bal.SpentRho != 1.5 {
		t.Errorf("balance after 12 × ε 0.5 = %+v, want the basic bound ε 6 and ρ 1.5", bal)
	}
	// A cost without a ρ account pays through basic only.
	if (ZCDP{}).Covers(b, mustZCost(t, 6, 0, 0, 0), mustZCost(t, 0.1, 0, 0, 0)) {
		t.Error("a cost without ρ was admitted past the basic account")
	}
}

// TestZCDPAdditiveDelta: partition selection's δ is spent beside ρ and
// shrinks the δ the conversion may use; when it reaches the budget's δ,
// nothing more is admitted through zCDP.
func TestZCDPAdditiveDelta(t *testing.T) {
	b := policies.Budget{Epsilon: 6, Delta: 1e-5}
	c := mustZCost(t, 0.06, 1e-7, gaussianRho(0.06, 0.5e-7), 0.5e-7)
	n := countAdmitted(ZCDP{}, b, c)
	if n < 150 || n > 200 {
		t.Errorf("answers with additive δ 5e-8 each: %d admitted, want under 200 (δ 1e-5 runs out) and more than basic's 100", n)
	}
	var spent Cost
	for range 100 {
		spent, _ = spent.Add(c)
	}
	bal := (ZCDP{}).Balance(b, spent)
	if bal.Bound != AccountingZCDP || math.Abs(bal.RemainingDelta-0.5e-5) > 1e-15 || bal.SpentEpsilon >= bal.BasicEpsilon {
		t.Errorf("balance = %+v, want the zCDP bound with δ 5e-6 additive left", bal)
	}
	want := EpsilonForRho(spent.Rho(), 0.5e-5)
	if math.Abs(bal.SpentEpsilon-want) > 1e-12 {
		t.Errorf("stated ε %g, want ρ %g converted at the δ left: %g", bal.SpentEpsilon, spent.Rho(), want)
	}
	if bal.TotalRho != RhoForEpsilon(6, 0.5e-5) || bal.RemainingRho != bal.TotalRho-bal.SpentRho {
		t.Errorf("ρ total %g remaining %g", bal.TotalRho, bal.RemainingRho)
	}
}

func TestForAccounting(t *testing.T) {
	for name, want := range map[string]Accountant{"": ZCDP{}, "zcdp": ZCDP{}, "basic": Basic{}} {
		if got, err := ForAccounting(name); err != nil || got != want {
			t.Errorf("ForAccounting(%q) = %v, %v", name, got, err)
		}
	}
	if _, err := ForAccounting("rdp"); err == nil {
		t.Error("ForAccounting(rdp) succeeded")
	}
}

func countAdmitted(a Accountant, b policies.Budget, c Cost) int {
	var spent Cost
	n := 0
	for a.Covers(b, spent, c) && n < 1_000_000 {
		spent, _ = spent.Add(c)
		n++
	}
	return n
}

func mustZCost(t testing.TB, eps, del, rho, zdel float64) Cost {
	t.Helper()
	c, err := NewZCost(eps, del, rho, zdel)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
