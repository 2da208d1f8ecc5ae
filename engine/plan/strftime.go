package plan

import (
	"fmt"
	"strings"
	"time"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/policies"
)

// strftimeDomain is the domain of a strftime(col, format) key on a date
// column with public years (or of dayname(col) or monthname(col), which
// are strftime of one format, query.DateFormats): the format of every day
// of those years that WHERE's conjuncts on the column (comparisons with
// dates, year(col)) do not exclude, each value once, in date order. Any
// other key has none.
func strftimeDomain(e query.Expr, pol *policies.Policy, where query.Expr) keyDomain {
	col, format, ok := dateFormat(e)
	if !ok {
		return keyDomain{}
	}
	parts, err := query.StrftimeParts(format)
	pc := policyColumn(pol, col)
	if err != nil || pc == nil || pc.Years == nil {
		return keyDomain{}
	}
	conjuncts := flattenAnd(where)
	year := &query.Func{Name: "year", Args: []query.Expr{col}, Type: query.TypeInteger}
	seen := map[string]bool{}
	var vals []any
	end := time.Date(pc.Years[1]+1, 1, 1, 0, 0, 0, 0, time.UTC)
	for d := time.Date(pc.Years[0], 1, 1, 0, 0, 0, 0, time.UTC); d.Before(end); d = d.AddDate(0, 0, 1) {
		if dayExcluded(conjuncts, col, year, d) {
			continue
		}
		v := formatDay(d, parts)
		if !seen[v] {
			seen[v] = true
			vals = append(vals, v)
		}
	}
	if vals == nil {
		vals = []any{}
	}
	return keyDomain{values: vals}
}

// dateFormat returns the date column and the strftime format of a key
// strftime(col, 'format'), dayname(col) or monthname(col).
func dateFormat(e query.Expr) (*query.ColumnRef, string, bool) {
	f, ok := e.(*query.Func)
	if !ok || len(f.Args) == 0 {
		return nil, "", false
	}
	col, ok := f.Args[0].(*query.ColumnRef)
	if !ok {
		return nil, "", false
	}
	if format, named := query.DateFormats[f.Name]; named && len(f.Args) == 1 {
		return col, format, true
	}
	if f.Name != "strftime" || len(f.Args) != 2 {
		return nil, "", false
	}
	format, ok := literalString(f.Args[1])
	return col, format, ok
}

// dayExcluded reports whether some conjunct is false on every row whose
// date column col is day d.
func dayExcluded(conjuncts []query.Expr, col *query.ColumnRef, year query.Expr, d time.Time) bool {
	day := d.Format("2006-01-02")
	for _, c := range conjuncts {
		if val, known := evalWith(c, year, int64(d.Year())); known {
			if b, isBool := val.(bool); !isBool || !b {
				return true
			}
			continue
		}
		if excludesDays(c, col, day, day) {
			return true
		}
	}
	return false
}

// formatDay formats d by strftime parts (query.StrftimeParts) as DuckDB
// formats a date.
func formatDay(d time.Time, parts []string) string {
	var b strings.Builder
	for _, p := range parts {
		switch p {
		case "%Y":
			fmt.Fprintf(&b, "%04d", d.Year())
		case "%y":
			fmt.Fprintf(&b, "%02d", d.Year()%100)
		case "%m":
			fmt.Fprintf(&b, "%02d", int(d.Month()))
		case "%-m":
			fmt.Fprintf(&b, "%d", int(d.Month()))
		case "%d":
			fmt.Fprintf(&b, "%02d", d.Day())
		case "%-d":
			fmt.Fprintf(&b, "%d", d.Day())
		case "%j":
			fmt.Fprintf(&b, "%03d", d.YearDay())
		case "%-j":
			fmt.Fprintf(&b, "%d", d.YearDay())
		case "%B":
			b.WriteString(d.Month().String())
		case "%b":
			b.WriteString(d.Month().String()[:3])
		case "%A":
			b.WriteString(d.Weekday().String())
		case "%a":
			b.WriteString(d.Weekday().String()[:3])
		case "%w":
			fmt.Fprintf(&b, "%d", int(d.Weekday()))
		case "%u":
			fmt.Fprintf(&b, "%d", (int(d.Weekday())+6)%7+1)
		case "%%":
			b.WriteByte('%')
		default:
			b.WriteString(p)
		}
	}
	return b.String()
}
