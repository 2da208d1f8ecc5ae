package plan

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/policies"
)

// Person-level derived tables (query.Derived): each is rendered as a CTE
// named derivedName(i) ahead of the plan's own, one row per person of its
// datasets' rows that pass its WHERE, and the enclosing query reads it as
// the one-row-per-person dataset query.Derived.Dataset describes. Since
// the plan is built over that description, the bounds in force, the key
// domains and the L0 step treat it like the population register: it does
// not tighten L0 and L∞, a key of its columns puts each person in one
// group, and year(first_date) has the public domain of the years of the
// column first_date was taken from.

// derivedName is the CTE name of Query.Derived[i]: a name no dataset,
// alias or other CTE of the plan has.
func derivedName(i int) string { return "statgate_derived_" + strconv.Itoa(i) }

// withDerived returns pol with the datasets q's derived tables stand for
// added (a copy; pol is not changed), or pol when q has none.
func withDerived(q *query.Query, pol *policies.Policy) (*policies.Policy, error) {
	if len(q.Derived) == 0 {
		return pol, nil
	}
	out := *pol
	out.Datasets = maps.Clone(pol.Datasets)
	for _, d := range q.Derived {
		if d == nil || d.Name == "" || d.PersonKey == "" {
			return nil, invalidf("derived table without a name or person key")
		}
		if out.Datasets[d.Name] != nil {
			return nil, invalidf("derived table %q has the name of a dataset", d.Name)
		}
		out.Datasets[d.Name] = d.Dataset()
	}
	return &out, nil
}

// derivedIndex returns the index of the derived table a TableRef reads, or -1.
func (b *builder) derivedIndex(dataset string) int {
	return slices.IndexFunc(b.q.Derived, func(d *query.Derived) bool { return d.Name == dataset })
}

// relation renders what a TableRef reads: its dataset, or its derived table's CTE.
func (b *builder) relation(t query.TableRef) string {
	if i := b.derivedIndex(t.Dataset); i >= 0 {
		return derivedName(i)
	}
	return quoteIdent(t.Dataset)
}

// validateDerived checks the derived tables against the model: datasets
// of the policy (never another derived table) joined as in Query.From,
// expressions over their own tables only, and the aggregates' shapes.
func (b *builder) validateDerived() error {
	for _, d := range b.q.Derived {
		tables := map[string]*policies.Dataset{}
		for i, t := range d.From {
			ds := b.base.Datasets[t.Dataset]
			if ds == nil || ds.PersonKey == "" {
				return invalidf("derived table %q reads %q, which is not a dataset with a person key", d.Name, t.Dataset)
			}
			alias := aliasOf(t)
			if tables[alias] != nil {
				return invalidf("derived table %q: alias %q is used twice", d.Name, alias)
			}
			if t.Left && (i == 0 || !ds.OneRowPerPerson) {
				return invalidf("derived table %q: dataset %q is LEFT JOINed but is the base table or not one row per person", d.Name, t.Dataset)
			}
			tables[alias] = ds
		}
		if len(tables) == 0 {
			return invalidf("derived table %q reads no dataset", d.Name)
		}
		if d.Where != nil {
			if err := b.validateIn(d.Where, tables); err != nil {
				return fmt.Errorf("derived table %q: WHERE: %w", d.Name, err)
			}
		}
		for _, c := range d.Columns {
			switch c.Kind {
			case query.DerivedCountStar:
			case query.DerivedMin, query.DerivedMax, query.DerivedCount, query.DerivedSum, query.DerivedBoolOr:
				if err := b.validateIn(c.Arg, tables); err != nil {
					return fmt.Errorf("derived table %q, column %q: %w", d.Name, c.Name, err)
				}
			case query.DerivedArgMin, query.DerivedArgMax:
				if _, ok := c.Arg.(*query.ColumnRef); !ok {
					return invalidf("derived table %q, column %q: %s of something other than a column", d.Name, c.Name, c.Kind)
				}
				if err := b.validateIn(c.Arg, tables); err != nil {
					return fmt.Errorf("derived table %q, column %q: %w", d.Name, c.Name, err)
				}
				if err := b.validateIn(c.By, tables); err != nil {
					return fmt.Errorf("derived table %q, column %q: %w", d.Name, c.Name, err)
				}
			default:
				return invalidf("derived table %q, column %q: kind %q", d.Name, c.Name, c.Kind)
			}
			if c.Kind == query.DerivedSum && !(c.ArgBounds[0] <= c.ArgBounds[1]) {
				return invalidf("derived table %q, column %q: bounds %v", d.Name, c.Name, c.ArgBounds)
			}
			if (c.Kind == query.DerivedCount || c.Kind == query.DerivedCountStar || c.Kind == query.DerivedSum) && c.RowsCap < 1 {
				return invalidf("derived table %q, column %q: rows cap %d", d.Name, c.Name, c.RowsCap)
			}
		}
	}
	return nil
}

