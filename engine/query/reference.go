package query

import (
	"slices"
	"sort"

	"github.com/statgate/statgate/engine/refusal"
)

// Reference is the allowed SQL subset as the checker decides it: the
// scalar functions and aggregates it accepts (listed from the very maps
// the checker looks names up in), the names it refuses with the code and
// hint it refuses them with, and every refusal code of a query. The web
// console and GET /v1/sql/reference show it, so the documentation of the
// subset cannot drift from the checker: reference_test.go runs every
// example through Check and requires each listed name to be accepted or
// refused as stated.
type Reference struct {
	// Statement describes the one statement form, clause by clause.
	Statement []Clause `json:"statement"`
	// Functions are the scalar functions, by canonical name.
	Functions []Function `json:"functions"`
	// Aggregates are the aggregates, by canonical name.
	Aggregates []Function `json:"aggregates"`
	// Refused are function and aggregate names refused by name.
	Refused []Refused `json:"refused"`
	// Codes are the refusal codes a query can get, in registry order.
	Codes []Code `json:"codes"`
}

// Clause is one part of the statement form.
type Clause struct {
	Clause string `json:"clause"`
	Rule   string `json:"rule"`
}

// Function documents one allowed function or aggregate.
type Function struct {
	Name string `json:"name"`
	// Synonyms are other names the checker accepts for it.
	Synonyms  []string `json:"synonyms,omitempty"`
	Signature string   `json:"signature"`
	Doc       string   `json:"doc"`
	// Example is a whole query the checker accepts over the shipped policy.
	Example string `json:"example"`
}

// Refused is a group of names the checker refuses with one code and hint.
type Refused struct {
	Names  []string `json:"names"`
	Code   string   `json:"code"`
	Reason string   `json:"reason"`
	Hint   string   `json:"hint,omitempty"`
}

// Code is a refusal code with what it refuses.
type Code struct {
	Code string `json:"code"`
	Doc  string `json:"doc"`
}

// funcDoc is the documentation of one canonical scalar function.
type funcDoc struct{ sig, doc, example string }

