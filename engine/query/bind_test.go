package query

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/statgate/statgate/engine/refusal"
)

// compileTemplate checks a template over every dataset of the test policy.
func compileTemplate(t *testing.T, text string, params map[string]Type) (*Query, error) {
	t.Helper()
	return testParser.CompileTemplate(t.Context(), text, allDatasets(), params)
}

func TestCheckTemplateTypesParams(t *testing.T) {
	by := &ColumnRef{Table: "population", Dataset: "population", Column: "birth_year", Type: TypeInteger}
	sex := &ColumnRef{Table: "population", Dataset: "population", Column: "sex", Type: TypeString}
	q, err := compileTemplate(t, "SELECT count(*) FROM population WHERE birth_year-$off > 1950 AND sex = $sex",
		map[string]Type{"off": TypeInteger, "sex": TypeString})
	if err != nil {
		t.Fatal(err)
	}
	want := &Logical{Op: "AND", Args: []Expr{
		&Compare{Op: ">", L: &Arith{Op: "-", L: by, R: &Param{Name: "off", Type: TypeInteger}, Type: TypeInteger},
			R: &Literal{Value: int64(1950), Type: TypeInteger}},
		&Compare{Op: "=", L: sex, R: &Param{Name: "sex", Type: TypeString}},
	}}
	if !reflect.DeepEqual(q.Where, want) {
		t.Errorf("WHERE = %#v, want %#v", q.Where, want)
	}
	if got := q.ParamNames(); !reflect.DeepEqual(got, []string{"off", "sex"}) {
		t.Errorf("ParamNames = %v", got)
	}
}

// TestBindEqualsLiteralQuery: a bound template is the query the same
// question written with constants checks to, so it plans the same.
func TestBindEqualsLiteralQuery(t *testing.T) {
	tests := []struct {
		desc, template string
		params         map[string]Type
		values         map[string]any
		literal        string
	}{
		{desc: "minus a negative parameter (the old -- splice)",
			template: "SELECT count(*) FROM population WHERE birth_year-$off > 1950 AND sex = $sex",
			params:   map[string]Type{"off": TypeInteger, "sex": TypeString}, values: map[string]any{"off": int64(-5), "sex": "F"},
			literal: "SELECT count(*) FROM population WHERE birth_year - (-5) > 1950 AND sex = 'F'"},
		{desc: "year range narrows like constants",
			template: "SELECT year(contact_date) AS y, count(*) FROM npr WHERE year(contact_date) BETWEEN $from AND $to GROUP BY 1",
			params:   map[string]Type{"from": TypeInteger, "to": TypeInteger}, values: map[string]any{"from": int64(2015), "to": int64(2018)},
			literal: "SELECT year(contact_date) AS y, count(*) FROM npr WHERE year(contact_date) BETWEEN 2015 AND 2018 GROUP BY 1"},
		{desc: "date and pattern",
			template: "SELECT count(*) FROM lmr WHERE dispensed_date >= $since AND atc LIKE $atc",
			params:   map[string]Type{"since": TypeDate, "atc": TypeString}, values: map[string]any{"since": "2020-01-01", "atc": "A10%"},
			literal: "SELECT count(*) FROM lmr WHERE dispensed_date >= DATE '2020-01-01' AND atc LIKE 'A10%'"},
		{desc: "quote in a string value stays data",
			template: "SELECT count(*) FROM lmr WHERE atc = $atc",
			params:   map[string]Type{"atc": TypeString}, values: map[string]any{"atc": "x' OR '1'='1"},
			literal: "SELECT count(*) FROM lmr WHERE atc = 'x'' OR ''1''=''1'"},
		{desc: "integer parameter cast to DOUBLE folds like a constant",
			template: "SELECT count(*) FROM npr WHERE length_of_stay_days > $n::DOUBLE",
			params:   map[string]Type{"n": TypeInteger}, values: map[string]any{"n": int64(3)},
			literal: "SELECT count(*) FROM npr WHERE length_of_stay_days > 3::DOUBLE"},
		{desc: "parameter in a key and in HAVING",
			template: "SELECT year(contact_date) + $shift AS y, count(*) AS n FROM npr GROUP BY 1 HAVING n > $min",
			params:   map[string]Type{"shift": TypeInteger, "min": TypeNumber}, values: map[string]any{"shift": int64(1), "min": 10.5},
			literal: "SELECT year(contact_date) + 1 AS y, count(*) AS n FROM npr GROUP BY 1 HAVING n > 10.5"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			tq, err := compileTemplate(t, tc.template, tc.params)
			if err != nil {
				t.Fatal(err)
			}
			before := fmt.Sprintf("%#v", *tq)
			got, err := Bind(tq, tc.values)
			if err != nil {
				t.Fatal(err)
			}
			if after := fmt.Sprintf("%#v", *tq); after != before {
				t.Errorf("Bind changed the checked query")
			}
			want, err := testParser.Compile(t.Context(), tc.literal, allDatasets())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("bound:\n%s\nwant (checked literal query):\n%s", dump(got), dump(want))
			}
			if len(got.ParamNames()) != 0 {
				t.Errorf("bound query still has parameters %v", got.ParamNames())
			}
		})
	}
}

func dump(q *Query) string {
	return fmt.Sprintf("where %#v\nkeys %#v\nhaving %#v", q.Where, q.Keys, q.Having)
}

