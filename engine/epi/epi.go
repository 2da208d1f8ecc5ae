// Package epi answers the epidemiological questions of a registry:
// incidence per person-time with direct age standardisation (Rates) and
// Kaplan–Meier survival after an index event (Survival).
//
// Both follow the engine's one pipeline. The caller (engine/compile)
// checks every user-written condition with the query checker and hands
// this package checked query.Expr values; Plan* generates the SQL from
// that model (the user's text never runs), Prepare builds every noise
// mechanism before the debit, and Release.Apply reads the executed plan's
// Arrow batches, which hold exact counts and person-time per cell of a
// public grid, and protects them:
//
//   - every cell of the grid is released or derived, also the empty ones,
//     so which rows appear never depends on the data;
//   - each person falls in exactly one cell of a survival grid (one
//     interval, event or censoring, or "beyond the horizon"), and has at
//     most one event and at most the period's length of person-time in a
//     rates grid, so one histogram's noise protects all its cells at once
//     (sensitivity 1, or the period length for person-years);
//   - noise comes from github.com/google/differential-privacy/go/v3 through
//     the policy's mechanism; curves, rates, standardised rates and
//     intervals are post-processing of the noisy cells.
//
// Nothing here reads the extracts or the budget: the engine debits before
// it executes the plan and calls Apply.
package epi

import (
	"fmt"
	"math"

	"github.com/google/differential-privacy/go/v3/noise"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/statgate/statgate/engine/refusal"
)

// Mechanism is the noise of every epi histogram: Laplace, whatever the
// policy's mechanism. Each histogram here has an L1 sensitivity of 1 (or
// the period's length for person-years): Laplace noise at ε is pure ε-DP,
// a stronger guarantee than Gaussian (ε, δ)-DP for any δ, and adds less
// noise to one histogram (at ε = 1, δ = 1e-7 a standard deviation of 1.41
// against Gaussian's 4.7). No δ is spent.
const Mechanism = "laplace"

// Options are the privacy parameters of one request, from the effective
// policy of the datasets it reads (protect.OptionsFor gives them).
type Options struct {
	// Epsilon is the request's total.
	Epsilon float64
	// MinCellCount: counts (events, persons, at_risk) whose noisy value is
	// below the release threshold are suppressed; 0 disables suppression.
	MinCellCount int
	// RoundTo > 1 rounds released counts to a multiple of it.
	RoundTo int
	// Noise replaces the Laplace sampler (tests); intervals and standard
	// deviations are always Laplace's.
	Noise noise.Noise
}

// minShare is the least ε one mechanism may get (as engine/protect).
const minShare = 1e-6

// z95 is Φ⁻¹(0.975), the half-width of a 95 % interval in σ.
var z95 = distuv.UnitNormal.Quantile(0.975)

// z99 is Φ⁻¹(0.99): a count is released when its noisy value reaches
// min_cell_count − 1 + z99·σ, so a true count under min_cell_count is
// released with probability at most 1 %.
var z99 = distuv.UnitNormal.Quantile(0.99)

// mechanism is the Laplace mechanism of one histogram, checked once.
type mechanism struct {
	name       string
	eps, delta float64 // delta is always 0
	lInf       float64 // the histogram's L1 sensitivity
	sampler    noise.Noise
	sd         float64
}

// newMechanism builds and checks the mechanism of one histogram whose
// cells one person changes by at most lInf in total. It refuses
// parameters the noise library refuses, so that nothing after the debit
// can fail on them.
func newMechanism(o *Options, eps, lInf float64) (*mechanism, error) {
	if eps < minShare {
		return nil, refusal.New(refusal.EpsilonTooSmall,
			fmt.Sprintf("epsilon %g leaves a share of %g, below the least %g a mechanism may get", o.Epsilon, eps, minShare), "ask for a larger epsilon")
	}
	n := noise.Laplace()
	m := &mechanism{name: Mechanism, eps: eps, lInf: lInf, sampler: n, sd: math.Sqrt2 * lInf / eps}
	if o.Noise != nil {
		m.sampler = o.Noise
	}
	// One rehearsal with the real parameters: the library validates them
	// on every call, and its verdict must come before the debit.
	if _, err := n.AddNoiseFloat64(0, 1, lInf, m.eps, 0); err != nil {
		return nil, refusal.New(refusal.PrivacyParametersRejected,
			fmt.Sprintf("the noise library refuses epsilon %g for this request: %v", eps, err), "ask for a larger epsilon")
	}
	return m, nil
}

// add returns x with the mechanism's noise.
func (m *mechanism) add(x float64) (float64, error) {
	v, err := m.sampler.AddNoiseFloat64(x, 1, m.lInf, m.eps, m.delta)
	if err != nil {
		return 0, fmt.Errorf("epi: adding noise: %w", err)
	}
	return v, nil
}

// threshold is the release threshold of a count whose noise has standard
// deviation sd: min_cell_count − 1 + z99·sd (0: no suppression).
func threshold(minCell int, sd float64) float64 {
	if minCell <= 0 {
		return 0
	}
	return float64(minCell-1) + z99*sd
}

// roundTo rounds a released count to a multiple of to (to ≤ 1: to an integer).
func roundTo(x float64, to int) float64 {
	if to <= 1 {
		return math.Round(x)
	}
	return math.Round(x/float64(to)) * float64(to)
}

// Estimate is one released number: its value, the standard deviation of
// the noise in it and a 95 % interval. Value and CI are nil when the
// number is suppressed.
type Estimate struct {
	Value *float64 `json:"value"`
	// StdDev is the standard deviation of the noise (not of the sampling
	// variation) in Value.
	StdDev float64     `json:"stddev"`
	CI     *[2]float64 `json:"ci95"`
	// Suppressed is true when the number is withheld below the minimum
	// cell count.
	Suppressed bool `json:"suppressed,omitempty"`
}

// released returns an estimate of v with interval ci.
func released(v, sd float64, ci [2]float64) Estimate {
	return Estimate{Value: &v, StdDev: sd, CI: &ci}
}

// suppressed is a withheld estimate.
func suppressed() Estimate { return Estimate{Suppressed: true} }

// clamp01 limits x to [0, 1].
func clamp01(x float64) float64 { return math.Min(math.Max(x, 0), 1) }

// normalQuantile is Φ⁻¹(p).
func normalQuantile(p float64) float64 { return distuv.UnitNormal.Quantile(p) }
