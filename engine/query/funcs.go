package query

import (
	"slices"
	"strings"

	"github.com/statgate/statgate/engine/refusal"
)

// aggregateNames are DuckDB's aggregate functions the checker recognises,
// so that an aggregate where none may stand gets a clear refusal. Whether
// one is allowed is decided in aggregate.go.
var aggregateNames = map[string]bool{
	"count": true, "count_star": true, "sum": true, "avg": true, "mean": true, "median": true,
	"quantile": true, "quantile_cont": true, "quantile_disc": true, "percentile_cont": true, "percentile_disc": true,
	"stddev": true, "stddev_samp": true, "stddev_pop": true, "variance": true, "var_samp": true, "var_pop": true,
	"min": true, "max": true, "string_agg": true, "group_concat": true, "listagg": true, "list": true, "array_agg": true,
	"first": true, "last": true, "any_value": true, "arbitrary": true, "arg_max": true, "arg_min": true, "argmax": true,
	"argmin": true, "max_by": true, "min_by": true, "mode": true, "histogram": true, "entropy": true, "kurtosis": true,
	"kurtosis_pop": true, "skewness": true, "product": true, "fsum": true, "sumkahan": true, "kahan_sum": true,
	"favg": true, "geomean": true, "geometric_mean": true, "mad": true, "approx_count_distinct": true,
	"approx_quantile": true, "approx_top_k": true, "reservoir_quantile": true, "count_if": true, "countif": true,
	"bool_and": true, "bool_or": true, "bit_and": true, "bit_or": true, "bit_xor": true, "bitstring_agg": true,
	"corr": true, "covar_pop": true, "covar_samp": true, "regr_avgx": true, "regr_avgy": true, "regr_count": true,
	"regr_intercept": true, "regr_r2": true, "regr_slope": true, "regr_sxx": true, "regr_sxy": true, "regr_syy": true,
	"sum_no_overflow": true, "weighted_avg": true, "wavg": true, "list_agg": true, "json_group_array": true,
	"json_group_object": true, "json_group_structure": true, "sem": true, "grouping": true, "grouping_id": true,
}

// nonDeterministic are functions refused with a hint about constants.
var nonDeterministic = map[string]bool{
	"random": true, "now": true, "current_date": true, "current_time": true, "current_timestamp": true,
	"today": true, "get_current_time": true, "get_current_timestamp": true, "transaction_timestamp": true,
	"localtime": true, "localtimestamp": true, "uuid": true, "gen_random_uuid": true, "setseed": true,
	"current_setting": true, "getenv": true, "version": true, "current_user": true, "user": true,
	"current_schema": true, "current_database": true, "current_catalog": true, "session_user": true,
	"current_role": true, "pragma_version": true, "txid_current": true,
}

// nonDeterministicHint is the hint of a refused non-deterministic function.
const nonDeterministicHint = "write dates and values as constants, e.g. DATE '2024-12-31'"

// intervalFuncs are the functions DuckDB's parser writes INTERVAL n UNIT as.
var intervalFuncs = map[string]string{
	"to_years": "year", "to_quarters": "quarter", "to_months": "month", "to_weeks": "week", "to_days": "day",
}

// otherIntervalFuncs are the interval units the checker refuses.
var otherIntervalFuncs = map[string]bool{
	"to_hours": true, "to_minutes": true, "to_seconds": true, "to_milliseconds": true, "to_microseconds": true,
	"to_decades": true, "to_centuries": true, "to_millennia": true,
}

// dateParts are the parts date_part / extract accept, with the function
// the common ones are normalised to ("" keeps date_part).
var dateParts = map[string]string{
	"year": "year", "quarter": "quarter", "month": "month", "day": "day",
	"week": "", "dow": "", "dayofweek": "", "isodow": "", "doy": "", "dayofyear": "",
}

// truncParts and diffParts are the parts date_trunc and date_diff accept.
var (
	truncParts = map[string]bool{"year": true, "quarter": true, "month": true, "week": true, "day": true}
	diffParts  = map[string]bool{"year": true, "quarter": true, "month": true, "week": true, "day": true}
)

