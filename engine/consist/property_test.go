package consist

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/statgate/statgate/engine/protect"
	"github.com/statgate/statgate/engine/result"
)

// grid is a table of len(dims) keys, key k taking dims[k] values, with the
// rows of the grouping sets sets (each a mask of the keys it keeps; the
// first must keep all keys) in order.
type grid struct {
	dims []int
	sets []uint
	// keys[r] are row r's key values (nil where rolled up); fine[r] the
	// finest cells (indexes into the first set's rows) row r sums.
	keys [][]any
	fine [][]int
}

func newGrid(dims []int, sets []uint) *grid {
	g := &grid{dims: dims, sets: sets}
	var tuples [][]int
	var walk func(prefix []int)
	walk = func(prefix []int) {
		if len(prefix) == len(dims) {
			tuples = append(tuples, append([]int(nil), prefix...))
			return
		}
		for v := range dims[len(prefix)] {
			walk(append(prefix, v))
		}
	}
	walk(nil)
	for _, set := range sets {
		seen := map[string]int{}
		for f, tup := range tuples {
			keys := make([]any, len(dims))
			for k, v := range tup {
				if set&(1<<k) != 0 {
					keys[k] = fmt.Sprintf("k%dv%d", k, v)
				}
			}
			id := fmt.Sprint(keys)
			r, ok := seen[id]
			if !ok {
				r = len(g.keys)
				seen[id] = r
				g.keys = append(g.keys, keys)
				g.fine = append(g.fine, nil)
			}
			g.fine[r] = append(g.fine[r], f)
		}
	}
	return g
}

// cubeSets returns every subset of n keys, all keys first.
func cubeSets(n int) []uint {
	var out []uint
	for m := (1 << n) - 1; m >= 0; m-- {
		out = append(out, uint(m))
	}
	return out
}

// result builds the table's result with one count column from cells.
func (g *grid) result(cells []result.Cell) *result.Result {
	names := make([]string, len(g.dims))
	for k := range names {
		names[k] = fmt.Sprintf("k%d", k)
	}
	rows := make([]tableRow, len(g.keys))
	for r := range rows {
		rows[r] = tableRow{keys: g.keys[r], cells: []result.Cell{cells[r]}, margin: r >= g.nFine()}
	}
	return build(names, [][2]string{{"n", "count_star"}}, rows)
}

// nFine is the number of finest cells.
func (g *grid) nFine() int {
	n := 1
	for _, d := range g.dims {
		n *= d
	}
	return n
}

// truth returns each row's true count from the finest cells' counts.
func (g *grid) truth(fine []float64) []float64 {
	out := make([]float64, len(g.keys))
	for r, fs := range g.fine {
		for _, f := range fs {
			out[r] += fine[f]
		}
	}
	return out
}

// projector returns P = H (Hᵀ V H)⁻¹ Hᵀ V, the linear projection of
// observations of the rows onto the additive tables, weighting
// observation i by weight(vars[i]) (V), H being the rows' sums of finest
// cells; and the expected mean squared error over the rows of P applied
// to unbiased observations with variances vars, the trace of P Σ Pᵀ over
// the number of rows.
func (g *grid) projector(vars []float64, weight func(float64) float64) (*mat.Dense, float64) {
	m, n := len(g.keys), g.nFine()
	h := mat.NewDense(m, n, nil)
	for r, fs := range g.fine {
		for _, f := range fs {
			h.Set(r, f, 1)
		}
	}
	v := mat.NewDiagDense(m, nil)
	for i, x := range vars {
		v.SetDiag(i, weight(x))
	}
	var hv, hvh, inv, hinv, p, ps, psp mat.Dense
	hv.Mul(h.T(), v)
	hvh.Mul(&hv, h)
	if err := inv.Inverse(&hvh); err != nil {
		panic(err)
	}
	hinv.Mul(h, &inv)
	p.Mul(&hinv, &hv)
	ps.Mul(&p, mat.NewDiagDense(m, vars))
	psp.Mul(&ps, p.T())
	return &p, mat.Trace(&psp) / float64(m)
}

// meanSE returns the mean of xs and its standard error.
func meanSE(xs []float64) (float64, float64) {
	var mean, sq float64
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		sq += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sq / float64(len(xs)-1) / float64(len(xs)))
}

