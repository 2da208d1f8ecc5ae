package utility

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/statgate/statgate/engine/result"
)

// Class groups measure cells by the kind of number they hold.
type Class string

// The classes of measure cells, from the result column's aggregate kind.
const (
	ClassCount    Class = "count"    // count(*), count(col), count(DISTINCT person)
	ClassSum      Class = "sum"      // sum(col)
	ClassMean     Class = "mean"     // avg(col)
	ClassQuantile Class = "quantile" // median, quantile_cont
	ClassSpread   Class = "spread"   // stddev, variance
	ClassRatio    Class = "ratio"    // an expression of aggregates: sum(x) / count(DISTINCT pid), count(*) / 12.0
)

// ClassOf returns the class of a result column's Aggregate ("count_star",
// "count", "count_persons", "sum", "avg", "quantile", "stddev",
// "variance", "expression"); ok is false for an unknown aggregate.
func ClassOf(aggregate string) (c Class, ok bool) {
	switch aggregate {
	case "count_star", "count", "count_persons":
		return ClassCount, true
	case "sum":
		return ClassSum, true
	case "avg":
		return ClassMean, true
	case "quantile":
		return ClassQuantile, true
	case "stddev", "variance":
		return ClassSpread, true
	case "expression":
		return ClassRatio, true
	}
	return "", false
}

// Status is what happened to one (group, measure) cell.
type Status string

// The cell statuses.
const (
	// Released: the cell has a value (and normally an interval).
	Released Status = "released"
	// Suppressed: the group is in the result but the cell is withheld
	// (min_cell_count or secondary suppression).
	Suppressed Status = "suppressed"
	// NotReleased: the group is in the exact answer and not in the result
	// at all (partition selection left it out, or its key is outside the
	// public domain).
	NotReleased Status = "not_released"
)

// Cell is one measure of one group, released or not, with its exact value.
type Cell struct {
	// Key is the group's key values, printed (NULL, for a margin's
	// rolled-up keys too, as ∅) and joined with " | ".
	Key string
	// Margin is true for a total row.
	Margin bool
	// Measure is the column name; Col its index among the measures.
	Measure string
	Col     int
	Class   Class
	Status  Status
	// Value, StdDev (of the noise), CI and HasCI are the released number
	// (Status Released).
	Value  float64
	StdDev float64
	CI     [2]float64
	HasCI  bool
	// Truth is the exact, unbounded answer. HasTruth is false only for a
	// mean, quantile or spread of a group with no data (the exact answer
	// has no row, or NULL): there is nothing to compare with. A count or
	// sum of such a group has Truth 0.
	Truth    float64
	HasTruth bool
	// MinCellCount is the result's min_cell_count.
	MinCellCount int
}

// RelErr is (Value − Truth) / |Truth|: NaN when the cell has no value, no
// truth or a zero truth.
func (c *Cell) RelErr() float64 {
	if c.Status != Released || !c.HasTruth || c.Truth == 0 {
		return math.NaN()
	}
	return (c.Value - c.Truth) / math.Abs(c.Truth)
}

// Covered reports whether the released interval contains the truth; ok is
// false when that cannot be asked (not released, no interval, no truth).
func (c *Cell) Covered() (covered, ok bool) {
	if c.Status != Released || !c.HasCI || !c.HasTruth {
		return false, false
	}
	return c.CI[0] <= c.Truth && c.Truth <= c.CI[1], true
}

// nullKey prints a NULL key value (and a margin's rolled-up key).
const nullKey = "∅"