// funcHint lists the scalar functions for refusal hints.
const funcHint = "allowed functions: substr, left, right, upper, lower, length, trim, prefix, starts_with, concat, regexp_matches, regexp_full_match, " +
	"year, quarter, month, day, dayofweek, isodow, dayofyear, week, dayname, monthname, date_trunc, date_part/extract, date_diff, strftime, " +
	"abs, floor, ceil, round, least, greatest, coalesce, nullif, icd10_chapter"

// function checks a FUNCTION node in a scalar expression: an operator
// (+ - * / % LIKE ...) or an allow-listed scalar function.
func (ck *checker) function(n node, cl clause, depth int) (Expr, error) {
	name := strings.ToLower(n.str("function_name"))
	if aggregateNames[name] {
		return nil, aggregateMisplaced(name, cl)
	}
	// DuckDB's parser itself writes some rewrites (extract, list literals) as main.f.
	if (n.set("schema") && n.str("schema") != "main") || n.set("catalog") {
		return nil, refuse(refusal.FunctionNotAllowed, funcHint, "functions may not be qualified with a schema")
	}
	if n.flag("distinct") || n.set("filter") || len(n.obj("order_bys").list("orders")) > 0 || n.flag("export_state") {
		return nil, refuse(refusal.ExpressionNotAllowed, "", "DISTINCT, FILTER and ORDER BY apply to aggregates only")
	}
	kids, ok := n.nodes("children")
	if !ok {
		return nil, refuse(refusal.ExpressionNotAllowed, "", "the arguments of %s are not understood", name)
	}
	if unit, ok := intervalFuncs[name]; ok {
		return intervalConstant(kids, unit)
	}
	if otherIntervalFuncs[name] {
		return nil, refuse(refusal.BadLiteral, "write intervals in years, quarters, months, weeks or days, e.g. INTERVAL 7 DAY",
			"intervals of this unit are not supported: the data holds dates")
	}
	if nonDeterministic[name] {
		return nil, refuse(refusal.FunctionNotAllowed, nonDeterministicHint,
			"the function %s is not allowed: results must depend on the data and the query only", name)
	}
	if name == "age" {
		return nil, refuse(refusal.FunctionNotAllowed, "use date_diff('year', from_date, to_date) with explicit dates",
			"age(...) is not allowed: it depends on today's date and returns an interval")
	}
	switch name {
	case "||":
		return nil, refuse(refusal.OperatorNotAllowed, "use concat(a, b)", "the operator || is not supported")
	case "like_escape", "not_like_escape", "ilike_escape", "not_ilike_escape":
		return nil, refuse(refusal.OperatorNotAllowed, "use LIKE without ESCAPE", "LIKE ... ESCAPE is not supported")
	case "row", "list_value", "struct_pack", "array_extract", "list_extract":
		return nil, refuse(refusal.ExpressionNotAllowed, "compare scalar values", "lists, structs and row values are not supported")
	case "^@":
		name = "starts_with"
	case "regexp_full_match":
		if !writtenAsCall(n, kids) {
			return nil, refuse(refusal.OperatorNotAllowed,
				"write regexp_full_match(col, 'pattern') to match the whole string, or regexp_matches(col, 'pattern') to match part of it",
				"~, !~ and SIMILAR TO are not supported: in DuckDB they match the whole string, unlike PostgreSQL's ~")
		}
	}
	_, isFunc := scalarFuncs[name]
	if !isFunc && !operators[name] {
		if len(name) > 0 && !isWordChar(name[0]) {
			return nil, refuse(refusal.OperatorNotAllowed, "use comparisons, arithmetic (+ - * / // %) and LIKE",
				"the operator %s is not supported", name)
		}
		return nil, refuse(refusal.FunctionNotAllowed, funcHint, "the function %s is not allowed", name)
	}
	args := make([]Expr, len(kids))
	for i, k := range kids {
		e, err := ck.expr(k, cl, depth+1)
		if err != nil {
			return nil, err
		}
		args[i] = e
	}
	switch name {
	case "+", "-", "*", "/", "//", "%":
		return arith(name, args)
	case "~~", "!~~", "~~*", "!~~*":
		if len(args) != 2 {
			return nil, refuse(refusal.ExpressionNotAllowed, "", "LIKE needs two operands")
		}
		if err := wantTypes("LIKE", args, TypeString, TypeString); err != nil {
			return nil, err
		}
		return &Like{X: args[0], Pattern: args[1], Not: name[0] == '!', CaseInsensitive: strings.HasSuffix(name, "*")}, nil
	}
	return scalarFuncs[name](name, args)
}

