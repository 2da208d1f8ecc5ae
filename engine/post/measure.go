package post

import (
	"math"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/result"
)

// MeasureAggregate is the Aggregate of a released column that a measure
// expression computes (query.OutputColumn.Measure).
const MeasureAggregate = "expression"

// ReasonDenominator is the Reason of a measure expression's cell that is
// withheld because its 95% interval is unbounded: a denominator's
// interval holds 0 (or its released value is 0).
const ReasonDenominator = "denominator_may_be_zero"

// ReasonOutOfRange is the Reason of a measure expression's cell that is
// withheld because its value, interval or standard deviation is not a
// finite number (a product of huge constants): JSON and the audit log
// carry finite numbers only, and DuckDB's own ±Inf or NaN says nothing.
const ReasonOutOfRange = "out_of_range"

// operand is one value of a measure expression: the value, an interval
// that holds it, and its derivatives with respect to the aggregates'
// released values (for the standard deviation).
type operand struct {
	v, lo, hi float64
	grad      map[int]float64
	// divisorMayBeZero: the value divides somewhere by a released 0, or
	// by an operand whose interval holds 0.
	divisorMayBeZero bool
}

// measureCell computes a measure expression from one row's released
// aggregate cells (aggCols maps an aggregate to its result column).
//
//   - A suppressed input suppresses the cell (with the input's reason); a
//     NULL input makes it NULL; a division by a released 0 withholds it
//     (ReasonDenominator), as does a value, interval or stddev that is not
//     finite (ReasonOutOfRange).
//   - The value is the expression of the released values.
//   - The interval is the expression's range over the inputs' intervals
//     (interval arithmetic), each widened about its value from 95% to
//     1 − 5%/k for k aggregates read (widening): when every input's true
//     value lies in its widened interval, which for counts and sums
//     happens with probability at least 95% (the union bound), the
//     expression's true value lies in the result. An interval without bound (a denominator that may be 0)
//     withholds the cell (ReasonDenominator).
//   - The standard deviation is the first-order propagation of the
//     inputs' noise (independent across aggregates).
//
// Everything it reads is released, so it costs no privacy.
func measureCell(e query.Expr, row result.Row, aggCols []int) result.Cell {
	aggs := query.MeasureAggs(e)
	f := widening(len(aggs))
	in := make(map[int]operand, len(aggs))
	sd := make(map[int]float64, len(aggs))
	intervals := true
	for _, a := range aggs {
		c := row.Cells[aggCols[a]]
		if c.Suppressed {
			return result.Cell{Suppressed: true, Reason: c.Reason}
		}
		v, ok := result.Number(c.Value)
		if !ok {
			return result.Cell{}
		}
		op := operand{v: v, lo: v, hi: v, grad: map[int]float64{a: 1}}
		if c.CI != nil {
			op.lo, op.hi = v-(v-c.CI[0])*f, v+(c.CI[1]-v)*f
		} else {
			intervals = false
		}
		in[a], sd[a] = op, c.StdDev
	}
	r, ok := evalMeasure(e, in)
	if !ok {
		return result.Cell{}
	}
	if r.divisorMayBeZero && (intervals || math.IsNaN(r.v)) {
		return result.Cell{Suppressed: true, Reason: ReasonDenominator}
	}
	var stddev float64 // √Σ (∂·sd)², without overflowing the squares
	for a, g := range r.grad {
		stddev = math.Hypot(stddev, g*sd[a])
	}
	out := result.Cell{Value: r.v, StdDev: stddev}
	if !finite(r.v) || !finite(out.StdDev) || intervals && (!finite(r.lo) || !finite(r.hi)) {
		return result.Cell{Suppressed: true, Reason: ReasonOutOfRange}
	}
	if intervals {
		out.CI = &[2]float64{r.lo, r.hi}
	}
	return out
}

func finite(x float64) bool { return !math.IsInf(x, 0) && !math.IsNaN(x) }

