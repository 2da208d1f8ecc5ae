package main

import (
	"github.com/google/differential-privacy/privacy-on-beam/v3/pbeam"
)

// Noise kinds accepted by --noise.
const (
	noiseLaplace  = "laplace"
	noiseGaussian = "gaussian"
)

// Partition-selection modes accepted by --partitions.
const (
	// partitionsPerAggregate lets each of the three aggregations select
	// its own groups (pbeam's default when no public partitions are given).
	partitionsPerAggregate = "per-aggregate"
	// partitionsShared selects groups once with pbeam.SelectPartitions and
	// passes them as public partitions to the three aggregations, as
	// statgate does (one selection share, then one share per aggregate).
	partitionsShared = "shared"
)

// share is the part of the total (ε, δ) one operation spends: on noise for
// its values (Agg) and on DP partition selection (Sel).
type share struct {
	AggEpsilon, AggDelta float64
	SelEpsilon, SelDelta float64
}

// budget is how the total (ε, δ) is divided across the pipeline.
type budget struct {
	// Persons, Rows and Mean are the shares of DistinctPrivacyID, Count and
	// MeanPerKey.
	Persons, Rows, Mean share
	// Selection is the share of pbeam.SelectPartitions in shared mode
	// (only its Sel fields are used); zero in per-aggregate mode.
	Selection share
}

// splitBudget divides epsilon and delta for the given noise kind and
// partition mode. The options must be valid (see options.validate).
//
// Per-aggregate mode: each aggregation gets ε/3 and δ/3. Count and
// MeanPerKey spend half of their ε on values and half on their own
// partition selection; DistinctPrivacyID selects partitions from its noisy
// count and spends ε only on values. With Laplace noise δ goes to partition
// selection only; with Gaussian noise each aggregation's δ/3 is halved
// between values and selection.
//
// Shared mode follows statgate's split: four equal ε shares (three
// aggregations, one partition selection); δ goes to selection with Laplace
// noise, and in four equal shares with Gaussian noise.
func splitBudget(epsilon, delta float64, noiseKind, partitions string) budget {
	gaussian := noiseKind == noiseGaussian
	if partitions == partitionsShared {
		agg := share{AggEpsilon: epsilon / 4}
		sel := share{SelEpsilon: epsilon / 4, SelDelta: delta}
		if gaussian {
			agg.AggDelta = delta / 4
			sel.SelDelta = delta / 4
		}
		return budget{Persons: agg, Rows: agg, Mean: agg, Selection: sel}
	}
	third := delta / 3
	persons := share{AggEpsilon: epsilon / 3, SelDelta: third}
	selecting := share{AggEpsilon: epsilon / 6, SelEpsilon: epsilon / 6, SelDelta: third}
	if gaussian {
		persons.AggDelta, persons.SelDelta = third/2, third/2
		selecting.AggDelta, selecting.SelDelta = third/2, third/2
	}
	return budget{Persons: persons, Rows: selecting, Mean: selecting}
}

// total is the sum of all shares, in the order the pipeline spends them.
func (b budget) total() share {
	var t share
	for _, s := range []share{b.Selection, b.Persons, b.Rows, b.Mean} {
		t.AggEpsilon += s.AggEpsilon
		t.AggDelta += s.AggDelta
		t.SelEpsilon += s.SelEpsilon
		t.SelDelta += s.SelDelta
	}
	return t
}

// specParams returns the PrivacySpec parameters holding exactly the total
// of the shares, so every aggregation can ask for its share by amount. The
// total always has a selection δ (options.validate requires δ > 0), so the
// pre-threshold is set.
func (b budget) specParams(preThreshold int64) pbeam.PrivacySpecParams {
	return b.total().specParams(preThreshold)
}

// specParams returns the PrivacySpec parameters holding exactly this share,
// for a pipeline that runs only the operation spending it (the staged
// plan). The pre-threshold belongs to partition selection: it is set only
// when the share selects partitions (SelDelta > 0), since pbeam rejects a
// pre-threshold without a selection budget and ignores it with public
// partitions.
func (s share) specParams(preThreshold int64) pbeam.PrivacySpecParams {
	p := pbeam.PrivacySpecParams{
		AggregationEpsilon:        s.AggEpsilon,
		AggregationDelta:          s.AggDelta,
		PartitionSelectionEpsilon: s.SelEpsilon,
		PartitionSelectionDelta:   s.SelDelta,
	}
	if s.SelDelta > 0 {
		p.PreThreshold = preThreshold
	}
	return p
}
