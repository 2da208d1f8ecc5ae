package compile

import (
	"context"
	"fmt"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// Limits of the temporal conditions of cohort criteria.
const (
	// maxTemporalDays is the longest window (100 years of days).
	maxTemporalDays = 36525
	// maxAgeAtIndex is the oldest age an age_at_index may name.
	maxAgeAtIndex = 150
)

// temporalHint is the hint of refusals of malformed temporal criteria.
const temporalHint = `e.g. {"dataset": "lmr", "where": "atc LIKE 'A10%'", "after": {"criterion": 0, "within_days": 90}}, ` +
	`"none_within_days_before": 365 or "age_at_index": [40, 79]`

// criteriaSet is the checked criteria of one cohort: include first, then
// exclude, with the temporal conditions of each.
type criteriaSet struct {
	raw      []Criterion
	crit     []criterion
	included int // the first included criteria are include criteria
	pop      *policies.Dataset
	// index memoises the index-date conditions of include criteria that
	// others refer to, by criterion.
	index map[int]*query.Exists
}

// checkCriteria checks the include and exclude criteria of a cohort, the
// temporal conditions included: references to an include criterion
// (not the criterion itself, no cycle), days and ages in range, a date
// column where one is needed, the persons register for age_at_index.
func (c *Compiler) checkCriteria(ctx context.Context, proj *policies.Project, cat *query.Catalog, include, exclude []Criterion) (*criteriaSet, error) {
	s := &criteriaSet{raw: append(append([]Criterion{}, include...), exclude...), included: len(include), index: map[int]*query.Exists{}}
	for i, cr := range s.raw {
		k, err := c.checkCriterion(ctx, proj, cat, cr)
		if err != nil {
			return nil, err
		}
		k.not = i >= len(include)
		s.crit = append(s.crit, k)
	}
	referenced := map[int]bool{}
	for i, cr := range s.raw {
		for _, r := range cr.relatives() {
			if err := s.checkReference(i, r.field, r.rel); err != nil {
				return nil, err
			}
			referenced[r.rel.Criterion] = true
		}
		if d := cr.NoneWithinDaysBefore; d != nil && (*d < 1 || *d > maxTemporalDays) {
			return nil, refusal.New(refusal.CohortBadDays,
				fmt.Sprintf("criterion %d: none_within_days_before must be 1–%d days, not %d", i, maxTemporalDays, *d), temporalHint)
		}
		if a := cr.AgeAtIndex; a != nil {
			if len(a) != 2 || a[0] < 0 || a[0] > a[1] || a[1] > maxAgeAtIndex {
				return nil, refusal.New(refusal.CohortBadAge,
					fmt.Sprintf("criterion %d: age_at_index must be [min, max] whole years with 0 ≤ min ≤ max ≤ %d", i, maxAgeAtIndex), `e.g. "age_at_index": [40, 79]`)
			}
			if s.pop == nil {
				pop, err := c.personsRegister(proj)
				if err != nil {
					return nil, err
				}
				if pop.BirthYearColumn == "" {
					return nil, refusal.New(refusal.CohortNoPopulation, "age_at_index needs the persons register "+pop.Name+" to name its birth_year_column", "remove age_at_index")
				}
				s.pop = pop
			}
		}
	}
	for i, cr := range s.raw {
		if (cr.temporal() || referenced[i]) && s.crit[i].ds.DateColumn == "" {
			return nil, refusal.New(refusal.CohortNoDateColumn,
				fmt.Sprintf("criterion %d: dataset %q has no date column for temporal conditions (the policy names none in date_column)", i, s.crit[i].ds.Name),
				"remove after, before, none_within_days_before and age_at_index from it, and references to it")
		}
	}
	if err := s.checkCycles(); err != nil {
		return nil, err
	}
	return s, nil
}

// relative is one after/before of a criterion.
type relative struct {
	field string // "after" or "before"
	rel   *RelativeTo
}

// relatives lists the criterion's after and before.
func (c Criterion) relatives() []relative {
	var out []relative
	if c.After != nil {
		out = append(out, relative{"after", c.After})
	}
	if c.Before != nil {
		out = append(out, relative{"before", c.Before})
	}
	return out
}

// checkReference checks criterion i's after or before.
func (s *criteriaSet) checkReference(i int, field string, r *RelativeTo) error {
	switch k := r.Criterion; {
	case k < 0 || k >= s.included:
		return refusal.New(refusal.CohortBadReference,
			fmt.Sprintf("criterion %d: %s.criterion %d names no include criterion (there are %d, numbered from 0)", i, field, k, s.included), temporalHint)
	case k == i:
		return refusal.New(refusal.CohortBadReference, fmt.Sprintf("criterion %d: %s.criterion names the criterion itself", i, field), temporalHint)
	}
	if d := r.WithinDays; d != nil && (*d < 0 || *d > maxTemporalDays) {
		return refusal.New(refusal.CohortBadDays,
			fmt.Sprintf("criterion %d: %s.within_days must be 0–%d days, not %d", i, field, maxTemporalDays, *d), temporalHint)
	}
	return nil
}

// checkCycles refuses include criteria whose references form a cycle
// (exclude criteria cannot be referred to, so they close none).
func (s *criteriaSet) checkCycles() error {
	const (
		unseen = iota
		open
		done
	)
	state := make([]int, len(s.raw))
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case open:
			return refusal.New(refusal.CohortCycle,
				fmt.Sprintf("criterion %d is after or before itself through the criteria it refers to", i), "make every after/before refer to a criterion that does not refer back")
		case done:
			return nil
		}
		state[i] = open
		for _, r := range s.raw[i].relatives() {
			if err := visit(r.rel.Criterion); err != nil {
				return err
			}
		}
		state[i] = done
		return nil
	}
	for i := range s.raw {
		if err := visit(i); err != nil {
			return err
		}
	}
	return nil
}

