package plan

import (
	"fmt"
	"testing"

	"github.com/statgate/statgate/engine/query"
)

// TestNarrow: the WHERE clause removes the domain values it provably
// excludes, and keeps every value it cannot rule out.
func TestNarrow(t *testing.T) {
	pol := testPolicy()
	date := ref("n", "npr", "contact_date", query.TypeDate)
	icd := ref("n", "npr", "icd10", query.TypeString)
	sex := ref("p", "population", "sex", query.TypeString)
	year := call("year", query.TypeInteger, date)
	letter := call("left", query.TypeString, icd, lit(int64(1)))
	three := call("substr", query.TypeString, icd, lit(int64(1)), lit(int64(3)))
	like := func(x query.Expr, p string) query.Expr { return &query.Like{X: x, Pattern: lit(p)} }
	in := func(x query.Expr, vals ...any) query.Expr {
		l := &query.In{X: x}
		for _, v := range vals {
			l.List = append(l.List, lit(v))
		}
		return l
	}
	or := func(args ...query.Expr) query.Expr { return &query.Logical{Op: "OR", Args: args} }
	not := func(x query.Expr) query.Expr { return &query.Logical{Op: "NOT", Args: []query.Expr{x}} }
	tests := []struct {
		desc  string
		key   query.Expr
		where query.Expr
		want  string // the kept domain
	}{
		{"year >= 2022", year, cmp(year, ">=", lit(int64(2022))), "[2022 2023 2024]"},
		{"year between, and another column", year, and(&query.Between{X: year, Lo: lit(int64(2012)), Hi: lit(int64(2013))}, cmp(icd, "=", lit("E11"))), "[2012 2013]"},
		{"year in a list", year, in(year, int64(2010), int64(2015), int64(2030)), "[2010 2015]"},
		{"year not in a list", year, not(in(year, int64(2010), int64(2011))), "[2012 2013 2014 2015 2016 2017 2018 2019 2020 2021 2022 2023 2024]"},
		{"date column bounds the years", year, and(cmp(date, ">=", dateLit("2022-03-01")), cmp(date, "<", dateLit("2024-01-01"))), "[2022 2023]"},
		{"date between", year, &query.Between{X: date, Lo: dateLit("2011-12-31"), Hi: dateLit("2012-01-01")}, "[2011 2012]"},
		{"sex = F", sex, cmp(sex, "=", lit("F")), "[F]"},
		{"an OR on one key", sex, or(cmp(sex, "=", lit("F")), cmp(sex, "=", lit("M"))), "[M F]"},
		{"an OR across keys keeps all", sex, or(cmp(sex, "=", lit("F")), cmp(icd, "=", lit("E11"))), "[M F]"},
		{"sex is null drops all", sex, &query.IsNull{X: sex}, "[]"},
		{"LIKE on a prefix key's column", letter, like(icd, "C50%"), "[C]"},
		{"LIKE with a shorter fixed part", three, like(icd, "C5%"), ""}, // no policy domain for length 3
		{"= on a prefix key's column", letter, cmp(icd, "=", lit("E11.9")), "[E]"},
		{"IN on a prefix key's column", letter, in(icd, "E11", "I10"), "[E I]"},
		{"NOT LIKE is left alone", letter, &query.Like{X: icd, Pattern: lit("C%"), Not: true}, "26 letters"},
		{"an unknown conjunct keeps all", year, cmp(call("month", query.TypeInteger, date), "=", lit(int64(3))), "15 years"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := narrowedDomain(t, tc.key, tc.where)
			var s string
			switch {
			case tc.want == "":
				if got.values != nil {
					t.Errorf("a key without a domain got %v", got.values)
				}
				return
			case tc.want == "26 letters":
				s = fmt.Sprintf("%d letters", len(got.values))
			case tc.want == "15 years":
				s = fmt.Sprintf("%d years", len(got.values))
			default:
				s = fmt.Sprint(got.values)
			}
			if s != tc.want {
				t.Errorf("kept %s, want %s", s, tc.want)
			}
		})
	}
	t.Run("a narrowed range stays a range", func(t *testing.T) {
		d, _ := domainOf(year, pol)
		got := narrow(d, year, cmp(year, ">=", lit(int64(2022))))
		if !got.ranged || got.lo != 2022 || got.hi != 2024 {
			t.Errorf("%+v, want the range 2022..2024", got)
		}
		got = narrow(d, year, in(year, int64(2010), int64(2012)))
		if got.ranged {
			t.Errorf("%+v: a gap is not a range", got)
		}
	})
}

// narrowedDomain is key's domain under testPolicy, narrowed by where.
func narrowedDomain(t *testing.T, key, where query.Expr) keyDomain {
	t.Helper()
	d, err := domainOf(key, testPolicy())
	if err != nil {
		t.Fatal(err)
	}
	return narrow(d, key, where)
}

