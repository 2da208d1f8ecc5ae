package plan

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
)

// goldenSeed is the fixed per-query secret of the golden plans.
const goldenSeed = 42

// goldenCase is one query whose plan is pinned in testdata/<name>.golden.
type goldenCase struct {
	name string
	q    *query.Query
}

// goldenCases are hand-built models of typical queries; the comment above
// each is the SQL the checker would have compiled it from.
func goldenCases() []goldenCase {
	n, p := "n", "p"
	nICD := ref(n, "npr", "icd10", query.TypeString)
	nDate := ref(n, "npr", "contact_date", query.TypeDate)
	pBirth := ref(p, "population", "birth_year", query.TypeInteger)
	age := &query.Arith{Op: "-", L: call("year", query.TypeInteger, nDate), R: pBirth, Type: query.TypeInteger}
	band := func(below int64, label string) query.When {
		return query.When{Cond: cmp(age, "<", lit(below)), Then: lit(label)}
	}
	return []goldenCase{
		{"count_star_no_keys", // SELECT count(*) AS contacts FROM npr
			&query.Query{From: from("npr", "npr"), Aggs: []query.Aggregate{countStar("contacts")}}},
		{"persons_by_sex", // SELECT sex, count(DISTINCT pid) AS persons FROM population GROUP BY sex
			&query.Query{From: from("population", "population"), Keys: []query.GroupKey{key("sex", popSex)},
				Aggs: []query.Aggregate{countPersons("persons")}}},
		{"inpatient_contacts_by_year", // SELECT year(contact_date) AS year, count(*), count(DISTINCT pid) FROM npr WHERE contact_type = 'inpatient' GROUP BY 1
			&query.Query{From: from("npr", "npr"), Where: cmp(nprType, "=", lit("inpatient")),
				Keys: []query.GroupKey{key("year", nprYear)},
				Aggs: []query.Aggregate{countStar("contacts"), countPersons("patients")}}},
		{"stay_by_contact_type", // SELECT contact_type, sum(length_of_stay_days), avg(length_of_stay_days) FROM npr GROUP BY 1
			&query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("contact_type", nprType)},
				Aggs: []query.Aggregate{losBounded(query.AggSum, "days"), losBounded(query.AggAvg, "mean_days")}}},
		{"template_contacts_by_chapter_age_band", // policies/norway-synthetic.yaml contacts_by_chapter_age_band, year = 2019
			&query.Query{From: from("npr", n, "population", p),
				Where: cmp(call("year", query.TypeInteger, nDate), "=", lit(int64(2019))),
				Keys: []query.GroupKey{
					key("chapter", call("icd10_chapter", query.TypeString, nICD)),
					key("age_band", &query.Case{Whens: []query.When{band(18, "0-17"), band(40, "18-39"), band(65, "40-64"), band(80, "65-79")}, Else: lit("80+"), Type: query.TypeString}),
				},
				Aggs: []query.Aggregate{countStar("contacts"), countPersons("patients")}}},
		{"contacts_by_icd10_letter", // SELECT left(icd10, 1) AS letter, count(*) FROM npr GROUP BY 1
			&query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("letter", call("left", query.TypeString, nprICD, lit(int64(1))))},
				Aggs: []query.Aggregate{countStar("contacts")}}},
		{"median_stay_by_icd10", // SELECT icd10, median(length_of_stay_days) FROM npr GROUP BY 1
			&query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("icd10", nprICD)},
				Aggs: []query.Aggregate{losBounded(query.AggQuantile, "median_days")}}},
		{"ddd_spread_by_prescriber", // SELECT prescriber_type, stddev(ddd), variance(ddd) FROM lmr GROUP BY 1
			&query.Query{From: from("lmr", "lmr"), Keys: []query.GroupKey{key("prescriber_type", lmrPrescr)},
				Aggs: []query.Aggregate{numAgg(query.AggStddev, "sd", lmrDDD, 0, 365), numAgg(query.AggVariance, "var", lmrDDD, 0, 365)}}},
		{"rollup_type_year", // SELECT contact_type, year(contact_date), count(*), count(DISTINCT pid), avg(length_of_stay_days) FROM npr GROUP BY ROLLUP (1, 2)
			&query.Query{From: from("npr", "npr"),
				Keys:         []query.GroupKey{key("contact_type", nprType), key("year", nprYear)},
				Aggs:         []query.Aggregate{countStar("contacts"), countPersons("patients"), losBounded(query.AggAvg, "mean_days")},
				GroupingSets: [][]int{{0, 1}, {0}, {}}}},
		{"filtered_persons_rollup_type_year", // SELECT contact_type, year(contact_date), count(DISTINCT pid) FILTER (WHERE icd10 LIKE 'E11%'), count(DISTINCT pid) FROM npr GROUP BY ROLLUP (1, 2)
			&query.Query{From: from("npr", "npr"),
				Keys: []query.GroupKey{key("contact_type", nprType), key("year", nprYear)},
				Aggs: []query.Aggregate{{Kind: query.AggCountDistinct, Name: "diabetes", Arg: &query.Like{X: nprICD, Pattern: lit("E11%")}},
					countPersons("patients")},
				GroupingSets: [][]int{{0, 1}, {0}, {}}}},
		{"template_prescriptions_by_atc_year", // prescriptions_by_atc_year, atc_prefix = 'A10B%'
			&query.Query{From: from("lmr", "lmr"), Where: &query.Like{X: lmrATC, Pattern: lit("A10B%")},
				Keys: []query.GroupKey{key("year", call("year", query.TypeInteger, lmrDate))},
				Aggs: []query.Aggregate{countPersons("persons")}}},
		{"cancer_site_year_women", // cancer_incidence_by_site_year with sex = 'F', 2015–2020
			&query.Query{From: from("cancer", "c", "population", p),
				Where: and(cmp(ref(p, "population", "sex", query.TypeString), "=", lit("F")),
					&query.Between{X: call("year", query.TypeInteger, ref("c", "cancer", "diagnosis_date", query.TypeDate)), Lo: lit(int64(2015)), Hi: lit(int64(2020))}),
				Keys: []query.GroupKey{
					key("site", call("left", query.TypeString, ref("c", "cancer", "icd10", query.TypeString), lit(int64(3)))),
					key("year", call("year", query.TypeInteger, ref("c", "cancer", "diagnosis_date", query.TypeDate))),
				},
				Aggs: []query.Aggregate{countPersons("persons")}}},
		{"alive_by_birth_period", // SELECT death_date IS NULL AS alive, CASE WHEN birth_year < 1950 THEN 'before 1950' WHEN birth_year < 1990 THEN '1950-1989' END AS period, count(*) FROM population GROUP BY 1, 2
			&query.Query{From: from("population", "population"),
				Keys: []query.GroupKey{
					key("alive", &query.IsNull{X: popDeath}),
					key("period", &query.Case{Whens: []query.When{
						{Cond: cmp(popBirth, "<", lit(int64(1950))), Then: lit("before 1950")},
						{Cond: cmp(popBirth, "<", lit(int64(1990))), Then: lit("1950-1989")},
					}, Type: query.TypeString}),
				},
				Aggs: []query.Aggregate{countStar("persons")}}},
		{"expressions_in_where", // SELECT count(icd10) FROM npr WHERE NOT hospital IN ('Helse Bergen', 'O''Brien') AND … (see the golden file)
			&query.Query{From: from("npr", "npr"),
				Where: &query.Logical{Op: "OR", Args: []query.Expr{
					and(
						&query.Logical{Op: "NOT", Args: []query.Expr{&query.In{X: nprHosp, List: []query.Expr{lit("Helse Bergen"), lit("O'Brien")}}}},
						cmp(&query.Arith{Op: "*", L: nprLOS, R: lit(2.5), Type: query.TypeNumber}, ">=", lit(0.1)),
						&query.Between{X: nprDate, Lo: dateLit("2015-01-01"), Hi: &query.Arith{Op: "+", L: dateLit("2016-12-31"), R: &query.Literal{Value: "1 year", Type: query.TypeInterval}, Type: query.TypeDate}},
						&query.Like{X: nprICD, Pattern: lit("z%"), Not: true, CaseInsensitive: true},
						cmp(&query.Arith{Op: "%", L: &query.Cast{X: nprLOS, To: query.TypeInteger}, R: lit(int64(2)), Type: query.TypeInteger}, "=", lit(int64(0))),
					),
					&query.IsNull{X: nprICD, Not: true},
				}},
				Aggs: []query.Aggregate{{Kind: query.AggCount, Name: "coded", Arg: nprICD}}}},
		{"stay_by_month_quarter", // SELECT month(contact_date), quarter(contact_date), sum(length_of_stay_days) FROM npr GROUP BY 1, 2 (bounds widened to [-5, 90])
			&query.Query{From: from("npr", "npr"),
				Keys: []query.GroupKey{key("month", call("month", query.TypeInteger, nprDate)), key("quarter", call("quarter", query.TypeInteger, nprDate))},
				Aggs: []query.Aggregate{numAgg(query.AggSum, "days", nprLOS, -5, 90)}}},
		{"deaths_by_cause_letter_and_sex", // SELECT left(d.underlying_cause, 1), p.sex, count(*) FROM death_causes d JOIN population p USING (pid) GROUP BY 1, 2
			&query.Query{From: from("death_causes", "d", "population", p),
				Keys: []query.GroupKey{
					key("letter", call("left", query.TypeString, ref("d", "death_causes", "underlying_cause", query.TypeString), lit(int64(1)))),
					key("sex", ref(p, "population", "sex", query.TypeString)),
				},
				Aggs: []query.Aggregate{countStar("deaths")}}},
	}
}

