package template

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

const shippedPolicy = "../../policies/norway-synthetic.yaml"

var parser *query.Parser

func TestMain(m *testing.M) {
	var err error
	if parser, err = query.NewParser(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "opening the parser:", err)
		os.Exit(1)
	}
	code := m.Run()
	parser.Close()
	os.Exit(code)
}

// parseWith parses the shipped policy with extra templates (YAML at the
// indentation of the templates section, which is the file's last).
func parseWith(extra string) (*policies.Policy, error) {
	data, err := os.ReadFile(shippedPolicy)
	if err != nil {
		return nil, err
	}
	return policies.Parse(append(data, "\n"+extra...), shippedPolicy)
}

func TestCompileShippedPolicies(t *testing.T) {
	for _, path := range []string{shippedPolicy, "../../testdata/policies/small.yaml"} {
		pol, err := policies.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := Compile(t.Context(), parser, pol)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(ts) != len(pol.Templates) || len(ts) == 0 {
			t.Errorf("%s: %d templates compiled of %d", path, len(ts), len(pol.Templates))
		}
		for name, tpl := range ts {
			if got, want := tpl.Query().ParamNames(), tpl.Decl.ParamNames(); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s: template %s has parameters %v in its query, %v declared", path, name, got, want)
			}
		}
	}
}

// TestCompileBrokenTemplate: a template the checker refuses is a policy
// error naming the template, found when the engine starts.
func TestCompileBrokenTemplate(t *testing.T) {
	tests := []struct {
		desc, sql, params string
		datasets          string
		problem           string
	}{
		{desc: "select star", sql: "SELECT * FROM lmr WHERE atc LIKE :atc", params: "atc: {type: string}", problem: "select_star"},
		{desc: "unknown column", sql: "SELECT count(*) FROM lmr WHERE act LIKE :atc", params: "atc: {type: string}", problem: "unknown_column"},
		{desc: "parse error", sql: "SELECT count(*) FROM lmr WHERE atc LIKE :atc GROUP", params: "atc: {type: string}", problem: "parse_error"},
		{desc: "text parameter against a date", sql: "SELECT count(*) FROM lmr WHERE dispensed_date > :since", params: "since: {type: string}", problem: "type_mismatch"},
		{desc: "parameter as a quantile", sql: "SELECT quantile_cont(ddd, :p) FROM lmr", params: "p: {type: number, min: 0, max: 1}", problem: "bad_quantile"},
		{desc: "dataset not declared", sql: "SELECT count(*) FROM npr WHERE icd10 LIKE :atc", params: "atc: {type: string}", problem: "dataset_not_in_project"},
		{desc: "minus minus in the text itself", sql: "SELECT count(*) FROM lmr WHERE ddd--:x > 0", params: "x: {type: number}", problem: "declared but not used"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			yaml := fmt.Sprintf("  broken:\n    datasets: [lmr]\n    sql: %q\n    params:\n      %s\n    epsilon: 0.5\n", tc.sql, tc.params)
			pol, err := parseWith(yaml)
			if err == nil {
				_, err = Compile(t.Context(), parser, pol)
			}
			var pe *policies.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want a *policies.Error", err)
			}
			if pe.Field != "templates.broken.sql" && pe.Field != "templates.broken.params.x" {
				t.Errorf("field %q, want the template's sql", pe.Field)
			}
			if !strings.Contains(err.Error(), tc.problem) || !strings.Contains(err.Error(), "templates.broken") {
				t.Errorf("error %q, want it to name templates.broken and %q", err, tc.problem)
			}
		})
	}
}

