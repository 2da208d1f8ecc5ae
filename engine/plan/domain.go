package plan

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/policies"
)

// MaxDomainCells is the largest number of groups the public domains of a
// query's keys may span together (the product of their sizes); Bound
// refuses more with refusal.DomainTooLarge.
const MaxDomainCells = 100_000

// keyDomain is what the planner knows about one key's public domain.
type keyDomain struct {
	// values is the domain (nil: none). A nil element is the NULL group.
	values []any
	// lo and hi are set (ranged) when values is the integer range lo..hi,
	// which the domain filter renders as BETWEEN.
	ranged bool
	lo, hi int64
	// closed: the expression cannot yield a value outside values, so no
	// filter is needed (a CASE of constants).
	closed bool
}

// hasNull reports whether the domain includes the NULL group.
func (d keyDomain) hasNull() bool {
	for _, v := range d.values {
		if v == nil {
			return true
		}
	}
	return false
}

// domainOf derives the public domain of a key expression from the policy,
// or returns a zero keyDomain when the key has none.
func domainOf(e query.Expr, pol *policies.Policy) (keyDomain, error) {
	t := e.ExprType()
	if t == query.TypeBool {
		return keyDomain{values: []any{false, true}}, nil
	}
	switch e := e.(type) {
	case *query.ColumnRef:
		col := policyColumn(pol, e)
		if col == nil || col.Domain == nil {
			return keyDomain{}, nil
		}
		return fromPolicyDomain(col.Domain, t)
	case *query.Func:
		return funcDomain(e, pol)
	case *query.Case:
		return caseDomain(e)
	case *query.Cast:
		if f, ok := truncOf(e); ok {
			return truncDomain(f, pol)
		}
	}
	return keyDomain{}, nil
}

// truncOf returns the date_trunc under a key: the checker writes
// date_trunc(part, d) as CAST(date_trunc(part, d) AS DATE).
func truncOf(e query.Expr) (*query.Func, bool) {
	c, ok := e.(*query.Cast)
	if !ok || c.To != query.TypeDate {
		return nil, false
	}
	f, ok := c.X.(*query.Func)
	if !ok || f.Name != "date_trunc" || len(f.Args) != 2 {
		return nil, false
	}
	return f, true
}

// truncMonths are the months a date_trunc part's periods last.
var truncMonths = map[string]int{"year": 12, "quarter": 3, "month": 1}

// truncDomain is the domain of date_trunc(part, col) for a year, quarter
// or month of a date column with public years: the first day of every
// such period in those years ('YYYY-MM-DD'), so a monthly series is
// listed whole, as year(col) is, instead of passing partition selection
// month by month.
func truncDomain(f *query.Func, pol *policies.Policy) (keyDomain, error) {
	part, ok := f.Args[0].(*query.Literal)
	if !ok {
		return keyDomain{}, nil
	}
	name, _ := part.Value.(string)
	months := truncMonths[strings.ToLower(name)]
	col, ok := f.Args[1].(*query.ColumnRef)
	if months == 0 || !ok {
		return keyDomain{}, nil
	}
	pc := policyColumn(pol, col)
	if pc == nil || pc.Years == nil {
		return keyDomain{}, nil
	}
	var vals []any
	for y := pc.Years[0]; y <= pc.Years[1]; y++ {
		for m := 1; m <= 12; m += months {
			vals = append(vals, fmt.Sprintf("%04d-%02d-01", y, m))
		}
	}
	return keyDomain{values: vals}, nil
}

// funcDomain handles the functions whose results have a public domain.
func funcDomain(f *query.Func, pol *policies.Policy) (keyDomain, error) {
	name, args := f.Name, f.Args
	if (name == "date_part" || name == "datepart") && len(args) == 2 {
		// date_part('year', x) is year(x).
		if part, ok := args[0].(*query.Literal); ok {
			if s, ok := part.Value.(string); ok {
				name, args = strings.ToLower(s), args[1:]
			}
		}
	}
	switch {
	case name == "icd10_chapter" && len(args) == 1:
		var vals []any
		for _, c := range ICD10Chapters() {
			vals = append(vals, c)
		}
		return keyDomain{values: vals}, nil
	case name == "year" && len(args) == 1:
		col, ok := args[0].(*query.ColumnRef)
		if !ok {
			return keyDomain{}, nil
		}
		if pc := policyColumn(pol, col); pc != nil && pc.Years != nil {
			return intRange(int64(pc.Years[0]), int64(pc.Years[1]), f.Type), nil
		}
	case len(args) == 1 && isCalendarPart(name):
		r := calendarParts[name]
		return intRange(r[0], r[1], f.Type), nil
	case name == "concat":
		return concatDomain(args, pol)
	case name == "left" && len(args) == 2:
		return prefixDomain(args[0], args[1], pol)
	case (name == "substr" || name == "substring") && len(args) == 3:
		if start, ok := intLiteral(args[1]); ok && start == 1 {
			return prefixDomain(args[0], args[2], pol)
		}
	}
	return keyDomain{}, nil
}

