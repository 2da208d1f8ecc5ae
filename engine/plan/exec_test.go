package plan

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/query"
)

// withinBoundsNPR fills npr with 500 persons none of whom exceeds the npr
// bounds (at most 4 icd10 codes, and 4 (contact_type, year) pairs, per
// person; at most 10 rows per person and code; stays within [0, 90], some
// NULL), and population with one row per person.
const withinBoundsNPR = `
INSERT INTO npr
SELECT pid,
    DATE '2010-01-01' + CAST((pid * 131 + j * 400) % 5000 AS INTEGER),
    chr(65 + CAST((pid + j) % 26 AS INTEGER)) || lpad(CAST((pid * 7 + j * 3) % 100 AS VARCHAR), 2, '0'),
    ['inpatient', 'outpatient', 'day'][(pid + j) % 3 + 1],
    'Helse Bergen',
    CASE WHEN (pid + r) % 17 = 0 THEN NULL ELSE CAST((pid * 31 + j * 17 + r * 7) % 91 AS DOUBLE) END
FROM range(500) p(pid), range(4) g(j), range(10) s(r)
WHERE j <= pid % 4 AND r < (pid + j) % 10 + 1;
INSERT INTO population
SELECT pid, 1930 + pid % 80, CASE WHEN pid % 2 = 0 THEN 'F' ELSE 'M' END, '0301', NULL
FROM range(500) p(pid)`

func execAll(t testing.TB, db *sql.DB, stmts string) {
	t.Helper()
	for _, s := range strings.Split(stmts, ";") {
		if strings.TrimSpace(s) != "" {
			mustExec(t, db, s)
		}
	}
}

// toFloat converts a scanned number (or NULL, as 0) to float64.
func toFloat(t testing.TB, v any) float64 {
	t.Helper()
	switch v := v.(type) {
	case nil:
		return 0
	case int64:
		return float64(v)
	case int32:
		return float64(v)
	case float64:
		return v
	}
	t.Fatalf("value %#v is not a number", v)
	return 0
}

// toFloats converts a scanned LIST(DOUBLE) (or NULL) to a sorted slice.
func toFloats(t testing.TB, v any) []float64 {
	t.Helper()
	var out []float64
	if v != nil {
		list, ok := v.([]any)
		if !ok {
			t.Fatalf("value %#v is not a list", v)
		}
		for _, x := range list {
			out = append(out, toFloat(t, x))
		}
	}
	slices.Sort(out)
	return out
}

// rowsByGroup indexes result rows by their key columns (and grouping id).
func rowsByGroup(rows []map[string]any, cols ...string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range rows {
		var parts []string
		for _, c := range cols {
			parts = append(parts, fmt.Sprint(r[c]))
		}
		out[strings.Join(parts, "|")] = r
	}
	return out
}

