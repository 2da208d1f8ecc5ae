// Package consist makes a released table consistent, as post-processing
// of its released values (so at no privacy cost): counts become
// non-negative whole numbers (multiples of round_to when the policy rounds)
// and, in a table with margins (ROLLUP, CUBE, totals), every released
// margin equals the sum of its cells.
//
// The method, per count column:
//
//  1. The table is read as its finest cells (the rows of the grouping set
//     of all keys, released or suppressed) and margins, each margin the
//     sum of the finest cells that agree with it on the keys it keeps
//     (see layout for when a table is recognised).
//  2. A weighted least-squares fit of non-negative finest cells to the
//     released cells and margins, weights 1/σ² (σ the cell's StdDev, plus
//     the variance round_to²/12 of the policy's rounding). Suppressed
//     cells are unknowns of the fit but never observations, so a relation
//     that involves a suppressed cell only binds the released cells through
//     what it implies about them; a margin with suppressed cells ends up
//     exceeding its released cells by the fitted sum of its suppressed
//     ones, which is never released. This is the weighted projection of
//     the released values onto the tables that obey the additive
//     relations, kept non-negative by fixing cells that come out negative
//     at 0 and fitting the others again (system.fit). Small tables are
//     fitted densely with gonum, large ones by conjugate gradients.
//  3. The finest cells are rounded (roundCells) and every released value
//     recomputed as the sum of its rounded finest cells, so every additive
//     relation holds exactly and every count is a whole number ≥ 0.
//
// Suppression is never changed: a suppressed cell stays null and no new
// value is released, so what protect's secondary suppression guarantees
// (every relation holds none or at least two suppressed cells, and no
// suppressed cell is determined by the released ones) still holds.
//
// Each interval is moved by the cell's adjustment (its fitted value minus
// its released value), made to contain the new value and widened outward
// to whole numbers (multiples of round_to). The fit is a projection, which
// lowers the noise variance of every cell, so the old width is
// conservative. StdDev is left as the noise's.
//
// Counts are count_star, count and count_persons columns. Distinct-person
// counts are additive only when each person is in one finest group
// (max_groups_per_person = 1); otherwise a margin can count a person who
// is in several of its cells once, and only rounding applies. Sums,
// means, quantiles, variances and standard deviations are left as they
// are. A table without margins, or whose margins are not recognised, only
// has each count rounded on its own.
//
// Whether margins are adjusted depends on the columns, the policy and the
// public domains, never on the data, and so do the notes Apply adds.
// HAVING, ORDER BY and LIMIT (package post) come after this step.
package consist

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/result"
)

// Apply returns res with its count columns made consistent (see the
// package documentation) and a note saying how. It never fails and never
// changes which cells are suppressed: a result it does not understand
// (rows whose cells do not match the columns, a count cell that is not a
// finite number) is returned with those parts as they were. It does not
// modify res, and is safe for concurrent use.
func Apply(res *result.Result) *result.Result {
	if res == nil {
		return nil
	}
	var keys, counts []int
	for i, c := range res.Columns {
		switch {
		case c.Role == result.RoleKey:
			keys = append(keys, i)
		case c.Role == result.RoleMeasure && isCount(c.Aggregate):
			counts = append(counts, i)
		}
	}
	if len(counts) == 0 {
		return res
	}
	for _, row := range res.Rows {
		if len(row.Cells) != len(res.Columns) {
			return res
		}
	}
	out := clone(res)
	lay := readLayout(out, keys)
	unit := float64(max(out.Meta.RoundTo, 1))
	var all, additive, distinct []string
	for _, c := range counts {
		col := out.Columns[c]
		all = append(all, col.Name)
		if lay.hasMargins && lay.why == whyNone {
			if !isAdditive(col.Aggregate, out.Meta) {
				distinct = append(distinct, col.Name)
			} else if makeConsistent(out, lay, c, unit) {
				additive = append(additive, col.Name)
				continue
			}
		}
		roundEach(out, c, unit)
	}
	out.Meta.Notes = append(slices.Clone(res.Meta.Notes), notes(out.Meta, lay, all, additive, distinct)...)
	return out
}

// isCount reports whether an aggregate kind is a count.
func isCount(kind string) bool {
	switch query.AggKind(kind) {
	case query.AggCountStar, query.AggCount, query.AggCountDistinct:
		return true
	}
	return false
}

// isAdditive reports whether a count's margins are sums of its finest
// cells: counts of rows always (a margin sums the capped per-person
// partials of its cells), distinct persons only when a person is in one
// finest group at most.
func isAdditive(kind string, m result.Meta) bool {
	return query.AggKind(kind) != query.AggCountDistinct || m.Bounding.MaxGroupsPerPerson == 1
}

// clone copies res deeply enough for Apply to edit cells.
func clone(res *result.Result) *result.Result {
	out := &result.Result{Columns: slices.Clone(res.Columns), Rows: make([]result.Row, len(res.Rows)), Meta: res.Meta}
	for i, row := range res.Rows {
		out.Rows[i] = result.Row{Margin: row.Margin, Cells: slices.Clone(row.Cells)}
	}
	return out
}

// released returns a count cell's value when it is released and a finite
// number.
func released(c *result.Cell) (float64, bool) {
	if c.Suppressed {
		return 0, false
	}
	v, ok := c.Value.(float64)
	return v, ok && !math.IsNaN(v) && !math.IsInf(v, 0)
}

// variance is the variance of a released count in units of round_to: its
// noise's, plus that of round_to's rounding.
func variance(c *result.Cell, unit float64) float64 {
	v := c.StdDev * c.StdDev
	if unit > 1 {
		v += unit * unit / 12
	}
	return v / (unit * unit)
}