// listedDomain is the domain a WHERE clause gives a key it restricts to
// constants: a top-level conjunct `key IN (c1, c2, …)` or `key = c`, the
// constants being the query's own (public) text. A row with any other key
// value fails WHERE, so the domain holds every group there can be, and
// the groups are listed rather than passed through partition selection,
// which dropped a small one (`WHERE atc IN ('C10AA01', 'C10AA05',
// 'C10AA07') GROUP BY atc` released two of three statins, `WHERE icd10 =
// 'E11.9' GROUP BY icd10` nothing at 20,000 persons).
func listedDomain(key, where query.Expr) keyDomain {
	for _, c := range flattenAnd(where) {
		var list []query.Expr
		switch x := c.(type) {
		case *query.In:
			if x.Not || !reflect.DeepEqual(x.X, key) {
				continue
			}
			list = x.List
		case *query.Compare:
			switch {
			case x.Op != "=":
				continue
			case reflect.DeepEqual(x.L, key):
				list = []query.Expr{x.R}
			case reflect.DeepEqual(x.R, key):
				list = []query.Expr{x.L}
			default:
				continue
			}
		default:
			continue
		}
		vals := []any{}
		ok := true
		for _, e := range list {
			lit, isLit := e.(*query.Literal)
			if !isLit || lit.Type == query.TypeInterval {
				ok = false
				break
			}
			if lit.Value == nil {
				continue // = NULL and IN (NULL) match no row
			}
			v, err := convertValue(lit.Value, key.ExprType())
			if err != nil {
				ok = false
				break
			}
			if !containsValue(vals, v) {
				vals = append(vals, v)
			}
		}
		if ok {
			return keyDomain{values: vals}
		}
	}
	return keyDomain{}
}

// MaxDerivedValues is the largest public domain of a column a key
// computed from it by arithmetic may be derived from (derivedDomain).
const MaxDerivedValues = 10_000

// derivedDomain is the domain of a key computed by arithmetic from
// columns and keys with public domains — `2024 - birth_year`,
// `floor(birth_year / 10) * 10`, `year(d) // 5 * 5`, `year(death_date) -
// birth_year` — when nothing else gives it one: each operand's domain
// (a column's policy domain, or the domain of a key such as year(d)),
// narrowed by the WHERE clause as a key of its own, and every combination
// of their values mapped through the expression as DuckDB computes it
// (`/` divides as doubles, `//` of integers truncates toward zero, `%`
// keeps the dividend's sign, floor, ceil, round and abs), the values
// distinct. A row whose operands lie outside their domains may give a
// value outside this one, which the key's domain filter drops, as for any
// key. Combinations that no row has (a death before the birth) are listed
// too, as every group of a public domain is. The arithmetic is in
// float64, as DuckDB's on doubles, and exact on integers under 2^53
// (numberOf refuses larger ones); a domain of fractional numbers is mapped
// the same way. A division or modulo by zero on any combination, an
// operand without a domain (or with NULL in it), another operator, or more
// than MaxDerivedValues combinations gives no domain. Like every domain it
// reads the policy and the query only.
func derivedDomain(e query.Expr, pol *policies.Policy, where query.Expr) keyDomain {
	leaves, at, ok := derivedLeaves(e)
	if !ok {
		return keyDomain{}
	}
	doms := make([][]float64, len(leaves))
	combos := 1
	for i, leaf := range leaves {
		if doms[i], ok = leafValues(leaf, pol, where); !ok {
			return keyDomain{}
		}
		if combos *= len(doms[i]); combos > MaxDerivedValues {
			return keyDomain{}
		}
	}
	vals := []any{}
	seen := make(map[any]bool, combos)
	pick := make([]int, len(leaves)) // the combination: an index into each domain
	x := make([]float64, len(leaves))
	for n := 0; n < combos; n++ {
		for i := range leaves {
			x[i] = doms[i][pick[i]]
		}
		r, ok := evalArith(e, at, x)
		if !ok {
			return keyDomain{}
		}
		var out any = r
		if e.ExprType() == query.TypeInteger {
			if r != math.Trunc(r) {
				return keyDomain{}
			}
			out = int64(r)
		}
		if out == -0.0 {
			out = 0.0 // one group in DuckDB, and one key here
		}
		if !seen[out] {
			seen[out] = true
			vals = append(vals, out)
		}
		for i := range pick { // the next combination
			if pick[i]++; pick[i] < len(doms[i]) {
				break
			}
			pick[i] = 0
		}
	}
	return rangedIfContiguous(vals)
}

