package query

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Bind returns a new query in which every Param of q is replaced by a
// literal of the Param's type holding values[name]. q is not changed (a
// checked query is immutable); the result shares the parts of q that hold
// no parameter, which are immutable too, and has slices of its own.
//
// values holds normalised Go values, as policies.Param.Validate returns
// them: int64 for integer, float64 (or int64) for number, string for
// string and a "YYYY-MM-DD" string for date. Bind fails when a parameter
// has no value, a value has another Go type, a number is not finite, a
// date is not a date, a string holds a NUL character, or values names a
// parameter q does not have. Bind never parses SQL.
func Bind(q *Query, values map[string]any) (*Query, error) {
	if q == nil {
		return nil, fmt.Errorf("query.Bind: no query")
	}
	lits := make(map[string]map[Type]*Literal, len(values))
	used := q.ParamNames()
	for name := range values {
		if !slices.Contains(used, name) {
			return nil, fmt.Errorf("query.Bind: the query has no parameter %q", name)
		}
	}
	b := &binder{values: values, lits: lits}
	out := *q
	out.From = slices.Clone(q.From)
	out.Keys = slices.Clone(q.Keys)
	out.Aggs = slices.Clone(q.Aggs)
	out.Output = slices.Clone(q.Output)
	out.OrderBy = slices.Clone(q.OrderBy)
	if q.GroupingSets != nil {
		out.GroupingSets = make([][]int, len(q.GroupingSets))
		for i, s := range q.GroupingSets {
			out.GroupingSets[i] = slices.Clone(s)
		}
	}
	if q.Limit != nil {
		l := *q.Limit
		out.Limit = &l
	}
	var err error
	if out.Where, err = b.expr(q.Where); err != nil {
		return nil, err
	}
	for i := range out.Keys {
		if out.Keys[i].Expr, err = b.expr(q.Keys[i].Expr); err != nil {
			return nil, err
		}
	}
	for i := range out.Aggs {
		if out.Aggs[i].Arg, err = b.expr(q.Aggs[i].Arg); err != nil {
			return nil, err
		}
	}
	if out.Having, err = b.expr(q.Having); err != nil {
		return nil, err
	}
	return &out, nil
}

// ParamNames returns the names of the parameters q holds, sorted, each
// once; none for a query checked by Check.
func (q *Query) ParamNames() []string {
	var names []string
	add := func(e Expr) {
		walk(e, func(x Expr) {
			if p, ok := x.(*Param); ok && !slices.Contains(names, p.Name) {
				names = append(names, p.Name)
			}
		})
	}
	add(q.Where)
	for _, k := range q.Keys {
		add(k.Expr)
	}
	for _, a := range q.Aggs {
		add(a.Arg)
	}
	add(q.Having)
	sort.Strings(names)
	return names
}

// binder replaces Params with literals, copying only the nodes above one.
type binder struct {
	values map[string]any
	// lits caches each parameter's literal per type (a parameter cast to
	// number is a Param of type number where it stands).
	lits map[string]map[Type]*Literal
}

// literal returns the literal parameter p is bound to.
func (b *binder) literal(p *Param) (*Literal, error) {
	if l := b.lits[p.Name][p.Type]; l != nil {
		return l, nil
	}
	v, ok := b.values[p.Name]
	if !ok || v == nil {
		return nil, fmt.Errorf("query.Bind: parameter %q has no value", p.Name)
	}
	l, err := paramLiteral(p, v)
	if err != nil {
		return nil, fmt.Errorf("query.Bind: parameter %q: %w", p.Name, err)
	}
	if b.lits[p.Name] == nil {
		b.lits[p.Name] = map[Type]*Literal{}
	}
	b.lits[p.Name][p.Type] = l
	return l, nil
}

// paramLiteral converts a normalised value to a literal of p's type.
func paramLiteral(p *Param, v any) (*Literal, error) {
	switch p.Type {
	case TypeInteger:
		switch x := v.(type) {
		case int64:
			return &Literal{Value: x, Type: TypeInteger}, nil
		case int:
			return &Literal{Value: int64(x), Type: TypeInteger}, nil
		}
	case TypeNumber:
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case int64:
			f = float64(x)
		case int:
			f = float64(x)
		default:
			return nil, fmt.Errorf("a %s value of Go type %T", p.Type, v)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("the number is not finite")
		}
		return &Literal{Value: f, Type: TypeNumber, Double: p.Double}, nil
	case TypeString:
		if s, ok := v.(string); ok {
			if strings.IndexByte(s, 0) >= 0 {
				return nil, fmt.Errorf("the text holds a NUL character")
			}
			return &Literal{Value: s, Type: TypeString}, nil
		}
	case TypeDate:
		if s, ok := v.(string); ok {
			if _, err := dateLiteral(s); err != nil || len(s) != len("2006-01-02") {
				return nil, fmt.Errorf("the value is not a date written YYYY-MM-DD")
			}
			return &Literal{Value: s, Type: TypeDate}, nil
		}
	case TypeBool:
		if x, ok := v.(bool); ok {
			return &Literal{Value: x, Type: TypeBool}, nil
		}
	default:
		return nil, fmt.Errorf("parameters of type %q cannot be bound", p.Type)
	}
	return nil, fmt.Errorf("a %s value of Go type %T", p.Type, v)
}

// expr returns e with its Params bound: e itself when it holds none,
// else a copy of every node on the way to one.
func (b *binder) expr(e Expr) (Expr, error) {
	if e == nil || !holds[*Param](e) {
		return e, nil
	}
	var err error
	one := func(x Expr) Expr {
		if err != nil {
			return x
		}
		var y Expr
		y, err = b.expr(x)
		return y
	}
	list := func(xs []Expr) []Expr {
		out := make([]Expr, len(xs))
		for i, x := range xs {
			out[i] = one(x)
		}
		return out
	}
	var out Expr
	switch x := e.(type) {
	case *Param:
		return b.literal(x)
	case *Func:
		out = &Func{Name: x.Name, Args: list(x.Args), Type: x.Type}
	case *Compare:
		out = &Compare{Op: x.Op, L: one(x.L), R: one(x.R)}
	case *Logical:
		out = &Logical{Op: x.Op, Args: list(x.Args)}
	case *In:
		out = &In{X: one(x.X), List: list(x.List), Not: x.Not}
	case *Between:
		out = &Between{X: one(x.X), Lo: one(x.Lo), Hi: one(x.Hi), Not: x.Not}
	case *Like:
		out = &Like{X: one(x.X), Pattern: one(x.Pattern), Not: x.Not, CaseInsensitive: x.CaseInsensitive}
	case *IsNull:
		out = &IsNull{X: one(x.X), Not: x.Not}
	case *Arith:
		out = &Arith{Op: x.Op, L: one(x.L), R: one(x.R), Type: x.Type}
	case *Case:
		c := &Case{Whens: make([]When, len(x.Whens)), Type: x.Type}
		for i, w := range x.Whens {
			c.Whens[i] = When{Cond: one(w.Cond), Then: one(w.Then)}
		}
		if x.Else != nil {
			c.Else = one(x.Else)
		}
		out = c
	case *Cast:
		out = &Cast{X: one(x.X), To: x.To}
	default:
		return nil, fmt.Errorf("query.Bind: a parameter below an expression of type %T", e)
	}
	return out, err
}