// TestApplyReducesError is the property test: over many random noisy
// tables (two-way CUBEs and a three-way ROLLUP, noise of sd 2 or 20 drawn
// per cell), every additive relation holds exactly after Apply, counts
// are non-negative whole numbers, and the mean squared error against the
// true table is far below the raw noisy values'. It is that of the
// optimal projection (weights 1/σ², the best linear unbiased estimate),
// computed here with gonum on the same noisy values, within a small
// allowance for the rounding to whole numbers; the unweighted and the
// 1/σ-weighted projections of the same values are worse than that
// allowance by many standard errors, so a wrong weighting fails the test.
// The optimal projection's error also matches its expectation, the trace
// of P Σ Pᵀ.
func TestApplyReducesError(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 6))
	const tables = 1500
	// Rounding to whole numbers adds about 1/12 per cell; allow 0.25.
	const roundingAllowance = 0.25
	shapes := []*grid{
		newGrid([]int{2, 3}, cubeSets(2)),
		newGrid([]int{4, 5}, cubeSets(2)),
		newGrid([]int{2, 2, 3}, []uint{7, 3, 1, 0}),
	}
	weights := []func(float64) float64{
		func(v float64) float64 { return 1 / v },
		func(float64) float64 { return 1 },
		func(v float64) float64 { return 1 / math.Sqrt(v) },
	}
	var got, raw, theory []float64
	emp := make([][]float64, len(weights)) // MSE of each projection
	gap := make([][]float64, len(weights)) // its MSE minus Apply's
	for n := range tables {
		g := shapes[n%len(shapes)]
		c := len(g.dims)
		fine := make([]float64, g.nFine())
		for f := range fine {
			fine[f] = float64(100 + rng.IntN(400))
		}
		truth := g.truth(fine)
		cells := make([]result.Cell, len(truth))
		vars := make([]float64, len(truth))
		y := make([]float64, len(truth))
		for r, x := range truth {
			sd := 2.0
			if rng.IntN(2) == 0 {
				sd = 20
			}
			vars[r], y[r] = sd*sd, x+sd*rng.NormFloat64()
			cells[r] = rel(y[r], sd)
		}
		res := g.result(cells)
		out := Apply(res)
		checkTable(t, out, c, c, 1)
		mse := func(value func(r int) float64) float64 {
			var s float64
			for r, x := range truth {
				d := value(r) - x
				s += d * d
			}
			return s / float64(len(truth))
		}
		a := mse(func(r int) float64 { return out.Rows[r].Cells[c].Value.(float64) })
		got = append(got, a)
		raw = append(raw, mse(func(r int) float64 { return y[r] }))
		for w, weight := range weights {
			p, expected := g.projector(vars, weight)
			var py mat.VecDense
			py.MulVec(p, mat.NewVecDense(len(y), y))
			e := mse(func(r int) float64 { return py.AtVec(r) })
			emp[w] = append(emp[w], e)
			gap[w] = append(gap[w], e-a)
			if w == 0 {
				theory = append(theory, expected)
			}
		}
	}
	gotMSE, _ := meanSE(got)
	rawMSE, _ := meanSE(raw)
	optMSE, optSE := meanSE(emp[0])
	theoMSE, _ := meanSE(theory)
	t.Logf("MSE after Apply %.2f, raw %.2f; optimal projection %.2f ± %.2f (expected %.2f)", gotMSE, rawMSE, optMSE, optSE, theoMSE)
	if gotMSE >= rawMSE/2 {
		t.Errorf("MSE after Apply %.3f not far below the raw noisy values' %.3f", gotMSE, rawMSE)
	}
	if math.Abs(optMSE-theoMSE) > 4.5*optSE {
		t.Errorf("the optimal projection's MSE %.3f is not its expectation %.3f (± %.3f)", optMSE, theoMSE, 4.5*optSE)
	}
	for w, name := range []string{"optimal", "unweighted", "1/σ-weighted"} {
		m, se := meanSE(gap[w])
		t.Logf("%s projection's MSE minus Apply's: %.3f ± %.3f", name, m, se)
		if w == 0 {
			if m < -roundingAllowance-4.5*se || m > 4.5*se {
				t.Errorf("Apply's MSE exceeds the optimal projection's by %.3f, outside [0, %.2f] ± %.3f", -m, roundingAllowance, 4.5*se)
			}
			continue
		}
		if m-4.5*se < roundingAllowance {
			t.Errorf("the %s projection is not clearly worse than Apply (by %.3f ± %.3f): the test could not catch that weighting", name, m, 4.5*se)
		}
	}
}

