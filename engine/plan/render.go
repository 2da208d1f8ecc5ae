package plan

import (
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/statgate/statgate/engine/query"
)

// RenderExpr returns the DuckDB SQL of a checked expression. Identifiers
// are always double-quoted (a column as "alias"."column"), strings
// single-quoted with embedded quotes doubled, dates as DATE 'YYYY-MM-DD',
// intervals as INTERVAL '…', integers as decimal literals and floats as
// DOUBLE literals that round-trip exactly. Every compound expression is parenthesised, so
// the result can be embedded anywhere an expression may stand.
// icd10_chapter(x) becomes a CASE over ICD-10 code ranges yielding the
// chapter as a Roman numeral ('I' … 'XXII'), NULL for codes in no chapter.
//
// RenderExpr never fails: a construct outside the model (which the checker
// does not produce) renders as a call of DuckDB's error() so that the SQL
// fails when it runs instead of computing something else. Bound validates
// expressions before rendering them and returns an error for such input.
func RenderExpr(e query.Expr) string {
	var b strings.Builder
	renderExpr(&b, e)
	return b.String()
}

// unsupportedSQL is what RenderExpr renders for an expression outside the model.
const unsupportedSQL = "error('statgate: unsupported expression')"

func renderExpr(b *strings.Builder, e query.Expr) {
	switch e := e.(type) {
	case *query.ColumnRef:
		if e == nil {
			b.WriteString(unsupportedSQL)
			return
		}
		if e.Table != "" {
			b.WriteString(quoteIdent(e.Table))
			b.WriteByte('.')
		}
		b.WriteString(quoteIdent(e.Column))
	case *query.Literal:
		if e == nil {
			b.WriteString(unsupportedSQL)
			return
		}
		b.WriteString(renderLiteral(e.Value, e.Type))
	case *query.Func:
		if e == nil {
			b.WriteString(unsupportedSQL)
			return
		}
		renderFunc(b, e)
	case *query.Compare:
		if e == nil || !compareOps[e.Op] {
			b.WriteString(unsupportedSQL)
			return
		}
		renderBinary(b, e.L, e.Op, e.R)
	case *query.Logical:
		renderLogical(b, e)
	case *query.In:
		renderIn(b, e)
	case *query.Between:
		if e == nil {
			b.WriteString(unsupportedSQL)
			return
		}
		b.WriteByte('(')
		renderExpr(b, e.X)
		if e.Not {
			b.WriteString(" NOT")
		}
		b.WriteString(" BETWEEN ")
		renderExpr(b, e.Lo)
		b.WriteString(" AND ")
		renderExpr(b, e.Hi)
		b.WriteByte(')')
	case *query.Like:
		if e == nil {
			b.WriteString(unsupportedSQL)
			return
		}
		op := "LIKE"
		if e.CaseInsensitive {
			op = "ILIKE"
		}
		if e.Not {
			op = "NOT " + op
		}
		renderBinary(b, e.X, op, e.Pattern)
	case *query.IsNull:
		if e == nil {
			b.WriteString(unsupportedSQL)
			return
		}
		b.WriteByte('(')
		renderExpr(b, e.X)
		if e.Not {
			b.WriteString(" IS NOT NULL)")
		} else {
			b.WriteString(" IS NULL)")
		}
	case *query.Arith:
		if e == nil || !arithOps[e.Op] {
			b.WriteString(unsupportedSQL)
			return
		}
		renderBinary(b, e.L, e.Op, e.R)
	case *query.Case:
		renderCase(b, e)
	case *query.Cast:
		t, ok := "", false
		if e != nil {
			t, ok = sqlTypes[e.To]
		}
		if !ok {
			b.WriteString(unsupportedSQL)
			return
		}
		b.WriteString("CAST(")
		renderExpr(b, e.X)
		b.WriteString(" AS ")
		b.WriteString(t)
		b.WriteByte(')')
	case *query.Exists:
		renderExists(b, e)
	default:
		// nil, *query.OutputRef (HAVING only) and anything new.
		b.WriteString(unsupportedSQL)
	}
}

