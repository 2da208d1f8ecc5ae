// Package admit lets plans into DuckDB only as far as its memory limit
// allows: a plan whose estimated memory is a sizeable share of the limit
// waits until the plans running leave room for it, so that two 100 M-row
// plans never run at once in one limit (issue 14 and 19: at 100 M rows two
// of them ran the deliveries benchmark's answers past the query timeout).
// Small plans are never held back.
//
// The engine asks before the budget is debited, so a request that waits
// and gives up (its context ends) has spent nothing; the estimate depends
// only on the extracts' table sizes, never on the rows.
package admit

import (
	"context"
	"fmt"

	"golang.org/x/sync/semaphore"
)

// BytesPerRow is the estimated DuckDB memory of a bounded plan per row it
// reads: session 6's cut-off L0 step over 10 M npr rows peaked at 1.25 GB
// resident in memory (its hash aggregates of (person, group) pairs, a
// window's sort and a join), about 125 bytes a row; 100 rounds it down,
// since spilling lets DuckDB work in less. The dense_rank() step that
// replaced it (engine/plan's writeRanked) needs less (a review run at 6 M
// rows: 428 MB peak against 692 MB), so the estimate errs towards
// waiting.
const BytesPerRow = 100

// SmallShare is the part of the memory limit under which a plan is
// admitted at once whatever runs: 1/16 of the limit (at 2.5 GB, plans
// over fewer than about 1.6 M rows).
const SmallShare = 16

// Gate admits plans by their estimated memory against a capacity (the
// DuckDB memory limit). The zero value and a nil *Gate admit everything.
// It is safe for concurrent use.
type Gate struct {
	capacity int64
	sem      *semaphore.Weighted
}

// New returns a gate of the given capacity in bytes; capacity ≤ 0 means
// no limit (every plan admitted at once).
func New(capacity int64) *Gate {
	if capacity <= 0 {
		return &Gate{}
	}
	return &Gate{capacity: capacity, sem: semaphore.NewWeighted(capacity)}
}

// Capacity is the gate's capacity in bytes (0: no limit).
func (g *Gate) Capacity() int64 {
	if g == nil {
		return 0
	}
	return g.capacity
}

// Estimate is the estimated memory of a plan that reads rows rows.
func Estimate(rows int64) int64 {
	if rows <= 0 {
		return 0
	}
	return rows * BytesPerRow
}

// Weight is what a plan of the given estimated memory holds of the gate
// while it runs: 0 for a small plan (under capacity/SmallShare), else its
// estimate, at most the whole capacity (a plan larger than the limit runs
// alone, spilling).
func (g *Gate) Weight(estimate int64) int64 {
	if g == nil || g.sem == nil || estimate < g.capacity/SmallShare {
		return 0
	}
	return min(estimate, g.capacity)
}

// Acquire waits until a plan of the given estimated memory fits beside the
// plans admitted before it (first come, first served) and returns the
// function that gives its share back, which must be called once the plan
// has run. It returns ctx's error, holding nothing, if ctx ends first.
func (g *Gate) Acquire(ctx context.Context, estimate int64) (release func(), err error) {
	w := g.Weight(estimate)
	if w == 0 {
		return func() {}, nil
	}
	if err := g.sem.Acquire(ctx, w); err != nil {
		return nil, fmt.Errorf("admit: waiting for memory for a plan of about %d MB: %w", estimate>>20, err)
	}
	return func() { g.sem.Release(w) }, nil
}
