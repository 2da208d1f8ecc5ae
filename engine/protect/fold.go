package protect

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/statgate/statgate/engine/plan"
)

// Folded is the bounded result a folded statement (plan.Fold) returned at
// each candidate L0 and L∞, copied out of the reader it came from.
// Release frees it.
type Folded struct {
	schema *arrow.Schema
	byLInf map[[2]int64][]arrow.RecordBatch // by (L0, L∞)
}

// Reader returns the bounded result at L0 = l0 and L∞ = m, with the
// columns of the plan's SQL (plan.Plan.Columns), as Release.Apply reads
// it; false when the fold holds no result there. The reader shares f's
// batches: release it before f.
func (f *Folded) Reader(l0, m int) (array.RecordReader, bool) {
	if f == nil || f.byLInf == nil {
		return nil, false
	}
	recs, ok := f.byLInf[[2]int64{int64(l0), int64(m)}]
	if !ok {
		return nil, false
	}
	rr, err := array.NewRecordReader(f.schema, recs)
	if err != nil {
		return nil, false // unreachable: the batches were made with f.schema
	}
	return rr, true
}

// Release frees the copied batches.
func (f *Folded) Release() {
	if f == nil {
		return
	}
	for _, recs := range f.byLInf {
		for _, r := range recs {
			r.Release()
		}
	}
	f.byLInf = nil
}

// ReadFold reads a folded statement's result (plan.Fold: part, l0, cand,
// the profile's columns, the bounded query's columns; ordered by part, l0
// and cand) from rr: the profile's exact histograms, as ReadProfile
// returns them from the profile's own SQL, and the bounded result at
// every candidate L0 and L∞. It fails only when ctx ends, reading fails or
// the result has another shape than the fold's; a row whose part, l0 or
// cand is not a count is skipped (the SQL makes none). The caller owns rr and releases
// the Folded.
func ReadFold(ctx context.Context, rr array.RecordReader, pr *plan.Profile) (map[string][]int64, *Folded, error) {
	fd := pr.Fold
	if fd == nil {
		return nil, nil, fmt.Errorf("protect.ReadFold: the profile has no fold")
	}
	hists := map[string][]int64{}
	for name, n := range pr.Lengths() {
		hists[name] = make([]int64, n)
	}
	first := plan.FoldLead + fd.ProfileColumns // the bounded query's first column
	fields := rr.Schema().Fields()
	if len(pr.Values) != 0 || len(fields) <= first {
		return nil, nil, fmt.Errorf("protect.ReadFold: %d columns and %d value profiles, not a fold's", len(fields), len(pr.Values))
	}
	out := &Folded{schema: arrow.NewSchema(fields[first:], nil), byLInf: map[[2]int64][]arrow.RecordBatch{}}
	fail := func(err error) (map[string][]int64, *Folded, error) {
		out.Release()
		return nil, nil, fmt.Errorf("protect.ReadFold: %w", err)
	}
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		rec := rr.RecordBatch()
		if int(rec.NumCols()) != len(fields) {
			return fail(fmt.Errorf("batch has %d columns, want %d", rec.NumCols(), len(fields)))
		}
		// Runs of rows with the same part, l0 and cand (the SQL orders by
		// them).
		n := int(rec.NumRows())
		lead := func(i int) (v [plan.FoldLead]int64, ok [plan.FoldLead]bool) {
			for c := range plan.FoldLead {
				var err error
				if v[c], ok[c], err = intAt(rec.Column(c), i); err != nil {
					ok[c] = false
				}
			}
			return v, ok
		}
		for i := 0; i < n; {
			v, ok := lead(i)
			j := i + 1
			for ; j < n; j++ {
				if w, okW := lead(j); w != v || okW != ok {
					break
				}
			}
			part, l0, cand := v[0], v[1], v[2]
			switch {
			case !ok[0]:
			case part == 0:
				sub := project(rec, plan.FoldLead, first, i, j)
				err := tallyBatch(sub, pr, hists, fd.ProfileColumns-1)
				sub.Release()
				if err != nil {
					return fail(err)
				}
			case part == 1 && ok[1] && ok[2]:
				sub, err := copyRows(rec, first, i, j)
				if err != nil {
					return fail(err)
				}
				k := [2]int64{l0, cand}
				out.byLInf[k] = append(out.byLInf[k], sub)
			}
			i = j
		}
	}
	if err := rr.Err(); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	for _, l0 := range fd.L0s {
		for _, m := range fd.LInfs {
			if k := [2]int64{int64(l0), int64(m)}; out.byLInf[k] == nil {
				// No group at these bounds (no row passed WHERE): an
				// empty result, as the bounded SQL returns.
				out.byLInf[k] = []arrow.RecordBatch{}
			}
		}
	}
	return hists, out, nil
}

// project is rows [i, j) and columns [from, to) of rec, sharing its
// buffers (valid as long as rec is).
func project(rec arrow.RecordBatch, from, to, i, j int) arrow.RecordBatch {
	cols := make([]arrow.Array, 0, to-from)
	for c := from; c < to; c++ {
		cols = append(cols, array.NewSlice(rec.Column(c), int64(i), int64(j)))
	}
	fields := rec.Schema().Fields()[from:to]
	out := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(j-i))
	for _, c := range cols {
		c.Release()
	}
	return out
}

// copyRows is rows [i, j) and columns [from, …) of rec copied into Go's
// memory, so that they outlive the batch (in the native build a batch's
// buffers are DuckDB's until the reader moves on).
func copyRows(rec arrow.RecordBatch, from, i, j int) (arrow.RecordBatch, error) {
	n := int(rec.NumCols())
	cols := make([]arrow.Array, 0, n-from)
	release := func() {
		for _, c := range cols {
			c.Release()
		}
	}
	for c := from; c < n; c++ {
		sl := array.NewSlice(rec.Column(c), int64(i), int64(j))
		cp, err := array.Concatenate([]arrow.Array{sl}, memory.DefaultAllocator)
		sl.Release()
		if err != nil {
			release()
			return nil, fmt.Errorf("copying column %d: %w", c, err)
		}
		cols = append(cols, cp)
	}
	out := array.NewRecordBatch(arrow.NewSchema(rec.Schema().Fields()[from:], nil), cols, int64(j-i))
	release()
	return out, nil
}
