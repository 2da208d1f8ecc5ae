package plan

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/query"
)

// exists builds an Exists on dataset under alias, correlated with outer.
func exists(dataset, alias string, outer *query.ColumnRef, where query.Expr, not bool) *query.Exists {
	return &query.Exists{
		Table: query.TableRef{Dataset: dataset, Alias: alias},
		Inner: ref(alias, dataset, "pid", query.TypeInteger),
		Outer: outer, Where: where, Not: not,
	}
}

var popPID = ref("population", "population", "pid", query.TypeInteger)

// ageBand is the cohort breakdown age_band over population.birth_year at 2024.
func ageBand() *query.Case {
	age := &query.Arith{Op: "-", L: lit(int64(2024)), R: popBirth, Type: query.TypeInteger}
	var whens []query.When
	for _, b := range []struct {
		below int64
		label string
	}{{18, "0-17"}, {40, "18-39"}, {65, "40-64"}, {80, "65-79"}} {
		whens = append(whens, query.When{Cond: cmp(age, "<", lit(b.below)), Then: lit(b.label)})
	}
	return &query.Case{Whens: whens, Else: lit("80+"), Type: query.TypeString}
}

// overflows is a condition that raises an INT64 overflow for every x ≥ 1
// (a runtime error the plan must turn into "row does not pass").
func overflows(x query.Expr) query.Expr {
	return cmp(&query.Arith{Op: "+", L: &query.Cast{X: x, To: query.TypeInteger}, R: lit(int64(9223372036854775807)), Type: query.TypeInteger}, ">", lit(int64(0)))
}

// cohortByBand: persons of population with an A-coded contact since 2012
// and a B dispensing, who are not in death_causes, by sex and age band.
func cohortByBand() *query.Query {
	c0, c1, c2 := "c0", "c1", "c2"
	return &query.Query{
		From: from("population", "population"),
		Where: and(
			exists("npr", c0, popPID, and(&query.Like{X: ref(c0, "npr", "icd10", query.TypeString), Pattern: lit("A%")},
				cmp(ref(c0, "npr", "contact_date", query.TypeDate), ">=", dateLit("2012-01-01"))), false),
			exists("lmr", c1, popPID, &query.Like{X: ref(c1, "lmr", "atc", query.TypeString), Pattern: lit("B%")}, false),
			exists("death_causes", c2, popPID, nil, true),
			&query.IsNull{X: popBirth, Not: true},
		),
		Keys:   []query.GroupKey{key("sex", popSex), key("age_band", ageBand())},
		Aggs:   []query.Aggregate{countPersons("persons")},
		Output: []query.OutputColumn{{Name: "sex", Key: 0, Agg: -1}, {Name: "age_band", Key: 1, Agg: -1}, {Name: "persons", Key: -1, Agg: 0}},
	}
}

// cohortOnFacts: npr is the base (no breakdown), a second npr criterion
// is an Exists under another alias, and conditions that overflow on some
// rows stand both inside a NOT EXISTS and beside the EXISTS conditions.
func cohortOnFacts() *query.Query {
	return &query.Query{
		From: from("npr", "npr"),
		Where: and(
			&query.Like{X: nprICD, Pattern: lit("C%")},
			exists("npr", "c1", nprPID, cmp(ref("c1", "npr", "contact_type", query.TypeString), "=", lit("inpatient")), false),
			exists("lmr", "c2", nprPID, overflows(ref("c2", "lmr", "ddd", query.TypeNumber)), true),
			overflows(nprLOS),
		),
		Aggs:   []query.Aggregate{countPersons("persons")},
		Output: []query.OutputColumn{{Name: "persons", Key: -1, Agg: 0}},
	}
}

const cohortFacts = `
INSERT INTO lmr
SELECT pid, DATE '2012-01-01' + CAST((pid * 37 + j) % 4000 AS INTEGER), chr(65 + CAST((pid + j) % 3 AS INTEGER)) || '10',
    CAST((pid + j) % 4 AS DOUBLE), 'gp'
FROM range(0, 500, 2) p(pid), range(3) r(j);
INSERT INTO death_causes
SELECT pid, DATE '2015-01-01' + CAST(pid AS INTEGER), 'I21' FROM range(0, 500, 7) p(pid)`