// Match pairs the released table res with the exact answer ex by key
// values: every measure cell of every released row, and every exact group
// that res does not list, becomes one Cell. Columns are matched by name
// (case-insensitively); ex must have every key and measure column of res.
// A released group the exact answer does not have (a public-domain group
// with no data) has truth 0 for counts and sums and no truth otherwise.
func Match(res *result.Result, ex *Table) ([]Cell, error) {
	exIdx := map[string]int{}
	for i, c := range ex.Columns {
		exIdx[strings.ToLower(c)] = i
	}
	var keyCols, exKeyCols, measCols, exMeasCols []int
	var classes []Class
	for i, c := range res.Columns {
		j, ok := exIdx[strings.ToLower(c.Name)]
		if !ok {
			return nil, fmt.Errorf("utility.Match: the exact answer has no column %q (it has %v)", c.Name, ex.Columns)
		}
		switch c.Role {
		case result.RoleKey:
			keyCols, exKeyCols = append(keyCols, i), append(exKeyCols, j)
		case result.RoleMeasure:
			cl, ok := ClassOf(c.Aggregate)
			if !ok {
				return nil, fmt.Errorf("utility.Match: column %q has an unknown aggregate %q", c.Name, c.Aggregate)
			}
			measCols, exMeasCols, classes = append(measCols, i), append(exMeasCols, j), append(classes, cl)
		}
	}
	truth := map[string][]any{}
	for _, row := range ex.Rows {
		k := keyOf(row, exKeyCols)
		if _, dup := truth[k]; dup {
			return nil, fmt.Errorf("utility.Match: the exact answer has two rows for key %s", k)
		}
		truth[k] = row
	}
	seen := map[string]bool{}
	var cells []Cell
	for _, row := range res.Rows {
		if len(row.Cells) != len(res.Columns) {
			return nil, fmt.Errorf("utility.Match: a released row has %d cells for %d columns", len(row.Cells), len(res.Columns))
		}
		vals := make([]any, len(row.Cells))
		for i, c := range row.Cells {
			vals[i] = c.Value
		}
		k := keyOf(vals, keyCols)
		if seen[k] {
			return nil, fmt.Errorf("utility.Match: the result has two rows for key %s", k)
		}
		seen[k] = true
		exRow := truth[k]
		for m, ci := range measCols {
			rc := row.Cells[ci]
			c := Cell{Key: k, Margin: row.Margin, Measure: res.Columns[ci].Name, Col: m, Class: classes[m],
				MinCellCount: res.Meta.MinCellCount}
			if err := c.setTruth(exRow, exMeasCols[m]); err != nil {
				return nil, err
			}
			switch {
			case rc.Suppressed:
				c.Status = Suppressed
			case rc.Value == nil:
				// A NULL measure that is not suppressed: nothing released.
				c.Status = Suppressed
			default:
				v, ok := result.Number(rc.Value)
				if !ok {
					return nil, fmt.Errorf("utility.Match: column %q key %s: released value %v is not a number", c.Measure, k, rc.Value)
				}
				c.Status, c.Value, c.StdDev = Released, v, rc.StdDev
				if rc.CI != nil {
					c.CI, c.HasCI = *rc.CI, true
				}
			}
			cells = append(cells, c)
		}
	}
	for _, row := range ex.Rows {
		k := keyOf(row, exKeyCols)
		if seen[k] {
			continue
		}
		margin := strings.Contains(k, nullKey) && len(exKeyCols) > 0
		for m := range measCols {
			c := Cell{Key: k, Margin: margin, Measure: res.Columns[measCols[m]].Name, Col: m, Class: classes[m],
				Status: NotReleased, MinCellCount: res.Meta.MinCellCount}
			if err := c.setTruth(row, exMeasCols[m]); err != nil {
				return nil, err
			}
			cells = append(cells, c)
		}
	}
	return cells, nil
}

// setTruth reads the exact value of column col of row (nil: the group
// has no data).
func (c *Cell) setTruth(row []any, col int) error {
	var v any
	if row != nil {
		v = row[col]
	}
	if v == nil {
		if c.Class == ClassCount || c.Class == ClassSum {
			c.Truth, c.HasTruth = 0, true
		}
		return nil
	}
	f, ok := number(v)
	if !ok {
		return fmt.Errorf("utility.Match: exact value %v (%T) of %q is not a number", v, v, c.Measure)
	}
	c.Truth, c.HasTruth = f, true
	return nil
}

// keyOf prints the key values of row at cols.
func keyOf(row []any, cols []int) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = keyString(row[c])
	}
	return strings.Join(parts, " | ")
}

// keyString prints one key value so that the engine's and DuckDB's forms
// of the same value agree: integers and integral floats as integers,
// dates as YYYY-MM-DD, NULL as ∅.
func keyString(v any) string {
	if v == nil {
		return nullKey
	}
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.Format("2006-01-02")
		}
		return x.UTC().Format(time.RFC3339Nano)
	}
	if f, ok := number(v); ok {
		if f == math.Trunc(f) && math.Abs(f) < 1e15 {
			return strconv.FormatInt(int64(f), 10)
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// number converts the numeric types database/sql and the engine return.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x)
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, true
	case interface{ Float64() float64 }: // duckdb.Decimal
		return x.Float64(), true
	}
	return 0, false
}
