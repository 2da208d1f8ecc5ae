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
	// Auto picks, for every noisy component of the query apart, the one
	// of Laplace (at its ε share, δ 0) and Gaussian (at its ε and δ
	// shares) whose noise has the smaller standard deviation (see
	// chooseMechanism). With Options.Delta = 0 it is Laplace throughout.
	Auto = "auto"
	// Mixed is what Release.Mechanism and result.Meta.Mechanism say when
	// an Auto query adds Laplace noise to some parts and Gaussian to
	// others; meta.split names each part's mechanism.
	Mixed = "mixed"
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
	// Mechanism is Laplace, Gaussian or Auto; "" means Laplace.
	Mechanism string
	// Mechanisms, when set, pins the mechanism of every component to
	// what an earlier Release of the same query chose
	// (Release.Mechanisms): the engine prepares the release of a plan
	// whose bounds came from the data with the choices of the release it
	// debited, so that the choice, and with it ρ, never depends on the
	// data. Its lengths must match the plan's aggregates.
	Mechanisms *Mechanisms
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

// Mechanisms is the noise mechanism (Laplace or Gaussian) of every
// noisy component of one query.
type Mechanisms struct {
	// Aggs is each aggregate's mechanism, in plan.Aggs order: of its one
	// noise (counts, sums), of both halves of a mean, of the three parts
	// of a variance or standard deviation, of a quantile's count and
	// histogram.
	Aggs []string
	// Trees is each quantile's tree mechanism, in plan.Aggs order ("" for
	// other aggregates); quantiles sharing one tree share its mechanism.
	Trees []string
	// Persons is the mechanism of the persons count that decides
	// suppression, "" when the query has none of its own.
	Persons string
	// Deferred is true for an Auto query whose bounds come from its noisy
	// contribution profile (Options.EstimateBounds): the mechanisms are
	// then chosen only once those bounds are known (pinned, a release
	// chooses again at its own bounds). Until then every component
	// counts as Laplace, whose ρ (ε²/2) is at least the Gaussian's at
	// the same (ε, δ), and keeps its δ share, so that the debit covers
	// either choice and never depends on the data.
	Deferred bool
}

// settings are validated Options with defaults filled in.
type settings struct {
	Options
	// lap and gauss compute standard deviations and intervals; sampLap
	// and sampGauss draw noise (Options.Noise when set).
	lap, gauss         noise.Noise
	sampLap, sampGauss noise.Noise
}

// mech is the noise that computes the intervals of mechanism m.
func (s *settings) mech(m string) noise.Noise {
	if m == Gaussian {
		return s.gauss
	}
	return s.lap
}

// sampler is the noise that draws mechanism m's noise.
func (s *settings) sampler(m string) noise.Noise {
	if m == Gaussian {
		return s.sampGauss
	}
	return s.sampLap
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
		s.Mechanism = Laplace
	case Gaussian:
		if s.Delta <= 0 {
			return nil, fmt.Errorf("gaussian noise needs delta > 0")
		}
	case Auto:
	default:
		return nil, fmt.Errorf("unknown noise mechanism %q (want %q, %q or %q)", s.Mechanism, Laplace, Gaussian, Auto)
	}
	s.lap, s.gauss = noise.Laplace(), noise.Gaussian()
	if s.MinCellCount < 0 || s.RoundTo < 0 {
		return nil, fmt.Errorf("min cell count %d and round_to %d must not be negative", s.MinCellCount, s.RoundTo)
	}
	if s.Alpha == 0 {
		s.Alpha = DefaultAlpha
	}
	if !(s.Alpha > 0 && s.Alpha < 1) {
		return nil, fmt.Errorf("alpha %g must be in (0, 1)", s.Alpha)
	}
	s.sampLap, s.sampGauss = s.lap, s.gauss
	if s.Noise != nil {
		s.sampLap, s.sampGauss = s.Noise, s.Noise
	}
	return s, nil
}