// TestExistsEqualsPlain: a plan with Exists conditions counts exactly the
// persons plain DuckDB counts with IN / NOT IN subqueries (and try() where
// a condition can fail).
func TestExistsEqualsPlain(t *testing.T) {
	db := openDB(t, testPolicy())
	execAll(t, db, withinBoundsNPR)
	execAll(t, db, cohortFacts)
	band := `CASE WHEN 2024 - birth_year < 18 THEN '0-17' WHEN 2024 - birth_year < 40 THEN '18-39'
		WHEN 2024 - birth_year < 65 THEN '40-64' WHEN 2024 - birth_year < 80 THEN '65-79' ELSE '80+' END`
	tests := []struct {
		desc  string
		q     *query.Query
		plain string
		keys  []string
	}{
		{"population base by sex and age band", cohortByBand(),
			`SELECT sex AS k0, ` + band + ` AS k1, count(DISTINCT pid) AS n FROM population
			WHERE pid IN (SELECT pid FROM npr WHERE icd10 LIKE 'A%' AND contact_date >= DATE '2012-01-01')
			  AND pid IN (SELECT pid FROM lmr WHERE atc LIKE 'B%')
			  AND pid NOT IN (SELECT pid FROM death_causes) AND birth_year IS NOT NULL
			GROUP BY 1, 2`, []string{"k0", "k1"}},
		{"fact base, same dataset twice, failing conditions", cohortOnFacts(),
			`SELECT count(DISTINCT pid) AS n FROM npr
			WHERE icd10 LIKE 'C%'
			  AND pid IN (SELECT pid FROM npr WHERE contact_type = 'inpatient')
			  AND pid NOT IN (SELECT pid FROM lmr WHERE coalesce(try(CAST(ddd AS BIGINT) + 9223372036854775807 > 0), false))
			  AND coalesce(try(CAST(length_of_stay_days AS BIGINT) + 9223372036854775807 > 0), false)`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			p := mustBound(t, tc.q, 1)
			got := rowsByGroup(queryRows(t, db, p.SQL), tc.keys...)
			want := queryRows(t, db, tc.plain)
			total := 0.0
			for _, w := range want {
				var parts []string
				for _, k := range tc.keys {
					parts = append(parts, fmt.Sprint(w[k]))
				}
				g, ok := got[strings.Join(parts, "|")]
				n := toFloat(t, w["n"])
				total += n
				if !ok {
					if n != 0 {
						t.Errorf("group %v: %g persons in plain DuckDB, none in the plan", parts, n)
					}
					continue
				}
				if gp := toFloat(t, g["persons"]); gp != n {
					t.Errorf("group %v: plan %g persons, plain %g", parts, gp, n)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d plan groups, %d plain groups", len(got), len(want))
			}
			if total == 0 {
				t.Error("the test data selects nobody; the comparison proves nothing")
			}
		})
	}
}

// TestExistsPlan: Exists datasets are read and debited but do not enter
// the bounds; the plan is pinned in testdata/cohort_*.golden.
func TestExistsPlan(t *testing.T) {
	tests := []struct {
		name     string
		q        *query.Query
		datasets string
		bounds   Bounds
	}{
		{"cohort_by_sex_and_age_band", cohortByBand(), "population,npr,lmr,death_causes", Bounds{1, 1, L0OneGroupPerPerson, "policy", 0}},
		{"cohort_on_facts", cohortOnFacts(), "npr,lmr", Bounds{1, 10, L0OneGroupPerPerson, "policy", 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustBound(t, tc.q, goldenSeed)
			if got := strings.Join(p.Datasets, ","); got != tc.datasets {
				t.Errorf("datasets %s, want %s", got, tc.datasets)
			}
			if p.Bounds != tc.bounds || p.PersonsL0 != 1 || p.PersonsLInf != 1 {
				t.Errorf("bounds %+v, persons L0 %d LInf %g; want %+v, 1, 1", p.Bounds, p.PersonsL0, p.PersonsLInf, tc.bounds)
			}
			checkGolden(t, tc.name, describe(p))
		})
	}
}

