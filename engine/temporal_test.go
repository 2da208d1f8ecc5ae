package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/refusal"
)

// TestTemporalCriteriaRefusals: malformed temporal criteria are refused
// with their code and a message naming the criterion, on all three
// endpoints that take criteria, and nothing is debited.
func TestTemporalCriteriaRefusals(t *testing.T) {
	e := openEngine(t, nil)
	ctx := context.Background()
	days := func(n int) *int { return &n }
	e11 := Criterion{Dataset: "npr", Where: "icd10 LIKE 'E11%'"}
	a10 := func(mut func(*Criterion)) Criterion {
		c := Criterion{Dataset: "lmr", Where: "atc LIKE 'A10%'"}
		mut(&c)
		return c
	}
	tests := []struct {
		desc             string
		include, exclude []Criterion
		code             refusal.Code
		msg              string
	}{
		{"unknown criterion index", []Criterion{e11, a10(func(c *Criterion) { c.After = &RelativeTo{Criterion: 2} })}, nil,
			refusal.CohortBadReference, "criterion 1: after.criterion 2 names no include criterion (there are 2"},
		{"negative criterion index", []Criterion{e11, a10(func(c *Criterion) { c.Before = &RelativeTo{Criterion: -1} })}, nil,
			refusal.CohortBadReference, "before.criterion -1"},
		{"criterion after itself", []Criterion{e11, a10(func(c *Criterion) { c.After = &RelativeTo{Criterion: 1} })}, nil,
			refusal.CohortBadReference, "names the criterion itself"},
		{"exclude referred to", []Criterion{e11, a10(func(c *Criterion) { c.After = &RelativeTo{Criterion: 2} })},
			[]Criterion{{Dataset: "death_causes"}}, refusal.CohortBadReference, "criterion 1: after.criterion 2 names no include criterion (there are 2"},
		{"reference to an exclude", []Criterion{a10(func(c *Criterion) { c.After = &RelativeTo{Criterion: 1} })},
			[]Criterion{{Dataset: "death_causes"}}, refusal.CohortBadReference, "after.criterion 1 names no include criterion (there are 1"},
		{"cycle of two", []Criterion{
			{Dataset: "npr", Where: "icd10 LIKE 'E11%'", After: &RelativeTo{Criterion: 1}},
			a10(func(c *Criterion) { c.After = &RelativeTo{Criterion: 0} })}, nil, refusal.CohortCycle, "before itself through the criteria it refers to"},
		{"cycle of three", []Criterion{
			{Dataset: "npr", Where: "icd10 LIKE 'E11%'", Before: &RelativeTo{Criterion: 2}},
			a10(func(c *Criterion) { c.After = &RelativeTo{Criterion: 0} }),
			{Dataset: "npr", Where: "icd10 LIKE 'I10%'", After: &RelativeTo{Criterion: 1}}}, nil, refusal.CohortCycle, "criterion 0"},
		{"negative within_days", []Criterion{e11, a10(func(c *Criterion) { c.After = &RelativeTo{Criterion: 0, WithinDays: days(-1)} })}, nil,
			refusal.CohortBadDays, "after.within_days must be 0–36525 days, not -1"},
		{"within_days over a century", []Criterion{e11, a10(func(c *Criterion) { c.Before = &RelativeTo{Criterion: 0, WithinDays: days(40000)} })}, nil,
			refusal.CohortBadDays, "not 40000"},
		{"negative washout", []Criterion{{Dataset: "npr", Where: "icd10 LIKE 'E11%'", NoneWithinDaysBefore: days(-365)}}, nil,
			refusal.CohortBadDays, "none_within_days_before must be 1–36525 days, not -365"},
		{"zero washout", []Criterion{{Dataset: "npr", NoneWithinDaysBefore: days(0)}}, nil, refusal.CohortBadDays, "not 0"},
		{"age range reversed", []Criterion{{Dataset: "npr", AgeAtIndex: []int{79, 40}}}, nil, refusal.CohortBadAge, "0 ≤ min ≤ max ≤ 150"},
		{"age with one bound", []Criterion{{Dataset: "npr", AgeAtIndex: []int{40}}}, nil, refusal.CohortBadAge, "[min, max]"},
		{"negative age", []Criterion{{Dataset: "npr", AgeAtIndex: []int{-1, 40}}}, nil, refusal.CohortBadAge, "criterion 0"},
	}
	type endpoint struct {
		name string
		run  func(include, exclude []Criterion) error
	}
	endpoints := []endpoint{
		{"cohort", func(in, ex []Criterion) error {
			_, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026", Cohort: &CohortSpec{Include: in, Exclude: ex}})
			return err
		}},
		{"rates", func(in, ex []Criterion) error {
			_, err := e.Rates(ctx, ingrid, RatesRequest{Project: "diabetes-2026", Event: EventSpec{Dataset: "npr", Where: "icd10 LIKE 'E11%'"},
				Period: Period{From: "2015-01-01", To: "2024-12-31"}, Cohort: &Criteria{Include: in, Exclude: ex}})
			return err
		}},
		{"survival", func(in, ex []Criterion) error {
			_, err := e.Survival(ctx, ingrid, SurvivalRequest{Project: "diabetes-2026", Index: EventSpec{Dataset: "npr", Where: "icd10 LIKE 'E11%'"},
				Event: EventSpec{Dataset: "death_causes"}, End: "2024-12-31", Cohort: &Criteria{Include: in, Exclude: ex}})
			return err
		}},
	}
	for _, ep := range endpoints {
		for _, tc := range tests {
			t.Run(ep.name+"/"+tc.desc, func(t *testing.T) {
				err := ep.run(tc.include, tc.exclude)
				rf, ok := refusal.As(err)
				if !ok || rf.Code != tc.code || !strings.Contains(rf.Message, tc.msg) || rf.Hint == "" {
					t.Fatalf("got %v, want refusal %s containing %q with a hint", err, tc.code, tc.msg)
				}
				for _, ds := range []string{"npr", "lmr", "population", "death_causes"} {
					if s := spent(t, e, "diabetes-2026", ds); s != 0 {
						t.Fatalf("refusal debited %v on %s", s, ds)
					}
				}
			})
		}
	}
	// A temporal condition needs a date column.
	e2 := openEngine(t, func(o *Options) { o.Policy.Datasets["lmr"].DateColumn = "" })
	_, err := e2.Query(ctx, ingrid, Request{Project: "diabetes-2026", Cohort: &CohortSpec{
		Include: []Criterion{e11, a10(func(c *Criterion) { c.After = &RelativeTo{Criterion: 0} })}}})
	if rf, ok := refusal.As(err); !ok || rf.Code != refusal.CohortNoDateColumn || !strings.Contains(rf.Message, `criterion 1: dataset "lmr" has no date column`) {
		t.Errorf("got %v, want cohort_no_date_column for criterion 1", err)
	}
	// So does a criterion others are relative to.
	_, err = e2.Query(ctx, ingrid, Request{Project: "diabetes-2026", Cohort: &CohortSpec{
		Include: []Criterion{{Dataset: "lmr"}, {Dataset: "npr", After: &RelativeTo{Criterion: 0}}}}})
	if rf, ok := refusal.As(err); !ok || rf.Code != refusal.CohortNoDateColumn || !strings.Contains(rf.Message, "criterion 0") {
		t.Errorf("got %v, want cohort_no_date_column for the criterion referred to", err)
	}
	// age_at_index needs a persons register.
	e3 := openEngine(t, func(o *Options) { o.Policy.Datasets["population"].Role = "" })
	_, err = e3.Query(ctx, ingrid, Request{Project: "diabetes-2026", Cohort: &CohortSpec{
		Include: []Criterion{{Dataset: "npr", AgeAtIndex: []int{40, 79}}}}})
	if rf, ok := refusal.As(err); !ok || rf.Code != refusal.CohortNoPopulation {
		t.Errorf("got %v, want cohort_no_population", err)
	}
}
