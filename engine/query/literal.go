package query

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/statgate/statgate/engine/refusal"
)

// literal checks a CONSTANT's value object.
func literal(v node) (*Literal, error) {
	if v == nil {
		return nil, refuse(refusal.BadLiteral, "", "a constant is not understood")
	}
	if v.flag("is_null") {
		return &Literal{Type: TypeNull}, nil
	}
	typ := v.obj("type")
	switch id := typ.str("id"); id {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "HUGEINT", "UHUGEINT":
		i, ok := bigValue(v["value"])
		if !ok || !i.IsInt64() {
			return nil, refuse(refusal.BadLiteral, "use integers between -9223372036854775808 and 9223372036854775807",
				"an integer constant is out of range")
		}
		return &Literal{Value: i.Int64(), Type: TypeInteger}, nil
	case "DECIMAL":
		i, ok := bigValue(v["value"])
		scale, sok := typ.obj("type_info").int("scale")
		if !ok || !sok || scale < 0 || scale > 38 {
			return nil, refuse(refusal.BadLiteral, "", "a decimal constant is not understood")
		}
		f, _ := new(big.Float).Quo(new(big.Float).SetInt(i), new(big.Float).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(scale), nil))).Float64()
		return numberLiteral(f)
	case "FLOAT", "DOUBLE":
		num, ok := v["value"].(json.Number)
		if !ok {
			return nil, refuse(refusal.BadLiteral, "", "a floating-point constant is not understood")
		}
		f, err := num.Float64()
		if err != nil {
			return nil, refuse(refusal.BadLiteral, "", "a floating-point constant is out of range")
		}
		return doubleLiteral(f)
	case "VARCHAR":
		s, ok := v["value"].(string)
		if !ok {
			return nil, refuse(refusal.BadLiteral, "", "a string constant is not understood")
		}
		return &Literal{Value: s, Type: TypeString}, nil
	case "BOOLEAN":
		b, ok := v["value"].(bool)
		if !ok {
			return nil, refuse(refusal.BadLiteral, "", "a boolean constant is not understood")
		}
		return &Literal{Value: b, Type: TypeBool}, nil
	case "NULL":
		return &Literal{Type: TypeNull}, nil
	default:
		return nil, refuse(refusal.BadLiteral, "use integer, decimal, string, boolean, date and interval constants",
			"constants of type %s are not supported", strings.ToLower(id))
	}
}

// doubleLiteral is numberLiteral of a constant DuckDB types DOUBLE.
func doubleLiteral(f float64) (*Literal, error) {
	l, err := numberLiteral(f)
	if err != nil {
		return nil, err
	}
	l.Double = true
	return l, nil
}

// numberLiteral returns a TypeNumber literal, refusing NaN and infinities.
func numberLiteral(f float64) (*Literal, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, refuse(refusal.BadLiteral, "", "a numeric constant is not a finite number")
	}
	return &Literal{Value: f, Type: TypeNumber}, nil
}

// bigValue reads an integer that DuckDB serialises as a JSON number or, for
// 128-bit values, as {"upper": int64, "lower": uint64}.
func bigValue(v any) (*big.Int, bool) {
	switch x := v.(type) {
	case json.Number:
		i, ok := new(big.Int).SetString(x.String(), 10)
		return i, ok
	case map[string]any:
		up, ok1 := x["upper"].(json.Number)
		lo, ok2 := x["lower"].(json.Number)
		if !ok1 || !ok2 {
			return nil, false
		}
		u, ok1 := new(big.Int).SetString(up.String(), 10)
		l, ok2 := new(big.Int).SetString(lo.String(), 10)
		if !ok1 || !ok2 {
			return nil, false
		}
		return u.Lsh(u, 64).Add(u, l), true
	}
	return nil, false
}

// dateLiteral checks a date constant: 'YYYY-MM-DD' only.
func dateLiteral(s string) (*Literal, error) {
	d, err := time.Parse("2006-01-02", strings.TrimSpace(s))
	if err != nil {
		return nil, refuse(refusal.BadLiteral, "write dates as DATE '2020-01-31'",
			"%q is not a date of the form YYYY-MM-DD", s)
	}
	return &Literal{Value: d.Format("2006-01-02"), Type: TypeDate}, nil
}

// intervalRe matches the interval texts the checker accepts: one count of
// one unit.
var intervalRe = regexp.MustCompile(`^\s*([+-]?\d{1,5})\s*(years?|quarters?|months?|weeks?|days?)\s*$`)

