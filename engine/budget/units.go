package budget

import (
	"fmt"
	"math"
)

// A Cost holds its amounts as integers, so that sums are exact: 1,000
// debits of ε 0.01 spend exactly a budget of 10.
const (
	// epsilonScale: ε is held in units of 1e-9.
	epsilonScale = 1e9
	// deltaScale: δ is held in units of 1e-15.
	deltaScale = 1e15
	// rhoScale: ρ is held in units of 1e-12.
	rhoScale = 1e12
	// maxEpsilon, maxDelta and maxRho keep one cost's units far from
	// int64 overflow (at most 1e18 units).
	maxEpsilon = 1e9
	maxDelta   = 1
	maxRho     = 1e6
	// maxUnits bounds a budget total and a sum of costs, so that adding
	// one more cost to either cannot overflow.
	maxUnits = math.MaxInt64 / 4
)

// tolerance is how far v (a value times its scale) may sit from a whole
// unit and still count as that unit: float64 products such as 0.01·1e9 are
// off by a few ulps.
func tolerance(v float64) float64 { return math.Max(1e-6, math.Abs(v)*1e-15) }

// costUnits converts a cost to units, rounding up (the ledger never charges
// less than asked) except for float artefacts within tolerance of a whole
// unit. A positive cost below one unit costs one unit.
func costUnits(x, scale float64) int64 {
	v := x * scale
	u := int64(math.Ceil(v - tolerance(v)))
	if u < 1 && x > 0 {
		u = 1
	}
	return u
}

// limitUnits converts a budget total to units, rounding down (the ledger
// never allows more than declared) except for float artefacts.
func limitUnits(x, scale float64) int64 {
	if x <= 0 || math.IsNaN(x) {
		return 0
	}
	v := math.Min(x*scale, maxUnits)
	return min(int64(math.Floor(v+tolerance(v))), maxUnits)
}

// fromUnits converts units back to a float for display.
func fromUnits(u int64, scale float64) float64 { return float64(u) / scale }

// checkAmount validates one amount of a cost: finite, not negative, at
// most limit.
func checkAmount(name string, x, limit float64) error {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return fmt.Errorf("%w: %s is %v, want a finite number", ErrInvalidCost, name, x)
	case x < 0:
		return fmt.Errorf("%w: %s is %v, want zero or a positive number", ErrInvalidCost, name, x)
	case x > limit:
		return fmt.Errorf("%w: %s is %v, above the largest amount the ledger records (%v)", ErrInvalidCost, name, x, limit)
	}
	return nil
}
