package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
)

// TestDerivedKeyDomainsAreDuckDBs: a key computed by arithmetic from
// birth_year (domain 1915–2024) gets as its domain exactly the values
// DuckDB computes for those years, as the bounded SQL renders the key, so
// no group of the data falls outside it and no value of it is one DuckDB
// cannot yield; the WHERE clause narrows the years first.
func TestDerivedKeyDomainsAreDuckDBs(t *testing.T) {
	db := openPlainDB(t)
	for _, tc := range []struct{ key, where string }{
		{"2024 - birth_year", ""},
		{"floor(birth_year / 10) * 10", ""},
		{"floor((2024 - birth_year) / 10) * 10", ""},
		{"(2024 - birth_year) / 7", ""},
		{"birth_year % 7 - 3", ""},
		{"ceil(birth_year / 5.0)", ""},
		{"round(birth_year / 4)", ""},
		{"abs(1970 - birth_year)", ""},
		{"CAST(birth_year / 10 AS INTEGER) * 10", ""},
		{"CAST((2024 - birth_year) / 4.0 AS BIGINT)", ""},
		{"(2024 - birth_year) // 10 * 10", ""},
		{"(birth_year - 2000) // 7", ""},
		{"birth_year // 4.0", ""},
		{"round(birth_year) // 3", ""},
		{"(2024 - birth_year) // 10 * 10", "birth_year >= 1950"},
		{"2024 - birth_year", "birth_year >= 2000"},
		{"floor(birth_year / 10) * 10", "birth_year BETWEEN 1950 AND 1969"},
	} {
		t.Run(tc.key+" "+tc.where, func(t *testing.T) {
			where := ""
			if tc.where != "" {
				where = " WHERE " + tc.where
			}
			q, p := planKeyDomain(t, fmt.Sprintf("SELECT %s AS k, count(*) AS n FROM population%s GROUP BY 1", tc.key, where))
			domain := p.Keys[0].Domain
			// Every year the WHERE keeps, rendered as the bounded SQL renders the key.
			yearsWhere := ""
			if tc.where != "" {
				yearsWhere = " WHERE " + tc.where
			}
			got := mustQuery(t, db, fmt.Sprintf("SELECT DISTINCT %s AS k FROM (SELECT CAST(range AS INTEGER) AS birth_year FROM range(1915, 2025)) AS population%s",
				plan.RenderKey(q.Keys[0].Expr), yearsWhere)).rows
			sameDomain(t, got, p.Keys[0].Type, domain, "year")
		})
	}
}

// TestDerivedKeyDomainsOfTwoOperandsAreDuckDBs: a key computed from two
// operands with public domains — birth_year (1915–2024) and the year of
// death_date (public years 2010–2024) — gets as its domain exactly the
// values DuckDB computes over every combination of them that WHERE
// keeps, as the bounded SQL renders the key.
func TestDerivedKeyDomainsOfTwoOperandsAreDuckDBs(t *testing.T) {
	db := openPlainDB(t)
	for _, tc := range []struct{ key, where string }{
		{"year(death_date) - birth_year", ""},
		{"(year(death_date) - birth_year) // 10 * 10", ""},
		{"floor((year(death_date) - birth_year) / 5) * 5", "birth_year >= 1940"},
		{"year(death_date) // 5 * 5", ""},
		{"(year(death_date) - 2010) * 200 + (birth_year - 1915)", ""},
		{"year(death_date) - birth_year", "year(death_date) = 2020 AND birth_year BETWEEN 1950 AND 1959"},
	} {
		t.Run(tc.key+" "+tc.where, func(t *testing.T) {
			where := ""
			if tc.where != "" {
				where = " WHERE " + tc.where
			}
			q, p := planKeyDomain(t, fmt.Sprintf("SELECT %s AS k, count(*) AS n FROM population%s GROUP BY 1", tc.key, where))
			got := mustQuery(t, db, fmt.Sprintf("SELECT DISTINCT %s AS k FROM (SELECT CAST(b AS INTEGER) AS birth_year, make_date(CAST(y AS INTEGER), 6, 1) AS death_date "+
				"FROM range(1915, 2025) r1(b), range(2010, 2025) r2(y)) AS population%s", plan.RenderKey(q.Keys[0].Expr), where)).rows
			if len(p.Keys[0].Domain) == 0 {
				t.Fatal("the key has no domain")
			}
			sameDomain(t, got, p.Keys[0].Type, p.Keys[0].Domain, "combination")
		})
	}
}

