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
// interval holds 0.
const ReasonDenominator = "denominator_may_be_zero"

// operand is one value of a measure expression: the value, an interval
// that holds it, and its derivatives with respect to the aggregates'
// released values (for the standard deviation).
type operand struct {
	v, lo, hi float64
	grad      map[int]float64
}

// measureCell computes a measure expression from one row's released
// aggregate cells (aggCols maps an aggregate to its result column).
//
//   - A suppressed input suppresses the cell (with the input's reason); a
//     NULL input, or a division by a released 0, makes it NULL.
//   - The value is the expression of the released values.
//   - The interval is the expression's range over the inputs' intervals
//     (interval arithmetic), each widened about its value from 95% to
//     1 − 5%/k for k aggregates read: when every input's true value lies
//     in its widened interval, which happens with probability at least
//     95% (the union bound), the expression's true value lies in the
//     result. An interval without bound (a denominator that may be 0)
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
	switch {
	case !ok || math.IsNaN(r.v) || math.IsInf(r.v, 0):
		return result.Cell{}
	case intervals && (math.IsNaN(r.lo) || math.IsNaN(r.hi) || math.IsInf(r.lo, 0) || math.IsInf(r.hi, 0)):
		return result.Cell{Suppressed: true, Reason: ReasonDenominator}
	}
	var variance float64
	for a, g := range r.grad {
		variance += g * g * sd[a] * sd[a]
	}
	out := result.Cell{Value: r.v, StdDev: math.Sqrt(variance)}
	if intervals {
		out.CI = &[2]float64{r.lo, r.hi}
	}
	return out
}

// widening is the factor that takes a 95% normal interval to one of level
// 1 − 5%/k.
func widening(k int) float64 {
	if k <= 1 {
		return 1
	}
	z := func(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }
	return z(1-0.025/float64(k)) / z(0.975)
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
		return arithOperands(x.Op, a, b)
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
			return operand{}, false
		}
		r = operand{v: a.v / b.v, grad: combine(a.grad, 1/b.v, b.grad, -a.v/(b.v*b.v))}
		if b.lo <= 0 && b.hi >= 0 {
			r.lo, r.hi = math.Inf(-1), math.Inf(1)
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
