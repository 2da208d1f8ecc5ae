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
// by name (plan.Profile.Lengths): h[b-1] is the persons in bucket b.
// Unknown rows or buckets out of range (the SQL makes none) are skipped,
// so no data value can make it fail; it fails only when ctx ends or
// reading fails. The histograms are exact: they leave this package only
// through Release.NoiseProfile. The caller owns (and releases) rr.
func ReadProfile(ctx context.Context, rr array.RecordReader, pr *plan.Profile) (map[string][]int64, error) {
	hists := map[string][]int64{}
	for name, n := range pr.Lengths() {
		hists[name] = make([]int64, n)
	}
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec := rr.RecordBatch()
		if rec.NumCols() != 3 {
			return nil, fmt.Errorf("protect.ReadProfile: %d columns, want 3", rec.NumCols())
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			what, err := keyAt(rec.Column(0), i, query.TypeString)
			name, isName := what.(string)
			if err != nil || !isName {
				continue
			}
			b, ok, err1 := intAt(rec.Column(1), i)
			n, ok2, err2 := intAt(rec.Column(2), i)
			if err1 != nil || err2 != nil || !ok || !ok2 {
				continue
			}
			if h := hists[name]; b >= 1 && b <= int64(len(h)) {
				h[b-1] += n
			}
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
