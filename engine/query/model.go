// Package query parses analysts' SQL with DuckDB's own parser
// (json_serialize_sql) and checks the resulting JSON AST into statgate's
// typed, allow-listed model. Only what the model can express can run: the
// user's text is never executed; package plan renders SQL from the model.
package query

// Query is a checked aggregate query. It is immutable after Check and safe
// for concurrent reads.
type Query struct {
	// From lists the datasets read: From[0] is the base table, the others
	// are joined to it on the person key (inner joins, or LEFT JOINs of
	// one-row-per-person datasets; see TableRef.Left).
	From []TableRef
	// Where filters rows before bounding; nil when absent.
	Where Expr
	// Keys are the GROUP BY keys, in GROUP BY order.
	Keys []GroupKey
	// Aggs are the aggregates, in order of first appearance.
	Aggs []Aggregate
	// Output is the SELECT list in order; each item points at a key or an aggregate.
	Output []OutputColumn
	// GroupingSets lists, for ROLLUP / GROUPING SETS / CUBE, the key index
	// sets to aggregate over (margins). Nil for a plain GROUP BY.
	GroupingSets [][]int
	// Having filters released rows; it refers to output columns only
	// (OutputRef) and is applied after protection. Nil when absent.
	Having Expr
	// OrderBy sorts released rows; applied after protection.
	OrderBy []OrderItem
	// Limit caps released rows; nil when absent. Applied after protection.
	Limit *int64
	// Derived are the person-level WITH queries that From reads (a
	// TableRef whose Dataset is a Derived's Name), in WITH order.
	Derived []*Derived
}

// TableRef is one dataset in FROM.
type TableRef struct {
	// Dataset is the policy dataset name.
	Dataset string
	// Alias is the name columns are qualified with in generated SQL; the
	// checker sets it (the user's alias, or the dataset name).
	Alias string
	// Left marks a dataset LEFT JOINed on the person key: every row of
	// the datasets before it is kept, with this dataset's columns NULL for
	// a person without a row here. Only a one-row-per-person dataset may
	// be LEFT JOINed (and never From[0]), so no person's rows multiply.
	Left bool
}

// GroupKey is one GROUP BY key.
type GroupKey struct {
	// Expr computes the key from row columns.
	Expr Expr
	// Name is the output column name (the alias, or a derived name).
	Name string
}

// AggKind is the kind of an aggregate.
type AggKind string

// The aggregates statgate supports.
const (
	AggCountStar     AggKind = "count_star"    // count(*)
	AggCount         AggKind = "count"         // count(col): non-null rows
	AggCountDistinct AggKind = "count_persons" // count(DISTINCT <person key>) [FILTER (WHERE c)]
	AggSum           AggKind = "sum"           // sum(col)
	AggAvg           AggKind = "avg"           // avg(col)
	AggQuantile      AggKind = "quantile"      // quantile_cont(col, p) and median(col) (p = 0.5)
	AggStddev        AggKind = "stddev"        // stddev / stddev_samp
	AggVariance      AggKind = "variance"      // variance / var_samp
)

// Aggregate is one aggregate in the SELECT list.
type Aggregate struct {
	Kind AggKind
	// Arg is the aggregated expression (a column, or for numeric
	// aggregates an expression with finite bounds by interval
	// arithmetic); nil for count(*). For a person count it is nil, or the
	// boolean condition c of count(DISTINCT pid) FILTER (WHERE c) (and of
	// count(DISTINCT CASE WHEN c THEN pid END)): the persons counted are
	// those for whom c holds on at least one of their rows in the group.
	Arg Expr
	// P is the quantile for AggQuantile, in (0, 1).
	P float64
	// Bounds are the clamping bounds [lo, hi] of Arg for sum, avg,
	// quantile, stddev and variance: a column's declared bounds, or those
	// that follow for an expression from its columns' (see Check).
	Bounds [2]float64
	// Name is the output column name (the alias, or a derived name).
	Name string
}