func mustBound(t testing.TB, q *query.Query, seed uint64) *Plan {
	t.Helper()
	p, err := Bound(q, testPolicy(), &Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBoundedEqualsPlainWithinBounds: where no person exceeds a bound, the
// bounded query returns exactly what the plain DuckDB query does.
func TestBoundedEqualsPlainWithinBounds(t *testing.T) {
	db := openDB(t, testPolicy())
	execAll(t, db, withinBoundsNPR)

	t.Run("per icd10 code with the L0 step", func(t *testing.T) {
		p := mustBound(t, &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("icd10", nprICD)},
			Aggs: []query.Aggregate{countStar("n"), countPersons("persons"), {Kind: query.AggCount, Name: "nx", Arg: nprLOS},
				losBounded(query.AggSum, "s"), losBounded(query.AggAvg, "a"), losBounded(query.AggQuantile, "q")}}, 3)
		if p.Bounds.L0Step != L0Applied {
			t.Fatalf("L0 step %s, want applied", p.Bounds.L0Step)
		}
		got := rowsByGroup(queryRows(t, db, p.SQL), "k0")
		want := queryRows(t, db, `SELECT icd10, count(*) AS n, count(DISTINCT pid) AS persons, count(length_of_stay_days) AS nx,
			sum(length_of_stay_days) AS s, avg(length_of_stay_days) AS a,
			list(length_of_stay_days) FILTER (WHERE length_of_stay_days IS NOT NULL) AS q
			FROM npr GROUP BY icd10`)
		if len(got) != len(want) || len(want) < 50 {
			t.Fatalf("%d bounded groups, %d plain groups", len(got), len(want))
		}
		for _, w := range want {
			g := got[fmt.Sprint(w["icd10"])]
			if g == nil {
				t.Fatalf("group %v missing", w["icd10"])
			}
			for _, c := range [][2]string{{"persons", "persons"}, {"a0_count", "n"}, {"a2_count", "nx"}, {"a3_sum", "s"}, {"a4_count", "nx"}} {
				if toFloat(t, g[c[0]]) != toFloat(t, w[c[1]]) {
					t.Errorf("group %v: %s = %v, plain %s = %v", w["icd10"], c[0], g[c[0]], c[1], w[c[1]])
				}
			}
			if n := toFloat(t, g["a4_count"]); n > 0 {
				avg := toFloat(t, g["a4_norm_sum"])/n + 45
				if math.Abs(avg-toFloat(t, w["a"])) > 1e-9*math.Max(1, math.Abs(avg)) {
					t.Errorf("group %v: norm_sum/count + mid = %v, plain avg %v", w["icd10"], avg, w["a"])
				}
			}
			if gv, wv := toFloats(t, g["a5_values"]), toFloats(t, w["q"]); !slices.Equal(gv, wv) {
				t.Errorf("group %v: values %v, plain %v", w["icd10"], gv, wv)
			}
		}
	})

	t.Run("rollup of contact type and year", func(t *testing.T) {
		p := mustBound(t, &query.Query{From: from("npr", "npr"),
			Keys:         []query.GroupKey{key("contact_type", nprType), key("year", nprYear)},
			Aggs:         []query.Aggregate{countStar("n"), countPersons("persons"), losBounded(query.AggSum, "s")},
			GroupingSets: [][]int{{0, 1}, {0}, {}}}, 3)
		got := rowsByGroup(queryRows(t, db, p.SQL), "k0", "k1", "gid")
		want := queryRows(t, db, `SELECT contact_type AS k0, year(contact_date) AS k1, grouping_id(k0, k1) AS gid,
			count(*) AS n, count(DISTINCT pid) AS persons, coalesce(sum(length_of_stay_days), 0) AS s
			FROM npr GROUP BY GROUPING SETS ((k0, k1), (k0), ())`)
		if len(got) != len(want) {
			t.Fatalf("%d bounded rows, %d plain rows", len(got), len(want))
		}
		for k, w := range rowsByGroup(want, "k0", "k1", "gid") {
			g := got[k]
			if g == nil {
				t.Fatalf("row %s missing", k)
			}
			for _, c := range [][2]string{{"persons", "persons"}, {"a0_count", "n"}, {"a2_sum", "s"}} {
				if toFloat(t, g[c[0]]) != toFloat(t, w[c[1]]) {
					t.Errorf("row %s: %s = %v, plain %s = %v", k, c[0], g[c[0]], c[1], w[c[1]])
				}
			}
		}
	})

	t.Run("no keys", func(t *testing.T) {
		// Persons with pid % 4 = 0 have one code and at most 10 rows.
		p := mustBound(t, &query.Query{From: from("npr", "npr"),
			Where: cmp(&query.Arith{Op: "%", L: nprPID, R: lit(int64(4)), Type: query.TypeInteger}, "=", lit(int64(0))),
			Aggs:  []query.Aggregate{countPersons("persons"), losBounded(query.AggSum, "s"), countStar("n")}}, 3)
		got := queryRows(t, db, p.SQL)
		want := queryRows(t, db, `SELECT count(DISTINCT pid) AS persons, sum(length_of_stay_days) AS s, count(*) AS n FROM npr WHERE pid % 4 = 0`)
		if len(got) != 1 || toFloat(t, got[0]["persons"]) != toFloat(t, want[0]["persons"]) ||
			toFloat(t, got[0]["a1_sum"]) != toFloat(t, want[0]["s"]) || toFloat(t, got[0]["a2_count"]) != toFloat(t, want[0]["n"]) {
			t.Errorf("bounded %v, plain %v", got, want)
		}
	})

	t.Run("persons per sex through a join", func(t *testing.T) {
		p := mustBound(t, &query.Query{From: from("npr", "n", "population", "p"),
			Keys: []query.GroupKey{key("sex", ref("p", "population", "sex", query.TypeString))},
			Aggs: []query.Aggregate{countPersons("persons")}}, 3)
		if p.Bounds.L0Step != L0OneGroupPerPerson {
			t.Errorf("L0 step %s, want one_group_per_person", p.Bounds.L0Step)
		}
		got := rowsByGroup(queryRows(t, db, p.SQL), "k0")
		want := queryRows(t, db, `SELECT p.sex, count(DISTINCT n.pid) AS persons FROM npr n JOIN population p USING (pid) GROUP BY 1`)
		if len(got) != len(want) {
			t.Fatalf("%d bounded groups, %d plain", len(got), len(want))
		}
		for _, w := range want {
			if g := got[fmt.Sprint(w["sex"])]; g == nil || toFloat(t, g["persons"]) != toFloat(t, w["persons"]) {
				t.Errorf("sex %v: bounded %v, plain %v", w["sex"], g, w)
			}
		}
	})
}

