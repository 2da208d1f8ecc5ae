package engine

import "testing"

// TestRepeatedFailingExpressionsDoNotFail: an expression that fails on
// some rows (a cast out of BIGINT's range, an integer overflow) is
// computed inside try() even when it occurs twice, so the query succeeds
// on data where it fails: DuckDB's common-subexpression elimination used
// to compute the repeat outside the try(), and the query failed after the
// debit exactly when such a row existed (engine/exec's lockdown turns it
// off), and its in_clause rewrite of a long IN list computes the operand
// outside the try() (the plan gives it a try() of its own). The conditions
// hold for many rows of the extract.
func TestRepeatedFailingExpressionsDoNotFail(t *testing.T) {
	e := openEngine(t, func(o *Options) { o.NoRepeats = true })
	huge := "CAST(CASE WHEN birth_year = 1950 THEN CAST(1e19 AS DOUBLE) ELSE 0 END AS BIGINT)"
	overflow := "CASE WHEN birth_year = 1950 THEN 4611686018427387904 ELSE 0 END * 2"
	for _, sql := range []string{
		"SELECT sex, count(" + huge + " + " + huge + ") AS n FROM population GROUP BY 1",
		"SELECT sex, count(" + overflow + " + " + overflow + ") AS n FROM population GROUP BY 1",
		"SELECT sex, count(" + huge + ") AS a, count(*) FILTER (WHERE " + huge + " > 0) AS b FROM population GROUP BY 1",
		"SELECT sex, count(CAST(birth_year / 1 * 4.8e15 AS BIGINT)) AS a, count(*) FILTER (WHERE CAST(birth_year / 1 * 4.8e15 AS BIGINT) > 0) AS b FROM population GROUP BY 1",
		"SELECT p.sex, count(CAST(CASE WHEN n.length_of_stay_days > 5 THEN CAST(1e19 AS DOUBLE) ELSE 1 END AS BIGINT) + CAST(CASE WHEN n.length_of_stay_days > 5 THEN CAST(1e19 AS DOUBLE) ELSE 1 END AS BIGINT)) AS x FROM npr n JOIN population p USING (pid) GROUP BY 1",
		// DuckDB's in_clause optimizer computes the operand of a long IN
		// list outside the condition's try().
		"SELECT sex, count(*) AS n FROM population WHERE " + huge + " IN (1, 2, 3, 4, 5, 6, 7) GROUP BY 1",
		"SELECT sex, count(*) AS n FROM population WHERE (" + overflow + ") NOT IN (1, 2, 3, 4, 5, 6, 7) GROUP BY 1",
		"SELECT sex, count(*) FILTER (WHERE " + huge + " IN (1, 2, 3, 4, 5, 6, 7)) AS a, count(DISTINCT pid) FILTER (WHERE " + huge + " IN (1, 2, 3, 4, 5, 6, 7)) AS b FROM population GROUP BY 1",
	} {
		if _, err := e.Query(t.Context(), ingrid, Request{Project: "diabetes-2026", SQL: sql}); err != nil {
			t.Errorf("%s: %v", sql, err)
		}
	}
}