// compareOps and arithOps are the operators the model allows.
var (
	compareOps = map[string]bool{"=": true, "<>": true, "<": true, "<=": true, ">": true, ">=": true}
	arithOps   = map[string]bool{"+": true, "-": true, "*": true, "/": true, "//": true, "%": true}
)

// sqlTypes maps model types to the DuckDB types CAST renders.
var sqlTypes = map[query.Type]string{
	query.TypeBool:     "BOOLEAN",
	query.TypeInteger:  "BIGINT",
	query.TypeNumber:   "DOUBLE",
	query.TypeString:   "VARCHAR",
	query.TypeDate:     "DATE",
	query.TypeInterval: "INTERVAL",
}

func renderBinary(b *strings.Builder, l query.Expr, op string, r query.Expr) {
	b.WriteByte('(')
	renderExpr(b, l)
	b.WriteByte(' ')
	b.WriteString(op)
	b.WriteByte(' ')
	renderExpr(b, r)
	b.WriteByte(')')
}

func renderLogical(b *strings.Builder, e *query.Logical) {
	switch {
	case e == nil:
		b.WriteString(unsupportedSQL)
	case e.Op == "NOT" && len(e.Args) == 1:
		b.WriteString("(NOT ")
		renderExpr(b, e.Args[0])
		b.WriteByte(')')
	case (e.Op == "AND" || e.Op == "OR") && len(e.Args) >= 1:
		b.WriteByte('(')
		for i, a := range e.Args {
			if i > 0 {
				b.WriteString(" " + e.Op + " ")
			}
			renderExpr(b, a)
		}
		b.WriteByte(')')
	default:
		b.WriteString(unsupportedSQL)
	}
}

func renderIn(b *strings.Builder, e *query.In) {
	switch {
	case e == nil:
		b.WriteString(unsupportedSQL)
	case len(e.List) == 0:
		// SQL has no empty list: x IN () holds for no row, x NOT IN () for every row.
		if e.Not {
			b.WriteString("TRUE")
		} else {
			b.WriteString("FALSE")
		}
	default:
		b.WriteByte('(')
		if mayFail(e.X) {
			// DuckDB's in_clause optimizer turns a list of six or more
			// into a join that computes x outside the try() around the
			// condition (RenderFilter): x gets a try() of its own, so
			// that whether the query fails says nothing of its rows.
			b.WriteString("try(")
			renderExpr(b, e.X)
			b.WriteByte(')')
		} else {
			renderExpr(b, e.X)
		}
		if e.Not {
			b.WriteString(" NOT")
		}
		b.WriteString(" IN (")
		for i, v := range e.List {
			if i > 0 {
				b.WriteString(", ")
			}
			renderExpr(b, v)
		}
		b.WriteString("))")
	}
}

func renderCase(b *strings.Builder, e *query.Case) {
	if e == nil || len(e.Whens) == 0 {
		b.WriteString(unsupportedSQL)
		return
	}
	b.WriteString("CASE")
	for _, w := range e.Whens {
		b.WriteString(" WHEN ")
		renderExpr(b, w.Cond)
		b.WriteString(" THEN ")
		renderExpr(b, w.Then)
	}
	if e.Else != nil {
		b.WriteString(" ELSE ")
		renderExpr(b, e.Else)
	}
	b.WriteString(" END")
}

// plainName matches function names rendered without quotes.
var plainName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

func renderFunc(b *strings.Builder, f *query.Func) {
	if f.Name == "icd10_chapter" && len(f.Args) == 1 {
		renderICD10Chapter(b, f.Args[0])
		return
	}
	if plainName.MatchString(f.Name) {
		b.WriteString(f.Name)
	} else {
		// The checker allow-lists names; a name that is not a plain
		// identifier is quoted so it can only ever name a function.
		b.WriteString(quoteIdent(f.Name))
	}
	b.WriteByte('(')
	for i, a := range f.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		renderExpr(b, a)
	}
	b.WriteByte(')')
}