// TestDerivedDomainDroppedWhenTooLarge: a derived domain that would make
// the keys' product exceed plan.MaxDomainCells is dropped, so that the key
// passes partition selection as before it had one, instead of refusing
// the query as domain_too_large; the other keys keep theirs.
func TestDerivedDomainDroppedWhenTooLarge(t *testing.T) {
	pol, parser, cat := shippedChecker(t)
	q, err := parser.Compile(t.Context(), "SELECT year(n.contact_date) - p.birth_year AS age, p.municipality, p.sex, n.contact_type, count(*) AS n "+
		"FROM npr n JOIN population p USING (pid) GROUP BY 1, 2, 3, 4", cat)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Bound(q, pol, &plan.Options{Seed: 1})
	if err != nil {
		t.Fatalf("plan.Bound: %v", err)
	}
	if p.Keys[0].Domain != nil {
		t.Errorf("age has a domain of %d values; the product would exceed %d", len(p.Keys[0].Domain), plan.MaxDomainCells)
	}
	if p.Keys[1].Domain == nil || p.Keys[2].Domain == nil || p.Keys[3].Domain == nil {
		t.Error("a key with a domain of its own lost it")
	}
	// With fewer keys the age keeps its derived domain.
	if _, p = planKeyDomain(t, "SELECT year(n.contact_date) - p.birth_year AS age, count(*) AS n FROM npr n JOIN population p USING (pid) GROUP BY 1"); len(p.Keys[0].Domain) != 2024-1915+15 {
		t.Errorf("age alone has %d values, want %d", len(p.Keys[0].Domain), 2024-1915+15)
	}
}

// sameDomain checks that the values DuckDB computed (one column of rows,
// for every input of the kind named) are exactly the key's domain.
func sameDomain(t *testing.T, rows [][]any, typ query.Type, domain []any, input string) {
	t.Helper()
	duck := map[string]bool{}
	for _, r := range rows {
		v, err := keyValue(r[0], typ)
		if err != nil {
			t.Fatal(err)
		}
		duck[fmt.Sprint(v)] = true
	}
	ours := map[string]bool{}
	for _, v := range domain {
		ours[fmt.Sprint(v)] = true
	}
	for v := range duck {
		if !ours[v] {
			t.Errorf("DuckDB computes %s for some %s; the domain lacks it", v, input)
		}
	}
	for v := range ours {
		if !duck[v] {
			t.Errorf("the domain holds %s, which DuckDB computes for no %s", v, input)
		}
	}
}