// TestLexicalForms: comments, placeholders inside strings and casts reach
// DuckDB's parser as written, and only real placeholders become parameters.
func TestLexicalForms(t *testing.T) {
	pol, err := parseWith(`  lexical:
    datasets: [population]
    sql: |
      SELECT sex, count(*) AS persons -- don't count twice; :from is in a comment
      FROM population /* :nested /* comment */ :still */
      WHERE birth_year::INTEGER >= :from::INTEGER AND sex <> ':from' AND sex <> $$:to$$
      GROUP BY sex
    params:
      from: {type: integer, min: 1915, max: 2024}
    epsilon: 0.5
`)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := Compile(t.Context(), parser, pol)
	if err != nil {
		t.Fatal(err)
	}
	tpl := ts["lexical"]
	if got := tpl.Query().ParamNames(); len(got) != 1 || got[0] != "from" {
		t.Fatalf("parameters %v, want [from]", got)
	}
	run, err := tpl.Bind(map[string]any{"from": 1950.0})
	if err != nil {
		t.Fatal(err)
	}
	want, err := parser.Compile(t.Context(),
		"SELECT sex, count(*) AS persons FROM population WHERE birth_year::INTEGER >= 1950::INTEGER AND sex <> ':from' AND sex <> ':to' GROUP BY sex",
		query.NewCatalog(pol, []string{"population"}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(run.Query, want) {
		t.Errorf("bound WHERE %s, want %s", plan.RenderExpr(run.Query.Where), plan.RenderExpr(want.Where))
	}
}

func shipped(t *testing.T) map[string]*Template {
	t.Helper()
	pol, err := policies.Load(shippedPolicy)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := Compile(t.Context(), parser, pol)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestBindRefusals(t *testing.T) {
	tpl := shipped(t)["cancer_incidence_by_site_year"]
	tests := []struct {
		desc   string
		params map[string]any
		code   string
	}{
		{"unknown parameter", map[string]any{"sex": "F", "x": 1.0}, "unknown_parameter"},
		{"missing parameter", map[string]any{"from_year": 2012.0}, "missing_parameter"},
		{"null is missing", map[string]any{"sex": nil}, "missing_parameter"},
		{"not in the enum", map[string]any{"sex": "X"}, "bad_parameter"},
		{"out of range", map[string]any{"sex": "F", "to_year": 2030.0}, "bad_parameter"},
		{"wrong type", map[string]any{"sex": "F", "from_year": "soon"}, "bad_parameter"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := tpl.Bind(tc.params)
			rf, ok := refusal.As(err)
			if !ok || rf.Code.String() != tc.code || rf.Kind() != refusal.KindBadRequest {
				t.Errorf("error %v, want a bad-request refusal %s", err, tc.code)
			}
		})
	}
	run, err := tpl.Bind(map[string]any{"sex": "F"})
	if err != nil {
		t.Fatal(err)
	}
	if run.Values["from_year"] != int64(2010) || run.Values["to_year"] != int64(2024) {
		t.Errorf("defaults not filled in: %v", run.Values)
	}
	if len(tpl.Query().ParamNames()) != 3 || len(run.Query.ParamNames()) != 0 {
		t.Errorf("the checked query lost its parameters or the bound one kept some")
	}
}

func TestRunKey(t *testing.T) {
	ts := shipped(t)
	key := func(name string, params map[string]any) string {
		t.Helper()
		run, err := ts[name].Bind(params)
		if err != nil {
			t.Fatal(err)
		}
		return run.Key()
	}
	cancer := "cancer_incidence_by_site_year"
	base := key(cancer, map[string]any{"sex": "F", "from_year": 2012.0, "to_year": 2020.0})
	for desc, params := range map[string]map[string]any{
		"the same values":          {"sex": "F", "from_year": 2012.0, "to_year": 2020.0},
		"integers written as text": {"sex": "F", "from_year": "2012", "to_year": " 2020 "},
		"integers as Go ints":      {"sex": "F", "from_year": 2012, "to_year": int64(2020)},
	} {
		if got := key(cancer, params); got != base {
			t.Errorf("%s: key %s, want %s", desc, got, base)
		}
	}
	if a, b := key(cancer, map[string]any{"sex": "M"}), key(cancer, map[string]any{"sex": "M", "from_year": 2010.0, "to_year": 2024.0}); a != b {
		t.Errorf("omitted defaults key %s, given defaults %s", a, b)
	}
	seen := map[string]string{base: "base"}
	for desc, params := range map[string]map[string]any{
		"another sex":         {"sex": "M", "from_year": 2012.0, "to_year": 2020.0},
		"another from_year":   {"sex": "F", "from_year": 2013.0, "to_year": 2020.0},
		"from and to swapped": {"sex": "F", "from_year": 2020.0, "to_year": 2012.0},
	} {
		k := key(cancer, params)
		if prev, dup := seen[k]; dup {
			t.Errorf("%s has the key of %s", desc, prev)
		}
		seen[k] = desc
	}
	atc := key("prescriptions_by_atc_year", map[string]any{"atc_prefix": "A10B%"})
	if atc == key("prescriptions_by_atc_year", map[string]any{"atc_prefix": "A10A%"}) {
		t.Error("different ATC prefixes share a key")
	}
	if !strings.HasPrefix(atc, "t1:") || len(atc) != 3+64 {
		t.Errorf("key %q is not t1: and a SHA-256", atc)
	}
}
