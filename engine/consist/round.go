package consist

import (
	"cmp"
	"math"
	"slices"
)

// maxRoundingPasses bounds the passes of roundCells over the cells. Every
// flip lowers the objective, so the search ends by itself; the bound only
// caps its time on huge tables (the result is additive after any pass).
const maxRoundingPasses = 100

// snap is how close to a whole number a fitted value counts as whole (the
// fit of an already consistent table of whole numbers gives them back
// within floating-point error).
const snap = 1e-7

// roundCells rounds the fitted finest cells b (non-negative, in units of
// round_to) to whole numbers, each to its floor or its ceiling, so that
// the released values, each the sum of the cells obs[i], stay close to
// their fitted values. This is a controlled rounding in the spirit of
// Statistics Norway's SmallCountRounding: only the finest cells are
// rounded and every margin is then the sum of its rounded cells, so
// every additive relation holds exactly, whatever the rounding. It starts
// from the floors and flips one cell at a time between its floor and its
// ceiling while the flip lowers Σᵢ (zᵢ − x̂ᵢ)² over the released cells and
// margins i (zᵢ the rounded sum, x̂ᵢ the fitted one), visiting cells by
// decreasing fraction, until a pass flips nothing. Under one margin this
// is the largest-remainder method; with several margins it is a local
// search whose flips trade the cells' rounding against the margins'.
// Released finest cells stay within one unit of their fit; margins
// usually do too, but a table with many crossed margins cannot always
// have all of them within one unit, and then some end a little further.
func roundCells(b []float64, obs [][]int) []float64 {
	z := make([]float64, len(b))
	frac := make([]float64, len(b))
	var cand []int
	for j, v := range b {
		if r := math.Round(v); math.Abs(v-r) < snap {
			z[j] = r
			continue
		}
		z[j] = math.Floor(v)
		frac[j] = v - z[j]
		cand = append(cand, j)
	}
	if len(cand) == 0 {
		return z
	}
	// resid[i] is x̂ᵢ − zᵢ; rows[j] the observations that hold cell j.
	resid := make([]float64, len(obs))
	rows := make([][]int, len(b))
	for i, cols := range obs {
		for _, j := range cols {
			resid[i] += b[j] - z[j]
			rows[j] = append(rows[j], i)
		}
	}
	slices.SortStableFunc(cand, func(a, c int) int { return cmp.Compare(frac[c], frac[a]) })
	up := make([]bool, len(b))
	for range maxRoundingPasses {
		flipped := false
		for _, j := range cand {
			d := 1.0
			if up[j] {
				d = -1
			}
			// Change of Σ (resid − d)² − resid² over the observations of j.
			var change float64
			for _, i := range rows[j] {
				change += 1 - 2*d*resid[i]
			}
			if change >= -1e-12 {
				continue
			}
			z[j] += d
			up[j] = !up[j]
			for _, i := range rows[j] {
				resid[i] -= d
			}
			flipped = true
		}
		if !flipped {
			break
		}
	}
	return z
}