// describe renders a plan's metadata as SQL comments above its SQL.
func describe(p *Plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "-- datasets: %s\n", strings.Join(p.Datasets, ", "))
	fmt.Fprintf(&b, "-- bounds: L0=%d M=%d step=%s\n", p.Bounds.MaxGroupsPerPerson, p.Bounds.MaxRowsPerPersonPerGroup, p.Bounds.L0Step)
	for i, k := range p.Keys {
		dom := "none"
		if k.Domain != nil {
			dom = fmt.Sprintf("%d values", len(k.Domain))
		}
		fmt.Fprintf(&b, "-- key %d: %s %s, domain %s\n", i, k.Name, k.Type, dom)
	}
	if p.GroupingSets != nil {
		fmt.Fprintf(&b, "-- grouping sets: %v\n", p.GroupingSets)
	}
	fmt.Fprintf(&b, "-- persons: L0=%d LInf=%g\n", p.PersonsL0, p.PersonsLInf)
	for i, a := range p.Aggs {
		fmt.Fprintf(&b, "-- agg %d: %s %s L0=%d LInf=%g NormLInf=%g MaxContributionsPerPartition=%d\n",
			i, a.Kind, a.Name, a.L0, a.LInf, a.NormLInf, a.MaxContributionsPerPartition)
	}
	cols := make([]string, len(p.Columns))
	for i, c := range p.Columns {
		cols[i] = fmt.Sprintf("%s(%s %d)", c.Name, c.Role, c.Index)
	}
	fmt.Fprintf(&b, "-- columns: %s\n", strings.Join(cols, " "))
	return b.String() + p.SQL + "\n"
}

