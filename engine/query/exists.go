package query

// Exists is a person-level membership condition for WHERE: it holds for a
// row when the row's person has at least one row in Table's dataset for
// which Where holds, and with Not when the person has none. The search is
// correlated on the person key only (Inner = Outer), so it is a predicate
// of one person's own rows in another dataset: a person's data decides
// only whether that person's rows pass, and the enclosing query's
// contribution bounds hold as they are. It means
//
//	[NOT] EXISTS (SELECT 1 FROM <dataset> AS <alias> WHERE <inner> = <outer> AND <where>)
//
// (package plan renders it as the equivalent [NOT] IN semi join on the
// person key, which DuckDB runs faster).
//
// Rules the planner checks (anything else is an invalid model):
//   - Table's alias differs from every alias of the enclosing query, and
//     the columns of Where belong to Table's alias only;
//   - Inner is Table's person key, Outer the person key of a table of the
//     enclosing query's FROM;
//   - it stands as the whole WHERE or as an argument of WHERE's top-level
//     AND (not under OR, NOT or CASE, nor in keys or aggregates; Not is its
//     negation), and Where holds no Exists itself.
//
// Cohort estimates build it; the SQL checker does not accept EXISTS.
type Exists struct {
	// Table is the dataset searched and the alias Where's columns use.
	Table TableRef
	// Inner is Table's person key column, qualified by Table's alias.
	Inner *ColumnRef
	// Outer is the person key of a table of the enclosing query.
	Outer *ColumnRef
	// Where filters Table's rows; nil: any row of the person.
	Where Expr
	// Not negates the condition: the person has no such row.
	Not bool
	// Temporal, when set, dates the rows and adds conditions on the
	// person's index date (see Temporal); nil: any row where Where holds.
	Temporal *Temporal
}

func (e *Exists) ExprType() Type { return TypeBool }

func (*Exists) isExpr() {}

// Requalify returns a copy of e in which every column reference qualified
// with the table alias from is qualified with to instead, so that a
// condition checked over one alias can be used under another (a cohort
// criterion inside an Exists). The expressions below an Exists keep their
// own scope: only its Outer reference is requalified. Leaves it does not
// know are returned as they are; e itself is not modified.
func Requalify(e Expr, from, to string) Expr {
	rq := func(x Expr) Expr { return Requalify(x, from, to) }
	list := func(xs []Expr) []Expr {
		if xs == nil {
			return nil
		}
		out := make([]Expr, len(xs))
		for i, x := range xs {
			out[i] = rq(x)
		}
		return out
	}
	switch x := e.(type) {
	case nil:
		return nil
	case *ColumnRef:
		if x == nil {
			return x
		}
		c := *x
		if c.Table == from {
			c.Table = to
		}
		return &c
	case *Func:
		if x == nil {
			return x
		}
		return &Func{Name: x.Name, Args: list(x.Args), Type: x.Type}
	case *Compare:
		if x == nil {
			return x
		}
		return &Compare{Op: x.Op, L: rq(x.L), R: rq(x.R)}
	case *Logical:
		if x == nil {
			return x
		}
		return &Logical{Op: x.Op, Args: list(x.Args)}
	case *In:
		if x == nil {
			return x
		}
		return &In{X: rq(x.X), List: list(x.List), Not: x.Not}
	case *Between:
		if x == nil {
			return x
		}
		return &Between{X: rq(x.X), Lo: rq(x.Lo), Hi: rq(x.Hi), Not: x.Not}
	case *Like:
		if x == nil {
			return x
		}
		return &Like{X: rq(x.X), Pattern: rq(x.Pattern), Not: x.Not, CaseInsensitive: x.CaseInsensitive}
	case *IsNull:
		if x == nil {
			return x
		}
		return &IsNull{X: rq(x.X), Not: x.Not}
	case *Arith:
		if x == nil {
			return x
		}
		return &Arith{Op: x.Op, L: rq(x.L), R: rq(x.R), Type: x.Type}
	case *Case:
		if x == nil {
			return x
		}
		c := &Case{Else: rq(x.Else), Type: x.Type}
		for _, w := range x.Whens {
			c.Whens = append(c.Whens, When{Cond: rq(w.Cond), Then: rq(w.Then)})
		}
		return c
	case *Cast:
		if x == nil {
			return x
		}
		return &Cast{X: rq(x.X), To: x.To}
	case *Exists:
		if x == nil {
			return x
		}
		c := *x
		if x.Outer != nil {
			c.Outer = rq(x.Outer).(*ColumnRef)
		}
		return &c
	}
	return e
}
