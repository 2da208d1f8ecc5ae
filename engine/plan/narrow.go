package plan

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/result"
)

// narrow removes from a key's public domain the values the WHERE clause
// provably excludes: a value v goes when some top-level conjunct of where
// is not true for any row whose key is v. A conjunct counts when it reads
// the key expression alone (`year(d) >= 2022` for the key year(d),
// `sex = 'F'`, `IN (…)` lists, BETWEEN), or when it constrains the column
// a year() or prefix key is computed from (`d >= DATE '2022-03-01'`,
// `icd10 LIKE 'C50%'`, `icd10 = 'C50.9'`). Anything the evaluator does
// not understand keeps the value: the narrowing is sound, not complete.
// It reads the query and the policy only, so the domain stays public.
func narrow(d keyDomain, key query.Expr, where query.Expr) keyDomain {
	if d.values == nil || where == nil {
		return d
	}
	conjuncts := flattenAnd(where)
	kept := make([]any, 0, len(d.values))
	for _, v := range d.values {
		if !slices.ContainsFunc(conjuncts, func(c query.Expr) bool { return excludes(c, key, v) }) {
			kept = append(kept, v)
		}
	}
	if len(kept) == len(d.values) {
		return d
	}
	out := keyDomain{values: kept, closed: d.closed}
	if d.ranged && len(kept) > 0 {
		lo, okLo := kept[0].(int64)
		hi, okHi := kept[len(kept)-1].(int64)
		if okLo && okHi && hi-lo+1 == int64(len(kept)) {
			out.ranged, out.lo, out.hi = true, lo, hi
		}
	}
	return out
}

// flattenAnd lists the conjuncts of e.
func flattenAnd(e query.Expr) []query.Expr {
	if l, ok := e.(*query.Logical); ok && l != nil && strings.EqualFold(l.Op, "AND") {
		var out []query.Expr
		for _, a := range l.Args {
			out = append(out, flattenAnd(a)...)
		}
		return out
	}
	return []query.Expr{e}
}

// excludes reports whether conjunct c is never true on a row whose key is v.
func excludes(c query.Expr, key query.Expr, v any) bool {
	if val, known := evalWith(c, key, v); known {
		b, isBool := val.(bool)
		return !isBool || !b // false or NULL: the row is filtered out
	}
	return excludesBySource(c, key, v)
}

// evalWith evaluates e with the key expression taking the value v. known
// is false when e reads anything else or uses what it cannot evaluate.
// NULL is nil, with SQL's three-valued logic.
func evalWith(e query.Expr, key query.Expr, v any) (val any, known bool) {
	if reflect.DeepEqual(e, key) {
		return v, true
	}
	switch x := e.(type) {
	case *query.Literal:
		return x.Value, x.Type != query.TypeInterval
	case *query.Compare:
		l, ok1 := evalWith(x.L, key, v)
		r, ok2 := evalWith(x.R, key, v)
		if !ok1 || !ok2 {
			return nil, false
		}
		return compare(x.Op, l, r)
	case *query.Logical:
		return evalLogical(x, key, v)
	case *query.IsNull:
		val, ok := evalWith(x.X, key, v)
		return (val == nil) != x.Not, ok
	case *query.Between:
		val, ok1 := evalWith(x.X, key, v)
		lo, ok2 := evalWith(x.Lo, key, v)
		hi, ok3 := evalWith(x.Hi, key, v)
		if !ok1 || !ok2 || !ok3 {
			return nil, false
		}
		if val == nil || lo == nil || hi == nil {
			return nil, true
		}
		in := result.Compare(val, lo) >= 0 && result.Compare(val, hi) <= 0
		return in != x.Not, true
	case *query.In:
		val, ok := evalWith(x.X, key, v)
		if !ok {
			return nil, false
		}
		sawNull := false
		found := false
		for _, le := range x.List {
			lv, ok := evalWith(le, key, v)
			if !ok {
				return nil, false
			}
			if lv == nil {
				sawNull = true
			} else if val != nil && result.Compare(val, lv) == 0 {
				found = true
			}
		}
		switch {
		case val == nil:
			return nil, true
		case found:
			return !x.Not, true
		case sawNull:
			return nil, true
		}
		return x.Not, true
	case *query.Like:
		val, ok1 := evalWith(x.X, key, v)
		pat, ok2 := evalWith(x.Pattern, key, v)
		if !ok1 || !ok2 {
			return nil, false
		}
		s, isStr := val.(string)
		p, isPat := pat.(string)
		if val == nil || pat == nil {
			return nil, true
		}
		if !isStr || !isPat {
			return nil, false
		}
		return likeMatch(s, p, x.CaseInsensitive) != x.Not, true
	}
	return nil, false
}

