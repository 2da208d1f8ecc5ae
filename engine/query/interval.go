package query

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/statgate/statgate/policies"
)

// span is what interval arithmetic knows about the values of an
// expression: every non-NULL value lies in [lo, hi], where either end may
// be infinite (no bound that side). Dates are days since 1970-01-01. why
// says which part of the expression has no finite bound when an end is
// infinite.
type span struct {
	lo, hi float64
	// empty: the expression is always NULL.
	empty bool
	// nonNull: the expression is never NULL (a constant, or arithmetic of
	// constants), which lets least/greatest tighten a bound.
	nonNull bool
	why     string
}

func point(v float64) span        { return span{lo: v, hi: v, nonNull: true} }
func between(lo, hi float64) span { return span{lo: lo, hi: hi} }

// noBound is a span with no bound on either side.
func noBound(why string) span { return span{lo: math.Inf(-1), hi: math.Inf(1), why: why} }

// finite reports whether both ends are finite (or the span is empty).
func (s span) finite() bool {
	return s.empty || (!math.IsInf(s.lo, 0) && !math.IsInf(s.hi, 0) && !math.IsNaN(s.lo) && !math.IsNaN(s.hi))
}

// bounds returns [lo, hi].
func (s span) bounds() [2]float64 { return [2]float64{s.lo, s.hi} }

// because keeps the first reason of an unbounded input.
func because(out span, in ...span) span {
	if out.finite() || out.why != "" {
		return out
	}
	for _, s := range in {
		if s.why != "" {
			out.why = s.why
			return out
		}
	}
	out.why = "it has no finite bound"
	return out
}

// union is the span of a value that is one of a's or b's.
func union(a, b span) span {
	switch {
	case a.empty:
		b.nonNull = false
		return b
	case b.empty:
		a.nonNull = false
		return a
	}
	return because(span{lo: math.Min(a.lo, b.lo), hi: math.Max(a.hi, b.hi), nonNull: a.nonNull && b.nonNull}, a, b)
}

// epochDay is the day number (days since 1970-01-01) of a date.
func epochDay(t time.Time) float64 { return math.Floor(float64(t.Unix()) / 86400) }

// dayOf is the date of a day number.
func dayOf(d float64) time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// yearSpan is the span of the dates of the years [from, to].
func yearSpan(from, to int) span {
	return between(epochDay(time.Date(from, 1, 1, 0, 0, 0, 0, time.UTC)), epochDay(time.Date(to, 12, 31, 0, 0, 0, 0, time.UTC)))
}

// maxBound is the largest magnitude a bound may have: beyond it the
// clamped values lose integer precision in DOUBLE, and noise scaled to it
// would say nothing anyway.
const maxBound = 1e15

// spanOf infers by interval arithmetic the span of e's values from the
// declared bounds, integer domains and date years of the columns it reads
// (col is the policy column of a reference, nil when undeclared). It
// follows DuckDB's semantics: least and greatest skip NULLs, a CASE is
// one of its arms, x % y has the sign of x and |x % y| ≤ |x|, date - date
// is days, a boolean cast to a number is 0 or 1, x // y of integers is
// truncated toward zero and NULL by 0. Division by an expression whose span holds 0, and anything
// else without a finite bound, is unbounded with a reason.
func spanOf(e Expr, col func(*ColumnRef) *policies.Column) span {
	s := spanRaw(e, col)
	if !s.finite() {
		return because(s)
	}
	if !s.empty && (math.Abs(s.lo) > maxBound || math.Abs(s.hi) > maxBound) {
		return noBound(fmt.Sprintf("its values may reach beyond ±%g", maxBound))
	}
	return s
}

func spanRaw(e Expr, col func(*ColumnRef) *policies.Column) span {
	rec := func(x Expr) span { return spanRaw(x, col) }
	switch x := e.(type) {
	case *Literal:
		switch v := x.Value.(type) {
		case nil:
			return span{empty: true}
		case int64:
			return point(float64(v))
		case float64:
			return point(v)
		case string:
			if x.Type == TypeDate {
				if t, err := time.Parse("2006-01-02", v); err == nil {
					return point(epochDay(t))
				}
			}
		}
		return noBound("a constant is not a number or a date")
	case *ColumnRef:
		c := col(x)
		switch {
		case c == nil:
		case c.Bounds != nil && isNumeric(x.Type):
			return between(c.Bounds[0], c.Bounds[1])
		case c.Domain != nil && c.Domain.Range != nil && isNumeric(x.Type):
			return between(float64(c.Domain.Range[0]), float64(c.Domain.Range[1]))
		case c.Years != nil && x.Type == TypeDate:
			return yearSpan(c.Years[0], c.Years[1])
		}
		return noBound(fmt.Sprintf("column %s has no declared bounds", x.Column))
	case *Arith:
		return arithSpan(x, rec(x.L), rec(x.R))
	case *Cast:
		s := rec(x.X)
		from := x.X.ExprType()
		switch {
		case from == TypeBool && isNumeric(x.To):
			// false is 0 and true is 1 (NULL stays NULL).
			if l, ok := x.X.(*Literal); ok {
				switch v := l.Value.(type) {
				case nil:
					return span{empty: true}
				case bool:
					if v {
						return point(1)
					}
					return point(0)
				}
			}
			return between(0, 1)
		case s.empty:
			return s
		case x.To == TypeInteger && (isNumeric(from) || loose(from)):
			// DuckDB rounds half to even (2.5 → 2), monotone.
			return because(span{lo: math.RoundToEven(s.lo), hi: math.RoundToEven(s.hi), nonNull: s.nonNull}, s)
		case (x.To == TypeNumber && (isNumeric(from) || loose(from))) || (x.To == TypeDate && from == TypeDate):
			return s
		}
		return noBound("a cast from " + string(from) + " has no bound")
	case *Case:
		out := span{empty: true}
		for i, w := range x.Whens {
			t := rec(w.Then)
			if i == 0 {
				out = t
			} else {
				out = union(out, t)
			}
		}
		if x.Else == nil {
			out = union(out, span{empty: true})
		} else {
			out = union(out, rec(x.Else))
		}
		return out
	case *Func:
		return funcSpan(x, col)
	}
	return noBound("the expression is not a number")
}