// temporal reports whether criterion i has temporal conditions of its own.
func (s *criteriaSet) temporal(i int) bool { return s.raw[i].temporal() }

// datasets lists the datasets the criteria read (age_at_index reads the
// persons register).
func (s *criteriaSet) datasets() []string {
	var out []string
	for _, k := range s.crit {
		out = append(out, k.ds.Name)
	}
	if s.pop != nil {
		out = append(out, s.pop.Name)
	}
	return out
}

// exists is criterion i's person-level condition as a query.Exists on
// alias, correlated with outer: the person has a row meeting it (none,
// for an exclude criterion), its temporal conditions included.
func (s *criteriaSet) exists(i int, alias string, outer *query.ColumnRef) *query.Exists {
	k := s.crit[i]
	x := &query.Exists{
		Table: query.TableRef{Dataset: k.ds.Name, Alias: alias},
		Inner: &query.ColumnRef{Table: alias, Dataset: k.ds.Name, Column: k.ds.PersonKey, Type: personKeyType},
		Outer: outer, Not: k.not,
	}
	if k.cond != nil {
		x.Where = query.Requalify(k.cond, k.ds.Name, alias)
	}
	if !s.temporal(i) {
		return x
	}
	cr := s.raw[i]
	x.Temporal = s.dated(i, alias, outer)
	if d := cr.NoneWithinDaysBefore; d != nil {
		x.Temporal.WashoutDays = *d
		if k.where != nil {
			x.Temporal.WashoutWhere = query.Requalify(k.where, k.ds.Name, alias)
		}
	}
	if a := cr.AgeAtIndex; a != nil {
		const pa = "pa"
		x.Temporal.Age = &query.AgeAtIndex{
			Table:     query.TableRef{Dataset: s.pop.Name, Alias: pa},
			Inner:     &query.ColumnRef{Table: pa, Dataset: s.pop.Name, Column: s.pop.PersonKey, Type: personKeyType},
			BirthYear: &query.ColumnRef{Table: pa, Dataset: s.pop.Name, Column: s.pop.BirthYearColumn, Type: query.TypeInteger},
			Min:       a[0], Max: a[1],
		}
	}
	return x
}

// dated is criterion i's Temporal with its date column and after/before
// windows (washout and age are the caller's).
func (s *criteriaSet) dated(i int, alias string, outer *query.ColumnRef) *query.Temporal {
	k := s.crit[i]
	t := &query.Temporal{Date: &query.ColumnRef{Table: alias, Dataset: k.ds.Name, Column: k.ds.DateColumn, Type: query.TypeDate}}
	for _, r := range s.raw[i].relatives() {
		rel := query.Relative{Of: s.indexOf(r.rel.Criterion, outer)}
		days := 0
		if r.rel.WithinDays != nil {
			days = *r.rel.WithinDays
		}
		if r.field == "after" {
			rel.MinDays, rel.MaxDays, rel.OpenMax = 0, days, r.rel.WithinDays == nil
		} else {
			rel.MinDays, rel.MaxDays, rel.OpenMin = -days, 0, r.rel.WithinDays == nil
		}
		t.Relative = append(t.Relative, rel)
	}
	return t
}

// indexOf is include criterion k's index date condition (its rows and
// after/before windows, without washout or age: a person failing those
// fails criterion k itself, and so the cohort), shared by every criterion
// that refers to k.
func (s *criteriaSet) indexOf(k int, outer *query.ColumnRef) *query.Exists {
	if x, ok := s.index[k]; ok {
		return x
	}
	alias := fmt.Sprintf("t%d", k)
	x := &query.Exists{
		Table: query.TableRef{Dataset: s.crit[k].ds.Name, Alias: alias},
		Inner: &query.ColumnRef{Table: alias, Dataset: s.crit[k].ds.Name, Column: s.crit[k].ds.PersonKey, Type: personKeyType},
		Outer: outer,
	}
	if cond := s.crit[k].cond; cond != nil {
		x.Where = query.Requalify(cond, s.crit[k].ds.Name, alias)
	}
	x.Temporal = s.dated(k, alias, outer)
	s.index[k] = x
	return x
}