// TestBindSharesNothingWritable: two runs of one template do not see each
// other's edits of their own query.
func TestBindSharesNothingWritable(t *testing.T) {
	tq, err := compileTemplate(t, "SELECT sex, count(*) FROM population WHERE birth_year > $y GROUP BY ROLLUP (sex)",
		map[string]Type{"y": TypeInteger})
	if err != nil {
		t.Fatal(err)
	}
	a, err := Bind(tq, map[string]any{"y": int64(1950)})
	if err != nil {
		t.Fatal(err)
	}
	set := 0
	for len(a.GroupingSets[set]) == 0 {
		set++
	}
	a.Keys[0].Name = "edited"
	a.GroupingSets[set][0] = 99
	a.Output[0].Name = "edited"
	if tq.Keys[0].Name == "edited" || tq.GroupingSets[set][0] == 99 || tq.Output[0].Name == "edited" {
		t.Error("an edit of the bound query reached the checked template")
	}
}

func TestCheckTemplateRefusals(t *testing.T) {
	integer := map[string]Type{"n": TypeInteger}
	text := map[string]Type{"s": TypeString}
	tests := []struct {
		desc, sql string
		params    map[string]Type
		code      refusal.Code
	}{
		{"undeclared parameter", "SELECT count(*) FROM npr WHERE year(contact_date) = $m", integer, refusal.ParameterNotAllowed},
		{"positional parameter", "SELECT count(*) FROM npr WHERE year(contact_date) = $1", integer, refusal.ParameterNotAllowed},
		{"question-mark parameter", "SELECT count(*) FROM npr WHERE year(contact_date) = ?", integer, refusal.ParameterNotAllowed},
		{"declared but unused", "SELECT count(*) FROM npr", integer, refusal.ParameterNotAllowed},
		{"parameter as a quantile", "SELECT quantile_cont(length_of_stay_days, $n) FROM npr", integer, refusal.BadQuantile},
		{"parameter as LIMIT", "SELECT year(contact_date), count(*) FROM npr GROUP BY 1 LIMIT $n", integer, refusal.BadLimit},
		{"parameter as a date part", "SELECT date_trunc($s, contact_date) AS m, count(*) FROM npr GROUP BY 1", text, refusal.BadArgument},
		{"parameter as the GROUP BY", "SELECT count(*) FROM npr GROUP BY $n", integer, refusal.ConstantInSelect},
		{"parameter selected", "SELECT $n, count(*) FROM npr", integer, refusal.ConstantInSelect},
		{"text parameter cast to a date", "SELECT count(*) FROM npr WHERE contact_date > CAST($s AS DATE)", text, refusal.CastNotAllowed},
		{"text parameter compared with a date", "SELECT count(*) FROM npr WHERE contact_date > $s", text, refusal.TypeMismatch},
		{"text parameter in arithmetic", "SELECT count(*) FROM npr WHERE length_of_stay_days > $s + 1", text, refusal.TypeMismatch},
		// Bind does not reach into a semi join's subquery, so a parameter
		// there is refused, also when it is used outside it too.
		{"parameter in a subquery", "SELECT count(*) FROM npr WHERE pid IN (SELECT pid FROM lmr WHERE atc LIKE $s)", text, refusal.ParameterNotAllowed},
		{"parameter in a subquery and outside", "SELECT count(*) FROM npr n WHERE n.icd10 LIKE $s AND EXISTS (SELECT 1 FROM lmr l WHERE l.pid = n.pid AND l.atc LIKE $s)", text, refusal.ParameterNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := compileTemplate(t, tc.sql, tc.params)
			if got := refusal.CodeOf(err); got != tc.code {
				t.Errorf("code %q (%v), want %q", got, err, tc.code)
			}
		})
	}
}

// TestParametersOutsideTemplates: ad-hoc SQL and cohort criteria still
// refuse every parameter.
func TestParametersOutsideTemplates(t *testing.T) {
	for _, sql := range []string{"SELECT count(*) FROM npr WHERE icd10 = $code", "SELECT count(*) FROM npr WHERE icd10 = ?"} {
		if _, err := testParser.Compile(t.Context(), sql, allDatasets()); refusal.CodeOf(err) != refusal.ParameterNotAllowed {
			t.Errorf("%s: %v, want %s", sql, err, refusal.ParameterNotAllowed)
		}
	}
	if _, err := testParser.CompileWhere(t.Context(), "npr", "icd10 = $code", allDatasets()); refusal.CodeOf(err) != refusal.ParameterNotAllowed {
		t.Errorf("CompileWhere: %v, want %s", err, refusal.ParameterNotAllowed)
	}
}

func TestBindErrors(t *testing.T) {
	tq, err := compileTemplate(t, "SELECT count(*) FROM lmr WHERE atc LIKE $atc AND dispensed_date >= $d AND ddd > $x",
		map[string]Type{"atc": TypeString, "d": TypeDate, "x": TypeNumber})
	if err != nil {
		t.Fatal(err)
	}
	ok := map[string]any{"atc": "A10%", "d": "2020-01-01", "x": 1.5}
	if _, err := Bind(tq, ok); err != nil {
		t.Fatalf("Bind(%v): %v", ok, err)
	}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range ok {
			m[a] = b
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for desc, values := range map[string]map[string]any{
		"missing value":    with("atc", nil),
		"value of a type":  with("atc", int64(3)),
		"NUL in text":      with("atc", "A\x00"),
		"not a date":       with("d", "2020-13-01"),
		"date with spaces": with("d", " 2020-01-01"),
		"not finite":       with("x", 1.0/zero()),
		"unknown value":    with("y", int64(1)),
	} {
		if _, err := Bind(tq, values); err == nil {
			t.Errorf("%s: Bind(%v) succeeded", desc, values)
		}
	}
}

func zero() float64 { return 0 }