// TestTruncDomain: date_trunc of a date column with public years to a
// year, quarter or month has the first days of those periods as its
// domain, narrowed by conditions on the column or on its year; to a week
// or day, or of a column without years, it has none.
func TestTruncDomain(t *testing.T) {
	date := ref("n", "npr", "contact_date", query.TypeDate)
	trunc := func(part string) query.Expr {
		return &query.Cast{X: call("date_trunc", query.TypeDate, lit(part), date), To: query.TypeDate}
	}
	year := call("year", query.TypeInteger, date)
	tests := []struct {
		desc  string
		key   query.Expr
		where query.Expr
		want  string // count, first and last, or "none"
	}{
		{"months of 15 years", trunc("month"), nil, "180 2010-01-01 2024-12-01"},
		{"quarters", trunc("quarter"), nil, "60 2010-01-01 2024-10-01"},
		{"years", trunc("year"), nil, "15 2010-01-01 2024-01-01"},
		{"weeks have none", trunc("week"), nil, "none"},
		{"days have none", trunc("day"), nil, "none"},
		{"months of one year by year()", trunc("month"), cmp(year, "=", lit(int64(2020))), "12 2020-01-01 2020-12-01"},
		{"months since a year", trunc("month"), cmp(year, ">=", lit(int64(2023))), "24 2023-01-01 2024-12-01"},
		{"months by the column's dates", trunc("month"), and(cmp(date, ">=", dateLit("2023-03-15")), cmp(date, "<", dateLit("2023-06-01"))), "3 2023-03-01 2023-05-01"},
		{"quarters by a date range", trunc("quarter"), &query.Between{X: date, Lo: dateLit("2024-02-01"), Hi: dateLit("2024-12-31")}, "4 2024-01-01 2024-10-01"},
		{"an unknown conjunct keeps all", trunc("month"), cmp(call("month", query.TypeInteger, date), "=", lit(int64(3))), "180 2010-01-01 2024-12-01"},
		// A period ends on its last day: March 31, June 30, December 31.
		{"after the 30th keeps the month", trunc("month"), cmp(date, ">", dateLit("2024-03-30")), "10 2024-03-01 2024-12-01"},
		{"from the 31st keeps the month", trunc("month"), cmp(date, ">=", dateLit("2024-03-31")), "10 2024-03-01 2024-12-01"},
		{"after the 31st drops it", trunc("month"), cmp(date, ">", dateLit("2024-03-31")), "9 2024-04-01 2024-12-01"},
		{"before the 1st drops the month", trunc("month"), cmp(date, "<", dateLit("2010-03-01")), "2 2010-01-01 2010-02-01"},
		{"February of a leap year", trunc("month"), cmp(date, ">=", dateLit("2024-02-29")), "11 2024-02-01 2024-12-01"},
		{"a quarter's last day", trunc("quarter"), cmp(date, ">=", dateLit("2024-06-30")), "3 2024-04-01 2024-10-01"},
		{"a year's last day", trunc("year"), cmp(date, ">=", dateLit("2023-12-31")), "2 2023-01-01 2024-01-01"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := narrowedDomain(t, tc.key, tc.where)
			s := "none"
			if n := len(got.values); got.values != nil && n > 0 {
				s = fmt.Sprintf("%d %v %v", n, got.values[0], got.values[n-1])
			}
			if s != tc.want {
				t.Errorf("domain %s, want %s", s, tc.want)
			}
		})
	}
}

// TestListedDomain: a key the WHERE clause restricts to constants (IN or
// =, either way round) has them as its domain; NOT IN, other comparisons,
// a list with a non-constant and a key not restricted give none.
func TestListedDomain(t *testing.T) {
	atc := ref("l", "lmr", "atc", query.TypeString)
	ddd := ref("l", "lmr", "ddd", query.TypeNumber)
	in := func(x query.Expr, not bool, vals ...query.Expr) query.Expr {
		return &query.In{X: x, List: vals, Not: not}
	}
	tests := []struct {
		desc  string
		key   query.Expr
		where query.Expr
		want  string
	}{
		{"IN a list", atc, in(atc, false, lit("C10AA01"), lit("C10AA05"), lit("C10AA01")), "[C10AA01 C10AA05]"},
		{"= a constant", atc, cmp(atc, "=", lit("A10BA02")), "[A10BA02]"},
		{"constant = key", atc, cmp(lit("A10BA02"), "=", atc), "[A10BA02]"},
		{"within an AND", atc, and(cmp(ddd, ">", lit(30.0)), in(atc, false, lit("N06AB06"))), "[N06AB06]"},
		{"a number key from an integer", ddd, in(ddd, false, lit(int64(30)), lit(60.5)), "[30 60.5]"},
		{"NULL matches nothing", atc, in(atc, false, &query.Literal{Type: query.TypeNull}), "[]"},
		{"NOT IN gives none", atc, in(atc, true, lit("C10AA01")), "none"},
		{"<> gives none", atc, cmp(atc, "<>", lit("C10AA01")), "none"},
		{"a column in the list gives none", atc, in(atc, false, lit("C10AA01"), ref("l", "lmr", "prescriber_type", query.TypeString)), "none"},
		{"under OR gives none", atc, &query.Logical{Op: "OR", Args: []query.Expr{cmp(atc, "=", lit("A")), cmp(ddd, ">", lit(1.0))}}, "none"},
		{"another key's list gives none", atc, cmp(ddd, "=", lit(30.0)), "none"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			d := listedDomain(tc.key, tc.where)
			got := "none"
			if d.values != nil {
				got = fmt.Sprint(d.values)
			}
			if got != tc.want {
				t.Errorf("domain %s, want %s", got, tc.want)
			}
		})
	}
}
