package query

import (
	"reflect"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/refusal"
)

// TestDistinctPersonKeyIsGroupBy: in a person-level WITH query, and so in
// a subquery in FROM, SELECT DISTINCT <person key> checks to the model of
// SELECT <person key> ... GROUP BY <person key>.
func TestDistinctPersonKeyIsGroupBy(t *testing.T) {
	tests := []struct {
		desc     string
		distinct string
		groupBy  string
	}{
		{
			desc:     "persons with a contact, a subquery in FROM",
			distinct: "SELECT count(*) AS persons FROM (SELECT DISTINCT pid FROM npr WHERE icd10 LIKE 'J%')",
			groupBy:  "SELECT count(*) AS persons FROM (SELECT pid FROM npr WHERE icd10 LIKE 'J%' GROUP BY pid)",
		},
		{
			desc:     "a WITH query joined to the population register",
			distinct: "WITH asthma AS (SELECT DISTINCT pid FROM npr WHERE icd10 LIKE 'J45%') SELECT p.sex, count(*) FROM population p JOIN asthma USING (pid) GROUP BY 1",
			groupBy:  "WITH asthma AS (SELECT pid FROM npr WHERE icd10 LIKE 'J45%' GROUP BY pid) SELECT p.sex, count(*) FROM population p JOIN asthma USING (pid) GROUP BY 1",
		},
		{
			desc:     "aliased, a join and a WHERE on both datasets inside, grouped outside",
			distinct: "WITH t AS (SELECT DISTINCT n.pid FROM npr n JOIN lmr l USING (pid) WHERE n.icd10 LIKE 'E11%' AND l.atc LIKE 'A10%') SELECT p.sex, count(*) AS persons FROM t JOIN population p USING (pid) WHERE p.birth_year < 1960 GROUP BY 1",
			groupBy:  "WITH t AS (SELECT n.pid FROM npr n JOIN lmr l USING (pid) WHERE n.icd10 LIKE 'E11%' AND l.atc LIKE 'A10%' GROUP BY n.pid) SELECT p.sex, count(*) AS persons FROM t JOIN population p USING (pid) WHERE p.birth_year < 1960 GROUP BY 1",
		},
		{
			desc:     "the key renamed",
			distinct: "SELECT count(*) AS persons FROM (SELECT DISTINCT pid AS person FROM cancer WHERE stage = 'IV') dx",
			groupBy:  "SELECT count(*) AS persons FROM (SELECT pid AS person FROM cancer WHERE stage = 'IV' GROUP BY 1) dx",
		},
		{
			desc:     "an aliased subquery in FROM with a semi join outside",
			distinct: "SELECT count(*) AS persons FROM (SELECT DISTINCT pid FROM npr WHERE icd10 LIKE 'E11%') e WHERE e.pid IN (SELECT pid FROM lmr WHERE atc LIKE 'A10%')",
			groupBy:  "SELECT count(*) AS persons FROM (SELECT pid FROM npr WHERE icd10 LIKE 'E11%' GROUP BY pid) e WHERE e.pid IN (SELECT pid FROM lmr WHERE atc LIKE 'A10%')",
		},
		{
			desc: "beside a WITH query with aggregates",
			distinct: "WITH e11 AS (SELECT DISTINCT pid FROM npr WHERE icd10 LIKE 'E11%'), met AS (SELECT pid, min(dispensed_date) AS first_met FROM lmr WHERE atc LIKE 'A10BA%' GROUP BY pid) " +
				"SELECT year(m.first_met) AS year, count(*) AS patients FROM e11 JOIN met m USING (pid) GROUP BY 1",
			groupBy: "WITH e11 AS (SELECT pid FROM npr WHERE icd10 LIKE 'E11%' GROUP BY pid), met AS (SELECT pid, min(dispensed_date) AS first_met FROM lmr WHERE atc LIKE 'A10BA%' GROUP BY pid) " +
				"SELECT year(m.first_met) AS year, count(*) AS patients FROM e11 JOIN met m USING (pid) GROUP BY 1",
		},
		{
			desc:     "a one-row-per-person dataset, no WHERE",
			distinct: "SELECT count(*) AS persons FROM (SELECT DISTINCT pid FROM death_causes)",
			groupBy:  "SELECT count(*) AS persons FROM (SELECT pid FROM death_causes GROUP BY pid)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			want, err := testParser.Compile(t.Context(), tc.groupBy, allDatasets())
			if err != nil {
				t.Fatalf("GROUP BY: %v", err)
			}
			got, err := testParser.Compile(t.Context(), tc.distinct, allDatasets())
			if err != nil {
				t.Fatalf("DISTINCT: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("DISTINCT checks to\n%#v\nGROUP BY to\n%#v", got, want)
			}
			if err := validate(got, allDatasets()); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestDistinctRefusedInWithQuery: SELECT DISTINCT of anything but the
// person key alone, DISTINCT ON, and DISTINCT beside GROUP BY stay
// refused in a WITH query and in a subquery in FROM, with the same code
// and hint; the outer query's own SELECT DISTINCT stays refused.
func TestDistinctRefusedInWithQuery(t *testing.T) {
	tests := []struct {
		desc string
		body string // the WITH query's body, also written as the subquery in FROM
		want refusal.Code
		hint string // a part of the hint
	}{
		{"the key and another column", "SELECT DISTINCT pid, icd10 FROM npr WHERE icd10 LIKE 'J%'", refusal.SelectDistinct, "select the person key alone"},
		{"another column", "SELECT DISTINCT icd10 FROM npr", refusal.SelectDistinct, "select the person key alone"},
		{"the key and an aggregate", "SELECT DISTINCT pid, count(*) AS n FROM npr", refusal.SelectDistinct, "select the person key alone"},
		{"star", "SELECT DISTINCT * FROM npr", refusal.SelectDistinct, "select the person key alone"},
		{"a LEFT JOINed key", "SELECT DISTINCT d.pid FROM population p LEFT JOIN death_causes d USING (pid)", refusal.SelectDistinct, "select the person key alone"},
		{"an expression of the key", "SELECT DISTINCT pid + 0 AS pid FROM npr", refusal.SelectDistinct, "select the person key alone"},
		{"DISTINCT ON", "SELECT DISTINCT ON (pid) pid, icd10 FROM npr", refusal.SelectDistinct, "arg_min"},
		{"DISTINCT ON the key alone", "SELECT DISTINCT ON (pid) pid FROM npr", refusal.SelectDistinct, "arg_min"},
		{"with GROUP BY", "SELECT DISTINCT pid FROM npr GROUP BY pid", refusal.SelectDistinct, "drop DISTINCT"},
		{"with GROUP BY ()", "SELECT DISTINCT pid FROM npr GROUP BY ()", refusal.SelectDistinct, "drop DISTINCT"},
		{"with ORDER BY", "SELECT DISTINCT pid FROM npr ORDER BY pid", refusal.ClauseNotAllowed, ""},
		{"with LIMIT", "SELECT DISTINCT pid FROM npr LIMIT 10", refusal.ClauseNotAllowed, ""},
		{"with HAVING", "SELECT DISTINCT pid FROM npr HAVING count(*) > 1", refusal.ClauseNotAllowed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			with := "WITH t AS (" + tc.body + ") SELECT count(*) AS persons FROM t"
			sub := "SELECT count(*) AS persons FROM (" + tc.body + ") t"
			_, withErr := testParser.Compile(t.Context(), with, allDatasets())
			_, subErr := testParser.Compile(t.Context(), sub, allDatasets())
			w, _ := refusal.As(withErr)
			s, _ := refusal.As(subErr)
			if w == nil || s == nil || w.Code != tc.want || s.Code != tc.want {
				t.Fatalf("WITH: %v; FROM subquery: %v; want %s", withErr, subErr, tc.want)
			}
			if w.Hint != s.Hint || !strings.Contains(w.Hint, tc.hint) {
				t.Errorf("hints %q and %q, want both with %q", w.Hint, s.Hint, tc.hint)
			}
		})
	}

	// The outer query's own SELECT DISTINCT, over a WITH query that may
	// have one.
	for _, sql := range []string{
		"WITH t AS (SELECT DISTINCT pid FROM npr) SELECT DISTINCT p.sex FROM population p JOIN t USING (pid)",
		"SELECT DISTINCT count(*) AS persons FROM (SELECT DISTINCT pid FROM npr)",
		"SELECT DISTINCT pid FROM npr",
	} {
		if _, err := testParser.Compile(t.Context(), sql, allDatasets()); refusal.CodeOf(err) != refusal.SelectDistinct {
			t.Errorf("%s: %v, want %s", sql, err, refusal.SelectDistinct)
		}
	}
}