// operators are the operator "functions" of DuckDB's parse tree the checker accepts.
var operators = map[string]bool{"+": true, "-": true, "*": true, "/": true, "//": true, "%": true, "~~": true, "!~~": true, "~~*": true, "!~~*": true}

func isWordChar(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
}

// aggregateMisplaced refuses an aggregate where only a scalar may stand.
func aggregateMisplaced(name string, cl clause) error {
	if name == "count_star" {
		name = "count"
	}
	switch cl {
	case inWhere:
		return refuse(refusal.AggregateInWhere, "filter groups on an aggregate with HAVING over an output column",
			"the aggregate %s may not be used in WHERE", name)
	case inGroupBy:
		return refuse(refusal.AggregateInGroupBy, "group by columns or expressions of columns",
			"the aggregate %s may not be used in GROUP BY", name)
	case inAggregate:
		return refuse(refusal.NestedAggregate, "aggregate a column directly",
			"aggregates may not be nested (%s inside another aggregate)", name)
	}
	return refuse(refusal.AggregateInExpression, "select the aggregate itself and compute with the released value afterwards",
		"the aggregate %s may not be part of a larger expression in %s", name, cl)
}

// intervalConstant turns DuckDB's rewrite of INTERVAL n UNIT,
// to_<unit>s(CAST(trunc(CAST(n AS DOUBLE)) AS INTEGER)), back into an
// interval literal. n must be an integer constant.
func intervalConstant(kids []node, unit string) (Expr, error) {
	bad := refuse(refusal.BadLiteral, "write intervals with a constant, e.g. INTERVAL 3 MONTH", "INTERVAL needs an integer constant")
	if len(kids) != 1 {
		return nil, bad
	}
	n := kids[0]
	for range 8 {
		switch {
		case n.class() == "CAST":
			n = n.obj("child")
			continue
		case n.class() == "FUNCTION" && n.str("function_name") == "trunc":
			k, ok := n.nodes("children")
			if !ok || len(k) != 1 {
				return nil, bad
			}
			n = k[0]
			continue
		}
		break
	}
	if n.class() != "CONSTANT" {
		return nil, bad
	}
	lit, err := literal(n.obj("value"))
	if err != nil {
		return nil, err
	}
	i, ok := lit.Value.(int64)
	if !ok {
		return nil, bad
	}
	return intervalOf(i, unit)
}

