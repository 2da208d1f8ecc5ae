package plan

import (
	"strconv"
	"strings"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/policies"
)

// maxTemporalDepth caps how deep index dates may refer to one another
// (a chain of after/before conditions).
const maxTemporalDepth = 10

// validateTemporal checks the temporal conditions of an Exists on alias
// (see query.Temporal): a date column of its table, referred conditions
// that are valid, dated, not negated and free of cycles, a washout
// condition over the table alone, and an age condition on a one-row-per-
// person dataset's birth year.
func (b *builder) validateTemporal(x *query.Exists, alias string, ds *policies.Dataset, path []*query.Exists) error {
	t := x.Temporal
	if len(path) > maxTemporalDepth {
		return invalidf("EXISTS on %q: index dates refer %d levels deep, more than %d", alias, len(path), maxTemporalDepth)
	}
	for _, p := range path {
		if p == x {
			return invalidf("EXISTS on %q: index dates refer to each other in a cycle", alias)
		}
	}
	path = append(path, x)
	d := t.Date
	if d == nil || d.Table != alias || d.Dataset != ds.Name {
		return invalidf("EXISTS on %q: the date column must be a column of %s", alias, alias)
	}
	if col, ok := ds.Column(d.Column); !ok || col.Type != policies.TypeDate {
		return invalidf("EXISTS on %q: %s is not a date column of %s", alias, d.Column, ds.Name)
	}
	if t.WashoutDays < 0 {
		return invalidf("EXISTS on %q: negative washout", alias)
	}
	if t.WashoutWhere != nil {
		if err := b.validateIn(t.WashoutWhere, map[string]*policies.Dataset{alias: ds}); err != nil {
			return invalidf("EXISTS on %q washout: %v", alias, err)
		}
	}
	if a := t.Age; a != nil {
		pop := b.pol.Datasets[a.Table.Dataset]
		pa := aliasOf(a.Table)
		if pop == nil || !pop.OneRowPerPerson || pop.PersonKey == "" {
			return invalidf("EXISTS on %q: age at index needs a one-row-per-person dataset, not %q", alias, a.Table.Dataset)
		}
		if in := a.Inner; in == nil || in.Table != pa || in.Column != pop.PersonKey {
			return invalidf("EXISTS on %q: the age's inner column must be %s.%s", alias, pa, pop.PersonKey)
		}
		by := a.BirthYear
		if by == nil || by.Table != pa {
			return invalidf("EXISTS on %q: no birth year column", alias)
		}
		if col, ok := pop.Column(by.Column); !ok || col.Type != policies.TypeInteger {
			return invalidf("EXISTS on %q: %s is not an integer column of %s", alias, by.Column, pop.Name)
		}
		if a.Min > a.Max {
			return invalidf("EXISTS on %q: age range [%d, %d] is empty", alias, a.Min, a.Max)
		}
	}
	for _, r := range t.Relative {
		of := r.Of
		if of == nil || of.Not || of.Temporal == nil {
			return invalidf("EXISTS on %q: a relative condition needs a dated, not negated condition", alias)
		}
		if !r.OpenMin && !r.OpenMax && r.MinDays > r.MaxDays {
			return invalidf("EXISTS on %q: window [%d, %d] is empty", alias, r.MinDays, r.MaxDays)
		}
		ods := b.pol.Datasets[of.Table.Dataset]
		if ods == nil || ods.PersonKey == "" {
			return invalidf("EXISTS on %q: dataset %q of a referred condition has no person key", alias, of.Table.Dataset)
		}
		oa := aliasOf(of.Table)
		if of.Where != nil {
			if err := b.validateIn(of.Where, map[string]*policies.Dataset{oa: ods}); err != nil {
				return invalidf("EXISTS on %q, referred %q: %v", alias, oa, err)
			}
		}
		if err := b.validateTemporal(of, oa, ods, path); err != nil {
			return err
		}
	}
	return nil
}