// icd10Chapters are the 22 chapters of ICD-10 (WHO 2019) as ranges of
// three-character codes, in chapter order. Codes in no range (D49, D90–D99,
// E91–E99, H96–H99) and codes not starting with a letter and two digits
// have no chapter.
var icd10Chapters = []struct{ chapter, from, to string }{
	{"I", "A00", "B99"},
	{"II", "C00", "D48"},
	{"III", "D50", "D89"},
	{"IV", "E00", "E90"},
	{"V", "F00", "F99"},
	{"VI", "G00", "G99"},
	{"VII", "H00", "H59"},
	{"VIII", "H60", "H95"},
	{"IX", "I00", "I99"},
	{"X", "J00", "J99"},
	{"XI", "K00", "K99"},
	{"XII", "L00", "L99"},
	{"XIII", "M00", "M99"},
	{"XIV", "N00", "N99"},
	{"XV", "O00", "O99"},
	{"XVI", "P00", "P99"},
	{"XVII", "Q00", "Q99"},
	{"XVIII", "R00", "R99"},
	{"XIX", "S00", "T99"},
	{"XX", "V00", "Y99"},
	{"XXI", "Z00", "Z99"},
	{"XXII", "U00", "U99"},
}

// ICD10Chapters returns the ICD-10 chapter numerals icd10_chapter yields, in
// chapter order: the public domain of an icd10_chapter(...) group key.
func ICD10Chapters() []string {
	out := make([]string, len(icd10Chapters))
	for i, c := range icd10Chapters {
		out[i] = c.chapter
	}
	return out
}

// renderICD10Chapter renders icd10_chapter(x): the first three characters
// of the code, upper-cased, must be a letter and two digits; they are
// compared with each chapter's range.
func renderICD10Chapter(b *strings.Builder, x query.Expr) {
	code := "upper(left(" + RenderExpr(x) + ", 3))"
	b.WriteString("CASE WHEN NOT regexp_full_match(" + code + ", '[A-Z][0-9][0-9]') THEN NULL")
	for _, c := range icd10Chapters {
		for _, part := range [...]string{" WHEN ", code, " BETWEEN '", c.from, "' AND '", c.to, "' THEN '", c.chapter, "'"} {
			b.WriteString(part)
		}
	}
	b.WriteString(" END")
}

// renderLiteral renders a constant. value is nil, bool, int64, float64 or
// string (other Go integer and float types are accepted too); t says
// whether a string is a date or an interval.
func renderLiteral(value any, t query.Type) string {
	switch v := value.(type) {
	case nil:
		return "NULL"
	case bool:
		if v {
			return "TRUE"
		}
		return "FALSE"
	case int64:
		return renderInt(v)
	case int:
		return renderInt(int64(v))
	case int32:
		return renderInt(int64(v))
	case float64:
		return renderFloat(v)
	case float32:
		return renderFloat(float64(v))
	case string:
		switch t {
		case query.TypeDate:
			return "DATE " + quoteString(v)
		case query.TypeInterval:
			return "INTERVAL " + quoteString(v)
		}
		return quoteString(v)
	}
	return unsupportedSQL
}

func renderInt(v int64) string {
	s := strconv.FormatInt(v, 10)
	if v < 0 {
		return "(" + s + ")"
	}
	return s
}

// renderFloat renders a DOUBLE literal that DuckDB reads back as exactly v.
// A whole number below 2⁵³ is an integer cast to DOUBLE (90::DOUBLE);
// anything else is the shortest decimal that parses back to v, cast from a
// string, which DuckDB parses with correct rounding (a bare 0.1 would be a
// DECIMAL, and long decimals lose their last bit on the way to DOUBLE).
func renderFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "CAST('nan' AS DOUBLE)"
	case math.IsInf(v, 1):
		return "CAST('inf' AS DOUBLE)"
	case math.IsInf(v, -1):
		return "CAST('-inf' AS DOUBLE)"
	case v == math.Trunc(v) && math.Abs(v) < 1<<53 && !(v == 0 && math.Signbit(v)):
		if v < 0 {
			return "(" + strconv.FormatInt(int64(v), 10) + "::DOUBLE)"
		}
		return strconv.FormatInt(int64(v), 10) + "::DOUBLE"
	}
	return "CAST('" + strconv.FormatFloat(v, 'g', -1, 64) + "' AS DOUBLE)"
}

// quoteIdent double-quotes an identifier, doubling embedded quotes.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// quoteString single-quotes a string literal, doubling embedded quotes.
func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