// TestExistsInvalid: models outside query.Exists' rules are not planned.
func TestExistsInvalid(t *testing.T) {
	good := func() *query.Exists {
		return exists("lmr", "c1", nprPID, &query.Like{X: ref("c1", "lmr", "atc", query.TypeString), Pattern: lit("A%")}, false)
	}
	with := func(f func(x *query.Exists)) *query.Exists { x := good(); f(x); return x }
	base := func(where query.Expr) *query.Query {
		return &query.Query{From: from("npr", "npr"), Where: where, Aggs: []query.Aggregate{countPersons("persons")}}
	}
	tests := []struct {
		desc string
		q    *query.Query
		want string
	}{
		{"alias of the enclosing query", base(with(func(x *query.Exists) {
			x.Table.Alias, x.Inner = "npr", ref("npr", "lmr", "pid", query.TypeInteger)
			x.Where = nil
		})), `alias "npr" is also a table`},
		{"unknown dataset", base(with(func(x *query.Exists) { x.Table.Dataset = "nope" })), `dataset "nope" is not in the policy`},
		{"inner column not the person key", base(with(func(x *query.Exists) { x.Inner = ref("c1", "lmr", "atc", query.TypeString) })), "must be c1.pid"},
		{"outer column not a person key", base(with(func(x *query.Exists) { x.Outer = nprICD })), "not the person key of a table in FROM"},
		{"outer column of no table in FROM", base(with(func(x *query.Exists) { x.Outer = popPID })), "not the person key of a table in FROM"},
		{"no outer column", base(with(func(x *query.Exists) { x.Outer = nil })), "no outer person key"},
		{"where reads the enclosing query", base(with(func(x *query.Exists) { x.Where = cmp(nprType, "=", lit("day")) })), `refers to table "npr"`},
		{"nested exists", base(with(func(x *query.Exists) {
			x.Where = exists("death_causes", "c2", ref("c1", "lmr", "pid", query.TypeInteger), nil, false)
		})), "EXISTS may only be"},
		{"under OR", base(&query.Logical{Op: "OR", Args: []query.Expr{good(), cmp(nprType, "=", lit("day"))}}), "EXISTS may only be"},
		{"under NOT", base(&query.Logical{Op: "NOT", Args: []query.Expr{good()}}), "EXISTS may only be"},
		{"as a key", &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("x", good())}, Aggs: []query.Aggregate{countPersons("persons")}}, "EXISTS may only be"},
		{"typed nil", base(and((*query.Exists)(nil), cmp(nprType, "=", lit("day")))), "missing expression"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := Bound(tc.q, testPolicy(), &Options{Seed: 1})
			if !errors.Is(err, ErrInvalidQuery) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrInvalidQuery containing %q", err, tc.want)
			}
		})
	}
}

// TestRenderFilterKeepsExistsOutOfTry: DuckDB refuses try() around a
// subquery, so an AND with an Exists is rendered argument by argument.
func TestRenderFilterKeepsExistsOutOfTry(t *testing.T) {
	x := exists("lmr", "c1", nprPID, overflows(ref("c1", "lmr", "ddd", query.TypeNumber)), false)
	got := RenderFilter(and(x, overflows(nprLOS)))
	want := `(("npr"."pid" IS NOT NULL AND "npr"."pid" IN (SELECT "c1"."pid" FROM "lmr" AS "c1" WHERE "c1"."pid" IS NOT NULL AND coalesce(try(((CAST("c1"."ddd" AS BIGINT) + 9223372036854775807) > 0)), false))) AND ` +
		`coalesce(try(((CAST("npr"."length_of_stay_days" AS BIGINT) + 9223372036854775807) > 0)), false))`
	if got != want {
		t.Errorf("RenderFilter =\n%s\nwant\n%s", got, want)
	}
	if got := RenderFilter(&query.Exists{Table: x.Table, Inner: x.Inner, Outer: x.Outer, Not: true}); got != `("npr"."pid" IS NULL OR "npr"."pid" NOT IN (SELECT "c1"."pid" FROM "lmr" AS "c1" WHERE "c1"."pid" IS NOT NULL))` {
		t.Errorf("NOT EXISTS renders as %s", got)
	}
}