// arith checks a binary arithmetic operation or unary minus. a // b is an
// integer (the quotient truncated toward zero, as DuckDB divides integers
// with //: -7 // 2 = -3) when both operands are, and a number otherwise
// (DuckDB's // of numbers is their quotient: 7.5 // 2 = 3.75); by 0 it is
// NULL.
func arith(op string, args []Expr) (Expr, error) {
	if op == "-" && len(args) == 1 {
		switch lit := args[0].(type) {
		case *Literal:
			switch v := lit.Value.(type) {
			case int64:
				if v != -v || v == 0 {
					return &Literal{Value: -v, Type: TypeInteger}, nil
				}
			case float64:
				return &Literal{Value: -v, Type: TypeNumber}, nil
			}
		}
		t := args[0].ExprType()
		if !isNumeric(t) && !loose(t) {
			return nil, refuse(refusal.TypeMismatch, "", "cannot negate a value of type %s", t)
		}
		if loose(t) {
			t = TypeNumber
		}
		return &Arith{Op: "-", L: &Literal{Value: int64(0), Type: TypeInteger}, R: args[0], Type: t}, nil
	}
	if op == "+" && len(args) == 1 {
		if t := args[0].ExprType(); !isNumeric(t) && !loose(t) {
			return nil, refuse(refusal.TypeMismatch, "", "unary + needs a number, not %s", t)
		}
		return args[0], nil
	}
	if len(args) != 2 {
		return nil, refuse(refusal.ExpressionNotAllowed, "", "the operator %s needs two operands", op)
	}
	l, r := args[0], args[1]
	lt, rt := l.ExprType(), r.ExprType()
	if loose(lt) && loose(rt) {
		return &Arith{Op: op, L: l, R: r, Type: TypeNumber}, nil
	}
	if (isNumeric(lt) || loose(lt)) && (isNumeric(rt) || loose(rt)) {
		t := TypeNumber
		if (lt == TypeInteger || loose(lt)) && (rt == TypeInteger || loose(rt)) && op != "/" {
			t = TypeInteger
		}
		return &Arith{Op: op, L: l, R: r, Type: t}, nil
	}
	// Date arithmetic: date ± integer days, date ± interval, date - date.
	switch {
	case op == "+" && lt == TypeDate && rt == TypeInteger, op == "+" && lt == TypeInteger && rt == TypeDate,
		op == "-" && lt == TypeDate && rt == TypeInteger:
		return &Arith{Op: op, L: l, R: r, Type: TypeDate}, nil
	case op == "+" && lt == TypeDate && rt == TypeInterval, op == "+" && lt == TypeInterval && rt == TypeDate,
		op == "-" && lt == TypeDate && rt == TypeInterval:
		// DuckDB returns a TIMESTAMP here; the cast keeps the key a date.
		return &Cast{X: &Arith{Op: op, L: l, R: r, Type: TypeDate}, To: TypeDate}, nil
	case op == "-" && lt == TypeDate && rt == TypeDate:
		return &Arith{Op: op, L: l, R: r, Type: TypeInteger}, nil
	}
	return nil, refuse(refusal.TypeMismatch, "use numbers, or date ± integer days / interval, or date_diff(...)",
		"the operator %s cannot combine %s and %s", op, lt, rt)
}

// wantTypes checks that args have the given types (integer accepts
// number where want is number; NULL and unknown pass).
func wantTypes(name string, args []Expr, want ...Type) error {
	if len(args) != len(want) {
		return refuse(refusal.BadArgument, funcHint, "%s takes %d arguments, not %d", name, len(want), len(args))
	}
	for i, a := range args {
		t := a.ExprType()
		if t == want[i] || loose(t) || (want[i] == TypeNumber && t == TypeInteger) {
			continue
		}
		return refuse(refusal.TypeMismatch, "cast the argument, e.g. CAST(x AS VARCHAR)",
			"argument %d of %s must be %s, not %s", i+1, name, want[i], t)
	}
	return nil
}