// funcDocs documents each name of FuncNames (TestReferenceCoversChecker
// requires one entry per name and no other).
var funcDocs = map[string]funcDoc{
	"substr":            {"substr(s, start[, length])", "part of a string, from 1-based start", "SELECT substr(icd10, 1, 3) AS code, count(*) AS contacts FROM npr GROUP BY 1"},
	"left":              {"left(s, n)", "the first n characters", "SELECT left(atc, 3) AS atc3, count(DISTINCT pid) AS persons FROM lmr GROUP BY 1"},
	"right":             {"right(s, n)", "the last n characters", "SELECT right(icd10, 1) AS last, count(*) AS contacts FROM npr GROUP BY 1"},
	"upper":             {"upper(s)", "upper case", "SELECT upper(contact_type) AS t, count(*) AS n FROM npr GROUP BY 1"},
	"lower":             {"lower(s)", "lower case", "SELECT lower(icd10) AS code, count(*) AS n FROM npr GROUP BY 1"},
	"length":            {"length(s)", "number of characters", "SELECT length(atc) AS len, count(*) AS n FROM lmr GROUP BY 1"},
	"trim":              {"trim(s[, chars])", "without leading and trailing spaces (or chars)", "SELECT trim(icd10) AS code, count(*) AS n FROM npr GROUP BY 1"},
	"starts_with":       {"starts_with(s, prefix)", "true when s begins with prefix", "SELECT count(DISTINCT pid) AS persons FROM lmr WHERE starts_with(atc, 'A10')"},
	"concat":            {"concat(a, b, ...)", "the arguments as one string", "SELECT concat(sex, '-', municipality) AS cell, count(*) AS n FROM population GROUP BY 1"},
	"year":              {"year(d)", "the calendar year of a date", "SELECT year(contact_date) AS year, count(*) AS contacts FROM npr GROUP BY 1"},
	"quarter":           {"quarter(d)", "the quarter (1–4) of a date", "SELECT quarter(contact_date) AS q, count(*) AS contacts FROM npr GROUP BY 1"},
	"month":             {"month(d)", "the month (1–12) of a date", "SELECT month(dispensed_date) AS month, count(*) AS n FROM lmr GROUP BY 1"},
	"day":               {"day(d)", "the day of the month of a date", "SELECT day(contact_date) AS day, count(*) AS n FROM npr GROUP BY 1"},
	"date_part":         {"date_part(part, d), extract(part FROM d)", "week, dow, isodow, doy (year, quarter, month and day become year(d) etc.)", "SELECT date_part('dow', contact_date) AS weekday, count(*) AS n FROM npr GROUP BY 1"},
	"date_trunc":        {"date_trunc(part, d)", "the date truncated to year, quarter, month, week or day", "SELECT date_trunc('month', dispensed_date) AS month, count(*) AS n FROM lmr WHERE year(dispensed_date) = 2024 GROUP BY 1"},
	"date_diff":         {"date_diff(part, a, b)", "whole years, quarters, months, weeks or days from a to b", "SELECT count(*) AS n FROM npr WHERE date_diff('day', contact_date, DATE '2024-12-31') < 365"},
	"abs":               {"abs(x)", "absolute value", "SELECT count(*) AS n FROM npr WHERE abs(length_of_stay_days - 3) < 2"},
	"floor":             {"floor(x)", "rounded down", "SELECT floor(birth_year / 10) AS decade, count(*) AS n FROM population GROUP BY 1"},
	"ceil":              {"ceil(x)", "rounded up", "SELECT ceil(length_of_stay_days / 7) AS weeks, count(*) AS n FROM npr GROUP BY 1"},
	"round":             {"round(x[, digits])", "rounded to digits decimals (0 by default)", "SELECT round(ddd, -1) AS ddd10, count(*) AS n FROM lmr GROUP BY 1"},
	"least":             {"least(x, y, ...)", "the smallest argument", "SELECT least(length_of_stay_days, 10) AS los, count(*) AS n FROM npr GROUP BY 1"},
	"greatest":          {"greatest(x, y, ...)", "the largest argument", "SELECT greatest(birth_year, 1950) AS born, count(*) AS n FROM population GROUP BY 1"},
	"coalesce":          {"coalesce(x, ...)", "the first argument that is not NULL", "SELECT coalesce(year(death_date), 0) AS died, count(*) AS n FROM population GROUP BY 1"},
	"nullif":            {"nullif(x, y)", "NULL when x = y, else x", "SELECT nullif(contact_type, 'day') AS t, count(*) AS n FROM npr GROUP BY 1"},
	"strftime":          {"strftime(d, format)", "the date as text by a constant format of %Y %y %m %-m %d %-d %j %-j %B %b %A %a %w %u %% and other characters", "SELECT strftime(contact_date, '%Y-%m') AS month, count(*) AS contacts FROM npr WHERE year(contact_date) = 2023 GROUP BY 1"},
	"dayofweek":         {"dayofweek(d)", "the weekday 0–6, Sunday 0 (date_part('dow', d))", "SELECT dayofweek(contact_date) AS weekday, count(*) AS n FROM npr GROUP BY 1"},
	"isodow":            {"isodow(d)", "the ISO weekday 1–7, Monday 1", "SELECT isodow(contact_date) AS weekday, count(*) AS n FROM npr GROUP BY 1"},
	"dayofyear":         {"dayofyear(d)", "the day of the year 1–366", "SELECT dayofyear(dispensed_date) AS doy, count(*) AS n FROM lmr WHERE year(dispensed_date) = 2024 GROUP BY 1"},
	"week":              {"week(d)", "the ISO week 1–53", "SELECT week(contact_date) AS week, count(*) AS n FROM npr WHERE year(contact_date) = 2024 GROUP BY 1"},
	"regexp_matches":    {"regexp_matches(s, pattern)", "true when the RE2 pattern (a constant) matches part of s; anchor it with ^ and $", "SELECT count(DISTINCT pid) AS patients FROM npr WHERE regexp_matches(icd10, '^E1[0-4]')"},
	"regexp_full_match": {"regexp_full_match(s, pattern)", "true when the RE2 pattern (a constant) matches all of s; DuckDB's ~ and SIMILAR TO mean this too but are refused, as PostgreSQL's ~ matches part", "SELECT left(atc, 3) AS atc3, count(*) AS n FROM lmr WHERE regexp_full_match(atc, 'A10B[A-Z]\\d{2}') GROUP BY 1"},
	"dayname":           {"dayname(d)", "the English weekday name (Monday), as strftime(d, '%A')", "SELECT dayname(contact_date) AS weekday, count(*) AS n FROM npr WHERE year(contact_date) = 2024 GROUP BY 1"},
	"monthname":         {"monthname(d)", "the English month name (January), as strftime(d, '%B')", "SELECT monthname(dispensed_date) AS month, count(*) AS n FROM lmr WHERE year(dispensed_date) = 2024 GROUP BY 1"},
	"icd10_chapter":     {"icd10_chapter(code)", "statgate's own: the ICD-10 chapter (I–XXII) of a code column", "SELECT icd10_chapter(icd10) AS chapter, count(DISTINCT pid) AS patients FROM npr GROUP BY 1"},
}