func TestBoundGolden(t *testing.T) {
	pol := testPolicy()
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Bound(tc.q, pol, &Options{Seed: goldenSeed})
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.name, describe(p))
		})
	}
}

func TestBoundSensitivities(t *testing.T) {
	pol := testPolicy()
	byName := map[string]*query.Query{}
	for _, tc := range goldenCases() {
		byName[tc.name] = tc.q
	}
	tests := []struct {
		desc      string
		query     string
		wantStep  string
		wantL0    int
		wantM     int
		wantPers  int64
		wantAggs  []Agg // Kind, Name, P and Bounds are not compared
		wantNames []string
	}{
		{desc: "no keys: one group per person", query: "count_star_no_keys", wantStep: L0OneGroupPerPerson, wantL0: 1, wantM: 10, wantPers: 1,
			wantAggs: []Agg{{L0: 1, LInf: 10}}, wantNames: []string{"persons", "a0_count"}},
		{desc: "population key: one group per person", query: "persons_by_sex", wantStep: L0OneGroupPerPerson, wantL0: 1, wantM: 1, wantPers: 1,
			wantAggs: []Agg{{L0: 1, LInf: 1}}, wantNames: []string{"k0", "persons"}},
		{desc: "year domain 15 above L0 4", query: "inpatient_contacts_by_year", wantStep: L0Applied, wantL0: 4, wantM: 10, wantPers: 4,
			wantAggs: []Agg{{L0: 4, LInf: 10}, {L0: 4, LInf: 1}}, wantNames: []string{"k0", "persons", "a0_count"}},
		{desc: "domain of 3 within L0 4: sum and avg", query: "stay_by_contact_type", wantStep: L0DomainWithinLimit, wantL0: 3, wantM: 10, wantPers: 3,
			wantAggs: []Agg{{L0: 3, LInf: 900}, {L0: 3, LInf: 10, NormLInf: 450}}, wantNames: []string{"k0", "persons", "a0_sum", "a1_count", "a1_norm_sum"}},
		{desc: "quantile values", query: "median_stay_by_icd10", wantStep: L0Applied, wantL0: 4, wantM: 10, wantPers: 4,
			wantAggs: []Agg{{L0: 4, MaxContributionsPerPartition: 10}}, wantNames: []string{"k0", "persons", "a0_values"}},
		{desc: "three grouping sets: measures take L0 = 3 sets and LInf = L0·M, the person count L0 = 3·L0", query: "rollup_type_year", wantStep: L0Applied, wantL0: 4, wantM: 10, wantPers: 12,
			wantAggs:  []Agg{{L0: 3, LInf: 40}, {L0: 12, LInf: 1}, {L0: 3, LInf: 40, NormLInf: 1800}},
			wantNames: []string{"k0", "k1", "gid", "persons", "a0_count", "a2_count", "a2_norm_sum"}},
		{desc: "a FILTERed person count: the person count's sensitivities, a count column of its own", query: "filtered_persons_rollup_type_year", wantStep: L0Applied, wantL0: 4, wantM: 10, wantPers: 12,
			wantAggs:  []Agg{{L0: 12, LInf: 1}, {L0: 12, LInf: 1}},
			wantNames: []string{"k0", "k1", "gid", "persons", "a0_count"}},
		{desc: "sum with a negative lower bound", query: "stay_by_month_quarter", wantStep: L0Applied, wantL0: 4, wantM: 10, wantPers: 4,
			wantAggs: []Agg{{L0: 4, LInf: 900}}, wantNames: []string{"k0", "k1", "persons", "a0_sum"}},
		{desc: "cancer bounds are the tightest of the join", query: "cancer_site_year_women", wantStep: L0Applied, wantL0: 2, wantM: 2, wantPers: 2,
			wantAggs: []Agg{{L0: 2, LInf: 1}}, wantNames: []string{"k0", "k1", "persons"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			p, err := Bound(byName[tc.query], pol, &Options{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if p.Bounds.L0Step != tc.wantStep || p.Bounds.MaxGroupsPerPerson != tc.wantL0 || p.Bounds.MaxRowsPerPersonPerGroup != tc.wantM {
				t.Errorf("bounds = %+v, want step %s L0 %d M %d", p.Bounds, tc.wantStep, tc.wantL0, tc.wantM)
			}
			if p.PersonsL0 != tc.wantPers || p.PersonsLInf != 1 {
				t.Errorf("persons sensitivity = %d, %g; want %d, 1", p.PersonsL0, p.PersonsLInf, tc.wantPers)
			}
			if len(p.Aggs) != len(tc.wantAggs) {
				t.Fatalf("%d aggs, want %d", len(p.Aggs), len(tc.wantAggs))
			}
			for i, w := range tc.wantAggs {
				g := p.Aggs[i]
				if g.L0 != w.L0 || g.LInf != w.LInf || g.NormLInf != w.NormLInf || g.MaxContributionsPerPartition != w.MaxContributionsPerPartition {
					t.Errorf("agg %d = L0 %d LInf %g NormLInf %g MaxContrib %d; want %+v", i, g.L0, g.LInf, g.NormLInf, g.MaxContributionsPerPartition, w)
				}
			}
			var names []string
			for _, c := range p.Columns {
				names = append(names, c.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.wantNames, ",") {
				t.Errorf("columns = %v, want %v", names, tc.wantNames)
			}
		})
	}
}

func TestBoundKeyDomains(t *testing.T) {
	pol := testPolicy()
	tests := []struct {
		desc string
		key  query.Expr
		want []any // nil: no domain
	}{
		{"category column", nprType, []any{"inpatient", "outpatient", "day"}},
		{"integer range column", popBirth, rangeValues(1915, 2024)},
		{"year of a date with policy years", nprYear, rangeValues(2010, 2024)},
		{"date_part year", call("date_part", query.TypeInteger, lit("year"), nprDate), rangeValues(2010, 2024)},
		{"month", call("month", query.TypeInteger, nprDate), rangeValues(1, 12)},
		{"date_part isodow", call("date_part", query.TypeInteger, lit("isodow"), nprDate), rangeValues(1, 7)},
		{"date_part week", call("date_part", query.TypeInteger, lit("week"), nprDate), rangeValues(1, 53)},
		{"quarter of an expression", call("quarter", query.TypeInteger, &query.Arith{Op: "+", L: nprDate, R: &query.Literal{Value: "1 month", Type: query.TypeInterval}, Type: query.TypeDate}), rangeValues(1, 4)},
		{"left with a prefix domain", call("left", query.TypeString, lmrATC, lit(int64(1))), []any{"A", "B", "C", "D", "G", "H", "J", "L", "M", "N", "P", "R", "S", "V"}},
		{"substr from 1 with a prefix domain", call("substr", query.TypeString, lmrATC, lit(int64(1)), lit(int64(1))), []any{"A", "B", "C", "D", "G", "H", "J", "L", "M", "N", "P", "R", "S", "V"}},
		{"substr from 2 has none", call("substr", query.TypeString, lmrATC, lit(int64(2)), lit(int64(1))), nil},
		{"left without a prefix domain of that length", call("left", query.TypeString, lmrATC, lit(int64(3))), nil},
		{"icd10 chapter", call("icd10_chapter", query.TypeString, nprICD), []any{"I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV", "XV", "XVI", "XVII", "XVIII", "XIX", "XX", "XXI", "XXII"}},
		{"CASE of constants without ELSE adds NULL", &query.Case{Whens: []query.When{{Cond: cmp(nprLOS, ">", lit(int64(0))), Then: lit("stay")}, {Cond: cmp(nprLOS, "=", lit(int64(0))), Then: lit("visit")}}, Type: query.TypeString}, []any{"stay", "visit", nil}},
		{"CASE of numbers converts to the CASE type", &query.Case{Whens: []query.When{{Cond: cmp(nprLOS, ">", lit(int64(0))), Then: lit(int64(1))}}, Else: lit(0.5), Type: query.TypeNumber}, []any{1.0, 0.5}},
		{"CASE with a computed arm has none", &query.Case{Whens: []query.When{{Cond: cmp(nprLOS, ">", lit(int64(0))), Then: nprICD}}, Else: lit("x"), Type: query.TypeString}, nil},
		{"boolean key", cmp(nprLOS, ">", lit(int64(0))), []any{false, true}},
		{"code column without a domain", nprICD, nil},
		{"year of a column without policy years", call("year", query.TypeInteger, ref("cancer", "cancer", "stage", query.TypeDate)), nil},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			d, err := domainOf(tc.key, pol)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%#v", d.values) != fmt.Sprintf("%#v", tc.want) {
				t.Errorf("domain = %#v, want %#v", d.values, tc.want)
			}
		})
	}
}