// TestApplyInvariants checks, over random tables with small counts,
// noise clamped at 0 as protect clamps it, suppressed blocks (as
// secondary suppression leaves them: never one suppressed cell in a
// relation), round_to 1 or 5 and both solvers, that every relation
// without a suppressed cell holds exactly, every margin with one is at
// least its released cells, counts are non-negative multiples of
// round_to inside their intervals, and suppression is unchanged.
func TestApplyInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	shapes := []*grid{
		newGrid([]int{3, 4}, cubeSets(2)),
		newGrid([]int{2, 3, 3}, cubeSets(3)),
		newGrid([]int{3, 3, 2}, []uint{7, 3, 1, 0}),
	}
	for n := range 300 {
		g := shapes[n%len(shapes)]
		unit := []float64{1, 5}[n%2]
		fine := make([]float64, g.nFine())
		for f := range fine {
			fine[f] = float64(rng.IntN(12))
		}
		// Suppress a block of two values of key 0 by two of key 1 in every
		// combination of the other keys, and every margin holding only
		// suppressed cells.
		k0, k1 := rng.Perm(g.dims[0])[:2], rng.Perm(g.dims[1])[:2]
		suppressed := func(r int) bool {
			if n%3 == 0 {
				return false
			}
			for _, f := range g.fine[r] {
				// f's key 0 and key 1 values, from the row of f.
				keys := g.keys[f]
				if !(in(keys[0], 0, k0) && in(keys[1], 1, k1)) {
					return false
				}
			}
			return true
		}
		truth := g.truth(fine)
		cells := make([]result.Cell, len(truth))
		for r, x := range truth {
			if suppressed(r) {
				cells[r] = sup(protect.ReasonMinCellCount)
				continue
			}
			sd := 1 + 3*rng.Float64()
			v := math.Max(x+sd*rng.NormFloat64(), 0)
			lo, hi := math.Max(v-z95*sd, 0), v+z95*sd
			if unit > 1 {
				v, lo, hi = math.Round(v/unit)*unit, math.Floor(lo/unit)*unit, math.Ceil(hi/unit)*unit
			}
			cells[r] = result.Cell{Value: v, StdDev: sd, CI: &[2]float64{lo, hi}}
		}
		res := g.result(cells)
		res.Meta.RoundTo = int(unit)
		if unit == 1 {
			res.Meta.RoundTo = 0
		}
		// Every fourth table is fitted by conjugate gradients.
		denseMax = map[bool]int{true: 0, false: 600}[n%4 == 3]
		out := Apply(res)
		denseMax = 600
		checkTable(t, out, len(g.dims), len(g.dims), unit)
		for r := range res.Rows {
			if res.Rows[r].Cells[len(g.dims)].Suppressed != out.Rows[r].Cells[len(g.dims)].Suppressed {
				t.Fatalf("table %d row %d: suppression changed", n, r)
			}
		}
		if t.Failed() {
			t.Fatalf("table %d (round_to %g) failed", n, unit)
		}
	}
}

// in reports whether key value v (of key k, "k<k>v<j>") has j in js.
func in(v any, k int, js []int) bool {
	for _, j := range js {
		if v == fmt.Sprintf("k%dv%d", k, j) {
			return true
		}
	}
	return false
}

// TestFitDenseMatchesCG checks that the two solvers of the fit agree, on
// random systems with suppressed (unobserved) finest cells and
// heterogeneous weights.
func TestFitDenseMatchesCG(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	defer func(d int) { denseMax = d }(denseMax)
	for range 50 {
		g := newGrid([]int{2 + rng.IntN(5), 2 + rng.IntN(5)}, cubeSets(2))
		s := &system{n: g.nFine()}
		for r, fs := range g.fine {
			if r < g.nFine() && rng.IntN(5) == 0 {
				continue // suppressed finest cell
			}
			sd := 0.5 + 10*rng.Float64()
			s.cols = append(s.cols, fs)
			s.y = append(s.y, float64(len(fs))*(5+20*rng.Float64()))
			s.w = append(s.w, 1/(sd*sd))
		}
		// Compare the fitted observations: two suppressed cells in the same
		// margins can be split differently by the two solvers.
		free := make([]bool, s.n)
		for j := range free {
			free[j] = true
		}
		denseMax = 600
		dense := s.solve(free, nil)
		denseMax = 0
		cg := s.solve(free, nil)
		for i, cols := range s.cols {
			var d, c float64
			for _, j := range cols {
				d += dense[j]
				c += cg[j]
			}
			if math.Abs(d-c) > 1e-6*math.Max(1, math.Abs(d)) {
				t.Fatalf("observation %d: dense fit %g, conjugate gradients %g", i, d, c)
			}
		}
	}
}