// rangedIfContiguous is the domain of vals, sorted and marked ranged (a
// BETWEEN filter instead of a long IN list) when they are every integer
// from the least to the greatest.
func rangedIfContiguous(vals []any) keyDomain {
	ints := make([]int64, 0, len(vals))
	for _, v := range vals {
		i, ok := v.(int64)
		if !ok {
			return keyDomain{values: vals}
		}
		ints = append(ints, i)
	}
	slices.Sort(ints)
	for i, v := range ints {
		vals[i] = v
	}
	if len(ints) > 0 && ints[len(ints)-1]-ints[0]+1 == int64(len(ints)) {
		return keyDomain{values: vals, ranged: true, lo: ints[0], hi: ints[len(ints)-1]}
	}
	return keyDomain{values: vals}
}

// leafValues is the narrowed public domain of one operand of a derived
// key (derivedLeaves) as numbers: a numeric column's policy domain of at
// most MaxDerivedValues values, or the domain domainOf gives another
// operand (year(d) of a date column with public years). No domain, or
// NULL in it, gives none.
func leafValues(leaf query.Expr, pol *policies.Policy, where query.Expr) ([]float64, bool) {
	if t := leaf.ExprType(); t != query.TypeInteger && t != query.TypeNumber {
		return nil, false
	}
	var d keyDomain
	if col, isCol := leaf.(*query.ColumnRef); isCol {
		pc := policyColumn(pol, col)
		if pc == nil || pc.Domain == nil || pc.Domain.Size() > MaxDerivedValues {
			return nil, false // not expanded: a range can be vast
		}
		var err error
		if d, err = fromPolicyDomain(pc.Domain, col.Type); err != nil {
			return nil, false
		}
	} else {
		var err error
		if d, err = domainOf(leaf, pol); err != nil || len(d.values) > MaxDerivedValues {
			return nil, false
		}
	}
	if d.values == nil {
		return nil, false
	}
	d = narrow(d, leaf, where)
	out := make([]float64, len(d.values))
	for i, v := range d.values {
		x, ok := numberOf(v)
		if !ok {
			return nil, false
		}
		out[i] = x
	}
	return out, true
}

// derivedLeaves returns the operands e computes from — columns, and calls
// of functions evalArith does not compute (year(d)), equal ones once —
// when e is made of them, numeric literals and the operations evalArith
// knows, and at, which maps each operand node of e to its index in
// leaves; none when e is an operand itself.
func derivedLeaves(e query.Expr) (leaves []query.Expr, at map[query.Expr]int, ok bool) {
	at = map[query.Expr]int{}
	leaf := func(x query.Expr) bool {
		i := slices.IndexFunc(leaves, func(l query.Expr) bool { return reflect.DeepEqual(l, x) })
		if i < 0 {
			i = len(leaves)
			leaves = append(leaves, x)
		}
		at[x] = i
		return true
	}
	var walk func(query.Expr) bool
	walk = func(x query.Expr) bool {
		switch x := x.(type) {
		case *query.ColumnRef:
			return leaf(x)
		case *query.Literal:
			_, ok := numberOf(x.Value)
			return ok
		case *query.Arith:
			return x != nil && arithEvaluable[x.Op] && walk(x.L) && walk(x.R)
		case *query.Func:
			if x != nil && len(x.Args) == 1 && unaryEvaluable[x.Name] {
				return walk(x.Args[0])
			}
			return x != nil && leaf(x)
		case *query.Cast:
			return x != nil && (x.To == query.TypeInteger || x.To == query.TypeNumber) && walk(x.X)
		}
		return false
	}
	switch e.(type) {
	case *query.ColumnRef, *query.Func:
		if f, ok := e.(*query.Func); !ok || !unaryEvaluable[f.Name] || len(f.Args) != 1 {
			return nil, nil, false // an operand itself: its own domain or none
		}
	}
	if !walk(e) || len(leaves) == 0 {
		return nil, nil, false
	}
	return leaves, at, true
}

// The operations evalArith computes as DuckDB does.
var (
	arithEvaluable = map[string]bool{"+": true, "-": true, "*": true, "/": true, "//": true, "%": true}
	unaryEvaluable = map[string]bool{"floor": true, "ceil": true, "round": true, "abs": true}
)