// aggDoc documents one aggregate; names are the names the checker accepts
// for it (the first is canonical).
type aggDoc struct {
	names             []string
	sig, doc, example string
}

// aggDocs documents the aggregates: count in its forms (aggregate()
// accepts them by shape), approx_count_distinct of the person key (a count
// of persons) and each kind of numericAggregates.
var aggDocs = []aggDoc{
	{[]string{"count"}, "count(*), count(col), count(<person key>), count(DISTINCT <person key>)", "rows, non-NULL values, or persons (count(DISTINCT) of the person key only); count(pid) counts rows, as count(*) does (every row read has its person key)", "SELECT sex, count(*) AS rows, count(DISTINCT pid) AS persons FROM population GROUP BY 1"},
	{[]string{"approx_count_distinct"}, "approx_count_distinct(<person key>)", "persons, exactly as count(DISTINCT pid): the released count is noisy, so approximate anyway", "SELECT hospital, approx_count_distinct(pid) AS patients FROM npr GROUP BY 1"},
	{[]string{"sum"}, "sum(x)", "sum of a numeric column with declared bounds, or of a numeric expression whose bounds follow from its columns' (interval arithmetic; least/greatest tighten them)", "SELECT year(dispensed_date) AS year, sum(ddd) AS ddd FROM lmr GROUP BY 1"},
	{[]string{"avg", "mean"}, "avg(x)", "mean of a bounded numeric column or expression", "SELECT c.stage, avg(year(c.diagnosis_date) - p.birth_year) AS mean_age FROM cancer c JOIN population p USING (pid) GROUP BY 1"},
	{[]string{"quantile_cont", "quantile", "median"}, "quantile_cont(x, p), median(x), percentile_cont(p) WITHIN GROUP (ORDER BY x)", "a quantile (0 < p < 1) of a bounded numeric column or expression", "SELECT median(ddd) AS median_ddd, quantile_cont(ddd, 0.9) AS p90 FROM lmr"},
	{[]string{"stddev", "stddev_samp"}, "stddev(x)", "sample standard deviation of a bounded numeric column or expression", "SELECT stddev(length_of_stay_days) AS sd FROM npr"},
	{[]string{"variance", "var_samp"}, "variance(x)", "sample variance of a bounded numeric column or expression", "SELECT variance(ddd) AS v FROM lmr"},
}

// funcSynonyms are the names scalarFuncs accepts besides FuncNames, with
// the canonical name each becomes.
var funcSynonyms = map[string]string{
	"substring": "substr", "ceiling": "ceil", "datediff": "date_diff", "prefix": "starts_with",
	"weekday": "dayofweek", "weekofyear": "week", "dayofmonth": "day",
}

