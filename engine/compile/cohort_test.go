package compile

import (
	"context"
	"slices"
	"testing"

	"github.com/statgate/statgate/engine/query"
)

// TestCohortQueryShape: without a breakdown the base table is the first
// include criterion's dataset, filtered by its where; with one it is the
// persons register. Every other criterion is an Exists on the person key
// (Not for an exclude) under its own alias, and the output is the
// breakdown's keys and the distinct persons.
func TestCohortQueryShape(t *testing.T) {
	f := newFixture(t)
	spec := CohortSpec{
		Include: []Criterion{{Dataset: "npr", Where: "icd10 LIKE 'E11%'"}, {Dataset: "lmr", Where: "atc LIKE 'A10B%'", From: "2015-01-01"}},
		Exclude: []Criterion{{Dataset: "death_causes"}},
	}
	tests := []struct {
		desc      string
		breakdown []string
		base      string
		exists    []string // datasets of the Exists conditions, in order
		not       []bool
		output    []string
	}{
		{"no breakdown", nil, "npr", []string{"lmr", "death_causes"}, []bool{false, true}, []string{"persons"}},
		{"by sex", []string{"sex"}, "population", []string{"npr", "lmr", "death_causes"}, []bool{false, false, true}, []string{"sex", "persons"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			s := spec
			s.Breakdown = tc.breakdown
			c, err := f.Compile(context.Background(), ingrid, Request{Project: "diabetes-2026", Cohort: &s})
			if err != nil {
				t.Fatal(err)
			}
			q := c.Query
			if len(q.From) != 1 || q.From[0].Dataset != tc.base {
				t.Fatalf("from %+v, want %s alone", q.From, tc.base)
			}
			if len(q.Aggs) != 1 || q.Aggs[0].Kind != query.AggCountDistinct {
				t.Errorf("aggregates %+v, want one distinct-person count", q.Aggs)
			}
			var out []string
			for _, o := range q.Output {
				out = append(out, o.Name)
			}
			if !slices.Equal(out, tc.output) {
				t.Errorf("output %v, want %v", out, tc.output)
			}
			var conds []query.Expr
			if l, ok := q.Where.(*query.Logical); ok && l.Op == "AND" {
				conds = l.Args
			} else if q.Where != nil {
				conds = []query.Expr{q.Where}
			}
			var exists []string
			var not []bool
			aliases := map[string]bool{q.From[0].Alias: true}
			for _, x := range conds {
				ex, ok := x.(*query.Exists)
				if !ok {
					continue
				}
				exists, not = append(exists, ex.Table.Dataset), append(not, ex.Not)
				if aliases[ex.Table.Alias] {
					t.Errorf("alias %q used twice", ex.Table.Alias)
				}
				aliases[ex.Table.Alias] = true
				if ex.Outer.Dataset != tc.base || ex.Outer.Column != "pid" || ex.Inner.Table != ex.Table.Alias {
					t.Errorf("exists on %s correlates %+v with %+v", ex.Table.Dataset, ex.Inner, ex.Outer)
				}
			}
			if !slices.Equal(exists, tc.exists) || len(not) != len(tc.not) {
				t.Fatalf("exists on %v, want %v", exists, tc.exists)
			}
			for i := range not {
				if not[i] != tc.not[i] {
					t.Errorf("exists on %s: not %v, want %v", exists[i], not[i], tc.not[i])
				}
			}
		})
	}
}
