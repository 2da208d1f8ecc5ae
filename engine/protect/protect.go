// Package protect is the last step before numbers leave the engine: it
// reads the contribution-bounded aggregates that package exec returns as
// Arrow batches and turns them into a releasable result.Result. It
//
//   - divides the query's (ε, δ) across the released measures, the
//     distinct-person count that decides suppression, and DP partition
//     selection (Split);
//   - chooses the output groups: every combination of the keys' public
//     domains, or the observed groups that pass
//     dpagg.PreAggSelectPartition;
//   - adds Laplace or Gaussian noise through
//     github.com/google/differential-privacy/go/v3 (never math/rand), and
//     attaches to every released measure its noise standard deviation and a
//     95% confidence interval;
//   - suppresses cells whose noisy person count is below the minimum cell
//     count, applies secondary suppression where margins would let a
//     suppressed cell be recomputed, and rounds released counts.
//
// HAVING, ORDER BY and LIMIT are applied by the engine afterwards, on
// released values only.
package protect

import (
	"fmt"
	"math"

	"github.com/google/differential-privacy/go/v3/noise"
)

// The noise mechanisms Options.Mechanism names.
const (
	// Laplace is pure ε-DP noise; measures spend no δ.
	Laplace = "laplace"
	// Gaussian is (ε, δ)-DP noise; it needs Options.Delta > 0.
	Gaussian = "gaussian"
)

// DefaultAlpha is the default 1 − confidence level of released intervals (95%).
const DefaultAlpha = 0.05

// MaxGroups caps the number of output rows a query may ask for through
// public domains (the product of the keys' domain sizes, summed over the
// grouping sets). Split refuses larger results with "too_many_groups"
// before any budget is spent.
const MaxGroups = 100_000

// Options are the privacy parameters of one query. The zero value is not
// usable: Epsilon must be set. Options are read, never modified, by Split
// and Apply.
type Options struct {
	// Epsilon and Delta are the query's total, already debited from the
	// budget. Delta may be 0 (pure ε): then every key must have a public
	// domain and Mechanism must be Laplace.
	Epsilon, Delta float64
	// Mechanism is Laplace or Gaussian; "" means Laplace.
	Mechanism string
	// MinCellCount suppresses every measure of a row whose noisy
	// distinct-person count is below it; 0 disables suppression. It is also
	// the pre-threshold of partition selection.
	MinCellCount int
	// RoundTo > 1 rounds released counts to a multiple of it.
	RoundTo int
	// Noise replaces the mechanism's sampler; nil: the mechanism's own.
	// Tests pass a fake that returns its input and embeds the mechanism's
	// noise.Noise (dpagg aggregations ask it for their components'
	// intervals). Standard deviations and intervals are those of Mechanism.
	Noise noise.Noise
	// Alpha is 1 − the confidence level of released intervals; 0 means
	// DefaultAlpha.
	Alpha float64
	// EstimateBounds reserves BoundsShare of Epsilon (PurposeBounds) for
	// the noisy contribution profile the engine chooses L0 and L∞ from
	// (Release.NoiseProfile); the other shares divide the rest.
	EstimateBounds bool
	// ProfileHistograms is the number of histograms of that profile
	// (plan.Profile.Histograms); the share is divided between them. 0
	// means 2.
	ProfileHistograms int
	// Truncation is the DP estimate of what the chosen bounds cut, for a
	// plan whose bounds came from that profile: released counts and sums
	// get intervals widened by it (nil: nothing estimated).
	Truncation *Truncation
	// Persons is a public upper estimate of the persons in the data (the
	// data map's rounded size), used only for Release.Cost: partition
	// selection keeps only groups of at least MinCellCount persons, each
	// person in at most PersonsL0 of them. 0: the selected groups are
	// estimated at MaxGroups.
	Persons int64
}

// BoundsShare is the part of a query's ε spent on its contribution
// profile when Options.EstimateBounds is set.
const BoundsShare = 0.1

// Truncation is what the bounds of a query cut, as shares estimated from
// its noisy contribution profile: of the person × group pairs (L0) and of
// the rows (L∞, an upper estimate from each person's largest group).
type Truncation struct {
	Pairs, Rows float64
}

// settings are validated Options with defaults filled in.
type settings struct {
	Options
	// mech computes standard deviations and intervals; sampler draws noise.
	mech    noise.Noise
	sampler noise.Noise
}

// validate checks o and fills defaults. Errors here are configuration
// errors of the engine, not refusals: the engine derives Options from a
// validated policy.
func validate(o *Options) (*settings, error) {
	if o == nil {
		return nil, fmt.Errorf("options are nil")
	}
	s := &settings{Options: *o}
	if !(s.Epsilon > 0) || math.IsInf(s.Epsilon, 0) {
		return nil, fmt.Errorf("epsilon %g must be positive and finite", s.Epsilon)
	}
	if !(s.Delta >= 0 && s.Delta < 1) {
		return nil, fmt.Errorf("delta %g must be in [0, 1)", s.Delta)
	}
	switch s.Mechanism {
	case "", Laplace:
		s.Mechanism, s.mech = Laplace, noise.Laplace()
	case Gaussian:
		if s.Delta <= 0 {
			return nil, fmt.Errorf("gaussian noise needs delta > 0")
		}
		s.mech = noise.Gaussian()
	default:
		return nil, fmt.Errorf("unknown noise mechanism %q (want %q or %q)", s.Mechanism, Laplace, Gaussian)
	}
	if s.MinCellCount < 0 || s.RoundTo < 0 {
		return nil, fmt.Errorf("min cell count %d and round_to %d must not be negative", s.MinCellCount, s.RoundTo)
	}
	if s.Alpha == 0 {
		s.Alpha = DefaultAlpha
	}
	if !(s.Alpha > 0 && s.Alpha < 1) {
		return nil, fmt.Errorf("alpha %g must be in (0, 1)", s.Alpha)
	}
	s.sampler = s.Noise
	if s.sampler == nil {
		s.sampler = s.mech
	}
	return s, nil
}