// TestExistsAsSemiJoinMeansExists: the IN (NOT IN) form renderExists
// writes has the truth value of the correlated [NOT] EXISTS it stands for
// on every row — never NULL, also under NOT — with NULL person keys on
// either side (a LEFT JOINed table's key as the outer one, rows without a
// person key in the searched dataset), with and without an inner
// condition.
func TestExistsAsSemiJoinMeansExists(t *testing.T) {
	db := openDB(t, testPolicy())
	execAll(t, db, `
		INSERT INTO population SELECT i, 1950 + i % 50, ['M', 'F'][1 + i % 2], '0301', NULL FROM range(300) r(i);
		INSERT INTO death_causes SELECT i, DATE '2020-01-01', 'I21' FROM range(300) r(i) WHERE i % 3 = 0;
		INSERT INTO lmr SELECT CASE WHEN i % 7 = 0 THEN NULL ELSE i % 250 END, DATE '2018-01-01', ['A10BA02', 'C07AB02'][1 + i % 2], (i % 40)::DOUBLE, 'gp'
			FROM range(400) r(i)`)
	dPID := ref("d", "death_causes", "pid", query.TypeInteger)
	atcA := &query.Like{X: ref("c1", "lmr", "atc", query.TypeString), Pattern: lit("A%")}
	// correlated is the EXISTS form renderExists wrote before (issue 14).
	correlated := func(x *query.Exists) string {
		s := fmt.Sprintf(`(EXISTS (SELECT 1 FROM "lmr" AS "c1" WHERE ("c1"."pid" = %s)`, RenderValue(x.Outer))
		if x.Where != nil {
			s += " AND " + RenderFilter(x.Where)
		}
		s += "))"
		if x.Not {
			s = "(NOT " + s + ")"
		}
		return s
	}
	for _, outer := range []*query.ColumnRef{popPID, dPID} {
		for _, where := range []query.Expr{nil, atcA} {
			for _, not := range []bool{false, true} {
				x := exists("lmr", "c1", outer, where, not)
				t.Run(fmt.Sprintf("%s/where=%v/not=%v", outer.Table, where != nil, not), func(t *testing.T) {
					count := func(cond string) string {
						rows := queryRows(t, db, `SELECT count(*) FILTER (WHERE `+cond+`) AS yes, count(*) FILTER (WHERE NOT `+cond+`) AS no,
							count(*) FILTER (WHERE `+cond+` IS NULL) AS null, string_agg("population"."pid"::VARCHAR, ',' ORDER BY "population"."pid") FILTER (WHERE `+cond+`) AS pids
							FROM "population" AS "population" LEFT JOIN "death_causes" AS "d" ON "population"."pid" = "d"."pid"`)
						return fmt.Sprint(rows[0]["yes"], " ", rows[0]["no"], " ", rows[0]["null"], " ", rows[0]["pids"])
					}
					got, want := count(RenderFilter(x)), count(correlated(x))
					if got != want {
						t.Errorf("%s\n  gives yes/no/null %s\n%s\n  gives %s", RenderFilter(x), got, correlated(x), want)
					}
					if strings.HasPrefix(want, "0 ") || strings.Contains(want, " 0 0 ") {
						t.Errorf("the data do not exercise the condition: %s", want)
					}
				})
			}
		}
	}
}