// FuncNames lists every name a checked Func can have, with its arguments:
//
//	substr(s, start[, len])  left(s, n)  right(s, n)  upper(s)  lower(s)  length(s)
//	trim(s[, chars])  starts_with(s, prefix)  concat(x, ...)
//	year(d)  quarter(d)  month(d)  day(d)
//	date_part(part, d)     part: a string Literal, one of week, dow, isodow, doy
//	date_trunc(part, d)    part: year, quarter, month, week or day; always
//	                       wrapped in Cast{To: TypeDate} (DuckDB returns a TIMESTAMP)
//	date_diff(part, a, b)  part: year, quarter, month, week or day
//	strftime(d, format)    format: a constant of StrftimeSpecifiers and text
//	dayofweek(d)  isodow(d)  dayofyear(d)  week(d)  (as date_part; weekday,
//	                       weekofyear and dayofmonth are synonyms)
//	dayname(d)  monthname(d)  strftime(d, '%A') and strftime(d, '%B'),
//	                       DuckDB's own functions (DateFormats)
//	regexp_matches(s, pattern)     pattern: a constant CheckPattern accepts;
//	regexp_full_match(s, pattern)  true when it matches part / all of s
//	abs(x)  floor(x)  ceil(x)  round(x[, digits])
//	least(x, y, ...)  greatest(x, y, ...)  coalesce(x, ...)  nullif(x, y)
//	icd10_chapter(col)     statgate's own: the ICD-10 chapter (I..XXII) of a
//	                       string column; the planner renders it as a CASE
//
// Synonyms are normalised: substring → substr, ceiling → ceil, datediff →
// date_diff, prefix and ^@ → starts_with, ifnull → coalesce, and
// extract/date_part of year, quarter, month and day → year(d) etc.
var FuncNames = []string{
	"substr", "left", "right", "upper", "lower", "length", "trim", "starts_with", "concat",
	"year", "quarter", "month", "day", "date_part", "date_trunc", "date_diff",
	"abs", "floor", "ceil", "round", "least", "greatest", "coalesce", "nullif", "icd10_chapter",
	"strftime", "dayofweek", "isodow", "dayofyear", "week", "dayname", "monthname",
	"regexp_matches", "regexp_full_match",
}

// scalarFunc checks the (already checked) arguments of one allowed
// function and returns the model expression.
type scalarFunc func(name string, args []Expr) (Expr, error)

// scalarFuncs is the scalar function allow-list by the name users call;
// each entry returns a Func named as in FuncNames.
var scalarFuncs map[string]scalarFunc

func init() {
	fixed := func(canon string, ret Type, want ...Type) scalarFunc {
		return func(name string, args []Expr) (Expr, error) {
			if err := wantTypes(name, args, want...); err != nil {
				return nil, err
			}
			return &Func{Name: canon, Args: args, Type: ret}, nil
		}
	}
	scalarFuncs = map[string]scalarFunc{
		"left":              fixed("left", TypeString, TypeString, TypeInteger),
		"right":             fixed("right", TypeString, TypeString, TypeInteger),
		"upper":             fixed("upper", TypeString, TypeString),
		"lower":             fixed("lower", TypeString, TypeString),
		"length":            fixed("length", TypeInteger, TypeString),
		"prefix":            fixed("starts_with", TypeBool, TypeString, TypeString),
		"starts_with":       fixed("starts_with", TypeBool, TypeString, TypeString),
		"year":              fixed("year", TypeInteger, TypeDate),
		"quarter":           fixed("quarter", TypeInteger, TypeDate),
		"month":             fixed("month", TypeInteger, TypeDate),
		"day":               fixed("day", TypeInteger, TypeDate),
		"floor":             fixed("floor", TypeNumber, TypeNumber),
		"ceil":              fixed("ceil", TypeNumber, TypeNumber),
		"ceiling":           fixed("ceil", TypeNumber, TypeNumber),
		"substr":            substr,
		"substring":         substr,
		"trim":              trim,
		"concat":            concat,
		"abs":               abs,
		"round":             round,
		"least":             variadic("least", 2),
		"greatest":          variadic("greatest", 2),
		"coalesce":          variadic("coalesce", 1),
		"nullif":            nullif,
		"date_part":         datePart,
		"date_trunc":        dateTrunc,
		"date_diff":         dateDiff,
		"datediff":          dateDiff,
		"icd10_chapter":     icd10Chapter,
		"strftime":          strftime,
		"dayofweek":         partFunc("dow"),
		"weekday":           partFunc("dow"),
		"isodow":            partFunc("isodow"),
		"dayofyear":         partFunc("doy"),
		"week":              partFunc("week"),
		"weekofyear":        partFunc("week"),
		"dayofmonth":        partFunc("day"),
		"regexp_matches":    regexpMatch,
		"regexp_full_match": regexpMatch,
		"dayname":           fixed("dayname", TypeString, TypeDate),
		"monthname":         fixed("monthname", TypeString, TypeDate),
	}
}

