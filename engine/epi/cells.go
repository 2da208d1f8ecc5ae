package epi

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/statgate/statgate/engine/query"
)

// Stratum is one key of a grid: a column with a public domain, or a key
// this package derives ("age_band", "year"). Its cells are listed from
// Values, never from the data.
type Stratum struct {
	// Name is the key's name in the result.
	Name string
	// Column is the column the key is (qualified with the alias of the
	// table it comes from); nil for a derived key.
	Column *query.ColumnRef
	// Values is the public domain, as text; Integer says the values are
	// whole numbers (released as such).
	Values  []string
	Integer bool
}

// MaxCells caps the cells of one grid (strata × the package's own cells):
// every cell gets noise, so the cost and the size of the answer stay sane.
const MaxCells = 100_000

// cellKey joins the text of a cell's coordinates.
func cellKey(parts []string) string { return strings.Join(parts, "\x1f") }

// grid enumerates the cross product of the given value lists, in order
// (the first list varies slowest).
func grid(lists [][]string) [][]string {
	out := [][]string{{}}
	for _, l := range lists {
		next := make([][]string, 0, len(out)*len(l))
		for _, o := range out {
			for _, v := range l {
				next = append(next, append(append([]string{}, o...), v))
			}
		}
		out = next
	}
	return out
}

// gridSize is the product of the lists' lengths, saturating above MaxCells.
func gridSize(lists [][]string) int {
	n := 1
	for _, l := range lists {
		n *= len(l)
		if n > MaxCells {
			return MaxCells + 1
		}
	}
	return n
}

// readCells reads an executed grid query: nk text key columns, then
// numeric measure columns named in measures. Rows whose keys are not in
// the grid (which the SQL filters out already) are ignored. It returns
// the measures by cell key.
func readCells(ctx context.Context, rr array.RecordReader, nk int, measures []string, inGrid func(string) bool) (map[string][]float64, error) {
	out := map[string][]float64{}
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec := rr.RecordBatch()
		if int(rec.NumCols()) != nk+len(measures) {
			return nil, fmt.Errorf("epi: %d columns, want %d", rec.NumCols(), nk+len(measures))
		}
		for r := 0; r < int(rec.NumRows()); r++ {
			parts := make([]string, nk)
			ok := true
			for k := 0; k < nk; k++ {
				s, valid, err := textAt(rec.Column(k), r)
				if err != nil {
					return nil, err
				}
				if !valid {
					ok = false
					break
				}
				parts[k] = s
			}
			key := cellKey(parts)
			if !ok || !inGrid(key) {
				continue
			}
			vals := out[key]
			if vals == nil {
				vals = make([]float64, len(measures))
				out[key] = vals
			}
			for m := range measures {
				v, err := numberAt(rec.Column(nk+m), r)
				if err != nil {
					return nil, err
				}
				vals[m] += v
			}
		}
	}
	if err := rr.Err(); err != nil {
		return nil, fmt.Errorf("epi: reading results: %w", err)
	}
	return out, nil
}

// textAt is the text of a key cell; valid is false for NULL.
func textAt(a arrow.Array, i int) (string, bool, error) {
	if a.IsNull(i) {
		return "", false, nil
	}
	switch x := a.(type) {
	case *array.String:
		// A copy: Value aliases the batch's buffer, which DuckDB's native
		// Arrow export reuses once the reader moves on or is released,
		// while the key outlives it in the cell map.
		return strings.Clone(x.Value(i)), true, nil
	case *array.Int64:
		return fmt.Sprint(x.Value(i)), true, nil
	}
	return "", false, fmt.Errorf("epi: key column of type %s", a.DataType())
}

// numberAt is a measure cell as a float64 (NULL: 0).
func numberAt(a arrow.Array, i int) (float64, error) {
	if a.IsNull(i) {
		return 0, nil
	}
	switch x := a.(type) {
	case *array.Int64:
		return float64(x.Value(i)), nil
	case *array.Float64:
		return x.Value(i), nil
	}
	return 0, fmt.Errorf("epi: measure column of type %s", a.DataType())
}