// heavyPerson adds person 100000 to npr: 1,000 rows in group A00 and one
// row in each of 50 groups H00–H49, with stays far outside [-10, 90].
const heavyPerson = `
INSERT INTO npr SELECT 100000, DATE '2015-06-01', 'A00', 'inpatient', 'Helse Bergen',
    CASE WHEN r % 2 = 0 THEN 500 ELSE -100 END FROM range(1000) s(r);
INSERT INTO npr SELECT 100000, DATE '2010-01-01' + CAST(g * 40 AS INTEGER), 'H' || lpad(CAST(g AS VARCHAR), 2, '0'),
    ['inpatient', 'outpatient', 'day'][g % 3 + 1], 'Helse Bergen', -100 FROM range(50) s(g);
INSERT INTO population VALUES (100000, 1950, 'F', '0301', NULL)`

// TestSensitivityBounds removes a person who exceeds every bound and checks
// that each output column moves by at most the plan's sensitivities: per
// group by at most LInf, in at most L0 groups.
func TestSensitivityBounds(t *testing.T) {
	aggs := []query.Aggregate{countStar("n"), countPersons("persons"), {Kind: query.AggCount, Name: "nx", Arg: nprLOS},
		{Kind: query.AggCountDistinct, Name: "px", Arg: cmp(nprLOS, ">", lit(int64(100)))},
		numAgg(query.AggSum, "s", nprLOS, -10, 90), numAgg(query.AggAvg, "a", nprLOS, -10, 90), numAgg(query.AggQuantile, "q", nprLOS, -10, 90)}
	tests := []struct {
		desc string
		q    *query.Query
		rb   *RequestBounds
	}{
		{"per icd10 code", &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("icd10", nprICD)}, Aggs: aggs}, nil},
		{"per icd10 code, two values per person for the mean and quantile", &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("icd10", nprICD)}, Aggs: aggs},
			&RequestBounds{MaxValuesPerPersonPerGroup: 2}},
		{"per chapter", &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("chapter", call("icd10_chapter", query.TypeString, nprICD))}, Aggs: aggs}, nil},
		{"rollup of code and contact type", &query.Query{From: from("npr", "npr"),
			Keys: []query.GroupKey{key("icd10", nprICD), key("contact_type", nprType)}, Aggs: aggs, GroupingSets: [][]int{{0, 1}, {0}, {}}}, nil},
		{"per sex through a join (one group per person)", &query.Query{From: from("npr", "n", "population", "p"),
			Keys: []query.GroupKey{key("sex", ref("p", "population", "sex", query.TypeString))},
			Aggs: []query.Aggregate{countStar("n"), countPersons("persons"), numAgg(query.AggSum, "s", ref("n", "npr", "length_of_stay_days", query.TypeNumber), -10, 90)}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			db := openDB(t, testPolicy())
			execAll(t, db, withinBoundsNPR)
			execAll(t, db, heavyPerson)
			p, err := Bound(tc.q, testPolicy(), &Options{Seed: 99, Bounds: tc.rb})
			if err != nil {
				t.Fatal(err)
			}
			if tc.rb != nil && tc.rb.MaxValuesPerPersonPerGroup > 0 {
				v := tc.rb.MaxValuesPerPersonPerGroup
				if p.Bounds.MaxValuesPerPersonPerGroup != v {
					t.Fatalf("bounds %+v, want %d values per person", p.Bounds, v)
				}
				for _, a := range p.Aggs {
					switch a.Kind {
					case query.AggQuantile:
						if a.MaxContributionsPerPartition != int64(v) {
							t.Errorf("%s takes %d values per person, want %d", a.Name, a.MaxContributionsPerPartition, v)
						}
					case query.AggAvg:
						if a.LInf != float64(v) || a.NormLInf != float64(v)*50 {
							t.Errorf("%s: L∞ %g and %g, want %d and %d", a.Name, a.LInf, a.NormLInf, v, v*50)
						}
					case query.AggCountStar:
						if a.LInf != float64(p.Bounds.MaxRowsPerPersonPerGroup) {
							t.Errorf("count(*) L∞ %g, want the rows cap %d", a.LInf, p.Bounds.MaxRowsPerPersonPerGroup)
						}
					}
				}
			}
			keyCols := []string{}
			for _, c := range p.Columns {
				if c.Role == RoleKey || c.Role == RoleGroupingID {
					keyCols = append(keyCols, c.Name)
				}
			}
			with := rowsByGroup(queryRows(t, db, p.SQL), keyCols...)
			mustExec(t, db, "DELETE FROM npr WHERE pid = 100000")
			mustExec(t, db, "DELETE FROM population WHERE pid = 100000")
			without := rowsByGroup(queryRows(t, db, p.SQL), keyCols...)
			touched := 0
			for _, c := range p.Columns {
				var l0 int64
				var linf float64
				switch c.Role {
				case RoleKey, RoleGroupingID:
					continue
				case RolePersons:
					l0, linf = p.PersonsL0, p.PersonsLInf
				case RoleNormSum:
					l0, linf = p.Aggs[c.Index].L0, p.Aggs[c.Index].NormLInf
				case RoleValues:
					l0, linf = p.Aggs[c.Index].L0, float64(p.Aggs[c.Index].MaxContributionsPerPartition)
				default:
					l0, linf = p.Aggs[c.Index].L0, p.Aggs[c.Index].LInf
				}
				affected := int64(0)
				var l1, l2 float64 // Σ|Δ| and ΣΔ² over the groups
				for k, w := range with {
					wo := without[k]
					if wo == nil {
						wo = map[string]any{}
					}
					var d float64
					if c.Role == RoleValues {
						a, b := toFloats(t, w[c.Name]), toFloats(t, wo[c.Name])
						if !isSubMultiset(b, a) {
							t.Errorf("%s %s: values without the person %v are not a subset of %v", k, c.Name, b, a)
						}
						d = float64(len(a) - len(b))
					} else {
						d = math.Abs(toFloat(t, w[c.Name]) - toFloat(t, wo[c.Name]))
					}
					// DuckDB sums doubles in parallel, in no fixed order:
					// differences below tol are rounding, not the person.
					tol := 0.0
					if c.Role != RoleValues {
						tol = 1e-9 * math.Max(1, math.Abs(toFloat(t, w[c.Name])))
					}
					if d > linf+tol {
						t.Errorf("group %s, %s: changed by %g, sensitivity %g", k, c.Name, d, linf)
					}
					if d > tol {
						affected++
						l1, l2 = l1+d, l2+d*d
					}
				}
				if len(without) > len(with) {
					t.Errorf("removing a person added groups")
				}
				// What the mechanisms rely on: the person count's L0 (partition
				// selection counts the groups a person is in), and for every
				// column the L1 and L2 sensitivities the noise is calibrated to
				// (L0·L∞ for Laplace, √L0·L∞ for Gaussian). With grouping sets a
				// measure's L0 is the number of sets while more cells change.
				if c.Role == RolePersons && affected > l0 {
					t.Errorf("%s: %d groups changed, L0 is %d", c.Name, affected, l0)
				}
				if tol := 1e-9 * math.Max(1, l1); l1 > float64(l0)*linf+tol || math.Sqrt(l2) > math.Sqrt(float64(l0))*linf+tol {
					t.Errorf("%s: L1 %g and L2 %g over %d changed groups, sensitivities %g and %g", c.Name, l1, math.Sqrt(l2), affected, float64(l0)*linf, math.Sqrt(float64(l0))*linf)
				}
				touched += int(affected)
			}
			if touched == 0 {
				t.Error("removing the heavy person changed nothing: the test data does not exercise the bounds")
			}
		})
	}
}