// renderTemporalExists renders an Exists with temporal conditions (see
// query.Temporal). Every subquery is correlated on the person key with
// x.Outer only; the aliases of the nested subqueries are derived from
// x's alias, so they are distinct from each other and from the
// enclosing query's (validateExists checks that none starts with it).
// Date arithmetic is wrapped by try and coalesced to false, so a date
// out of range makes that one comparison false instead of failing.
func renderTemporalExists(b *strings.Builder, x *query.Exists) {
	alias := aliasOf(x.Table)
	t := x.Temporal
	ix := quoteIdent(alias + "_ix")
	b.WriteByte('(')
	if x.Not {
		b.WriteString("NOT ")
	}
	b.WriteString("EXISTS (SELECT 1 FROM (")
	renderIndexDate(b, x, alias, x.Outer)
	b.WriteString(") AS ")
	b.WriteString(ix)
	b.WriteString(" WHERE ")
	b.WriteString(ix + `."d" IS NOT NULL`)
	if t.WashoutDays > 0 {
		w := alias + "_w"
		b.WriteString(" AND NOT EXISTS (SELECT 1 FROM ")
		b.WriteString(quoteIdent(x.Table.Dataset) + " AS " + quoteIdent(w) + " WHERE ")
		renderBinary(b, requalifyCol(x.Inner, w), "=", x.Outer)
		if t.WashoutWhere != nil {
			b.WriteString(" AND " + RenderFilter(query.Requalify(t.WashoutWhere, alias, w)))
		}
		b.WriteString(" AND coalesce(try((" + ix + `."d" - ` + renderCol(w, t.Date.Column) + ") BETWEEN 1 AND " +
			strconv.Itoa(t.WashoutDays) + "), false))")
	}
	if a := t.Age; a != nil {
		pa := alias + "_a"
		b.WriteString(" AND EXISTS (SELECT 1 FROM ")
		b.WriteString(quoteIdent(a.Table.Dataset) + " AS " + quoteIdent(pa) + " WHERE ")
		renderBinary(b, requalifyCol(a.Inner, pa), "=", x.Outer)
		b.WriteString(" AND coalesce(try((year(" + ix + `."d") - ` + renderCol(pa, a.BirthYear.Column) + ") BETWEEN " +
			strconv.Itoa(a.Min) + " AND " + strconv.Itoa(a.Max) + "), false))")
	}
	b.WriteString("))")
}

// renderIndexDate renders the one-row subquery of x's index date on
// alias: SELECT min(date) AS d over the person's rows for which x's Where
// and its relative windows hold, each referred index date a one-row
// subquery of its own in FROM (a lateral join DuckDB decorrelates).
func renderIndexDate(b *strings.Builder, x *query.Exists, alias string, outer *query.ColumnRef) {
	t := x.Temporal
	date := renderCol(alias, t.Date.Column)
	b.WriteString(`SELECT min(` + date + `) AS "d" FROM ` + quoteIdent(x.Table.Dataset) + " AS " + quoteIdent(alias))
	refs := make([]string, len(t.Relative))
	for j, r := range t.Relative {
		refs[j] = alias + "_r" + strconv.Itoa(j)
		b.WriteString(", (")
		renderIndexDate(b, r.Of, refs[j], outer)
		b.WriteString(") AS " + quoteIdent(refs[j]))
	}
	b.WriteString(" WHERE ")
	renderBinary(b, requalifyCol(x.Inner, alias), "=", outer)
	if x.Where != nil {
		b.WriteString(" AND " + RenderFilter(query.Requalify(x.Where, aliasOf(x.Table), alias)))
	}
	for j, r := range t.Relative {
		diff := "(" + date + " - " + quoteIdent(refs[j]) + `."d")`
		var cond string
		switch {
		case r.OpenMin && r.OpenMax:
			cond = diff + " IS NOT NULL"
		case r.OpenMin:
			cond = diff + " <= " + strconv.Itoa(r.MaxDays)
		case r.OpenMax:
			cond = diff + " >= " + strconv.Itoa(r.MinDays)
		default:
			cond = diff + " BETWEEN " + strconv.Itoa(r.MinDays) + " AND " + strconv.Itoa(r.MaxDays)
		}
		b.WriteString(" AND coalesce(try(" + cond + "), false)")
	}
}

// renderCol renders alias.column.
func renderCol(alias, column string) string { return quoteIdent(alias) + "." + quoteIdent(column) }

// requalifyCol is c qualified with alias.
func requalifyCol(c *query.ColumnRef, alias string) *query.ColumnRef {
	out := *c
	out.Table = alias
	return &out
}
