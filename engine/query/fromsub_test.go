package query

import (
	"reflect"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/refusal"
)

// TestFromSubqueryIsItsWithQuery: a subquery that is the whole FROM checks
// to the model of the same question written with WITH, under its alias or
// DuckDB's name for an unnamed subquery.
func TestFromSubqueryIsItsWithQuery(t *testing.T) {
	tests := []struct {
		desc     string
		sub      string
		with     string
		params   map[string]Type // a template's, when set
		wantCTEs []string        // the Derived names of the model
	}{
		{
			desc:     "mean contacts per person, unnamed",
			sub:      "SELECT avg(n) AS mean_contacts FROM (SELECT pid, count(*) AS n FROM npr GROUP BY pid)",
			with:     "WITH unnamed_subquery AS (SELECT pid, count(*) AS n FROM npr GROUP BY pid) SELECT avg(n) AS mean_contacts FROM unnamed_subquery",
			wantCTEs: []string{"unnamed_subquery"},
		},
		{
			desc: "persons with a contact, grouped by the key alone",
			sub:  "SELECT count(*) AS persons FROM (SELECT pid FROM npr WHERE icd10 LIKE 'J%' GROUP BY pid)",
			with: "WITH unnamed_subquery AS (SELECT pid FROM npr WHERE icd10 LIKE 'J%' GROUP BY pid) SELECT count(*) AS persons FROM unnamed_subquery",
		},
		{
			desc: "persons by their number of contacts, aliased and qualified",
			sub:  "SELECT t.n_contacts, count(*) FROM (SELECT pid, count(*) AS n_contacts FROM npr GROUP BY pid) AS t GROUP BY 1",
			with: "WITH t AS (SELECT pid, count(*) AS n_contacts FROM npr GROUP BY pid) SELECT t.n_contacts, count(*) FROM t GROUP BY 1",
		},
		{
			desc: "DuckDB's name of an unnamed subquery qualifies its columns",
			sub:  "SELECT unnamed_subquery.n, count(*) FROM (SELECT pid, count(*) AS n FROM npr GROUP BY pid) GROUP BY 1",
			with: "WITH unnamed_subquery AS (SELECT pid, count(*) AS n FROM npr GROUP BY pid) SELECT unnamed_subquery.n, count(*) FROM unnamed_subquery GROUP BY 1",
		},
		{
			desc: "a join, WHERE and every aggregate inside; the outer WHERE, HAVING, ORDER BY and LIMIT",
			sub: `SELECT year(first_date) AS year, admitted, count(*) AS patients, avg(contacts) AS mean_contacts, sum(days) AS days
			      FROM (SELECT n.pid, min(n.contact_date) AS first_date, max(n.contact_date) AS last_date, count(*) AS contacts,
			                   count(n.length_of_stay_days) AS stays, sum(n.length_of_stay_days) AS days,
			                   bool_or(n.contact_type = 'inpatient') AS admitted, arg_min(n.hospital, n.contact_date) AS first_hospital
			            FROM npr n JOIN population p USING (pid) WHERE p.birth_year < 1960 GROUP BY n.pid) per
			      WHERE per.last_date > DATE '2015-01-01' GROUP BY 1, 2 HAVING patients >= 10 ORDER BY year LIMIT 20`,
			with: `WITH per AS (SELECT n.pid, min(n.contact_date) AS first_date, max(n.contact_date) AS last_date, count(*) AS contacts,
			                   count(n.length_of_stay_days) AS stays, sum(n.length_of_stay_days) AS days,
			                   bool_or(n.contact_type = 'inpatient') AS admitted, arg_min(n.hospital, n.contact_date) AS first_hospital
			            FROM npr n JOIN population p USING (pid) WHERE p.birth_year < 1960 GROUP BY n.pid)
			      SELECT year(first_date) AS year, admitted, count(*) AS patients, avg(contacts) AS mean_contacts, sum(days) AS days
			      FROM per WHERE per.last_date > DATE '2015-01-01' GROUP BY 1, 2 HAVING patients >= 10 ORDER BY year LIMIT 20`,
		},
		{
			desc: "a semi join in the outer WHERE on the subquery's key",
			sub: `SELECT year(f.first_date) AS year, count(*) AS patients
			      FROM (SELECT pid, min(contact_date) AS first_date FROM npr WHERE icd10 LIKE 'E11%' GROUP BY pid) f
			      WHERE f.pid IN (SELECT pid FROM lmr WHERE atc = 'A10BA02') GROUP BY 1`,
			with: `WITH f AS (SELECT pid, min(contact_date) AS first_date FROM npr WHERE icd10 LIKE 'E11%' GROUP BY pid)
			      SELECT year(f.first_date) AS year, count(*) AS patients FROM f
			      WHERE f.pid IN (SELECT pid FROM lmr WHERE atc = 'A10BA02') GROUP BY 1`,
		},
		{
			desc: "after the statement's own WITH queries, whose name the unnamed subquery does not take",
			sub: `WITH unnamed_subquery AS (SELECT pid, count(*) AS n FROM lmr GROUP BY pid)
			      SELECT avg(m) AS mean FROM (SELECT pid, count(*) AS m FROM npr GROUP BY pid)`,
			with: `WITH unnamed_subquery AS (SELECT pid, count(*) AS n FROM lmr GROUP BY pid), unnamed_subquery_2 AS (SELECT pid, count(*) AS m FROM npr GROUP BY pid)
			      SELECT avg(m) AS mean FROM unnamed_subquery_2`,
			wantCTEs: []string{"unnamed_subquery_2"},
		},
		{
			desc: "parenthesised twice, FROM-first inside",
			sub:  "SELECT count(*) AS n FROM ((FROM cancer SELECT pid, arg_min(stage, diagnosis_date) AS stage GROUP BY pid)) dx WHERE dx.stage = 'IV'",
			with: "WITH dx AS (SELECT pid, arg_min(stage, diagnosis_date) AS stage FROM cancer GROUP BY pid) SELECT count(*) AS n FROM dx WHERE dx.stage = 'IV'",
		},
		{
			desc:   "a template's parameter in the outer query",
			sub:    "SELECT count(*) AS n FROM (SELECT pid, min(contact_date) AS d FROM npr WHERE icd10 LIKE 'E11%' GROUP BY pid) x WHERE year(x.d) >= $from",
			with:   "WITH x AS (SELECT pid, min(contact_date) AS d FROM npr WHERE icd10 LIKE 'E11%' GROUP BY pid) SELECT count(*) AS n FROM x WHERE year(x.d) >= $from",
			params: map[string]Type{"from": TypeInteger},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			compile := func(text string) (*Query, error) {
				if tc.params != nil {
					return testParser.CompileTemplate(t.Context(), text, allDatasets(), tc.params)
				}
				return testParser.Compile(t.Context(), text, allDatasets())
			}
			want, err := compile(tc.with)
			if err != nil {
				t.Fatalf("WITH: %v", err)
			}
			got, err := compile(tc.sub)
			if err != nil {
				t.Fatalf("FROM subquery: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("FROM subquery checks to\n%#v\nWITH to\n%#v", got, want)
			}
			if err := validate(got, allDatasets()); err != nil {
				t.Error(err)
			}
			if tc.wantCTEs != nil {
				var names []string
				for _, d := range got.Derived {
					names = append(names, d.Name)
				}
				if !reflect.DeepEqual(names, tc.wantCTEs) {
					t.Errorf("derived tables %v, want %v", names, tc.wantCTEs)
				}
			}
		})
	}
}