// evalLogical is AND, OR and NOT in three-valued logic.
func evalLogical(x *query.Logical, key query.Expr, v any) (any, bool) {
	op := strings.ToUpper(x.Op)
	if op == "NOT" {
		val, ok := evalWith(x.Args[0], key, v)
		if b, isBool := val.(bool); isBool {
			return !b, ok
		}
		return nil, ok
	}
	sawNull := false
	for _, a := range x.Args {
		val, ok := evalWith(a, key, v)
		if !ok {
			return nil, false
		}
		b, isBool := val.(bool)
		switch {
		case !isBool:
			sawNull = true
		case op == "AND" && !b:
			return false, true
		case op == "OR" && b:
			return true, true
		}
	}
	if sawNull {
		return nil, true
	}
	return op == "AND", op == "AND" || op == "OR"
}

// compare applies a comparison operator; NULL compares to NULL.
func compare(op string, l, r any) (any, bool) {
	if l == nil || r == nil {
		return nil, true
	}
	if _, ok := result.Number(l); ok != isNumber(r) {
		return nil, false // mixed types: leave it to DuckDB
	}
	c := result.Compare(l, r)
	switch op {
	case "=", "==":
		return c == 0, true
	case "<>", "!=":
		return c != 0, true
	case "<":
		return c < 0, true
	case "<=":
		return c <= 0, true
	case ">":
		return c > 0, true
	case ">=":
		return c >= 0, true
	}
	return nil, false
}

func isNumber(v any) bool {
	_, ok := result.Number(v)
	return ok
}