// intervalLiteral checks an interval constant such as '3 months' and
// returns it in canonical form.
func intervalLiteral(s string) (*Literal, error) {
	m := intervalRe.FindStringSubmatch(strings.ToLower(s))
	if m == nil {
		return nil, refuse(refusal.BadLiteral, "write intervals as INTERVAL 1 YEAR or INTERVAL '3 months' (years, quarters, months, weeks or days)",
			"%q is not an interval the query language supports", s)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return nil, refuse(refusal.BadLiteral, "", "%q is not an interval the query language supports", s)
	}
	return intervalOf(int64(n), strings.TrimSuffix(m[2], "s"))
}

// intervalOf returns the canonical interval literal of n units.
func intervalOf(n int64, unit string) (*Literal, error) {
	if n < -99999 || n > 99999 {
		return nil, refuse(refusal.BadLiteral, "", "an interval of %d %ss is out of range", n, unit)
	}
	text := fmt.Sprintf("%d %s", n, unit)
	if n != 1 && n != -1 {
		text += "s"
	}
	return &Literal{Value: text, Type: TypeInterval}, nil
}

// castTypes maps DuckDB's cast target type ids to model types.
var castTypes = map[string]Type{
	"TINYINT":  TypeInteger,
	"SMALLINT": TypeInteger,
	"INTEGER":  TypeInteger,
	"BIGINT":   TypeInteger,
	"FLOAT":    TypeNumber,
	"DOUBLE":   TypeNumber,
	"VARCHAR":  TypeString,
	"DATE":     TypeDate,
	"BOOLEAN":  TypeBool,
	"INTERVAL": TypeInterval,
}

// cast checks CAST(x AS t) and x::t. A cast of a string constant is
// folded into a constant of the target type; a cast of a column is allowed
// only where it cannot fail on the data (so that no error message can
// depend on a value).
func (ck *checker) cast(n node, cl clause, depth int) (Expr, error) {
	target := n.obj("cast_type").str("id")
	to, ok := castTypes[target]
	if !ok || n.flag("try_cast") || n.obj("cast_type").set("type_info") {
		hint := "cast to INTEGER, BIGINT, DOUBLE, VARCHAR, DATE or BOOLEAN"
		if target == "DECIMAL" {
			hint = "cast to DOUBLE and round(x, n) instead"
		}
		what := strings.ToLower(target)
		if n.flag("try_cast") {
			what = "TRY_CAST"
		}
		return nil, refuse(refusal.CastNotAllowed, hint, "casts to %s are not supported", what)
	}
	child := n.obj("child")
	if child.class() == "CONSTANT" {
		lit, err := literal(child.obj("value"))
		if err != nil {
			return nil, err
		}
		if lit.Type == TypeString {
			return castString(lit.Value.(string), to)
		}
		if lit.Type == TypeNull {
			return &Literal{Type: to}, nil
		}
		if to == TypeNumber && isNumeric(lit.Type) {
			return doubleLiteral(toFloat(lit.Value))
		}
		if to == lit.Type {
			return lit, nil
		}
	}
	x, err := ck.expr(child, cl, depth+1)
	if err != nil {
		return nil, err
	}
	if p, ok := x.(*Param); ok {
		return castParam(p, to)
	}
	if lit, ok := x.(*Literal); ok && lit.Value != nil {
		if to == TypeNumber && isNumeric(lit.Type) {
			return doubleLiteral(toFloat(lit.Value))
		}
		if lit.Type == to {
			return lit, nil
		}
	}
	from := x.ExprType()
	okCast := from == to || loose(from)
	switch to {
	case TypeString:
		if mayBeTimestamp(x) {
			return nil, refuse(refusal.CastNotAllowed, "format the date with strftime(d, '%Y-%m-%d') instead",
				"a cast of date_trunc(...) to text is not supported: DuckDB writes it as a timestamp")
		}
		okCast = okCast || from != TypeInterval
	case TypeInteger:
		// number → integer rounds a DOUBLE half to even, as DuckDB casts
		// one; on a value out of range DuckDB fails, which the planner's
		// try() turns into NULL (plan.RenderValue), so it cannot fail on
		// the data. DuckDB rounds a DECIMAL (birth_year * 0.5) half away
		// from zero instead, and the plan computes decimal constants as
		// DOUBLE, so only an argument DuckDB surely types DOUBLE is cast.
		if from == TypeNumber && !ck.surelyDouble(x) {
			return nil, refuse(refusal.CastNotAllowed, "divide with / (birth_year / 10), or cast to DOUBLE first, e.g. CAST(CAST(x AS DOUBLE) AS INTEGER)",
				"a cast to an integer of an expression DuckDB may compute as DECIMAL is not supported: it rounds a DECIMAL otherwise than a DOUBLE")
		}
		okCast = okCast || from == TypeBool || from == TypeNumber
	case TypeNumber:
		okCast = okCast || isNumeric(from) || from == TypeBool
	case TypeBool:
		okCast = okCast || from == TypeInteger
	}
	if !okCast || to == TypeInterval {
		return nil, refuse(refusal.CastNotAllowed, "compare with a constant of the column's type instead; round numbers with round(x), floor(x) or ceil(x)",
			"a cast from %s to %s is not allowed: it could fail on the data", from, to)
	}
	return &Cast{X: x, To: to}, nil
}