// isSubMultiset reports whether sorted a is a sub-multiset of sorted b.
func isSubMultiset(a, b []float64) bool {
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j == len(b) || b[j] != x {
			return false
		}
		j++
	}
	return true
}

// TestL0StepKeepsExactlyL0Groups: persons with more groups than L0 keep
// exactly L0 of them, the others keep all, and the choice depends on the seed.
func TestL0StepKeepsExactlyL0Groups(t *testing.T) {
	db := openDB(t, testPolicy())
	// Person p has p % 12 + 1 groups of 1–3 rows, codes unique to the person.
	mustExec(t, db, `INSERT INTO npr
		SELECT pid, DATE '2015-01-01', 'P' || pid || '-' || g, 'day', 'Helse Bergen', 1
		FROM range(60) p(pid), range(12) s(g), range(3) r(r)
		WHERE g <= pid % 12 AND r <= g % 3`)
	q := &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("icd10", nprICD)},
		Aggs: []query.Aggregate{countPersons("persons"), countStar("n")}}
	kept := func(seed uint64) map[int64][]string {
		p := mustBound(t, q, seed)
		out := map[int64][]string{}
		for _, r := range queryRows(t, db, p.SQL) {
			code := r["k0"].(string)
			var pid int64
			if _, err := fmt.Sscanf(code, "P%d-", &pid); err != nil {
				t.Fatal(err)
			}
			if toFloat(t, r["persons"]) != 1 {
				t.Errorf("group %s has %v persons, want 1", code, r["persons"])
			}
			out[pid] = append(out[pid], code)
		}
		return out
	}
	a, b := kept(1), kept(2)
	differs := false
	for pid := int64(0); pid < 60; pid++ {
		want := min(int(pid%12)+1, 4)
		if len(a[pid]) != want || len(b[pid]) != want {
			t.Errorf("person %d with %d groups kept %d and %d, want %d", pid, pid%12+1, len(a[pid]), len(b[pid]), want)
		}
		slices.Sort(a[pid])
		slices.Sort(b[pid])
		if !slices.Equal(a[pid], b[pid]) {
			differs = true
		}
	}
	if !differs {
		t.Error("seeds 1 and 2 kept the same groups for every person: the selection ignores the seed")
	}
}