// TestFromSubqueryRefusedAsItsWithQuery: a subquery in FROM whose WITH
// query is refused is refused with the same code, its message saying it
// is about the subquery.
func TestFromSubqueryRefusedAsItsWithQuery(t *testing.T) {
	tests := []struct {
		desc string
		sub  string
		with string
		want refusal.Code
	}{
		{"DISTINCT of more than the key", "SELECT count(*) AS persons FROM (SELECT DISTINCT pid, icd10 FROM npr WHERE icd10 LIKE 'J%')",
			"WITH t AS (SELECT DISTINCT pid, icd10 FROM npr WHERE icd10 LIKE 'J%') SELECT count(*) AS persons FROM t", refusal.SelectDistinct},
		{"rows, not persons", "SELECT sex, count(*) FROM (SELECT pid, sex FROM population WHERE birth_year > 1980) t GROUP BY sex",
			"WITH t AS (SELECT pid, sex FROM population WHERE birth_year > 1980) SELECT sex, count(*) FROM t GROUP BY sex", refusal.CTENotPersonLevel},
		{"not grouped by the key", "SELECT count(*) FROM (SELECT hospital, count(*) AS n FROM npr GROUP BY hospital) t",
			"WITH t AS (SELECT hospital, count(*) AS n FROM npr GROUP BY hospital) SELECT count(*) FROM t", refusal.CTENotPersonLevel},
		{"SELECT *", "SELECT count(*) FROM (SELECT * FROM npr)", "WITH t AS (SELECT * FROM npr) SELECT count(*) FROM t", refusal.SelectStar},
		{"another aggregate", "SELECT avg(m) FROM (SELECT pid, avg(ddd) AS m FROM lmr GROUP BY pid) t",
			"WITH t AS (SELECT pid, avg(ddd) AS m FROM lmr GROUP BY pid) SELECT avg(m) FROM t", refusal.CTEAggregateNotAllowed},
		{"ORDER BY and LIMIT inside", "SELECT count(*) FROM (SELECT pid, count(*) AS n FROM npr GROUP BY pid ORDER BY n DESC LIMIT 10) t",
			"WITH t AS (SELECT pid, count(*) AS n FROM npr GROUP BY pid ORDER BY n DESC LIMIT 10) SELECT count(*) FROM t", refusal.ClauseNotAllowed},
		{"HAVING inside", "SELECT count(*) FROM (SELECT pid, count(*) AS n FROM npr GROUP BY pid HAVING count(*) > 2) t",
			"WITH t AS (SELECT pid, count(*) AS n FROM npr GROUP BY pid HAVING count(*) > 2) SELECT count(*) FROM t", refusal.ClauseNotAllowed},
		{"UNION", "SELECT count(*) FROM (SELECT pid FROM npr UNION SELECT pid FROM lmr) t",
			"WITH t AS (SELECT pid FROM npr UNION SELECT pid FROM lmr) SELECT count(*) FROM t", refusal.SetOperation},
		{"a WITH inside", "SELECT count(*) FROM (WITH a AS (SELECT 1) SELECT pid, count(*) AS n FROM npr GROUP BY pid) t",
			"WITH t AS (WITH a AS (SELECT 1) SELECT pid, count(*) AS n FROM npr GROUP BY pid) SELECT count(*) FROM t", refusal.CTENested},
		{"reading a WITH query", "WITH a AS (SELECT pid, count(*) AS n FROM npr GROUP BY pid) SELECT count(*) FROM (SELECT pid, max(n) AS m FROM a GROUP BY pid) t",
			"WITH a AS (SELECT pid, count(*) AS n FROM npr GROUP BY pid), t AS (SELECT pid, max(n) AS m FROM a GROUP BY pid) SELECT count(*) FROM t", refusal.CTENested},
		{"named like a dataset", "SELECT count(*) FROM (SELECT pid, count(*) AS n FROM lmr GROUP BY pid) npr",
			"WITH npr AS (SELECT pid, count(*) AS n FROM lmr GROUP BY pid) SELECT count(*) FROM npr", refusal.CTENameTaken},
		{"column names after the alias", "SELECT count(*) FROM (SELECT pid, count(*) FROM npr GROUP BY pid) t(p, n)",
			"WITH t(p, n) AS (SELECT pid, count(*) FROM npr GROUP BY pid) SELECT count(*) FROM t", refusal.CTENotAllowed},
		{"the person key released", "SELECT pid, n FROM (SELECT pid, count(*) AS n FROM npr GROUP BY pid) t GROUP BY 1, 2",
			"WITH t AS (SELECT pid, count(*) AS n FROM npr GROUP BY pid) SELECT pid, n FROM t GROUP BY 1, 2", refusal.PersonKeyInSelect},
		{"max of a count", "SELECT max(n) AS most FROM (SELECT pid, count(*) AS n FROM npr GROUP BY pid) t",
			"WITH t AS (SELECT pid, count(*) AS n FROM npr GROUP BY pid) SELECT max(n) AS most FROM t", refusal.MinMaxNotAllowed},
		{"a subquery in its WHERE", "SELECT count(*) FROM (SELECT pid, count(*) AS n FROM npr WHERE pid IN (SELECT pid FROM lmr) GROUP BY pid) t",
			"WITH t AS (SELECT pid, count(*) AS n FROM npr WHERE pid IN (SELECT pid FROM lmr) GROUP BY pid) SELECT count(*) FROM t", refusal.Subquery},
		{"a subquery in its FROM", "SELECT count(*) FROM (SELECT pid, count(*) AS n FROM (SELECT pid FROM npr) GROUP BY pid) t",
			"WITH t AS (SELECT pid, count(*) AS n FROM (SELECT pid FROM npr) GROUP BY pid) SELECT count(*) FROM t", refusal.Subquery},
		{"a template's parameter inside", "SELECT count(*) AS n FROM (SELECT pid, min(contact_date) AS d FROM npr WHERE icd10 LIKE $code GROUP BY pid) t",
			"WITH t AS (SELECT pid, min(contact_date) AS d FROM npr WHERE icd10 LIKE $code GROUP BY pid) SELECT count(*) AS n FROM t", refusal.ParameterNotAllowed},
		{"a dataset outside the project", "SELECT avg(n) FROM (SELECT pid, count(*) AS n FROM npr GROUP BY pid) t",
			"WITH t AS (SELECT pid, count(*) AS n FROM npr GROUP BY pid) SELECT avg(n) FROM t", refusal.DatasetNotInProject},
	}
	cancer := projectCatalog(t, "cancer-survival")
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			cat := allDatasets()
			if tc.want == refusal.DatasetNotInProject {
				cat = cancer
			}
			compile := func(text string) error {
				var err error
				if tc.want == refusal.ParameterNotAllowed {
					_, err = testParser.CompileTemplate(t.Context(), text, cat, map[string]Type{"code": TypeString})
				} else {
					_, err = testParser.Compile(t.Context(), text, cat)
				}
				return err
			}
			wantErr, err := compile(tc.with), compile(tc.sub)
			if got := refusal.CodeOf(err); got != tc.want || refusal.CodeOf(wantErr) != tc.want {
				t.Fatalf("FROM subquery: %v; WITH: %v; want %s", err, wantErr, tc.want)
			}
			r, _ := refusal.As(err)
			w, _ := refusal.As(wantErr)
			if r.Hint != w.Hint {
				t.Errorf("hint %q, the WITH query's %q", r.Hint, w.Hint)
			}
		})
	}
}

