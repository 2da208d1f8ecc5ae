package budget

import (
	"fmt"
	"math"
)

// The ledger stores ε and δ as integers, so that sums are exact: 1,000
// debits of ε 0.01 spend exactly a budget of 10.
const (
	// epsilonScale: ε is stored in units of 1e-9.
	epsilonScale = 1e9
	// deltaScale: δ is stored in units of 1e-15.
	deltaScale = 1e15
	// maxEpsilon and maxDelta keep unit counts far from int64 overflow.
	maxEpsilon = 1e9
	maxDelta   = 1
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
	v := math.Min(x*scale, math.MaxInt64/4)
	return int64(math.Floor(v + tolerance(v)))
}

// fromUnits converts units back to a float for display.
func fromUnits(u int64, scale float64) float64 { return float64(u) / scale }

// checkAmount validates a spend's ε (positive) or δ (zero allowed).
func checkAmount(name string, x, limit float64, zeroOK bool) error {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return fmt.Errorf("%w: %s is %v, want a finite number", ErrInvalidSpend, name, x)
	case x < 0 || (x == 0 && !zeroOK):
		return fmt.Errorf("%w: %s is %v, want a positive number", ErrInvalidSpend, name, x)
	case x > limit:
		return fmt.Errorf("%w: %s is %v, above the largest amount the ledger records (%v)", ErrInvalidSpend, name, x, limit)
	}
	return nil
}
