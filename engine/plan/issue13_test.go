package plan

import (
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
