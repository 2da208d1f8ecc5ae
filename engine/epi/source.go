package epi

import (
	"fmt"
	"strings"
	"time"

	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
)

// The table aliases of the generated SQL. engine/compile qualifies the
// checked conditions it hands over with them (query.Requalify).
const (
	// IndexAlias is the index dataset of a survival question.
	IndexAlias = "i"
	// EventAlias is the event dataset (rates and survival).
	EventAlias = "e"
	// PersonsAlias is the persons register.
	PersonsAlias = "p"
	// BaseAlias is the one-row-per-person relation the cohort conditions
	// are correlated with; its person key column is BaseKey.
	BaseAlias = "b"
	BaseKey   = "pid"
)

// Source is a dataset's qualifying rows: those whose Where holds, dated by
// Column (a date column). Where is a checked condition qualified with
// Alias (nil: every row).
type Source struct {
	Dataset, PersonKey, Column string
	Alias                      string
	Where                      query.Expr
}

// Persons is the persons register: its dataset, person key, birth year
// column and (optional) date of death column.
type Persons struct {
	Dataset, PersonKey, BirthYear, DeathDate string
}

// Day is one calendar day.
type Day = time.Time

// dateSQL renders a day as a DuckDB date literal.
func dateSQL(d Day) string { return "DATE '" + d.Format("2006-01-02") + "'" }

// col renders alias.column.
func col(alias, column string) string { return ident(alias) + "." + ident(column) }

// ident quotes an identifier.
func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quote renders a string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// filter renders a checked condition (or TRUE for none) so that it never
// raises a runtime error.
func filter(e query.Expr) string {
	if e == nil {
		return "TRUE"
	}
	return plan.RenderFilter(e)
}

// inDomain renders "x IN (values…)" for a key rendered as text.
func inDomain(x string, values []string) string {
	qs := make([]string, len(values))
	for i, v := range values {
		qs[i] = quote(v)
	}
	return fmt.Sprintf("%s IN (%s)", x, strings.Join(qs, ", "))
}

// keySQL renders a column stratum as text.
func keySQL(s Stratum) string {
	return "CAST(" + plan.RenderValue(s.Column) + " AS VARCHAR)"
}