// numberOf is an integer or number value as a float64 that holds it
// exactly.
func numberOf(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), x > -1<<53 && x < 1<<53
	case float64:
		return x, !math.IsInf(x, 0) && !math.IsNaN(x)
	}
	return 0, false
}

// evalArith evaluates e (derivedLeaves' forms) with each operand node
// taking the value vals[at[node]].
func evalArith(e query.Expr, at map[query.Expr]int, vals []float64) (float64, bool) {
	if i, ok := at[e]; ok {
		return vals[i], true
	}
	switch x := e.(type) {
	case *query.Literal:
		return numberOf(x.Value)
	case *query.Arith:
		l, ok1 := evalArith(x.L, at, vals)
		r, ok2 := evalArith(x.R, at, vals)
		if !ok1 || !ok2 {
			return 0, false
		}
		var out float64
		switch x.Op {
		case "+":
			out = l + r
		case "-":
			out = l - r
		case "*":
			out = l * r
		case "/":
			if r == 0 {
				return 0, false
			}
			out = l / r
		case "//":
			switch {
			case r == 0:
				return 0, false // NULL
			case x.Type != query.TypeInteger:
				out = l / r // DuckDB's // of numbers
			case l != math.Trunc(l) || r != math.Trunc(r):
				return 0, false
			default:
				// Truncated toward zero, in int64 (exact: |l|, |r| < 2^53).
				out = float64(int64(l) / int64(r))
			}
		case "%":
			if r == 0 {
				return 0, false
			}
			out = math.Mod(l, r)
		}
		return out, !math.IsInf(out, 0) && !math.IsNaN(out) && math.Abs(out) < 1<<53
	case *query.Cast:
		a, ok := evalArith(x.X, at, vals)
		if !ok {
			return 0, false
		}
		if x.To == query.TypeInteger {
			return math.RoundToEven(a), true // DuckDB's cast of a number: half to even
		}
		return a, true
	case *query.Func:
		a, ok := evalArith(x.Args[0], at, vals)
		if !ok {
			return 0, false
		}
		switch x.Name {
		case "floor":
			return math.Floor(a), true
		case "ceil":
			return math.Ceil(a), true
		case "round":
			return math.Round(a), true
		case "abs":
			return math.Abs(a), true
		}
	}
	return 0, false
}

// calendarParts are the date parts whose values are the same every year.
// (date_part's part names are normalised to lower case first.)
var calendarParts = map[string][2]int64{
	"month":     {1, 12},
	"quarter":   {1, 4},
	"day":       {1, 31},
	"week":      {1, 53},
	"dow":       {0, 6},
	"dayofweek": {0, 6},
	"isodow":    {1, 7},
	"doy":       {1, 366},
	"dayofyear": {1, 366},
}

func isCalendarPart(name string) bool {
	_, ok := calendarParts[name]
	return ok
}