// likeMatch is SQL LIKE: % any run, _ any one character.
func likeMatch(s, pattern string, fold bool) bool {
	var re strings.Builder
	re.WriteString("^")
	if fold {
		re.WriteString("(?i)")
	}
	for _, r := range pattern {
		switch r {
		case '%':
			re.WriteString("(?s:.*)")
		case '_':
			re.WriteString("(?s:.)")
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re.WriteString("$")
	m, err := regexp.MatchString(re.String(), s)
	return err == nil && m
}

// excludesBySource handles a conjunct on the column a key is computed
// from: year(col) keys against date comparisons of col, and prefix keys
// (left(col, n), substr(col, 1, n)) against col = 'x', col IN ('x', …)
// and col LIKE 'prefix%'.
func excludesBySource(c query.Expr, key query.Expr, v any) bool {
	if t, ok := truncOf(key); ok {
		first, ok := v.(string)
		col, isCol := t.Args[1].(*query.ColumnRef)
		part, _ := literalString(t.Args[0])
		return ok && isCol && excludesPeriod(c, col, first, truncMonths[strings.ToLower(part)])
	}
	f, ok := key.(*query.Func)
	if !ok || len(f.Args) == 0 {
		return false
	}
	col, ok := f.Args[0].(*query.ColumnRef)
	if !ok {
		return false
	}
	switch {
	case strings.EqualFold(f.Name, "year") && len(f.Args) == 1:
		year, ok := v.(int64)
		if !ok {
			return false
		}
		return excludesYear(c, col, year)
	case strings.EqualFold(f.Name, "left") && len(f.Args) == 2:
		n, ok := intLiteral(f.Args[1])
		return ok && excludesPrefix(c, col, int(n), v)
	case (strings.EqualFold(f.Name, "substr") || strings.EqualFold(f.Name, "substring")) && len(f.Args) == 3:
		start, ok1 := intLiteral(f.Args[1])
		n, ok2 := intLiteral(f.Args[2])
		return ok1 && ok2 && start == 1 && excludesPrefix(c, col, int(n), v)
	}
	return false
}

// dateLiteral returns the 'YYYY-MM-DD' of a date literal.
func dateLiteral(e query.Expr) (string, bool) {
	l, ok := e.(*query.Literal)
	if !ok || l.Type != query.TypeDate {
		return "", false
	}
	s, ok := l.Value.(string)
	return s, ok && len(s) == len("2006-01-02")
}

// excludesPeriod reports whether conjunct c is false for every row whose
// date column col lies in the period of the given months from first
// ('YYYY-MM-01'): a comparison of col with a date, or of year(col) with
// anything the evaluator reads (the period lies within one year).
func excludesPeriod(c query.Expr, col *query.ColumnRef, first string, months int) bool {
	start, err := time.Parse("2006-01-02", first)
	if err != nil || months <= 0 || start.Day() != 1 {
		return false
	}
	last := start.AddDate(0, months, -1).Format("2006-01-02")
	year := &query.Func{Name: "year", Args: []query.Expr{col}, Type: query.TypeInteger}
	if val, known := evalWith(c, year, int64(start.Year())); known {
		b, isBool := val.(bool)
		return !isBool || !b
	}
	return excludesDays(c, col, first, last)
}

// excludesYear reports whether conjunct c on date column col is false for
// every day of year.
func excludesYear(c query.Expr, col *query.ColumnRef, year int64) bool {
	first, last := yearBounds(year)
	return excludesDays(c, col, first, last)
}

// excludesDays reports whether conjunct c on date column col is false for
// every day from first to last ('YYYY-MM-DD').
func excludesDays(c query.Expr, col *query.ColumnRef, first, last string) bool {
	switch x := c.(type) {
	case *query.Compare:
		if !reflect.DeepEqual(x.L, col) {
			return false
		}
		d, ok := dateLiteral(x.R)
		if !ok {
			return false
		}
		switch x.Op {
		case ">=":
			return last < d
		case ">":
			return last <= d
		case "<=":
			return first > d
		case "<":
			return first >= d
		case "=":
			return d < first || d > last
		}
	case *query.Between:
		if x.Not || !reflect.DeepEqual(x.X, col) {
			return false
		}
		lo, ok1 := dateLiteral(x.Lo)
		hi, ok2 := dateLiteral(x.Hi)
		return ok1 && ok2 && (last < lo || first > hi)
	}
	return false
}

// yearBounds are the first and last day of year as 'YYYY-MM-DD'.
func yearBounds(year int64) (string, string) {
	y := padYear(year)
	return y + "-01-01", y + "-12-31"
}

func padYear(y int64) string {
	return fmt.Sprintf("%04d", y)
}

// excludesPrefix reports whether conjunct c on column col rules out every
// value whose first n characters are v.
func excludesPrefix(c query.Expr, col *query.ColumnRef, n int, v any) bool {
	prefix, ok := v.(string)
	if !ok {
		return false
	}
	// keyOf is the key of a row whose column holds s.
	keyOf := func(s string) string {
		if r := []rune(s); len(r) > n {
			return string(r[:n])
		}
		return s
	}
	// consistent: some value starting with s has the key v.
	consistent := func(s string) bool {
		if len([]rune(s)) >= n {
			return keyOf(s) == prefix
		}
		return strings.HasPrefix(prefix, s)
	}
	switch x := c.(type) {
	case *query.Compare:
		if x.Op != "=" || !reflect.DeepEqual(x.L, col) {
			return false
		}
		s, ok := literalString(x.R)
		return ok && keyOf(s) != prefix
	case *query.In:
		if x.Not || !reflect.DeepEqual(x.X, col) {
			return false
		}
		for _, le := range x.List {
			s, ok := literalString(le)
			if !ok || keyOf(s) == prefix {
				return false
			}
		}
		return true
	case *query.Like:
		if x.Not || x.CaseInsensitive || !reflect.DeepEqual(x.X, col) {
			return false
		}
		p, ok := literalString(x.Pattern)
		if !ok {
			return false
		}
		fixed := p
		if i := strings.IndexAny(p, "%_"); i >= 0 {
			fixed = p[:i]
		}
		return !consistent(fixed)
	}
	return false
}

func literalString(e query.Expr) (string, bool) {
	l, ok := e.(*query.Literal)
	if !ok {
		return "", false
	}
	s, ok := l.Value.(string)
	return s, ok
}