// makeConsistent fits, rounds and writes back column c of res over the
// layout lay; false (and nothing written) when a released cell of c is
// not a finite number.
func makeConsistent(res *result.Result, lay *layout, c int, unit float64) bool {
	// The observations: released finest cells, then released margins.
	s := &system{n: len(lay.base)}
	var rows []int
	var maxVar float64
	add := func(row int, cols []int) bool {
		cell := &res.Rows[row].Cells[c]
		if cell.Suppressed {
			return true
		}
		v, ok := released(cell)
		if !ok {
			return false
		}
		vr := variance(cell, unit)
		if math.IsNaN(vr) || math.IsInf(vr, 0) {
			return false
		}
		maxVar = math.Max(maxVar, vr)
		rows = append(rows, row)
		s.cols = append(s.cols, cols)
		s.y = append(s.y, v/unit)
		s.w = append(s.w, vr)
		return true
	}
	for j, row := range lay.base {
		if !add(row, []int{j}) {
			return false
		}
	}
	for _, m := range lay.margins {
		if !add(m.row, m.cells) {
			return false
		}
	}
	// Weights: 1/variance, a variance of 0 (exact values) counting as a
	// millionth of the largest.
	floor := math.Max(1e-6*maxVar, 1e-12)
	for i, vr := range s.w {
		s.w[i] = 1 / math.Max(vr, floor)
	}
	b := s.fit()
	z := roundCells(b, s.cols)
	for i, row := range rows {
		var fitted, rounded float64
		for _, j := range s.cols[i] {
			fitted += b[j]
			rounded += z[j]
		}
		write(&res.Rows[row].Cells[c], s.y[i]*unit, fitted*unit, rounded*unit, unit)
	}
	return true
}

// roundEach makes every released count of column c a non-negative
// multiple of unit on its own (a table without margins, or margins that
// are not sums of their cells).
func roundEach(res *result.Result, c int, unit float64) {
	for r := range res.Rows {
		cell := &res.Rows[r].Cells[c]
		v, ok := released(cell)
		if !ok {
			continue
		}
		fitted := math.Max(v, 0)
		write(cell, v, fitted, math.Round(fitted/unit)*unit, unit)
	}
}

// write sets a count cell to its new value v, its interval moved by
// fitted − old (the adjustment before rounding), stretched to hold v,
// kept ≥ 0 and widened outward to multiples of unit.
func write(cell *result.Cell, old, fitted, v, unit float64) {
	cell.Value = v
	if cell.CI == nil {
		return
	}
	adj := fitted - old
	if math.Abs(adj) < 1e-6*math.Max(1, math.Abs(old)) {
		adj = 0
	}
	lo, hi := cell.CI[0]+adj, cell.CI[1]+adj
	lo, hi = math.Max(math.Min(lo, v), 0), math.Max(hi, v)
	cell.CI = &[2]float64{outward(lo, unit, math.Floor), outward(hi, unit, math.Ceil)}
}

// outward rounds x to a multiple of unit with f (math.Floor or
// math.Ceil), x within floating-point error of a multiple counting as
// that multiple.
func outward(x, unit float64, f func(float64) float64) float64 {
	q := x / unit
	if r := math.Round(q); math.Abs(q-r) < 1e-9*math.Max(1, math.Abs(q)) {
		return r * unit
	}
	return f(q) * unit
}

// notes say what Apply did. They depend on the columns, the policy's
// rounding and bounds, and the layout, which for the tables whose margins
// are adjusted depends on the public domains only.
func notes(m result.Meta, lay *layout, all, additive, distinct []string) []string {
	multiples := "whole numbers"
	if m.RoundTo > 1 {
		multiples = fmt.Sprintf("multiples of %d", m.RoundTo)
	}
	out := []string{fmt.Sprintf("the counts (%s) were post-processed from their released values alone, at no privacy cost: "+
		"made non-negative %s, each interval moved with its value and widened outward to %s; stddev is still that of the noise",
		strings.Join(all, ", "), multiples, multiples)}
	if len(additive) > 0 {
		weights := "1/stddev²"
		if m.RoundTo > 1 {
			weights = fmt.Sprintf("1/(stddev² + %d²/12), the rounding's variance included", m.RoundTo)
		}
		out = append(out, fmt.Sprintf("margins of %s equal the sums of their cells: a weighted least-squares fit (weights %s) "+
			"of non-negative finest cells to the released cells and margins, suppressed cells being unknowns that are fitted but never released; "+
			"then each finest cell is rounded to its floor or ceiling (largest fractions first, while that brings cells and margins closer to the fit, "+
			"in the spirit of Statistics Norway's SmallCountRounding) and every margin is the sum of its rounded cells, so a margin with "+
			"suppressed cells exceeds its released cells; suppression is unchanged; the fit lowers every cell's noise variance, "+
			"so intervals moved with their old width are conservative",
			strings.Join(additive, ", "), weights))
	}
	if len(distinct) > 0 {
		out = append(out, fmt.Sprintf("margins of %s are not adjusted to their cells: a person can be in several groups "+
			"(max_groups_per_person %d), so a distinct-person margin is not the sum of its cells", strings.Join(distinct, ", "), m.Bounding.MaxGroupsPerPerson))
	}
	if lay.hasMargins {
		switch lay.why {
		case whyPartitionSelection:
			out = append(out, "margins are not adjusted to their cells: they also count the groups that partition selection left out")
		case whyNullKey:
			out = append(out, "margins are not adjusted to their cells: a key's domain lists NULL, which the released rows cannot tell from a rolled-up key")
		case whyNoFinestGroupingSet:
			out = append(out, "margins are not adjusted to their cells: the grouping sets do not include the one of all keys")
		case whyUnrecognisedLayout:
			out = append(out, "margins are not adjusted to their cells: the rows do not form a complete table")
		}
	}
	return out
}