// TestFromSubqueryOnlyWhole: a subquery anywhere in FROM but the whole of
// it stays refused, and checking does not change the shared AST.
func TestFromSubqueryOnlyWhole(t *testing.T) {
	tests := []struct {
		desc string
		sql  string
		want refusal.Code
	}{
		{"in a join", "SELECT count(*) FROM npr JOIN (SELECT pid, count(*) AS n FROM lmr GROUP BY pid) t USING (pid)", refusal.Subquery},
		{"joined to a dataset", "SELECT p.sex, avg(t.n) FROM (SELECT pid, count(*) AS n FROM lmr GROUP BY pid) t JOIN population p USING (pid) GROUP BY 1", refusal.Subquery},
		{"LEFT JOINed", "SELECT count(*) FROM population p LEFT JOIN (SELECT pid, count(*) AS n FROM lmr GROUP BY pid) t USING (pid)", refusal.Subquery},
		{"LATERAL", "SELECT count(*) FROM npr JOIN LATERAL (SELECT 1) x ON true", refusal.Subquery},
		{"beside a dataset", "SELECT count(*) FROM (SELECT pid, count(*) AS n FROM lmr GROUP BY pid) t, population p", refusal.JoinTypeNotAllowed},
		{"VALUES", "SELECT count(*) FROM (VALUES (1), (2))", refusal.FromNotDataset},
		// DuckDB's parser refuses two WITH queries named alike (parse_error).
		{"named like a WITH query", "WITH t AS (SELECT pid, count(*) AS n FROM npr GROUP BY pid) SELECT count(*) FROM (SELECT pid, count(*) AS n FROM lmr GROUP BY pid) t",
			refusal.CTENameTaken},
		{"sampled", "SELECT count(*) FROM (SELECT pid, count(*) AS n FROM lmr GROUP BY pid) t TABLESAMPLE 10%", refusal.SampleNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := testParser.Compile(t.Context(), tc.sql, allDatasets())
			if got := refusal.CodeOf(err); got != tc.want {
				t.Fatalf("error %v, want %s", err, tc.want)
			}
		})
	}

	// A refusal of the statement's own WITH query named like the subquery
	// is not said to be about the subquery.
	_, err := testParser.Compile(t.Context(), "WITH t AS (SELECT * FROM npr) SELECT count(*) FROM (SELECT pid, count(*) AS n FROM lmr GROUP BY pid) t", allDatasets())
	if r, _ := refusal.As(err); r == nil || r.Code != refusal.SelectStar || strings.Contains(r.Message, "subquery") {
		t.Errorf("a WITH query named like the subquery in FROM: %v, want select_star about the WITH query", err)
	}

	a, err := testParser.Parse(t.Context(), "SELECT avg(n) AS m FROM (SELECT pid, count(*) AS n FROM npr GROUP BY pid)")
	if err != nil {
		t.Fatal(err)
	}
	first, err := Check(a, allDatasets())
	if err != nil {
		t.Fatal(err)
	}
	if a.stmt.obj("from_table").kind() != "SUBQUERY" || len(a.stmt.obj("cte_map").list("map")) != 0 {
		t.Fatalf("Check changed the AST: FROM %v, WITH %v", a.stmt.obj("from_table").kind(), a.stmt.obj("cte_map"))
	}
	again, err := Check(a, allDatasets())
	if err != nil || !reflect.DeepEqual(first, again) {
		t.Fatalf("a second Check of the AST: %v, %v", again, err)
	}
}