func rangeValues(lo, hi int64) []any {
	var out []any
	for v := lo; v <= hi; v++ {
		out = append(out, v)
	}
	return out
}

func TestBoundErrors(t *testing.T) {
	pol := testPolicy()
	muni := ref("population", "population", "municipality", query.TypeString)
	tests := []struct {
		desc        string
		q           *query.Query
		wantRefusal refusal.Code // zero: an ErrInvalidQuery error
	}{
		{"domains spanning more than 100,000 groups", &query.Query{From: from("npr", "npr", "population", "population"),
			Keys: []query.GroupKey{key("m", muni), key("b", popBirth), key("y", nprYear), key("t", nprType), key("s", popSex), key("h", nprHosp)},
			Aggs: []query.Aggregate{countStar("n")}}, refusal.DomainTooLarge},
		{"unknown dataset", &query.Query{From: from("nope", "nope"), Aggs: []query.Aggregate{countStar("n")}}, refusal.Code{}},
		{"no FROM", &query.Query{Aggs: []query.Aggregate{countStar("n")}}, refusal.Code{}},
		{"duplicate alias", &query.Query{From: from("npr", "x", "population", "x"), Aggs: []query.Aggregate{countStar("n")}}, refusal.Code{}},
		{"column of a table not in FROM", &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("sex", popSex)}, Aggs: []query.Aggregate{countStar("n")}}, refusal.Code{}},
		{"undeclared column", &query.Query{From: from("npr", "npr"), Where: cmp(ref("npr", "npr", "secret", query.TypeString), "=", lit("x")), Aggs: []query.Aggregate{countStar("n")}}, refusal.Code{}},
		{"unknown operator", &query.Query{From: from("npr", "npr"), Where: cmp(nprLOS, "!~", lit(int64(1))), Aggs: []query.Aggregate{countStar("n")}}, refusal.Code{}},
		{"output reference in WHERE", &query.Query{From: from("npr", "npr"), Where: &query.OutputRef{Column: 0, Type: query.TypeBool}, Aggs: []query.Aggregate{countStar("n")}}, refusal.Code{}},
		{"nil key expression", &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{{Name: "k"}}, Aggs: []query.Aggregate{countStar("n")}}, refusal.Code{}},
		{"sum without bounds order", &query.Query{From: from("npr", "npr"), Aggs: []query.Aggregate{numAgg(query.AggSum, "s", nprLOS, 90, 0)}}, refusal.Code{}},
		{"quantile outside (0, 1)", &query.Query{From: from("npr", "npr"), Aggs: []query.Aggregate{{Kind: query.AggQuantile, Name: "q", Arg: nprLOS, P: 1, Bounds: [2]float64{0, 90}}}}, refusal.Code{}},
		{"unknown aggregate", &query.Query{From: from("npr", "npr"), Aggs: []query.Aggregate{{Kind: "min", Name: "m", Arg: nprLOS}}}, refusal.Code{}},
		{"grouping set index out of range", &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("t", nprType)}, GroupingSets: [][]int{{0}, {1}}, Aggs: []query.Aggregate{countStar("n")}}, refusal.Code{}},
		{"malformed date literal", &query.Query{From: from("npr", "npr"), Where: cmp(nprDate, ">", dateLit("2020-1-1' OR TRUE --")), Aggs: []query.Aggregate{countStar("n")}}, refusal.Code{}},
		// DuckDB would refuse these patterns only when the plan runs, after the debit.
		{"regexp pattern DuckDB cannot compile", &query.Query{From: from("npr", "npr"), Where: call("regexp_matches", query.TypeBool, nprICD, lit("(")), Aggs: []query.Aggregate{countStar("n")}}, refusal.Code{}},
		{"regexp pattern not a constant", &query.Query{From: from("npr", "npr"), Where: call("regexp_full_match", query.TypeBool, nprICD, nprType), Aggs: []query.Aggregate{countStar("n")}}, refusal.Code{}},
		{"regexp options", &query.Query{From: from("npr", "npr"), Where: call("regexp_matches", query.TypeBool, nprICD, lit("^e"), lit("i")), Aggs: []query.Aggregate{countStar("n")}}, refusal.Code{}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			p, err := Bound(tc.q, pol, nil)
			if err == nil {
				t.Fatalf("Bound succeeded:\n%s", p.SQL)
			}
			if !strings.HasPrefix(err.Error(), "plan.Bound: ") {
				t.Errorf("error %q lacks the plan.Bound: prefix", err)
			}
			if tc.wantRefusal != (refusal.Code{}) {
				if got := refusal.CodeOf(err); got != tc.wantRefusal {
					t.Errorf("refusal code = %q, want %q (err %v)", got, tc.wantRefusal, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidQuery) {
				t.Errorf("err = %v, want ErrInvalidQuery", err)
			}
		})
	}
}