// keyValue converts a value scanned from DuckDB to a key's Go type.
func keyValue(v any, t query.Type) (any, error) {
	switch x := v.(type) {
	case int64:
		if t == query.TypeNumber {
			return float64(x), nil
		}
		return x, nil
	case int32:
		return keyValue(int64(x), t)
	case float64:
		return x, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("key value %v of type %T", v, v)
}

// TestStrftimeDomainsAreDuckDBs: the domain of a strftime(d, format) key,
// and of dayname(d) and monthname(d), holds exactly the values DuckDB's
// own function gives the days of the date column's public years that
// WHERE keeps, in date order.
func TestStrftimeDomainsAreDuckDBs(t *testing.T) {
	db := openPlainDB(t)
	for _, tc := range []struct{ key, where string }{
		{"strftime(contact_date, '%Y-%m')", ""},
		{"strftime(contact_date, '%Y')", ""},
		{"strftime(contact_date, '%m')", "year(contact_date) = 2020"},
		{"strftime(contact_date, '%Y-%m-%d')", "contact_date BETWEEN DATE '2016-02-27' AND DATE '2016-03-02'"},
		{"strftime(contact_date, '%-m/%-d/%y')", "contact_date >= DATE '2024-12-30'"},
		{"strftime(contact_date, '%j %-j')", "year(contact_date) IN (2016, 2017)"},
		{"strftime(contact_date, '%A %a %B %b')", ""},
		{"strftime(contact_date, '%w %u 100%%')", "contact_date < DATE '2010-01-08'"},
		{"strftime(contact_date, 'week of %Y')", "contact_date > DATE '2030-01-01'"},
		// dayname and monthname are DuckDB's, rendered as themselves.
		{"dayname(contact_date)", ""},
		{"dayname(contact_date)", "contact_date BETWEEN DATE '2024-03-04' AND DATE '2024-03-06'"},
		{"dayname(contact_date)", "contact_date > DATE '2030-01-01'"},
		{"monthname(contact_date)", ""},
		{"monthname(contact_date)", "contact_date >= DATE '2024-10-15'"},
		{"monthname(contact_date)", "year(contact_date) = 2016 AND contact_date < DATE '2016-03-01'"},
		{"dayname(contact_date)", "dayname(contact_date) IN ('Saturday', 'Sunday', 'Caturday')"},
		{"monthname(contact_date)", "monthname(contact_date) <> 'May' AND contact_date >= DATE '2024-03-01'"},
	} {
		t.Run(tc.key+" "+tc.where, func(t *testing.T) {
			where := ""
			if tc.where != "" {
				where = " WHERE " + tc.where
			}
			q, p := planKeyDomain(t, fmt.Sprintf("SELECT %s AS k, count(*) AS n FROM npr%s GROUP BY 1", tc.key, where))
			domain := p.Keys[0].Domain
			key := plan.RenderKey(q.Keys[0].Expr)
			if fn := tc.key[:strings.IndexByte(tc.key, '(')]; !strings.Contains(key, fn+"(") {
				t.Fatalf("the key renders as %s, not with DuckDB's %s", key, fn)
			}
			// Every day of the public years (2010–2024) that WHERE keeps.
			rows := mustQuery(t, db, fmt.Sprintf("SELECT %s AS k FROM (SELECT CAST(range AS DATE) AS contact_date "+
				"FROM range(DATE '2010-01-01', DATE '2025-01-01', INTERVAL 1 DAY)) AS npr%s GROUP BY 1 ORDER BY min(contact_date)",
				key, where)).rows
			var duck, ours []string
			for _, r := range rows {
				duck = append(duck, fmt.Sprint(r[0]))
			}
			for _, v := range domain {
				ours = append(ours, fmt.Sprint(v))
			}
			if !slices.Equal(ours, duck) {
				t.Errorf("domain %d values %.200v\nDuckDB %d values %.200v", len(ours), ours, len(duck), duck)
			}
		})
	}
}

// TestConcatDomainsAreDuckDBs: the domain of a concat key is what DuckDB's
// concat gives for every combination of its arguments' domain values.
func TestConcatDomainsAreDuckDBs(t *testing.T) {
	db := openPlainDB(t)
	// The municipality key's public domain (the policy's code list).
	_, mp := planKeyDomain(t, "SELECT municipality, count(*) AS n FROM population GROUP BY 1")
	var codes []string
	for _, v := range mp.Keys[0].Domain {
		codes = append(codes, "'"+fmt.Sprint(v)+"'")
	}
	municipalities := "[" + strings.Join(codes, ", ") + "]"
	for _, tc := range []struct{ sql, cross string }{
		{"SELECT concat(sex, '-', municipality) AS k, count(*) AS n FROM population GROUP BY 1",
			"SELECT DISTINCT concat(s, '-', m) FROM unnest(['M', 'F']) t(s), unnest(" + municipalities + ") u(m)"},
		{"SELECT concat(year(contact_date), '/', contact_type, 7) AS k, count(*) AS n FROM npr GROUP BY 1",
			"SELECT DISTINCT concat(y, '/', c, 7) FROM range(2010, 2025) r(y), unnest(['inpatient', 'outpatient', 'day']) t(c)"},
	} {
		t.Run(tc.sql, func(t *testing.T) {
			_, p := planKeyDomain(t, tc.sql)
			var ours, duck []string
			for _, v := range p.Keys[0].Domain {
				ours = append(ours, fmt.Sprint(v))
			}
			for _, r := range mustQuery(t, db, tc.cross).rows {
				duck = append(duck, fmt.Sprint(r[0]))
			}
			slices.Sort(ours)
			slices.Sort(duck)
			if !slices.Equal(ours, duck) {
				t.Errorf("domain %d values %.300v\nDuckDB %d values %.300v", len(ours), ours, len(duck), duck)
			}
		})
	}
}

// planKeyDomain compiles sql with the shipped checker and plans it (seed
// 1); it fails t unless the first key has a public domain.
func planKeyDomain(t *testing.T, sql string) (*query.Query, *plan.Plan) {
	t.Helper()
	pol, parser, cat := shippedChecker(t)
	q, err := parser.Compile(t.Context(), sql, cat)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Bound(q, pol, &plan.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if p.Keys[0].Domain == nil {
		t.Fatalf("no public domain for the key of %s", sql)
	}
	return q, p
}