// TestSemiJoinedSrcMeansExists: where src renders its top-level [NOT]
// EXISTS on the base person key as bare semi joins (srcConditions, no NULL
// guards, no "key IS NOT NULL" beside a positive one) and filters the
// keys' domains on the groups (writeTotals' HAVING), the plan still counts
// exactly the persons plain DuckDB counts with correlated [NOT] EXISTS:
// base rows without a person key, searched rows without one, keys outside
// the domain and NULL keys. (validateWhere allows an Exists nowhere else
// than among WHERE's top-level conjuncts.)
func TestSemiJoinedSrcMeansExists(t *testing.T) {
	db := openDB(t, testPolicy())
	execAll(t, db, `
		INSERT INTO population SELECT CASE WHEN i % 11 = 0 THEN NULL ELSE i END, 1950 + i % 50, ['M', 'F', 'X', NULL][1 + i % 4], '0301', NULL FROM range(400) r(i);
		INSERT INTO death_causes SELECT CASE WHEN i % 13 = 0 THEN NULL ELSE i END, DATE '2020-01-01', 'I21' FROM range(400) r(i) WHERE i % 3 = 0;
		INSERT INTO lmr SELECT CASE WHEN i % 7 = 0 THEN NULL ELSE i % 350 END, DATE '2018-01-01', ['A10BA02', 'C07AB02'][1 + (i // 3) % 2], (i % 40)::DOUBLE, 'gp'
			FROM range(600) r(i)`)
	atcA := &query.Like{X: ref("c1", "lmr", "atc", query.TypeString), Pattern: lit("A%")}
	inLMR := exists("lmr", "c1", popPID, atcA, false)
	dead := exists("death_causes", "c2", popPID, nil, true)
	old := cmp(popBirth, "<", lit(int64(1970)))
	sqlLMR := `EXISTS (SELECT 1 FROM lmr c1 WHERE c1.pid = population.pid AND c1.atc LIKE 'A%')`
	sqlDead := `NOT EXISTS (SELECT 1 FROM death_causes c2 WHERE c2.pid = population.pid)`
	tests := []struct {
		desc  string
		where query.Expr
		plain string
	}{
		{"exists", inLMR, sqlLMR},
		{"not exists alone", dead, sqlDead},
		{"exists and not exists", and(inLMR, dead), sqlLMR + " AND " + sqlDead},
		{"nested and, with a plain condition", and(old, and(dead, inLMR)), "birth_year < 1970 AND " + sqlDead + " AND " + sqlLMR},
		{"not exists of nobody", exists("lmr", "c5", popPID, cmp(ref("c5", "lmr", "atc", query.TypeString), "=", lit("none")), true),
			"NOT EXISTS (SELECT 1 FROM lmr c5 WHERE c5.pid = population.pid AND c5.atc = 'none')"},
		{"two of each", and(inLMR, dead, exists("lmr", "c3", popPID, nil, false), exists("npr", "c4", popPID, nil, true)),
			sqlLMR + " AND " + sqlDead + " AND EXISTS (SELECT 1 FROM lmr c3 WHERE c3.pid = population.pid) AND NOT EXISTS (SELECT 1 FROM npr c4 WHERE c4.pid = population.pid)"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			q := &query.Query{
				From:   from("population", "population"),
				Where:  tc.where,
				Keys:   []query.GroupKey{key("sex", popSex)},
				Aggs:   []query.Aggregate{countPersons("persons")},
				Output: []query.OutputColumn{{Name: "sex", Key: 0, Agg: -1}, {Name: "persons", Key: -1, Agg: 0}},
			}
			p := mustBound(t, q, 1)
			got := rowsByGroup(queryRows(t, db, p.SQL), "k0")
			want := queryRows(t, db, `SELECT sex AS k0, count(DISTINCT pid) AS n FROM population
				WHERE pid IS NOT NULL AND sex IN ('M', 'F') AND (`+tc.plain+`) GROUP BY 1`)
			if len(want) != 2 {
				t.Fatalf("plain DuckDB finds groups %v; the data should fill M and F", want)
			}
			for _, w := range want {
				g, ok := got[fmt.Sprint(w["k0"])]
				if !ok || toFloat(t, g["persons"]) != toFloat(t, w["n"]) {
					t.Errorf("%v: plan %v, plain %v persons\n%s", w["k0"], g, w["n"], p.SQL)
				}
			}
			if len(got) != len(want) {
				t.Errorf("plan groups %v, plain %v\n%s", got, want, p.SQL)
			}
		})
	}
}
