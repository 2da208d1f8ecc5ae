package query

import (
	"strings"
	"testing"
)

// TestExpressionBounds checks the bounds interval arithmetic gives
// aggregated expressions, from the shipped policy's declarations:
// length_of_stay_days [0, 90], ddd [0, 365], birth_year [1915, 2024], the
// date columns' years 2010–2024 (day numbers 14610 = 2010-01-01 and
// 20088 = 2024-12-31).
func TestExpressionBounds(t *testing.T) {
	tests := []struct {
		desc, sql string
		want      [2]float64
	}{
		{"age at diagnosis", "SELECT avg(year(c.diagnosis_date) - p.birth_year) FROM cancer c JOIN population p USING (pid)", [2]float64{2010 - 2024, 2024 - 1915}},
		{"clamped age", "SELECT avg(least(greatest(year(c.diagnosis_date) - p.birth_year, 0), 100)) FROM cancer c JOIN population p USING (pid)", [2]float64{0, 100}},
		{"greatest alone keeps the upper bound", "SELECT avg(greatest(length_of_stay_days, 10)) FROM npr", [2]float64{10, 90}},
		{"least of two columns may be either", "SELECT sum(least(n.length_of_stay_days, l.ddd)) FROM npr n JOIN lmr l USING (pid)", [2]float64{0, 365}},
		{"days between dates", "SELECT avg(date_diff('day', c.diagnosis_date, d.death_date)) FROM cancer c JOIN death_causes d USING (pid)", [2]float64{14610 - 20088, 20088 - 14610}},
		{"date minus date", "SELECT avg(d.death_date - DATE '2010-01-01') FROM death_causes d", [2]float64{0, 20088 - 14610}},
		{"months between dates", "SELECT avg(date_diff('month', DATE '2020-01-15', n.contact_date)) FROM npr n", [2]float64{-(10*12 + 0), 4*12 + 11}},
		{"years between dates", "SELECT avg(date_diff('year', DATE '2020-06-30', n.contact_date)) FROM npr n", [2]float64{-10, 4}},
		{"product", "SELECT sum(length_of_stay_days * -2) FROM npr", [2]float64{-180, 0}},
		{"quotient by a positive constant", "SELECT avg(ddd / 5) FROM lmr", [2]float64{0, 73}},
		{"modulo", "SELECT avg(ddd % 7) FROM lmr", [2]float64{0, 7}},
		{"case arms", "SELECT sum(CASE WHEN ddd > 30 THEN 1 WHEN ddd > 10 THEN 0.5 ELSE 0 END) FROM lmr", [2]float64{0, 1}},
		{"case without else", "SELECT avg(CASE WHEN ddd > 30 THEN ddd END) FROM lmr", [2]float64{0, 365}},
		{"abs", "SELECT avg(abs(ddd - 400)) FROM lmr", [2]float64{35, 400}},
		{"round to tens", "SELECT avg(round(ddd + 1, -1)) FROM lmr", [2]float64{0, 370}},
		{"floor", "SELECT avg(floor(length_of_stay_days / 7)) FROM npr", [2]float64{0, 12}},
		{"month", "SELECT avg(month(contact_date) + 0) FROM npr", [2]float64{1, 12}},
		{"coalesce with a constant", "SELECT avg(coalesce(length_of_stay_days, -1)) FROM npr", [2]float64{-1, 90}},
		{"integer domain without bounds", "SELECT avg(birth_year - 1900) FROM population", [2]float64{15, 124}},
		{"integer division truncates", "SELECT avg((2024 - birth_year) // 10) FROM population", [2]float64{0, 10}},
		{"integer division truncates toward zero", "SELECT avg((birth_year - 2000) // 7) FROM population", [2]float64{-12, 3}},
		{"integer division by what can be 0 is NULL there", "SELECT avg(birth_year // (birth_year % 3)) FROM population", [2]float64{638, 2024}},
		{"integer division by a negative divisor", "SELECT avg(birth_year // (0 - 2)) FROM population", [2]float64{-1012, -957}},
		{"// of numbers is their quotient", "SELECT sum(ddd // 4) FROM lmr", [2]float64{0, 91.25}},
		{"boolean cast to an integer", "SELECT avg(CAST(death_date IS NOT NULL AS INTEGER)) FROM population", [2]float64{0, 1}},
		{"boolean cast to a number", "SELECT sum((ddd > 30)::DOUBLE) FROM lmr", [2]float64{0, 1}},
		{"boolean cast to a bigint in arithmetic", "SELECT sum(CAST(ddd > 30 AS BIGINT) * 2 + 1) FROM lmr", [2]float64{1, 3}},
		{"constant boolean cast", "SELECT avg(ddd + CAST(true AS INTEGER)) FROM lmr", [2]float64{1, 366}},
		// 365 / 2 = 182.5 rounds to even: 182, as DuckDB casts.
		{"number cast to an integer", "SELECT avg(CAST(ddd / 2 AS INTEGER)) FROM lmr", [2]float64{0, 182}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			q, err := testParser.Compile(t.Context(), tc.sql, allDatasets())
			if err != nil {
				t.Fatal(err)
			}
			if got := q.Aggs[0].Bounds; got != tc.want {
				t.Fatalf("bounds %v, want %v", got, tc.want)
			}
		})
	}
}

// TestExpressionBoundsRefused checks that a refusal says why no bound follows.
func TestExpressionBoundsRefused(t *testing.T) {
	tests := []struct{ sql, why string }{
		{"SELECT avg(ddd / ddd) FROM lmr", "divides by an expression that can be 0"},
		{"SELECT avg(ddd // ddd) FROM lmr", "divides by an expression that can be 0"},
		{"SELECT avg(length(atc)) FROM lmr", "length(...) has no bound"},
		{"SELECT avg(ddd * 1e300) FROM lmr", "beyond"},
		{"SELECT avg(greatest(ddd, length(atc))) FROM lmr", "length(...) has no bound"},
	}
	for _, tc := range tests {
		t.Run(tc.sql, func(t *testing.T) {
			_, err := testParser.Compile(t.Context(), tc.sql, allDatasets())
			if err == nil || !strings.Contains(err.Error(), tc.why) || !strings.Contains(err.Error(), "expression_unbounded") {
				t.Fatalf("error %v, want expression_unbounded saying %q", err, tc.why)
			}
		})
	}
}
