package consist

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// system is a weighted least-squares problem over n unknowns (the finest
// cells of one measure, in units of round_to): observation i says that
// the sum of the unknowns cols[i] is y[i], with weight w[i] (one over its
// variance). An unknown in no observation (a suppressed finest cell all
// of whose margins are suppressed too) is 0.
type system struct {
	n    int
	cols [][]int
	y, w []float64
}

// denseMax is the largest number of free unknowns fitted with a dense
// Cholesky factorisation of the normal equations (gonum); larger systems
// use conjugate gradients on the same equations. A variable so that tests
// can exercise both.
var denseMax = 600

// The limits of the fit: rounds of fixing negative unknowns at 0, and
// iterations and relative tolerance of conjugate gradients. Neither limit
// can break additivity, which holds by construction (every released value
// is a sum of finest cells); they only bound how close to optimal the fit
// is.
const (
	maxNonNegRounds = 50
	maxCGIterations = 5000
	cgTolerance     = 1e-9
	// ridge is added, relative to the largest diagonal entry, to the normal
	// equations so that unknowns the observations do not tell apart (two
	// suppressed cells in the same margins) get the minimum-norm split
	// instead of a singular system; it moves fitted values by about 1e-10
	// of their scale.
	ridge = 1e-10
)

// fit returns the non-negative weighted least-squares fit of the unknowns:
// it solves the unconstrained problem, fixes the unknowns that came out
// negative at 0 and solves again for the others, until none is negative
// (an active-set heuristic: not the exact non-negative optimum in every
// case, but never negative and never worse than clamping).
func (s *system) fit() []float64 {
	b := make([]float64, s.n)
	free := make([]bool, s.n)
	for _, cols := range s.cols {
		for _, j := range cols {
			free[j] = true
		}
	}
	var x []float64
	for range maxNonNegRounds {
		x = s.solve(free, x)
		negative := false
		for j, ok := range free {
			if !ok {
				continue
			}
			if x[j] < -1e-9 {
				free[j], b[j], negative = false, 0, true
				continue
			}
			b[j] = math.Max(x[j], 0)
		}
		if !negative {
			break
		}
	}
	return b
}

// solve returns the weighted least-squares values of the free unknowns
// (0 for the others); start, when not nil, is where an iterative solver
// starts (the previous round's values).
func (s *system) solve(free []bool, start []float64) []float64 {
	local := make([]int, s.n)
	var global []int
	for j := range s.n {
		local[j] = -1
		if free[j] {
			local[j] = len(global)
			global = append(global, j)
		}
	}
	out := make([]float64, s.n)
	if len(global) == 0 {
		return out
	}
	// The observations over the free unknowns only (fixed ones are 0).
	obs := make([][]int, len(s.cols))
	for i, cols := range s.cols {
		for _, j := range cols {
			if local[j] >= 0 {
				obs[i] = append(obs[i], local[j])
			}
		}
	}
	n := len(global)
	diag := make([]float64, n)
	rhs := make([]float64, n)
	for i, cols := range obs {
		for _, j := range cols {
			diag[j] += s.w[i]
			rhs[j] += s.w[i] * s.y[i]
		}
	}
	lambda := 0.0
	for _, d := range diag {
		lambda = math.Max(lambda, d)
	}
	lambda *= ridge
	var x []float64
	if n <= denseMax {
		x = solveDense(obs, s.w, rhs, lambda)
	}
	if x == nil {
		x0 := make([]float64, n)
		if start != nil {
			for k, j := range global {
				x0[k] = math.Max(start[j], 0)
			}
		}
		x = solveCG(obs, s.w, diag, rhs, lambda, x0)
	}
	for k, j := range global {
		out[j] = x[k]
	}
	return out
}

// solveDense solves (Aᵀ W A + λI) x = rhs by a Cholesky factorisation,
// A being the 0/1 matrix of obs; nil when the matrix is not positive
// definite in floating point.
func solveDense(obs [][]int, w, rhs []float64, lambda float64) []float64 {
	n := len(rhs)
	a := mat.NewSymDense(n, nil)
	for i, cols := range obs {
		for p, j := range cols {
			for _, k := range cols[p:] {
				r, c := min(j, k), max(j, k)
				a.SetSym(r, c, a.At(r, c)+w[i])
			}
		}
	}
	for j := range n {
		a.SetSym(j, j, a.At(j, j)+lambda)
	}
	var chol mat.Cholesky
	if !chol.Factorize(a) {
		return nil
	}
	var x mat.VecDense
	if err := chol.SolveVecTo(&x, mat.NewVecDense(n, rhs)); err != nil {
		return nil
	}
	return x.RawVector().Data
}

// solveCG solves (Aᵀ W A + λI) x = rhs by conjugate gradients with a
// diagonal (Jacobi) preconditioner, never forming the matrix, starting
// from x (which it overwrites and returns).
func solveCG(obs [][]int, w, diag, rhs []float64, lambda float64, x []float64) []float64 {
	n := len(rhs)
	apply := func(v, dst []float64) {
		clear(dst)
		for i, cols := range obs {
			var sum float64
			for _, j := range cols {
				sum += v[j]
			}
			sum *= w[i]
			for _, j := range cols {
				dst[j] += sum
			}
		}
		for j := range dst {
			dst[j] += lambda * v[j]
		}
	}
	r := make([]float64, n)
	apply(x, r)
	for j := range r {
		r[j] = rhs[j] - r[j]
	}
	z := make([]float64, n)
	precond := func() {
		for j := range z {
			z[j] = r[j] / (diag[j] + lambda)
		}
	}
	precond()
	p := append([]float64(nil), z...)
	q := make([]float64, n)
	rz := dot(r, z)
	stop := cgTolerance * math.Sqrt(dot(rhs, rhs))
	for range maxCGIterations {
		if math.Sqrt(dot(r, r)) <= stop {
			break
		}
		apply(p, q)
		pq := dot(p, q)
		if pq <= 0 || math.IsNaN(pq) {
			break
		}
		alpha := rz / pq
		for j := range x {
			x[j] += alpha * p[j]
			r[j] -= alpha * q[j]
		}
		precond()
		next := dot(r, z)
		beta := next / rz
		rz = next
		for j := range p {
			p[j] = z[j] + beta*p[j]
		}
	}
	return x
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