// ClampName is the name that a request's bounds.clamp and the
// contribution profile give a's argument: the column's name when it is a
// column or CASE WHEN c THEN column END (what agg(column) FILTER (WHERE
// c) is checked as: the column's values, some left out), else the
// aggregate's output name (an expression has no other). Named by its
// output, a FILTERed sum aliased as its column (`sum(ddd) FILTER (…) AS
// ddd`) shared the column's clamp with avg(ddd) under the CASE's profile.
func (a Aggregate) ClampName() string {
	switch x := a.Arg.(type) {
	case *ColumnRef:
		return x.Column
	case *Case:
		if len(x.Whens) == 1 && x.Else == nil {
			if c, ok := x.Whens[0].Then.(*ColumnRef); ok {
				return c.Column
			}
		}
	}
	return a.Name
}

// OutputColumn is one item of the SELECT list.
type OutputColumn struct {
	Name string
	// At most one of Key and Agg is >= 0: the index into Query.Keys or
	// Query.Aggs. When both are -1, Measure is set.
	Key int
	Agg int
	// Hidden marks an aggregate that only HAVING or ORDER BY reads: it is
	// protected like the others, and dropped from the released result
	// after HAVING, ORDER BY and LIMIT (engine/post). Hidden outputs come
	// after the SELECT list's.
	Hidden bool
	// Measure is an expression of aggregates (AggRef), numeric constants
	// and + - * / (see measure.go), computed from the aggregates'
	// released values; nil for a key or a plain aggregate.
	Measure Expr
	// Round, when set, rounds an aggregate's released value to that many
	// decimal places (negative: to tens, hundreds, …), as round(agg, n) in
	// the SELECT list asks, its interval widened outward to the same
	// places: post-processing of the released value.
	Round *int
}

// OrderItem is one ORDER BY item over output columns.
type OrderItem struct {
	// Column indexes Query.Output.
	Column int
	Desc   bool
	// Round, when set, sorts by the value rounded to that many places:
	// ORDER BY names round(agg, n) by its alias.
	Round *int
}

// Type is the static type of an expression as far as the checker knows it.
type Type string

// The expression types.
const (
	TypeUnknown  Type = ""
	TypeBool     Type = "boolean"
	TypeInteger  Type = "integer"
	TypeNumber   Type = "number"
	TypeString   Type = "string"
	TypeDate     Type = "date"
	TypeInterval Type = "interval"
	TypeNull     Type = "null"
)

// Expr is a checked scalar expression. The concrete types below are the
// whole language; anything else was refused by the checker.
type Expr interface {
	// ExprType is the expression's static type.
	ExprType() Type
	isExpr()
}

// ColumnRef refers to a dataset column.
type ColumnRef struct {
	// Table is the TableRef alias the column belongs to.
	Table string
	// Dataset and Column name the policy column.
	Dataset string
	Column  string
	Type    Type
}

// Literal is a constant. Value is nil (NULL), bool, int64, float64 or
// string; Type says how to render it (a TypeDate literal holds 'YYYY-MM-DD'
// in Value, a TypeInterval literal holds DuckDB interval text such as '1 year').
type Literal struct {
	Value any
	Type  Type
	// Double says a number constant is a DOUBLE in DuckDB (a FLOAT or
	// DOUBLE constant such as 1e19, or a constant cast to DOUBLE), not a
	// DECIMAL (1.5): DuckDB rounds the two differently when cast to an
	// integer (surelyDouble). The plan renders both as DOUBLE.
	Double bool
}

// Param is a template parameter ($name in the SQL the checker reads),
// typed from its declaration in the policy. Only a template's checked
// query holds Params; Bind replaces each with a Literal of Param.Type
// before the query is planned (the planner refuses a Param).
type Param struct {
	Name string
	Type Type
	// Double: the parameter is cast to DOUBLE, so its value binds as a
	// DOUBLE constant (Literal.Double).
	Double bool
}

// Func is a call of an allow-listed scalar function (lower-case name).
type Func struct {
	Name string
	Args []Expr
	Type Type
}

// Compare is a binary comparison: = <> < <= > >=.
type Compare struct {
	Op   string
	L, R Expr
}

// Logical is AND / OR (two or more Args) or NOT (one Arg).
type Logical struct {
	Op   string
	Args []Expr
}

