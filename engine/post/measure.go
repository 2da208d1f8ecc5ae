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
func measureCell(e query.Expr, row result.Row, aggCols []int, windows map[*query.WindowSum]windowTotal) result.Cell {
	aggs, wins := aggRefs(e), query.MeasureWindows(e)
	f := widening(len(aggs) + len(wins))
	in := inputs{aggs: make(map[int]operand, len(aggs)), windows: make(map[*query.WindowSum]operand, len(wins)),
		rests: make(map[*query.WindowSum]operand, len(wins)), nonNegative: make(map[*query.WindowSum]bool, len(wins))}
	sd := make(map[int]float64, len(aggs)+2*len(wins))
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
		in.aggs[a], sd[a] = op, c.StdDev
	}
	for j, w := range wins {
		t := windows[w]
		// The total is the row's own value, when released, and the
		// rest's, whose noise is independent of it: a pseudo-input of
		// its own, numbered below the aggregates.
		rest := -1 - j
		sd[rest] = t.restSD
		total := operand{v: t.total, lo: t.total - f*math.Sqrt(t.totalLo2), hi: t.total + f*math.Sqrt(t.totalHi2), grad: map[int]float64{rest: 1}}
		if t.ownIn {
			total.grad[w.Agg], sd[w.Agg] = 1, t.ownSD
		}
		others := operand{v: t.rest, lo: t.rest - f*math.Sqrt(t.restLo2), hi: t.rest + f*math.Sqrt(t.restHi2), grad: map[int]float64{rest: 1}}
		total, others = roundedTo(widened(total, t.widen), t.roundTo), widened(others, t.widen)
		if t.nonNegative {
			total.v, total.lo, total.hi = max(total.v, 0), max(total.lo, 0), max(total.hi, 0)
			others.lo = max(others.lo, 0)
		}
		intervals = intervals && t.intervals
		in.windows[w], in.rests[w], in.nonNegative[w] = total, others, t.nonNegative
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

// inputs are the operands of a measure expression in one row: the
// aggregates' released cells and the windows' totals.
type inputs struct {
	aggs    map[int]operand
	windows map[*query.WindowSum]operand
	// rests are the windows' totals without the row's own value.
	rests map[*query.WindowSum]operand
	// nonNegative: the window's aggregate is at least 0 (windowTotal).
	nonNegative map[*query.WindowSum]bool
}

// windowTotal is what one row's window (query.WindowSum) adds up: the
// released values of the aggregate in the released rows of the row's
// partition (a withheld or NULL value is not in it, as SQL's sum skips
// NULL), each unbiased (result.Cell.Unbiased: a small count made
// non-negative is biased up, and the biases would add up), the sums of
// the squares of their intervals' lower and upper half-widths (the
// total's interval is the root sum of squares, as for the sum of
// independent noises; where an interval also holds a bias, which adds
// linearly, that is a rule of thumb), and the same without the row's own
// value (the rest), with the rest's noise's standard deviation.
type windowTotal struct {
	total, totalLo2, totalHi2 float64
	rest, restSD              float64
	restLo2, restHi2          float64
	// ownIn: the row's own value is released and in the total; ownSD is
	// its noise's standard deviation.
	ownIn bool
	ownSD float64
	// intervals: every value in the total has an interval.
	intervals bool
	// nonNegative: the aggregate's true values are at least 0 (a count,
	// or a sum of values bounded below by 0), so the total and its
	// intervals may be cut at 0.
	nonNegative bool
	// widen is the share the contribution bounds are estimated to cut
	// (result.Estimate.Widen): a bias of one sign, by which the total's
	// bounds are widened after the root sum of squares of the noise.
	widen float64
	// roundTo > 1 rounds a total of counts as the counts are released
	// (result.Meta.RoundTo): the value to a multiple, its interval
	// outward.
	roundTo int
}

// roundedTo rounds an operand's value to a multiple of to and its
// interval outward, as protect rounds a released count.
func roundedTo(op operand, to int) operand {
	if to <= 1 {
		return op
	}
	r := float64(to)
	op.v, op.lo, op.hi = math.Round(op.v/r)*r, math.Floor(op.lo/r)*r, math.Ceil(op.hi/r)*r
	return op
}

// widened divides an interval's bounds that are not 0 by 1 − f, away
// from 0, as protect widens a count's for what the bounds cut.
func widened(op operand, f float64) operand {
	if f <= 0 || f >= 1 {
		return op
	}
	if op.hi > 0 {
		op.hi /= 1 - f
	}
	if op.lo < 0 {
		op.lo /= 1 - f
	}
	return op
}

// aggRefs returns the aggregates a measure expression reads directly
// (query.AggRef), each once: a window's aggregate is read through the
// window (windowTotal), so the window's total is released in a row whose
// own value is withheld, as the same total of the other rows.
func aggRefs(e query.Expr) []int {
	var out []int
	for _, a := range query.MeasureAggs(e) {
		if holdsAggRef(e, a) {
			out = append(out, a)
		}
	}
	return out
}

// holdsAggRef reports whether e reads aggregate a directly.
func holdsAggRef(e query.Expr, a int) bool {
	switch x := e.(type) {
	case *query.AggRef:
		return x.Agg == a
	case *query.Arith:
		return holdsAggRef(x.L, a) || holdsAggRef(x.R, a)
	}
	return false
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
func evalMeasure(e query.Expr, in inputs) (operand, bool) {
	switch x := e.(type) {
	case *query.AggRef:
		op, ok := in.aggs[x.Agg]
		return op, ok
	case *query.WindowSum:
		op, ok := in.windows[x]
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
		if w, isWindow := x.R.(*query.WindowSum); ok && isWindow && x.Op == "/" && !a.divisorMayBeZero {
			shareInterval(&r, x.L, w, in)
		}
		return r, ok
	}
	return operand{}, false
}

// shareInterval narrows the interval of a share, c·a / sum(a) OVER (...)
// for a constant c, where interval arithmetic counts the row's own value
// a twice (in the numerator and in the total): as c / (1 + rest / a),
// which reads each once, the range over the inputs' intervals is exact,
// about half as wide for a large share. It applies when neither a's
// interval nor the rest's is below 0 (a total of counts, whose intervals
// are cut at 0: windowTotal.nonNegative) and the released total is not 0
// (withheld as ReasonDenominator); the value and the derivatives stay as
// arithOperands made them.
func shareInterval(r *operand, num query.Expr, w *query.WindowSum, in inputs) {
	agg, coef, ok := scaledAgg(num)
	own, okOwn := in.aggs[agg]
	if in.nonNegative[w] {
		own.lo = max(own.lo, 0) // its truth is
	}
	rest, okRest := in.rests[w]
	total := in.windows[w]
	if !ok || agg != w.Agg || !okOwn || !okRest || total.v == 0 || math.IsNaN(r.v) ||
		!(own.lo >= 0) || !(rest.lo >= 0) || !(own.lo+rest.hi > 0) || !(own.hi+rest.lo > 0) {
		return
	}
	lo, hi := own.lo/(own.lo+rest.hi), own.hi/(own.hi+rest.lo)
	// The share of a non-negative part of a non-negative whole lies in
	// [0, 1]; the total's noise can put the released one outside.
	if coef == 0 {
		r.lo, r.hi, r.divisorMayBeZero = 0, 0, false
		return
	}
	v := r.v / coef
	if in.nonNegative[w] {
		v = min(max(v, 0), 1)
	}
	if coef < 0 {
		lo, hi = hi, lo
	}
	// + 0 turns a −0 (of a negative coefficient) into 0.
	r.v, r.lo, r.hi, r.divisorMayBeZero = coef*v+0, min(coef*lo, coef*v)+0, max(coef*hi, coef*v)+0, false
}

// scaledAgg reports whether e is c·a for an aggregate a and a constant
// c: a, a * c, c * a or a / c (nested).
func scaledAgg(e query.Expr) (agg int, coef float64, ok bool) {
	switch x := e.(type) {
	case *query.AggRef:
		return x.Agg, 1, true
	case *query.Arith:
		constant := func(e query.Expr) (float64, bool) {
			l, isLit := e.(*query.Literal)
			if !isLit {
				return 0, false
			}
			return result.Number(l.Value)
		}
		switch c, isC := constant(x.R); {
		case isC && (x.Op == "*" || x.Op == "/" && c != 0):
			if agg, coef, ok = scaledAgg(x.L); ok {
				if x.Op == "/" {
					return agg, coef / c, true
				}
				return agg, coef * c, true
			}
		case x.Op == "*":
			if c, isC := constant(x.L); isC {
				if agg, coef, ok = scaledAgg(x.R); ok {
					return agg, coef * c, true
				}
			}
		}
	}
	return 0, 0, false
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