// DateFormats are the date functions that format a date as strftime does
// with one constant format: DuckDB's dayname(d) is strftime(d, '%A') and
// monthname(d) strftime(d, '%B'), English names.
var DateFormats = map[string]string{"dayname": "%A", "monthname": "%B"}

// partFunc is a one-argument date part function, e.g. dayofweek(d),
// checked as date_part('dow', d).
func partFunc(part string) scalarFunc {
	return func(name string, args []Expr) (Expr, error) {
		if len(args) != 1 {
			return nil, refuse(refusal.BadArgument, funcHint, "%s takes 1 argument", name)
		}
		return datePart(name, []Expr{&Literal{Value: part, Type: TypeString}, args[0]})
	}
}

// StrftimeSpecifiers are the strftime format specifiers the checker
// accepts, with their meaning on a date (DuckDB's, English names).
var StrftimeSpecifiers = map[string]string{
	"%Y": "year, 4 digits", "%y": "year, 2 digits", "%m": "month 01–12", "%-m": "month 1–12",
	"%d": "day of month 01–31", "%-d": "day of month 1–31", "%j": "day of year 001–366", "%-j": "day of year 1–366",
	"%B": "month name (January)", "%b": "abbreviated month name (Jan)", "%A": "weekday name (Sunday)",
	"%a": "abbreviated weekday name (Sun)", "%w": "weekday 0–6, Sunday 0", "%u": "ISO weekday 1–7, Monday 1", "%%": "a % sign",
}

// strftime(d, format) formats a date with a constant format of the
// specifiers in StrftimeSpecifiers (and other characters as they are), so
// that the planner can list every value it takes on a date column with
// public years.
func strftime(name string, args []Expr) (Expr, error) {
	if len(args) != 2 {
		return nil, refuse(refusal.BadArgument, funcHint, "strftime takes 2 arguments: a date and a format")
	}
	if err := wantTypes(name, args[:1], TypeDate); err != nil {
		return nil, err
	}
	f, ok := litString(asLiteral(args[1]))
	if !ok {
		return nil, refuse(refusal.BadArgument, "write the format as a constant, e.g. strftime(d, '%Y-%m')", "the format of strftime must be a constant string")
	}
	if _, err := StrftimeParts(f); err != nil {
		return nil, err
	}
	return &Func{Name: "strftime", Args: args, Type: TypeString}, nil
}

// StrftimeParts splits a strftime format into specifiers (keys of
// StrftimeSpecifiers) and literal text, refusing any other specifier.
func StrftimeParts(format string) ([]string, error) {
	var parts []string
	for i := 0; i < len(format); {
		if format[i] != '%' {
			j := strings.IndexByte(format[i:], '%')
			if j < 0 {
				j = len(format) - i
			}
			parts = append(parts, format[i:i+j])
			i += j
			continue
		}
		n := 2
		if i+1 < len(format) && format[i+1] == '-' {
			n = 3
		}
		spec := format[i:min(i+n, len(format))]
		if _, ok := StrftimeSpecifiers[spec]; !ok {
			return nil, refuse(refusal.BadArgument, "use %Y, %y, %m, %-m, %d, %-d, %j, %B, %b, %A, %a, %w, %u and %% in a date's format",
				"the strftime specifier %q is not supported", spec)
		}
		parts = append(parts, spec)
		i += n
	}
	return parts, nil
}

func substr(name string, args []Expr) (Expr, error) {
	want := []Type{TypeString, TypeInteger, TypeInteger}
	if len(args) == 2 {
		want = want[:2]
	}
	if err := wantTypes(name, args, want...); err != nil {
		return nil, err
	}
	return &Func{Name: "substr", Args: args, Type: TypeString}, nil
}

func trim(name string, args []Expr) (Expr, error) {
	want := []Type{TypeString, TypeString}
	if len(args) == 1 {
		want = want[:1]
	}
	if err := wantTypes(name, args, want...); err != nil {
		return nil, err
	}
	return &Func{Name: "trim", Args: args, Type: TypeString}, nil
}