func TestBoundSeed(t *testing.T) {
	q := goldenCases()[2].q // inpatient_contacts_by_year: the L0 step hashes with the seed
	pol := testPolicy()
	a, err := Bound(q, pol, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Bound(q, pol, &Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Bound(q, pol, &Options{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if a.SQL == b.SQL {
		t.Error("two plans without a seed share their SQL: the seed is not drawn per query")
	}
	if !strings.Contains(c.SQL, "7::UBIGINT") {
		t.Errorf("Options.Seed 7 is not in the SQL:\n%s", c.SQL)
	}
}

// TestTotalsDoNotEditTheQuery: Options.Totals plans every margin of the
// keys (GROUP BY CUBE) on a copy; the checked query keeps no grouping sets.
func TestTotalsDoNotEditTheQuery(t *testing.T) {
	popSex := ref("population", "population", "sex", query.TypeString)
	popYear := ref("population", "population", "birth_year", query.TypeInteger)
	q := &query.Query{From: from("population", "population"),
		Keys: []query.GroupKey{key("sex", popSex), key("birth_year", popYear)}, Aggs: []query.Aggregate{countStar("n")}}
	p, err := Bound(q, testPolicy(), &Options{Seed: 1, Totals: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := "[[0 1] [1] [0] []]"; fmt.Sprint(p.GroupingSets) != want {
		t.Errorf("grouping sets %v, want %v", p.GroupingSets, want)
	}
	if q.GroupingSets != nil {
		t.Errorf("Bound edited the query: grouping sets %v", q.GroupingSets)
	}
	plain, err := Bound(q, testPolicy(), &Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if plain.GroupingSets != nil {
		t.Errorf("without totals: grouping sets %v", plain.GroupingSets)
	}
}

// TestL0UpToTheCap: keys whose public domains hold at most the policy's
// cap keep every group of a person (L0 = the domain's size, no truncation);
// above the cap the default L0 applies with the L0 step.
func TestL0UpToTheCap(t *testing.T) {
	pol := testPolicy()
	pol.Datasets["npr"].MaxGroupsPerPersonCap = 24
	date := ref("npr", "npr", "contact_date", query.TypeDate)
	typ := ref("npr", "npr", "contact_type", query.TypeString)
	year := call("year", query.TypeInteger, date)
	for _, tc := range []struct {
		desc   string
		keys   []query.GroupKey
		where  query.Expr
		step   string
		groups int
	}{
		{"15 years ≤ 24", []query.GroupKey{key("year", year)}, nil, L0DomainWithinLimit, 15},
		{"years × types > 24", []query.GroupKey{key("year", year), key("type", typ)}, nil, L0Applied, 4},
		{"narrowed years × types ≤ 24", []query.GroupKey{key("year", year), key("type", typ)}, cmp(year, ">=", lit(int64(2020))), L0DomainWithinLimit, 15},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			q := &query.Query{From: from("npr", "npr"), Keys: tc.keys, Where: tc.where, Aggs: []query.Aggregate{countPersons("n")}}
			p, err := Bound(q, pol, &Options{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if p.Bounds.L0Step != tc.step || p.Bounds.MaxGroupsPerPerson != tc.groups {
				t.Errorf("bounds %+v, want step %s with L0 %d", p.Bounds, tc.step, tc.groups)
			}
		})
	}
}

// TestRequestBounds: a request may fix L0, L∞ and clamps at or under the
// policy's caps and declared bounds, never above them.
func TestRequestBounds(t *testing.T) {
	pol := testPolicy()
	pol.Datasets["npr"].MaxGroupsPerPersonCap = 24
	pol.Datasets["npr"].MaxRowsPerPersonPerGroupCap = 20
	typ := ref("npr", "npr", "contact_type", query.TypeString)
	icd := ref("npr", "npr", "icd10", query.TypeString)
	q := &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("icd10", icd)},
		Aggs: []query.Aggregate{countStar("n"), numAgg(query.AggAvg, "los", nprLOS, 0, 90)}}
	t.Run("fixed L0 and L∞", func(t *testing.T) {
		p, err := Bound(q, pol, &Options{Seed: 1, Bounds: &RequestBounds{MaxGroupsPerPerson: 12, MaxRowsPerPersonPerGroup: 3}})
		if err != nil {
			t.Fatal(err)
		}
		if p.Bounds.MaxGroupsPerPerson != 12 || p.Bounds.MaxRowsPerPersonPerGroup != 3 || p.Aggs[0].LInf != 3 || p.Aggs[0].L0 != 12 {
			t.Errorf("bounds %+v, count agg %+v", p.Bounds, p.Aggs[0])
		}
	})
	t.Run("a fixed L0 below a public domain applies the L0 step", func(t *testing.T) {
		q := &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("type", typ)}, Aggs: []query.Aggregate{countPersons("n")}}
		p, err := Bound(q, pol, &Options{Seed: 1, Bounds: &RequestBounds{MaxGroupsPerPerson: 2}})
		if err != nil {
			t.Fatal(err)
		}
		if p.Bounds.L0Step != L0Applied || p.Bounds.MaxGroupsPerPerson != 2 {
			t.Errorf("bounds %+v", p.Bounds)
		}
	})
	t.Run("clamp narrows the declared bounds", func(t *testing.T) {
		p, err := Bound(q, pol, &Options{Seed: 1, Bounds: &RequestBounds{Clamp: map[string][2]float64{"length_of_stay_days": {0, 30}}}})
		if err != nil {
			t.Fatal(err)
		}
		if p.Aggs[1].Bounds != [2]float64{0, 30} || p.Aggs[1].NormLInf != 15*float64(p.Bounds.MaxRowsPerPersonPerGroup) {
			t.Errorf("avg plan %+v", p.Aggs[1])
		}
		if q.Aggs[1].Bounds != [2]float64{0, 90} {
			t.Error("the checked query was edited")
		}
		if !strings.Contains(p.SQL, "> 30::DOUBLE THEN 30::DOUBLE") {
			t.Errorf("the SQL does not clamp at 30:\n%s", p.SQL)
		}
	})
	for _, tc := range []struct {
		desc string
		rb   RequestBounds
	}{
		{"L0 above the cap", RequestBounds{MaxGroupsPerPerson: 25}},
		{"L∞ above the cap", RequestBounds{MaxRowsPerPersonPerGroup: 21}},
		{"negative L0", RequestBounds{MaxGroupsPerPerson: -1}},
		{"clamp wider than declared", RequestBounds{Clamp: map[string][2]float64{"length_of_stay_days": {0, 100}}}},
		{"clamp reversed", RequestBounds{Clamp: map[string][2]float64{"length_of_stay_days": {30, 10}}}},
		{"clamp of a column not aggregated", RequestBounds{Clamp: map[string][2]float64{"birth_year": {1950, 1960}}}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := Bound(q, pol, &Options{Seed: 1, Bounds: &tc.rb})
			if r, ok := refusal.As(err); !ok || r.Code.String() != "bounds_above_cap" {
				t.Errorf("%v, want bounds_above_cap", err)
			}
		})
	}
}