// castParam folds a cast of a parameter to its own type, or of an integer
// parameter to number, into the parameter (Bind gives it a literal of
// that type), as a cast of a constant folds. Casts that change what the
// value means (text to a date, a number to text) are refused: declare the
// parameter with the type the template needs.
func castParam(p *Param, to Type) (Expr, error) {
	switch {
	case p.Type == to:
		return p, nil
	case to == TypeNumber && isNumeric(p.Type):
		return &Param{Name: p.Name, Type: TypeNumber, Double: true}, nil
	}
	return nil, refuse(refusal.CastNotAllowed, fmt.Sprintf("declare the parameter :%s with the type the template needs instead of casting it", p.Name),
		"a cast of the %s parameter :%s to %s is not supported", p.Type, p.Name, to)
}

// surelyDouble reports whether DuckDB types e as DOUBLE, not DECIMAL: a
// number column of a dataset (the extracts hold them as DOUBLE), a division, a cast to
// DOUBLE, a DOUBLE constant (Literal.Double: 1e19, CAST(2.5 AS DOUBLE)),
// or arithmetic, rounding or a CASE with one such operand. A constant
// with a decimal point (2.5) is a DECIMAL in DuckDB.
func (ck *checker) surelyDouble(e Expr) bool {
	switch x := e.(type) {
	case *ColumnRef:
		// A person-level WITH query's column may be a DECIMAL
		// (max(birth_year * 0.5)): only the extracts' own are DOUBLE.
		return x.Type == TypeNumber && !ck.readsWithQuery(x)
	case *Literal:
		return x.Double
	case *Cast:
		return x.To == TypeNumber
	case *Arith:
		return x.Op == "/" || ck.surelyDouble(x.L) || ck.surelyDouble(x.R)
	}
	return slices.ContainsFunc(valueOperands(e, doubleKeepingFuncs), ck.surelyDouble)
}

// doubleKeepingFuncs are the functions that return a DOUBLE when an
// argument is one.
var doubleKeepingFuncs = map[string]bool{"floor": true, "ceil": true, "round": true, "abs": true,
	"least": true, "greatest": true, "coalesce": true, "nullif": true}

// castString folds a cast of a string constant into a constant of type to.
func castString(s string, to Type) (*Literal, error) {
	switch to {
	case TypeString:
		return &Literal{Value: s, Type: TypeString}, nil
	case TypeDate:
		return dateLiteral(s)
	case TypeInterval:
		return intervalLiteral(s)
	case TypeBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "t", "true":
			return &Literal{Value: true, Type: TypeBool}, nil
		case "f", "false":
			return &Literal{Value: false, Type: TypeBool}, nil
		}
	case TypeInteger:
		if i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
			return &Literal{Value: i, Type: TypeInteger}, nil
		}
	case TypeNumber:
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return numberLiteral(f)
		}
	}
	return nil, refuse(refusal.BadLiteral, "", "the constant %q is not a valid %s", s, to)
}

// toFloat converts a numeric literal value to float64.
func toFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

// readsWithQuery reports whether ref reads a person-level WITH query's
// column rather than a dataset's.
func (ck *checker) readsWithQuery(ref *ColumnRef) bool {
	for _, ds := range ck.cteDS {
		for _, t := range ck.tables {
			if t.alias == ref.Table && t.ds == ds {
				return true
			}
		}
	}
	return false
}