// In is X [NOT] IN (List...).
type In struct {
	X    Expr
	List []Expr
	Not  bool
}

// Between is X [NOT] BETWEEN Lo AND Hi.
type Between struct {
	X, Lo, Hi Expr
	Not       bool
}

// Like is X [NOT] LIKE/ILIKE Pattern.
type Like struct {
	X, Pattern      Expr
	Not             bool
	CaseInsensitive bool
}

// IsNull is X IS [NOT] NULL.
type IsNull struct {
	X   Expr
	Not bool
}

// Arith is a binary arithmetic operation: + - * / // % (and unary minus as
// 0 - X). // is DuckDB's: of integers the quotient truncated toward zero,
// of numbers the quotient; NULL when the divisor is 0.
type Arith struct {
	Op   string
	L, R Expr
	Type Type
}

// Case is CASE WHEN ... THEN ... [ELSE ...] END (a simple CASE x WHEN v is
// rewritten to searched form by the checker).
type Case struct {
	Whens []When
	Else  Expr // nil: NULL
	Type  Type
}

// When is one WHEN cond THEN value arm.
type When struct {
	Cond, Then Expr
}

// Cast is CAST(X AS Type) to one of the model types.
type Cast struct {
	X  Expr
	To Type
}

// AggRef is an aggregate inside a SELECT item's measure expression
// (OutputColumn.Measure).
type AggRef struct {
	// Agg indexes Query.Aggs.
	Agg int
}

// WindowSum is sum(<aggregate>) OVER () or OVER (PARTITION BY keys)
// inside a SELECT item's measure expression (OutputColumn.Measure): the
// total of the aggregate's released values over the released rows of the
// result (after HAVING) that share the row's values of the partition
// keys, as SQL computes the window over the grouped rows. A row whose
// value of the aggregate is withheld is not in the total (engine/post).
type WindowSum struct {
	// Agg indexes Query.Aggs.
	Agg int
	// Partition indexes Query.Keys, ascending; empty: the whole result.
	Partition []int
	// partition is PARTITION BY as written, until the checker has the
	// keys to resolve it to (resolveWindows).
	partition []node
}

// OutputRef refers to an output column in HAVING (released values only).
type OutputRef struct {
	// Column indexes Query.Output.
	Column int
	Type   Type
	// Round, when set, compares the value rounded to that many places:
	// HAVING names round(agg, n) by its alias.
	Round *int
}

func (e *ColumnRef) ExprType() Type { return e.Type }
func (e *Literal) ExprType() Type   { return e.Type }
func (e *Param) ExprType() Type     { return e.Type }
func (e *Func) ExprType() Type      { return e.Type }
func (e *Compare) ExprType() Type   { return TypeBool }
func (e *Logical) ExprType() Type   { return TypeBool }
func (e *In) ExprType() Type        { return TypeBool }
func (e *Between) ExprType() Type   { return TypeBool }
func (e *Like) ExprType() Type      { return TypeBool }
func (e *IsNull) ExprType() Type    { return TypeBool }
func (e *Arith) ExprType() Type     { return e.Type }
func (e *Case) ExprType() Type      { return e.Type }
func (e *Cast) ExprType() Type      { return e.To }
func (e *OutputRef) ExprType() Type { return e.Type }
func (*AggRef) ExprType() Type      { return TypeNumber }
func (*WindowSum) ExprType() Type   { return TypeNumber }

func (*ColumnRef) isExpr() {}
func (*Literal) isExpr()   {}
func (*Param) isExpr()     {}
func (*Func) isExpr()      {}
func (*Compare) isExpr()   {}
func (*Logical) isExpr()   {}
func (*In) isExpr()        {}
func (*Between) isExpr()   {}
func (*Like) isExpr()      {}
func (*IsNull) isExpr()    {}
func (*Arith) isExpr()     {}
func (*Case) isExpr()      {}
func (*Cast) isExpr()      {}
func (*OutputRef) isExpr() {}
func (*AggRef) isExpr()    {}
func (*WindowSum) isExpr() {}