// TestDomainFilter: rows whose key lies outside its public domain form no
// group and do not use up a person's L0.
func TestDomainFilter(t *testing.T) {
	db := openDB(t, testPolicy())
	// Person 1: four in-domain years and five years before the domain,
	// contact types in and out of the domain, codes with and without a
	// letter prefix in the domain.
	mustExec(t, db, `INSERT INTO npr
		SELECT 1, make_date(y, 3, 1), ['E11', 'e11', '011', NULL][y % 4 + 1],
			['inpatient', 'bogus', NULL, 'day'][y % 4 + 1], 'Helse Bergen', y % 3
		FROM (VALUES (2001), (2002), (2003), (2004), (2005), (2011), (2012), (2013), (2014)) v(y)`)
	mustExec(t, db, `INSERT INTO population VALUES (1, 1950, 'F', '0301', NULL), (2, 1995, NULL, '0301', DATE '2020-01-01'), (3, 2000, 'X', '0301', NULL)`)
	tests := []struct {
		desc string
		q    *query.Query
		want map[string]float64 // group key → persons
	}{
		{"out-of-domain years use no group", &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("year", nprYear)},
			Aggs: []query.Aggregate{countPersons("persons")}},
			map[string]float64{"2011": 1, "2012": 1, "2013": 1, "2014": 1}},
		{"categories outside the domain and NULL are dropped", &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("contact_type", nprType)},
			Aggs: []query.Aggregate{countPersons("persons")}},
			map[string]float64{"inpatient": 1, "day": 1}},
		{"prefixes outside the code list are dropped", &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("letter", call("left", query.TypeString, nprICD, lit(int64(1))))},
			Aggs: []query.Aggregate{countPersons("persons")}},
			map[string]float64{"E": 1}},
		{"a CASE without ELSE keeps its NULL group; an unknown sex is dropped", &query.Query{From: from("population", "population"),
			Keys: []query.GroupKey{key("sex", popSex), key("born", &query.Case{Whens: []query.When{{Cond: cmp(popBirth, "<", lit(int64(1990))), Then: lit("before 1990")}}, Type: query.TypeString})},
			Aggs: []query.Aggregate{countPersons("persons")}},
			map[string]float64{"F|before 1990": 1}},
		{"a boolean key has both values", &query.Query{From: from("population", "population"),
			Keys: []query.GroupKey{key("alive", &query.IsNull{X: popDeath})}, Aggs: []query.Aggregate{countPersons("persons")}},
			map[string]float64{"true": 2, "false": 1}},
		{"NULL group of a CASE", &query.Query{From: from("population", "population"),
			Keys: []query.GroupKey{key("born", &query.Case{Whens: []query.When{{Cond: cmp(popBirth, "<", lit(int64(1990))), Then: lit("before 1990")}}, Type: query.TypeString})},
			Aggs: []query.Aggregate{countPersons("persons")}},
			map[string]float64{"before 1990": 1, "<nil>": 2}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			p := mustBound(t, tc.q, 5)
			var keys []string
			for i := range p.Keys {
				keys = append(keys, keyCol(i))
			}
			got := map[string]float64{}
			for k, r := range rowsByGroup(queryRows(t, db, p.SQL), keys...) {
				got[k] = toFloat(t, r["persons"])
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("groups = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestGoldenPlansRun prepares and runs every golden plan on empty tables
// shaped like the policy's datasets.
func TestGoldenPlansRun(t *testing.T) {
	pol := testPolicy()
	db := openDB(t, pol)
	ctx := context.Background()
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Bound(tc.q, pol, &Options{Seed: goldenSeed})
			if err != nil {
				t.Fatal(err)
			}
			stmt, err := db.PrepareContext(ctx, p.SQL)
			if err != nil {
				t.Fatalf("prepare: %v\n%s", err, p.SQL)
			}
			defer stmt.Close()
			rows, err := stmt.QueryContext(ctx)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			defer rows.Close()
			cols, err := rows.Columns()
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, c := range p.Columns {
				want = append(want, c.Name)
			}
			if !slices.Equal(cols, want) {
				t.Errorf("SQL columns %v, Plan.Columns %v", cols, want)
			}
			for rows.Next() {
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
