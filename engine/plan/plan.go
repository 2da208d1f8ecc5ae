// Package plan turns a checked query.Query and the policy into the
// contribution-bounded SQL that actually runs (DESIGN §3), and reports the
// sensitivity of every aggregate. The SQL is generated from the model only;
// the user's text never reaches it.
package plan

import "github.com/statgate/statgate/engine/query"

// Plan is the bounded SQL of one query and what each of its output columns
// means. It is immutable once built and safe for concurrent reads.
type Plan struct {
	// SQL returns one row per (grouping set, group) with the columns in Columns, in order.
	SQL string
	// Datasets the plan reads.
	Datasets []string
	// Keys describe the group keys, in query.Query.Keys order.
	Keys []Key
	// Columns describe the SQL's output columns, in order.
	Columns []Column
	// Aggs describe each aggregate of query.Query.Aggs, same order.
	Aggs []Agg
	// GroupingSets copies query.Query.GroupingSets (nil: one plain GROUP BY).
	GroupingSets [][]int
	// Bounds are the contribution bounds in force (the tightest of the datasets' policies).
	Bounds Bounds
	// PersonsL0 and PersonsLInf are the sensitivities of the per-group
	// distinct-person count (the column with RolePersons) that suppression
	// and partition selection use.
	PersonsL0   int64
	PersonsLInf float64
	// Profile, when not nil, measures the persons' contributions so the
	// engine can choose L0 and L∞ for this query from a DP estimate
	// instead of the policy's defaults (see Profile). Nil when the bounds
	// are fixed (one group per person, or by the request).
	Profile *Profile
}

// Bounds are the contribution bounds of a plan.
type Bounds struct {
	// MaxGroupsPerPerson is L0 per grouping set; MaxRowsPerPersonPerGroup caps rows.
	// MaxGroupsPerPerson is the L0 in force: 1 when each person can fall in
	// one group only, the keys' domain size when that is below the policy's.
	MaxGroupsPerPerson       int
	MaxRowsPerPersonPerGroup int
	// L0Step is "applied", "one_group_per_person" or "domain_within_limit"
	// (a query without GROUP BY has one group: "one_group_per_person").
	L0Step string
	// Chosen is "policy" or "request": where L0 and L∞ came from (the
	// engine reports "estimated" for bounds it chose from a profile).
	Chosen string
	// MaxValuesPerPersonPerGroup is how many of a person's values in one
	// group means, quantiles and spreads take (0 when the query has none).
	MaxValuesPerPersonPerGroup int
}

// Key is one group key of the plan.
type Key struct {
	Name string
	Type query.Type
	// Domain is the key's public domain (every value it can take), or nil
	// when the key has none and its groups must pass DP partition
	// selection. Values are int64, float64, string or bool; a nil value is
	// the NULL group of a CASE key without ELSE.
	Domain []any
}

// Role says what one SQL output column holds.
type Role string

// The output column roles.
const (
	// RoleKey: the value of group key Column.Index (NULL in a margin row that rolls it up).
	RoleKey Role = "key"
	// RoleGroupingID: DuckDB's grouping_id() over all keys (only with GroupingSets).
	RoleGroupingID Role = "grouping_id"
	// RolePersons: distinct persons in the group after bounding (BIGINT).
	RolePersons Role = "persons"
	// RoleCount: capped row count for aggregate Column.Index (DOUBLE); for
	// a FILTERed person count, the persons whose flag is set.
	RoleCount Role = "count"
	// RoleSum: sum of clamped per-person partial sums for aggregate Column.Index (DOUBLE).
	RoleSum Role = "sum"
	// RoleNormSum: for avg, the sum of per-person partials of (clamped x − midpoint),
	// scaled so each person contributes at most MaxRowsPerPersonPerGroup rows' worth (DOUBLE).
	RoleNormSum Role = "norm_sum"
	// RoleValues: for quantiles, stddev and variance, the list of clamped
	// row values, at most MaxRowsPerPersonPerGroup per person (LIST(DOUBLE)).
	RoleValues Role = "values"
)

// Column is one SQL output column.
type Column struct {
	Name string
	Role Role
	// Index is the key index (RoleKey) or the aggregate index (measure roles).
	// For RolePersons it is the index of the first count(DISTINCT person)
	// aggregate without a FILTER (every such aggregate reads this column),
	// or -1 when there is none; for RoleGroupingID it is -1. A
	// count(DISTINCT person) FILTER (WHERE c) reads a RoleCount column of
	// its own: the distinct persons flagged in the group.
	Index int
}

// Agg is the plan of one aggregate.
type Agg struct {
	Kind query.AggKind
	Name string
	// P is the quantile for AggQuantile.
	P float64
	// Bounds are [lo, hi] for numeric aggregates.
	Bounds [2]float64
	// L0 is the number of groups one person can affect (per grouping set
	// times the number of grouping sets); LInf the most one person can
	// change this aggregate's main statistic in one group. For avg, LInf
	// is that of the count; NormLInf is that of the normalised sum.
	L0       int64
	LInf     float64
	NormLInf float64
	// MaxContributionsPerPartition is what dpagg aggregations fed from a
	// RoleValues list need: values per person per group.
	MaxContributionsPerPartition int64
	// Values names what a quantile's list holds (its rendered argument):
	// quantiles with equal Values, Bounds, L0 and
	// MaxContributionsPerPartition read equal lists in every group, so
	// they may share one noisy tree. "" for other aggregates.
	Values string
}