// widening is the factor that takes a 95% interval of Gaussian or of
// Laplace noise, whichever needs more, to one of level 1 − 5%/k: the
// Gaussian's z(1 − 2.5%/k) / z(97.5%), the Laplace's ln(20k) / ln(20)
// (1.14 and 1.23 for k = 2). A mean's or quantile's interval, which is of
// neither shape, is scaled the same way, which is a rule of thumb there.
func widening(k int) float64 {
	if k <= 1 {
		return 1
	}
	z := func(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }
	gauss := z(1-0.025/float64(k)) / z(0.975)
	laplace := math.Log(20*float64(k)) / math.Log(20)
	return max(gauss, laplace)
}

// evalMeasure evaluates a measure expression over its operands; ok is
// false for a division by exactly 0 (SQL's NULL). A division whose
// divisor's interval holds 0 yields an infinite interval.
func evalMeasure(e query.Expr, in map[int]operand) (operand, bool) {
	switch x := e.(type) {
	case *query.AggRef:
		op, ok := in[x.Agg]
		return op, ok
	case *query.Literal:
		v, ok := result.Number(x.Value)
		return operand{v: v, lo: v, hi: v}, ok
	case *query.Arith:
		a, ok := evalMeasure(x.L, in)
		if !ok {
			return operand{}, false
		}
		b, ok := evalMeasure(x.R, in)
		if !ok {
			return operand{}, false
		}
		r, ok := arithOperands(x.Op, a, b)
		r.divisorMayBeZero = r.divisorMayBeZero || a.divisorMayBeZero || b.divisorMayBeZero
		return r, ok
	}
	return operand{}, false
}

// arithOperands applies op to two operands: value, interval and
// derivatives.
func arithOperands(op string, a, b operand) (operand, bool) {
	var r operand
	switch op {
	case "+":
		r = operand{v: a.v + b.v, lo: a.lo + b.lo, hi: a.hi + b.hi, grad: combine(a.grad, 1, b.grad, 1)}
	case "-":
		r = operand{v: a.v - b.v, lo: a.lo - b.hi, hi: a.hi - b.lo, grad: combine(a.grad, 1, b.grad, -1)}
	case "*":
		lo, hi := span(a.lo*b.lo, a.lo*b.hi, a.hi*b.lo, a.hi*b.hi)
		r = operand{v: a.v * b.v, lo: lo, hi: hi, grad: combine(a.grad, b.v, b.grad, a.v)}
	case "/":
		if b.v == 0 {
			// DuckDB gives ±Inf or NaN; a released 0 says nothing of
			// the true divisor: withheld (measureCell).
			return operand{v: math.NaN(), lo: math.Inf(-1), hi: math.Inf(1), divisorMayBeZero: true}, true
		}
		// ∂(a/b) = ∂a/b − (a/b)·(∂b/b): no b², which underflows (and
		// a/b², which overflows) where a/b does not.
		q := a.v / b.v
		r = operand{v: q, grad: combine(a.grad, 1/b.v, combine(b.grad, 1/b.v, nil, 0), -q)}
		if b.lo <= 0 && b.hi >= 0 {
			r.lo, r.hi, r.divisorMayBeZero = math.Inf(-1), math.Inf(1), true
		} else {
			r.lo, r.hi = span(a.lo/b.lo, a.lo/b.hi, a.hi/b.lo, a.hi/b.hi)
		}
	default:
		return operand{}, false
	}
	return r, true
}

// combine is ca·ga + cb·gb.
func combine(ga map[int]float64, ca float64, gb map[int]float64, cb float64) map[int]float64 {
	out := make(map[int]float64, len(ga)+len(gb))
	for k, v := range ga {
		out[k] += ca * v
	}
	for k, v := range gb {
		out[k] += cb * v
	}
	return out
}

// span is the least and greatest of xs.
func span(xs ...float64) (float64, float64) {
	lo, hi := xs[0], xs[0]
	for _, x := range xs[1:] {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}