// statement is the statement form the checker accepts, clause by clause.
var statement = []Clause{
	{"SELECT", "group keys (columns or expressions of columns) and aggregates, each output named once; no *, no DISTINCT, no constant outputs, never the person key"},
	{"FROM", "datasets of the project; joins are INNER JOIN ... USING (<person key>) or ON a.pid = b.pid between different datasets, or LEFT JOIN of one dataset with one row per person (population, death_causes, a WITH query); no table functions. The whole FROM may be one subquery, (SELECT pid, ... GROUP BY pid) [AS t], read as WITH t AS (...) ... FROM t; no subquery in a join or inside another"},
	{"WITH", "person-level derived tables: WITH x AS (SELECT pid, min(d) AS first_d, count(*) AS n, bool_or(cond) AS flag, arg_min(col, d) AS first_col FROM datasets WHERE ... GROUP BY pid), read like a one-row-per-person dataset; aggregates min, max, count (capped at the datasets' rows cap), sum (of bounded values), bool_or, arg_min/arg_max of a column; SELECT DISTINCT pid (the person key alone, no GROUP BY) is SELECT pid ... GROUP BY pid; no WITH inside, no HAVING, ORDER BY or LIMIT, no DISTINCT of other columns or DISTINCT ON"},
	{"WHERE", "conditions on columns: comparisons, AND/OR/NOT, IN (constants), BETWEEN, LIKE/ILIKE, IS [NOT] NULL, CASE, the functions below; not on the person key"},
	{"GROUP BY", "columns, expressions or output positions; ROLLUP, CUBE and GROUPING SETS give margins"},
	{"HAVING", "comparisons of output columns with constants, applied to the released (noisy) values"},
	{"ORDER BY", "output columns or positions, ASC/DESC, NULLS LAST; applied to released values"},
	{"LIMIT", "a constant; no OFFSET"},
}

// AllowedSQL returns the allowed SQL subset. The result is the caller's.
func AllowedSQL() *Reference {
	r := &Reference{Statement: slices.Clone(statement)}
	for _, name := range FuncNames {
		d := funcDocs[name]
		f := Function{Name: name, Signature: d.sig, Doc: d.doc, Example: d.example}
		for syn, canon := range funcSynonyms {
			if canon == name {
				f.Synonyms = append(f.Synonyms, syn)
			}
		}
		sort.Strings(f.Synonyms)
		r.Functions = append(r.Functions, f)
	}
	for _, d := range aggDocs {
		r.Aggregates = append(r.Aggregates, Function{Name: d.names[0], Synonyms: slices.Clone(d.names[1:]),
			Signature: d.sig, Doc: d.doc, Example: d.example})
	}
	r.Refused = refusedNames()
	for _, c := range refusal.Codes() {
		if c.Kind() == refusal.KindQuery {
			r.Codes = append(r.Codes, Code{Code: c.String(), Doc: c.Doc()})
		}
	}
	return r
}

// refusedNames groups the names the checker refuses by name: min and max,
// the other aggregates of aggregateNames by hint, and the
// non-deterministic functions.
func refusedNames() []Refused {
	out := []Refused{{Names: []string{"max", "min"}, Code: refusal.MinMaxNotAllowed.String(),
		Reason: "an extreme is one person's value", Hint: minMaxHint}}
	byHint := map[string][]string{}
	for name := range aggregateNames {
		if personCounts[name] || name == "min" || name == "max" || numericAggregates[name] != "" {
			continue
		}
		h := otherAggregateHint(name)
		byHint[h] = append(byHint[h], name)
	}
	hints := make([]string, 0, len(byHint))
	for h := range byHint {
		hints = append(hints, h)
	}
	sort.Strings(hints)
	for _, h := range hints {
		names := byHint[h]
		sort.Strings(names)
		out = append(out, Refused{Names: names, Code: refusal.AggregateNotAllowed.String(),
			Reason: "statgate cannot bound this aggregate's sensitivity", Hint: h})
	}
	var nd []string
	for name := range nonDeterministic {
		nd = append(nd, name)
	}
	sort.Strings(nd)
	out = append(out, Refused{Names: nd, Code: refusal.FunctionNotAllowed.String(),
		Reason: "results must depend on the data and the query only", Hint: nonDeterministicHint})
	return out
}
