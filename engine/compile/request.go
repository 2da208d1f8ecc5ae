package compile

import "github.com/statgate/statgate/engine/plan"

// Request is one question to the engine. Exactly one of SQL, Template and
// Cohort is set.
type Request struct {
	// Project is the project the question is asked (and paid for) in.
	Project string
	// SQL is an ad-hoc aggregate query (researchers).
	SQL string
	// Template names an approved template; Params are its parameter values
	// (JSON-decoded: string, float64, bool).
	Template string
	Params   map[string]any
	// Cohort is a cohort-size estimate across linked registries.
	Cohort *CohortSpec
	// Epsilon is the ε to spend, within the range the policy gives the
	// datasets read (epsilon_per_query min..max); 0: the policy's default.
	// Ignored for templates, whose ε is fixed.
	Epsilon float64
	// Totals asks for margins (a total row per key and a grand total) with
	// secondary suppression, as GROUP BY ROLLUP would.
	Totals bool
	// Bounds fixes contribution bounds (L0, L∞, clamps of numeric
	// columns) at or under the policy's caps; nil lets the engine choose.
	Bounds *plan.RequestBounds
	// DryRun asks the engine for the cost and expected accuracy only
	// (result.Meta.DryRun): it compiles, plans and prepares the
	// protection, then stops, reading no extract and debiting nothing.
	// Compile ignores it.
	DryRun bool
}

// CohortSpec selects persons across registries linked by the person key:
// those meeting every Include criterion and no Exclude criterion, counted
// once each, optionally broken down by columns of the persons register
// (the policy's dataset with role: persons, e.g. population).
type CohortSpec struct {
	Include []Criterion `json:"include"`
	Exclude []Criterion `json:"exclude"`
	// Breakdown lists keys of the persons register: its columns with a
	// public domain ("sex", "municipality", "birth_year") or "age_band".
	// age_band is the age in whole years at the end of the register's date
	// range — the last year of its date_column's years (2024 in the shipped
	// policy) minus its birth_year_column — in the bands 0-17, 18-39,
	// 40-64, 65-79 and 80+; it is that age also for persons who have died,
	// and persons without a birth year are not counted. Without a breakdown
	// the persons register is not read; with one, persons who are not in it
	// are not counted. A policy without a persons register refuses
	// breakdowns (cohort_no_population).
	Breakdown []string `json:"breakdown"`
}

// Criterion is one registry condition: a person meets it when the dataset
// has a row for them whose Where holds (checked by the same checker as
// ad-hoc SQL) dated within [From, To] when given.
type Criterion struct {
	Dataset string `json:"dataset"`
	Where   string `json:"where"`
	// From and To are optional ISO dates (YYYY-MM-DD), inclusive, bounding
	// the dataset's date_column as the policy names it (refused with
	// cohort_no_date_column when it names none).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`

	// Temporal conditions, all on the dataset's date_column (refused with
	// cohort_no_date_column when it names none). The criterion's index
	// date is the date of the person's first row for which Where, From/To
	// and After/Before hold.
	//
	// After: that row is dated on or after the index date of include
	// criterion After.Criterion (its position in include, from 0), and at
	// most After.WithinDays days after it when given. Before: on or before
	// it, at most Before.WithinDays days before it when given.
	After  *RelativeTo `json:"after,omitempty"`
	Before *RelativeTo `json:"before,omitempty"`
	// NoneWithinDaysBefore (washout): the person has no row of the
	// dataset for which Where holds (whatever its date) in the
	// NoneWithinDaysBefore days before the index date, the index day
	// itself excluded.
	NoneWithinDaysBefore *int `json:"none_within_days_before,omitempty"`
	// AgeAtIndex [min, max]: the age at the index date — its calendar
	// year minus the persons register's birth year, the attained age of
	// /v1/rates — is within [min, max] years, inclusive.
	AgeAtIndex []int `json:"age_at_index,omitempty"`
}

// RelativeTo names the include criterion (its position in include, from
// 0) whose index date a temporal criterion is relative to, and optionally
// the most days between the two dates.
type RelativeTo struct {
	Criterion  int  `json:"criterion"`
	WithinDays *int `json:"within_days,omitempty"`
}

// temporal reports whether the criterion has a temporal condition.
func (c Criterion) temporal() bool {
	return c.After != nil || c.Before != nil || c.NoneWithinDaysBefore != nil || c.AgeAtIndex != nil
}