func concat(name string, args []Expr) (Expr, error) {
	if len(args) == 0 {
		return nil, refuse(refusal.BadArgument, funcHint, "concat needs at least one argument")
	}
	for _, a := range args {
		if a.ExprType() == TypeInterval {
			return nil, refuse(refusal.TypeMismatch, "", "concat cannot take intervals")
		}
		if mayBeTimestamp(a) {
			return nil, refuse(refusal.BadArgument, "format the date with strftime(d, '%Y-%m') instead",
				"concat of date_trunc(...) is not supported")
		}
	}
	return &Func{Name: "concat", Args: args, Type: TypeString}, nil
}

func abs(name string, args []Expr) (Expr, error) {
	if err := wantTypes(name, args, TypeNumber); err != nil {
		return nil, err
	}
	t := args[0].ExprType()
	if loose(t) {
		t = TypeNumber
	}
	return &Func{Name: "abs", Args: args, Type: t}, nil
}

func round(name string, args []Expr) (Expr, error) {
	want := []Type{TypeNumber, TypeInteger}
	if len(args) == 1 {
		want = want[:1]
	}
	if err := wantTypes(name, args, want...); err != nil {
		return nil, err
	}
	// DuckDB rounds an integer to an integer (round(7, -1) = 10, an
	// INTEGER), which // divides as one.
	t := TypeNumber
	if args[0].ExprType() == TypeInteger {
		t = TypeInteger
	}
	return &Func{Name: "round", Args: args, Type: t}, nil
}

func variadic(canon string, min int) scalarFunc {
	return func(name string, args []Expr) (Expr, error) {
		if len(args) < min {
			return nil, refuse(refusal.BadArgument, funcHint, "%s needs at least %d arguments", name, min)
		}
		args, t, err := unify(args, "the arguments of "+name)
		if err != nil {
			return nil, err
		}
		return &Func{Name: canon, Args: args, Type: t}, nil
	}
}

func nullif(name string, args []Expr) (Expr, error) {
	if len(args) != 2 {
		return nil, refuse(refusal.BadArgument, funcHint, "nullif takes 2 arguments")
	}
	l, r, err := comparable(args[0], args[1], "compare in nullif")
	if err != nil {
		return nil, err
	}
	return &Func{Name: "nullif", Args: []Expr{l, r}, Type: l.ExprType()}, nil
}

// constPart returns the lower-case text of a constant part argument
// ('year', 'month', ...).
func constPart(name string, arg Expr) (string, error) {
	lit, ok := arg.(*Literal)
	if s, isStr := litString(lit); ok && isStr {
		return strings.ToLower(strings.TrimSpace(s)), nil
	}
	return "", refuse(refusal.BadArgument, "write the part as a constant, e.g. "+name+"('year', ...)",
		"the first argument of %s must be a constant part name", name)
}

func litString(l *Literal) (string, bool) {
	if l == nil {
		return "", false
	}
	s, ok := l.Value.(string)
	return s, ok && l.Type == TypeString
}

func datePart(name string, args []Expr) (Expr, error) {
	if len(args) != 2 {
		return nil, refuse(refusal.BadArgument, funcHint, "%s takes 2 arguments", name)
	}
	part, err := constPart("date_part", args[0])
	if err != nil {
		return nil, err
	}
	fn, ok := dateParts[part]
	if !ok {
		return nil, refuse(refusal.BadArgument, "use year, quarter, month, week, day, dow or doy",
			"date_part/extract of %q is not supported", part)
	}
	if err := wantTypes(name, args[1:], TypeDate); err != nil {
		return nil, err
	}
	if fn != "" {
		return &Func{Name: fn, Args: args[1:], Type: TypeInteger}, nil
	}
	switch part {
	case "dayofweek":
		part = "dow"
	case "dayofyear":
		part = "doy"
	}
	return &Func{Name: "date_part", Args: []Expr{&Literal{Value: part, Type: TypeString}, args[1]}, Type: TypeInteger}, nil
}

