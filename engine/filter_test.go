package engine

import (
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/plan"
)

// TestFilteredAggregateSharesItsColumnsClamp: agg(col) FILTER (WHERE c)
// is clamped as col: a request's clamp of the column applies to it, and
// beside avg(col) the contribution profile reads the column itself (all
// its values), not the FILTERed part, whichever comes first.
func TestFilteredAggregateSharesItsColumnsClamp(t *testing.T) {
	const sql = "SELECT prescriber_type, sum(ddd) FILTER (WHERE atc LIKE 'A%') AS ddd, avg(ddd) AS mean_ddd FROM lmr GROUP BY 1"
	pol, parser, cat := shippedChecker(t)
	q, err := parser.Compile(t.Context(), sql, cat)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := q.Aggs[0].ClampName(), q.Aggs[1].ClampName(); a != "ddd" || b != "ddd" {
		t.Fatalf("clamp names %q and %q, want ddd for both", a, b)
	}
	p, err := plan.Bound(q, pol, &plan.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if p.Profile == nil || len(p.Profile.Values) != 1 || !strings.Contains(p.Profile.SQL, "min(x1) AS vlo0") {
		t.Fatalf("profile values %+v; want one, read from avg(ddd)'s x1:\n%s", p.Profile, p.Profile.SQL)
	}
	// Under another alias too: the column names the clamp.
	q2, err := parser.Compile(t.Context(), "SELECT sum(ddd) FILTER (WHERE atc LIKE 'A%') AS a_ddd FROM lmr", cat)
	if err != nil {
		t.Fatal(err)
	}
	if n := q2.Aggs[0].ClampName(); n != "ddd" {
		t.Errorf("clamp name %q of a FILTERed sum of ddd, want ddd", n)
	}
	e := openEngine(t, nil)
	res, err := e.Query(t.Context(), ingrid, Request{Project: "diabetes-2026", SQL: sql, Bounds: &Bounds{Clamp: map[string][2]float64{"ddd": {0, 100}}}})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Meta.Bounding.Bounds["ddd"]; c != [2]float64{0, 100} {
		t.Errorf("bounds %v, want the request's clamp of ddd [0 100]", res.Meta.Bounding.Bounds)
	}
}