// derivedDatasets are the policy datasets the derived tables read, in order.
func (b *builder) derivedDatasets() []string {
	var out []string
	for _, d := range b.q.Derived {
		for _, t := range d.From {
			if !slices.Contains(out, t.Dataset) {
				out = append(out, t.Dataset)
			}
		}
	}
	return out
}

// writeDerived writes the derived tables' CTEs, each followed by ",\n".
func (b *builder) writeDerived(s *strings.Builder) {
	for i, d := range b.q.Derived {
		base := d.From[0]
		ds := b.base.Datasets[base.Dataset]
		key := quoteIdent(aliasOf(base)) + "." + quoteIdent(ds.PersonKey)
		items := []string{key + " AS " + quoteIdent(d.PersonKey)}
		for _, c := range d.Columns {
			items = append(items, derivedColumnSQL(c)+" AS "+quoteIdent(c.Name))
		}
		s.WriteString(derivedName(i) + " AS (\n")
		selectList(s, "  ", items)
		s.WriteString("  FROM " + quoteIdent(base.Dataset) + " AS " + quoteIdent(aliasOf(base)) + "\n")
		for _, t := range d.From[1:] {
			join := "  JOIN "
			if t.Left {
				join = "  LEFT JOIN "
			}
			alias := quoteIdent(aliasOf(t))
			s.WriteString(join + quoteIdent(t.Dataset) + " AS " + alias + " ON " + key + " = " + alias + "." + quoteIdent(b.base.Datasets[t.Dataset].PersonKey) + "\n")
		}
		s.WriteString("  WHERE " + key + " IS NOT NULL")
		if d.Where != nil {
			s.WriteString(" AND " + RenderFilter(d.Where))
		}
		s.WriteString("\n  GROUP BY " + key + "\n),\n")
	}
}

// derivedColumnSQL renders one derived column's aggregate. Counts are
// capped at RowsCap; a sum adds values clamped to ArgBounds and is itself
// clamped to RowsCap × ArgBounds (and 0), as the partials of a plan are;
// bool_or is false for a person without a row where the condition holds;
// arg_min and arg_max break ties on the returned value, so the result does
// not depend on the order DuckDB reads rows in.
func derivedColumnSQL(c query.DerivedColumn) string {
	switch c.Kind {
	case query.DerivedMin, query.DerivedMax:
		return string(c.Kind) + "(" + RenderValue(c.Arg) + ")"
	case query.DerivedCountStar:
		return fmt.Sprintf("least(count(*), %d)", c.RowsCap)
	case query.DerivedCount:
		return fmt.Sprintf("least(count(%s), %d)", RenderValue(c.Arg), c.RowsCap)
	case query.DerivedSum:
		x := "CAST(" + RenderValue(c.Arg) + " AS DOUBLE)"
		lo, hi := c.ArgBounds[0], c.ArgBounds[1]
		r := float64(c.RowsCap)
		clamped := fmt.Sprintf("CASE WHEN %s < %s THEN %s WHEN %s > %s THEN %s ELSE %s END",
			x, renderFloat(lo), renderFloat(lo), x, renderFloat(hi), renderFloat(hi), x)
		return fmt.Sprintf("least(greatest(coalesce(sum(%s), 0), %s), %s)", clamped, renderFloat(r*min(lo, 0)), renderFloat(r*max(hi, 0)))
	case query.DerivedBoolOr:
		return "coalesce(bool_or(" + RenderFilter(c.Arg) + "), false)"
	case query.DerivedArgMin, query.DerivedArgMax:
		by, v := RenderValue(c.By), RenderValue(c.Arg)
		return fmt.Sprintf("%s(%s, {'by': %s, 'v': %s}) FILTER (WHERE %s IS NOT NULL)", c.Kind, v, by, v, by)
	}
	return unsupportedSQL
}