func dateTrunc(name string, args []Expr) (Expr, error) {
	if len(args) != 2 {
		return nil, refuse(refusal.BadArgument, funcHint, "date_trunc takes 2 arguments")
	}
	part, err := constPart(name, args[0])
	if err != nil {
		return nil, err
	}
	if !truncParts[part] {
		return nil, refuse(refusal.BadArgument, "use year, quarter, month, week or day", "date_trunc to %q is not supported", part)
	}
	if err := wantTypes(name, args[1:], TypeDate); err != nil {
		return nil, err
	}
	// DuckDB's date_trunc returns a TIMESTAMP; the cast keeps it a date.
	f := &Func{Name: "date_trunc", Args: []Expr{&Literal{Value: part, Type: TypeString}, args[1]}, Type: TypeDate}
	return &Cast{X: f, To: TypeDate}, nil
}

func dateDiff(name string, args []Expr) (Expr, error) {
	if len(args) != 3 {
		return nil, refuse(refusal.BadArgument, funcHint, "%s takes 3 arguments: part, start date, end date", name)
	}
	part, err := constPart(name, args[0])
	if err != nil {
		return nil, err
	}
	part = strings.TrimSuffix(part, "s")
	if !diffParts[part] {
		return nil, refuse(refusal.BadArgument, "use year, quarter, month, week or day", "%s in %q is not supported", name, part)
	}
	rest := make([]Expr, 2)
	for i, a := range args[1:] {
		if rest[i], err = coerceDate(a); err != nil {
			return nil, err
		}
	}
	if err := wantTypes(name, rest, TypeDate, TypeDate); err != nil {
		return nil, err
	}
	return &Func{Name: "date_diff", Args: []Expr{&Literal{Value: part, Type: TypeString}, rest[0], rest[1]}, Type: TypeInteger}, nil
}

func icd10Chapter(name string, args []Expr) (Expr, error) {
	if len(args) != 1 {
		return nil, refuse(refusal.BadArgument, "", "icd10_chapter takes one argument: an ICD-10 code column")
	}
	if c, ok := args[0].(*ColumnRef); !ok || c.Type != TypeString {
		return nil, refuse(refusal.BadArgument, "call icd10_chapter on an ICD-10 code column, e.g. icd10_chapter(icd10)",
			"icd10_chapter accepts a string column only")
	}
	return &Func{Name: "icd10_chapter", Args: args, Type: TypeString}, nil
}

// mayBeTimestamp reports whether DuckDB may compute e as a TIMESTAMP where
// the checker has a DATE: date_trunc of a date (which the checker writes
// as CAST(date_trunc(…) AS DATE)), or a CASE, coalesce, least, greatest or
// nullif that may yield one. As text DuckDB writes it with its time
// ('2020-01-01 00:00:00'), so concat and casts to VARCHAR refuse it.
func mayBeTimestamp(e Expr) bool {
	if x, ok := e.(*Cast); ok {
		if f, ok := x.X.(*Func); ok && f.Name == "date_trunc" {
			return true
		}
		return x.To == TypeDate && mayBeTimestamp(x.X)
	}
	return slices.ContainsFunc(valueOperands(e, choosingFuncs), mayBeTimestamp)
}

// choosingFuncs are the functions whose value is one of their arguments'.
var choosingFuncs = map[string]bool{"coalesce": true, "least": true, "greatest": true, "nullif": true}

// valueOperands are the operands of e whose value (and type) e may take
// as its own: a CASE's arms, or the arguments of a call of one of funcs;
// none for anything else.
func valueOperands(e Expr, funcs map[string]bool) []Expr {
	switch x := e.(type) {
	case *Func:
		if funcs[x.Name] {
			return x.Args
		}
	case *Case:
		out := make([]Expr, 0, len(x.Whens)+1)
		for _, w := range x.Whens {
			out = append(out, w.Then)
		}
		if x.Else != nil {
			out = append(out, x.Else)
		}
		return out
	}
	return nil
}
