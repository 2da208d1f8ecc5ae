package plan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
)

// TestExpressionClampByName: a request clamps an aggregated expression by
// the aggregate's output name, within the bounds the checker inferred, and
// the profile measures the expression under that name.
func TestExpressionClampByName(t *testing.T) {
	pol := testPolicy()
	age := &query.Arith{Op: "-", L: nprYear, R: popBirth, Type: query.TypeInteger}
	q := &query.Query{From: from("npr", "npr", "population", "population"),
		Keys: []query.GroupKey{key("sex", popSex)},
		Aggs: []query.Aggregate{numAgg(query.AggAvg, "mean_age", age, -14, 109)}}
	p, err := Bound(q, pol, &Options{Seed: 1, Bounds: &RequestBounds{Clamp: map[string][2]float64{"mean_age": {18, 100}}}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Aggs[0].Bounds != [2]float64{18, 100} {
		t.Errorf("bounds %v, want the clamp [18, 100]", p.Aggs[0].Bounds)
	}
	if !strings.Contains(p.SQL, "< 18::DOUBLE THEN 18::DOUBLE") || !strings.Contains(p.SQL, `(year("npr"."contact_date") - "population"."birth_year")`) {
		t.Errorf("the SQL does not clamp the expression:\n%s", p.SQL)
	}
	if _, err := Bound(q, pol, &Options{Seed: 1, Bounds: &RequestBounds{Clamp: map[string][2]float64{"mean_age": {0, 120}}}}); refusal.CodeOf(err) != refusal.BoundsAboveCap {
		t.Errorf("a clamp beyond the inferred bounds: %v, want bounds_above_cap", err)
	}
	p, err = Bound(q, pol, &Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if p.Profile == nil || len(p.Profile.Values) != 1 || p.Profile.Values[0].Column != "mean_age" || p.Profile.Values[0].Lo != -14 {
		t.Errorf("profile values %+v, want mean_age over [-14, 109]", p.Profile)
	}
}

// TestLeftJoin: a one-row-per-person dataset is LEFT JOINed on the base
// key and does not tighten or widen the bounds; anything else is invalid.
func TestLeftJoin(t *testing.T) {
	pol := testPolicy()
	dead := ref("d", "death_causes", "death_date", query.TypeDate)
	fromLeft := func(ds string) []query.TableRef {
		return []query.TableRef{{Dataset: "npr", Alias: "npr"}, {Dataset: ds, Alias: "d", Left: true}}
	}
	q := &query.Query{From: fromLeft("death_causes"),
		Keys:  []query.GroupKey{key("type", nprType)},
		Aggs:  []query.Aggregate{countStar("n")},
		Where: &query.IsNull{X: dead}}
	p, err := Bound(q, pol, &Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.SQL, `LEFT JOIN "death_causes" AS "d" ON "npr"."pid" = "d"."pid"`) {
		t.Errorf("no LEFT JOIN on the base key:\n%s", p.SQL)
	}
	if p.Bounds.MaxRowsPerPersonPerGroup != 10 || len(p.Datasets) != 2 {
		t.Errorf("bounds %+v, datasets %v: want npr's, and both datasets debited", p.Bounds, p.Datasets)
	}
	q.From = fromLeft("lmr")
	q.Where = nil
	if _, err := Bound(q, pol, &Options{Seed: 1}); err == nil {
		t.Error("a LEFT JOIN of lmr (many rows per person) was planned")
	}
	q.From = []query.TableRef{{Dataset: "population", Alias: "population", Left: true}}
	q.Keys = nil
	if _, err := Bound(q, pol, &Options{Seed: 1}); err == nil {
		t.Error("a LEFT JOINed base table was planned")
	}
}

// TestDerivedTable: a person-level WITH query is planned as a CTE of the
// plan, read like a one-row-per-person dataset (L0 1, no L0 step, the
// years of its date column as a public domain), and the datasets it reads
// are the plan's, so they are debited.
func TestDerivedTable(t *testing.T) {
	pol := testPolicy()
	parser, err := query.NewParser(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer parser.Close()
	cat := query.NewCatalog(pol, []string{"npr", "population", "lmr", "cancer", "death_causes"})
	q, err := parser.Compile(t.Context(), `WITH first AS (SELECT pid, min(contact_date) AS first_date, count(*) AS n, sum(length_of_stay_days) AS days
		FROM npr WHERE icd10 LIKE 'E11%' GROUP BY pid)
		SELECT year(first_date) AS year, count(*) AS patients, avg(n) AS mean_contacts, sum(days) AS days FROM first GROUP BY 1`, cat)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Bound(q, pol, &Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if p.Bounds.L0Step != L0OneGroupPerPerson || p.Bounds.MaxGroupsPerPerson != 1 || p.Bounds.MaxRowsPerPersonPerGroup != 1 {
		t.Errorf("bounds %+v, want one group and one row per person", p.Bounds)
	}
	if len(p.Datasets) != 1 || p.Datasets[0] != "npr" {
		t.Errorf("datasets %v, want [npr]", p.Datasets)
	}
	if len(p.Keys[0].Domain) != 15 {
		t.Errorf("year domain %v, want 2010–2024", p.Keys[0].Domain)
	}
	cap := q.Derived[0].Columns[1].RowsCap
	for _, want := range []string{
		"statgate_derived_0 AS (",
		`min("npr"."contact_date") AS "first_date"`,
		fmt.Sprintf(`least(count(*), %d) AS "n"`, cap),
		`GROUP BY "npr"."pid"`,
		`FROM statgate_derived_0 AS "first"`,
	} {
		if !strings.Contains(p.SQL, want) {
			t.Errorf("the plan lacks %q:\n%s", want, p.SQL)
		}
	}
	// The mean of the capped count: bounds [0, cap]; the sum of the
	// person's clamped stays: [0, cap × 90].
	if p.Aggs[1].Bounds != [2]float64{0, float64(cap)} || p.Aggs[2].Bounds != [2]float64{0, float64(cap) * 90} {
		t.Errorf("aggregate bounds %v and %v", p.Aggs[1].Bounds, p.Aggs[2].Bounds)
	}
	if p.Profile == nil || !strings.HasPrefix(p.Profile.SQL, "WITH statgate_derived_0 AS (") {
		t.Errorf("the profile does not define the derived table: %+v", p.Profile)
	}
}
