package protect

import (
	"context"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
)

// ReadProfile reads the exact histograms of a plan.Profile's SQL from rr,
// by name (plan.Profile.Lengths): h[b-1] is the persons in bucket b
// (plan.Profile.Tally). Rows that are not counts, or buckets out of range
// (the SQL makes none), are skipped, so no data value can make it fail;
// it fails only when ctx ends, reading fails or the result has another
// number of columns. The histograms are exact: they leave this package
// only through Release.NoiseProfile. The caller owns (and releases) rr.
func ReadProfile(ctx context.Context, rr array.RecordReader, pr *plan.Profile) (map[string][]int64, error) {
	hists := map[string][]int64{}
	for name, n := range pr.Lengths() {
		hists[name] = make([]int64, n)
	}
	nv := 2 + 2*len(pr.Values) // g, m, lo and hi of each value profile; then persons
	vals, valid := make([]int64, nv), make([]bool, nv)
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec := rr.RecordBatch()
		if int(rec.NumCols()) != nv+1 {
			return nil, fmt.Errorf("protect.ReadProfile: %d columns, want %d", rec.NumCols(), nv+1)
		}
	rows:
		for i := 0; i < int(rec.NumRows()); i++ {
			n, ok, err := intAt(rec.Column(nv), i)
			if err != nil || !ok {
				continue
			}
			for c := range nv {
				var err error
				if vals[c], valid[c], err = intAt(rec.Column(c), i); err != nil {
					continue rows
				}
			}
			pr.Tally(hists, vals, valid, n)
		}
	}
	if err := rr.Err(); err != nil {
		return nil, fmt.Errorf("protect.ReadProfile: %w", err)
	}
	return hists, ctx.Err()
}

// TypicalSD is the noise standard deviation of the query's first measure
// (or its persons count) under bounds (l0, lInf): what bounds.Choose
// weighs truncation against.
//
// With k grouping sets it is the noise plan.Bound calibrates to them: a
// measure's (k, l0·lInf), a distinct-person count's (k·l0, 1).
func (r *Release) TypicalSD(l0, lInf int) float64 {
	sh, persons := r.l.persons, true
	if len(r.l.aggs) > 0 {
		sh, persons = r.l.aggs[0], r.plan.Aggs[0].Kind == query.AggCountDistinct
	}
	if sh.eps <= 0 {
		return 0
	}
	if k := int64(len(r.l.sets)); k > 1 {
		if persons {
			return stdDev(sh.mech, k*int64(l0), 1, sh.eps, sh.delta)
		}
		return stdDev(sh.mech, k, float64(l0*lInf), sh.eps, sh.delta)
	}
	return stdDev(sh.mech, int64(l0), float64(lInf), sh.eps, sh.delta)
}

// ValueSD is the noise of the query's first mean, quantile or spread when
// each person adds at most m values to each of l0 groups, in rows: of the
// normalised sum over the range (a mean: its noise in range units times
// the group's rows; a spread alike, with a third of its share), or of
// the rank a quantile's tree walks to. It is what bounds.ChooseValues
// weighs against the rows a smaller m leaves out; 0 when the query has
// none.
func (r *Release) ValueSD(l0, m int) float64 {
	for i, a := range r.plan.Aggs {
		sh := r.l.aggs[i]
		if sh.eps <= 0 {
			continue
		}
		switch a.Kind {
		case query.AggAvg:
			return stdDev(sh.mech, int64(l0), float64(m)/2, sh.eps/2, sh.delta/2)
		case query.AggStddev, query.AggVariance:
			return stdDev(sh.mech, int64(l0), float64(m)/2, sh.eps/3, sh.delta/3)
		case query.AggQuantile:
			tree := r.l.trees[i]
			sigma := stdDev(tree.mech, treeHeight*int64(l0), float64(m), tree.eps, tree.delta)
			return sigma * math.Sqrt(treeHeight*branchingFactor) / 2
		}
	}
	return 0
}