// concatDomain is the domain of concat(a, b, …) whose arguments are
// constants or keys with a public domain of strings, integers, dates or
// booleans: every concatenation of one value of each (DuckDB's concat
// skips NULL, so a NULL group adds ""), in order. A row whose arguments
// lie outside their domains concatenates to a value outside this one and
// is dropped by the key's domain filter, as a key outside its domain is.
// None when a product would exceed MaxDomainCells.
func concatDomain(args []query.Expr, pol *policies.Policy) (keyDomain, error) {
	texts := []string{""}
	for _, a := range args {
		var vals []any
		if lit, ok := a.(*query.Literal); ok {
			vals = []any{lit.Value}
		} else {
			d, err := domainOf(a, pol)
			if err != nil || d.values == nil {
				return keyDomain{}, err
			}
			vals = d.values
		}
		if len(texts)*len(vals) > MaxDomainCells {
			return keyDomain{}, nil
		}
		var next []string
		for _, t := range texts {
			for _, v := range vals {
				s, ok := concatText(v)
				if !ok {
					return keyDomain{}, nil
				}
				next = append(next, t+s)
			}
		}
		texts = next
	}
	var out []any
	seen := map[string]bool{}
	for _, t := range texts {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return keyDomain{values: out}, nil
}

// concatText is a domain value as concat writes it (false for a type
// whose text this package does not reproduce, such as a float).
func concatText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// prefixDomain is the domain of the first n characters of a column with
// policy prefix_domains[n].
func prefixDomain(x, n query.Expr, pol *policies.Policy) (keyDomain, error) {
	col, ok := x.(*query.ColumnRef)
	if !ok {
		return keyDomain{}, nil
	}
	length, ok := intLiteral(n)
	if !ok {
		return keyDomain{}, nil
	}
	pc := policyColumn(pol, col)
	if pc == nil || pc.PrefixDomains == nil {
		return keyDomain{}, nil
	}
	d := pc.PrefixDomains[int(length)]
	if d == nil {
		return keyDomain{}, nil
	}
	return fromPolicyDomain(d, query.TypeString)
}

// caseDomain: a CASE whose arms are all constants takes only those values
// (and NULL when it has no ELSE).
func caseDomain(c *query.Case) (keyDomain, error) {
	arms := make([]query.Expr, 0, len(c.Whens)+1)
	for _, w := range c.Whens {
		arms = append(arms, w.Then)
	}
	arms = append(arms, c.Else) // nil Else: NULL
	var vals []any
	for _, a := range arms {
		var v any
		if a != nil {
			lit, ok := a.(*query.Literal)
			if !ok {
				return keyDomain{}, nil
			}
			v = lit.Value
		}
		v, err := convertValue(v, c.Type)
		if err != nil {
			return keyDomain{}, err
		}
		if !containsValue(vals, v) {
			vals = append(vals, v)
		}
	}
	return keyDomain{values: vals, closed: true}, nil
}

// fromPolicyDomain expands a policy domain into values of type t.
func fromPolicyDomain(d *policies.Domain, t query.Type) (keyDomain, error) {
	if d.Range != nil {
		return intRange(int64(d.Range[0]), int64(d.Range[1]), t), nil
	}
	vals := make([]any, 0, len(d.Values))
	for _, s := range d.Values {
		v, err := convertValue(s, t)
		if err != nil {
			return keyDomain{}, err
		}
		vals = append(vals, v)
	}
	return keyDomain{values: vals}, nil
}

// intRange is the domain lo..hi as values of type t (int64, or float64 for
// a number key).
func intRange(lo, hi int64, t query.Type) keyDomain {
	if hi < lo {
		return keyDomain{values: []any{}}
	}
	vals := make([]any, 0, hi-lo+1)
	for v := lo; v <= hi; v++ {
		if t == query.TypeNumber {
			vals = append(vals, float64(v))
		} else {
			vals = append(vals, v)
		}
	}
	return keyDomain{values: vals, ranged: t == query.TypeInteger, lo: lo, hi: hi}
}

// convertValue converts a literal or policy value to the Go type a key of
// type t takes (int64, float64, string or bool; nil stays nil).
func convertValue(v any, t query.Type) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		switch t {
		case query.TypeInteger:
			n, err := strconv.ParseInt(x, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("domain value %q is not an integer", x)
			}
			return n, nil
		case query.TypeNumber:
			f, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return nil, fmt.Errorf("domain value %q is not a number", x)
			}
			return f, nil
		}
		return x, nil
	case int64:
		if t == query.TypeNumber {
			return float64(x), nil
		}
		return x, nil
	case int:
		return convertValue(int64(x), t)
	case float64, bool:
		return x, nil
	}
	return nil, fmt.Errorf("domain value of type %T is not supported", v)
}

func containsValue(vals []any, v any) bool {
	for _, w := range vals {
		if w == v {
			return true
		}
	}
	return false
}

// intLiteral returns the value of an integer literal.
func intLiteral(e query.Expr) (int64, bool) {
	lit, ok := e.(*query.Literal)
	if !ok {
		return 0, false
	}
	switch v := lit.Value.(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	}
	return 0, false
}

// policyColumn returns the policy column a column reference names, or nil.
func policyColumn(pol *policies.Policy, c *query.ColumnRef) *policies.Column {
	ds := pol.Datasets[c.Dataset]
	if ds == nil {
		return nil
	}
	for _, col := range ds.Columns {
		if col.Name == c.Column {
			return col
		}
	}
	return nil
}

// domainFilter renders the condition that keeps rows whose key (the
// column name col) lies in its domain; "" when every value does.
func domainFilter(col string, d keyDomain, t query.Type) string {
	switch {
	case d.values == nil || d.closed:
		return ""
	case d.ranged:
		return fmt.Sprintf("%s BETWEEN %d AND %d", col, d.lo, d.hi)
	}
	var b strings.Builder
	b.WriteString(col + " IN (")
	n := 0
	for _, v := range d.values {
		if v == nil {
			continue
		}
		if n > 0 {
			b.WriteString(", ")
		}
		b.WriteString(renderLiteral(v, t))
		n++
	}
	b.WriteString(")")
	in := b.String()
	if n == 0 {
		in = "FALSE"
	}
	if d.hasNull() {
		return "(" + in + " OR " + col + " IS NULL)"
	}
	return in
}