// extremes returns the smallest and largest of f over the ends of l and r,
// ignoring the undefined combinations (0·∞, ∞/∞) that NaN stands for.
func extremes(l, r span, f func(a, b float64) float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, a := range []float64{l.lo, l.hi} {
		for _, b := range []float64{r.lo, r.hi} {
			if v := f(a, b); !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if lo > hi {
		return math.Inf(-1), math.Inf(1)
	}
	return lo, hi
}

// arithSpan is the span of l op r.
func arithSpan(x *Arith, l, r span) span {
	if l.empty || r.empty {
		return span{empty: true}
	}
	out := span{nonNull: l.nonNull && r.nonNull}
	switch x.Op {
	case "+":
		out.lo, out.hi = l.lo+r.lo, l.hi+r.hi
	case "-":
		out.lo, out.hi = l.lo-r.hi, l.hi-r.lo
	case "*":
		out.lo, out.hi = extremes(l, r, func(a, b float64) float64 {
			if a == 0 || b == 0 {
				return 0
			}
			return a * b
		})
	case "/":
		if r.lo <= 0 && r.hi >= 0 {
			return noBound("it divides by an expression that can be 0")
		}
		out.lo, out.hi = extremes(l, r, func(a, b float64) float64 { return a / b })
	case "//":
		if x.Type != TypeInteger {
			// DuckDB's // of numbers is their quotient (NULL by 0).
			if r.lo <= 0 && r.hi >= 0 {
				return noBound("it divides by an expression that can be 0")
			}
			out.lo, out.hi = extremes(l, r, func(a, b float64) float64 { return a / b })
			break
		}
		// Of integers, the quotient truncated toward zero; NULL by 0, so
		// only the divisors up to -1 and from 1 count (|x // y| ≤ |x|).
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, d := range []span{{lo: r.lo, hi: math.Min(r.hi, -1)}, {lo: math.Max(r.lo, 1), hi: r.hi}} {
			if d.lo > d.hi {
				continue
			}
			a, b := extremes(l, d, func(a, b float64) float64 { return a / b })
			lo, hi = math.Min(lo, a), math.Max(hi, b)
		}
		if lo > hi {
			return span{empty: true} // the divisor is always 0: always NULL
		}
		out.lo, out.hi = math.Trunc(lo), math.Trunc(hi)
		out.nonNull = out.nonNull && (r.lo >= 1 || r.hi <= -1)
	case "%":
		// |x % y| ≤ |x| and < |y|; the result has the sign of x.
		m := math.Max(math.Abs(l.lo), math.Abs(l.hi))
		if r.lo > 0 || r.hi < 0 {
			m = math.Min(m, math.Max(math.Abs(r.lo), math.Abs(r.hi)))
		}
		out = span{lo: math.Max(math.Min(l.lo, 0), -m), hi: math.Min(math.Max(l.hi, 0), m)}
	default:
		return noBound("the operator " + x.Op + " has no bound")
	}
	if math.IsNaN(out.lo) || math.IsNaN(out.hi) {
		out.lo, out.hi = math.Inf(-1), math.Inf(1)
	}
	return because(out, l, r)
}

// partIndex is a monotone index of the year, quarter or month of a day
// number (years, quarters or months since year 0); other parts: the day.
func partIndex(d float64, part string) float64 {
	if math.IsInf(d, 0) {
		return d
	}
	t := dayOf(d)
	switch part {
	case "year":
		return float64(t.Year())
	case "quarter":
		return float64(t.Year()*4 + (int(t.Month())-1)/3)
	case "month":
		return float64(t.Year()*12 + int(t.Month()) - 1)
	}
	return d
}

// funcSpan is the span of an allow-listed function's value.
func funcSpan(f *Func, col func(*ColumnRef) *policies.Column) span {
	args := make([]span, len(f.Args))
	for i, a := range f.Args {
		args[i] = spanRaw(a, col)
	}
	var a0 span
	if len(args) > 0 {
		a0 = args[0]
	}
	mono := func(g func(float64) float64) span {
		if a0.empty {
			return a0
		}
		return because(span{lo: g(a0.lo), hi: g(a0.hi), nonNull: a0.nonNull}, a0)
	}
	switch f.Name {
	case "month":
		return between(1, 12)
	case "quarter":
		return between(1, 4)
	case "day":
		return between(1, 31)
	case "date_part":
		if len(f.Args) == 2 {
			p, _ := litString(asLiteral(f.Args[0]))
			switch p {
			case "week":
				return between(1, 53)
			case "dow":
				return between(0, 6)
			case "isodow":
				return between(1, 7)
			case "doy":
				return between(1, 366)
			}
		}
	case "year":
		if len(args) == 1 {
			return mono(func(d float64) float64 { return partIndex(d, "year") })
		}
	case "date_diff":
		if len(f.Args) != 3 {
			break
		}
		p, _ := litString(asLiteral(f.Args[0]))
		a, b := args[1], args[2]
		if a.empty || b.empty {
			return span{empty: true}
		}
		out := span{nonNull: a.nonNull && b.nonNull}
		switch p {
		case "day":
			out.lo, out.hi = b.lo-a.hi, b.hi-a.lo
		case "week":
			out.lo, out.hi = math.Floor((b.lo-a.hi)/7)-1, math.Ceil((b.hi-a.lo)/7)+1
		case "year", "quarter", "month":
			// The part boundaries crossed: b's part index minus a's.
			out.lo, out.hi = partIndex(b.lo, p)-partIndex(a.hi, p), partIndex(b.hi, p)-partIndex(a.lo, p)
		default:
			return noBound("date_diff of part " + p + " has no bound")
		}
		return because(out, a, b)
	case "abs":
		if len(args) != 1 || a0.empty {
			break
		}
		m := math.Max(math.Abs(a0.lo), math.Abs(a0.hi))
		lo := 0.0
		if a0.lo > 0 || a0.hi < 0 {
			lo = math.Min(math.Abs(a0.lo), math.Abs(a0.hi))
		}
		return because(span{lo: lo, hi: m, nonNull: a0.nonNull}, a0)
	case "floor":
		return mono(math.Floor)
	case "ceil":
		return mono(math.Ceil)
	case "round":
		step := 1.0
		if len(f.Args) == 2 {
			d, isInt := intLit(f.Args[1])
			if !isInt || d < -15 || d > 15 {
				return noBound("round's digits are not a small integer constant")
			}
			step = math.Pow(10, float64(-d))
		}
		if a0.empty {
			return a0
		}
		return because(span{lo: math.Floor(a0.lo/step) * step, hi: math.Ceil(a0.hi/step) * step, nonNull: a0.nonNull}, a0)
	case "least", "greatest":
		return extremeSpan(f.Name == "least", args)
	case "coalesce":
		out := span{empty: true}
		for _, a := range args {
			if a.empty {
				continue
			}
			if out.empty {
				out = a
			} else {
				out = because(span{lo: math.Min(out.lo, a.lo), hi: math.Max(out.hi, a.hi), nonNull: a.nonNull}, out, a)
			}
			if a.nonNull {
				break // later arguments are never reached
			}
		}
		return out
	case "nullif":
		if len(args) == 2 {
			a0.nonNull = false
			return a0
		}
	}
	return noBound(f.Name + "(...) has no bound")
}

// extremeSpan is the span of least (or greatest) of args, which DuckDB
// computes over the non-NULL arguments: least is at least the smallest
// lower bound, and at most the smallest upper bound of the arguments that
// are never NULL (the largest upper bound when every one may be).
func extremeSpan(least bool, args []span) span {
	flip := func(s span) span {
		if !least {
			s.lo, s.hi = -s.hi, -s.lo // greatest(x…) = −least(−x…)
		}
		return s
	}
	lo, hiAll, hiNonNull := math.Inf(1), math.Inf(-1), math.Inf(1)
	found, nonNull := false, false
	var in []span
	for _, a := range args {
		if a.empty {
			continue
		}
		in = append(in, a)
		a = flip(a)
		found = true
		lo = math.Min(lo, a.lo)
		hiAll = math.Max(hiAll, a.hi)
		if a.nonNull {
			nonNull = true
			hiNonNull = math.Min(hiNonNull, a.hi)
		}
	}
	if !found {
		return span{empty: true}
	}
	out := span{lo: lo, hi: hiAll, nonNull: nonNull}
	if nonNull {
		out.hi = hiNonNull
	}
	return because(flip(out), in...)
}

// intLit reads an integer constant.
func intLit(e Expr) (int64, bool) {
	l, ok := e.(*Literal)
	if !ok {
		return 0, false
	}
	v, ok := l.Value.(int64)
	return v, ok
}

// describe names an expression for a refusal message without quoting
// any value: its column names.
func describe(e Expr) string {
	var cols []string
	walk(e, func(x Expr) {
		if c, ok := x.(*ColumnRef); ok {
			cols = append(cols, c.Column)
		}
	})
	if len(cols) == 0 {
		return "an expression"
	}
	return "the expression of " + strings.Join(cols, ", ")
}
