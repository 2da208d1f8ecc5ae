// Package result holds the released result of a query: the only shape in
// which numbers leave the engine. Every measure cell carries its noise
// standard deviation and a 95% confidence interval, or is suppressed. The
// API renders a Result as JSON, CSV or Arrow IPC without knowing any
// privacy rule.
package result

import "time"

// Result is a protected, releasable table. It is immutable once returned by
// the engine and safe for concurrent reads.
type Result struct {
	Columns []Column `json:"columns"`
	Rows    []Row    `json:"rows"`
	Meta    Meta     `json:"meta"`
}

// ColumnRole says whether a column is a group key or a protected measure.
type ColumnRole string

// The column roles.
const (
	RoleKey     ColumnRole = "key"
	RoleMeasure ColumnRole = "measure"
)

// ValueType is the type of a column's values.
type ValueType string

// The value types. Key values are strings, int64s, float64s, bools or
// dates (rendered 'YYYY-MM-DD' as strings); measures are float64 (counts
// are whole numbers held in float64) or nil when suppressed.
const (
	TypeString  ValueType = "string"
	TypeInteger ValueType = "integer"
	TypeNumber  ValueType = "number"
	TypeDate    ValueType = "date"
	TypeBool    ValueType = "boolean"
)

// Column describes one released column.
type Column struct {
	Name string     `json:"name"`
	Role ColumnRole `json:"role"`
	Type ValueType  `json:"type"`
	// Aggregate is the measure's aggregate kind (e.g. "count_persons", "avg"); empty for keys.
	Aggregate string `json:"aggregate,omitempty"`
}

// Row is one released group.
type Row struct {
	Cells []Cell `json:"cells"`
	// Margin is true for a total row from ROLLUP / GROUPING SETS; its
	// rolled-up key cells are nil.
	Margin bool `json:"margin,omitempty"`
}

// Cell is one released value.
type Cell struct {
	// Value is the key value, or the noisy (possibly rounded) measure; nil when suppressed or NULL.
	Value any `json:"value"`
	// Suppressed is true when the measure is withheld (below the minimum cell
	// count, or secondary suppression).
	Suppressed bool `json:"suppressed,omitempty"`
	// Reason says why a cell is suppressed: "min_cell_count" or
	// "secondary", or for an expression of aggregates an input's reason or
	// "denominator_may_be_zero" (its interval would be unbounded) or
	// "out_of_range" (not a finite number).
	Reason string `json:"reason,omitempty"`
	// StdDev is the standard deviation of the noise added to a measure (0 for keys).
	StdDev float64 `json:"stddev,omitempty"`
	// CI is the 95% confidence interval [lo, hi] of a measure; nil for keys and suppressed cells.
	CI *[2]float64 `json:"ci95,omitempty"`
	// Unbiased, for a count or a sum made non-negative (or non-positive)
	// and rounded, is the noisy value before that: unbiased, where the
	// released value of a small count is biased up, and a count's
	// rounding errors do not cancel when counts share a remainder.
	// Post-processing that adds released cells up (window totals,
	// engine/post) reads it and rounds what it releases as Value is
	// rounded; it is not a column of the result. nil: Value is the
	// unbiased one.
	Unbiased *Estimate `json:"-"`
}

// Estimate is a noisy value, the 95% confidence interval of its noise
// alone, and the factor Widen by which a bound that is not 0 is divided
// (1 − Widen) for what the contribution bounds are estimated to cut: a
// bias of one sign, which adds up linearly where noise adds up as a root
// sum of squares.
type Estimate struct {
	Value float64
	CI    [2]float64
	Widen float64
}

// Meta describes how the result was protected.
type Meta struct {
	QueryID  string    `json:"query_id"`
	Time     time.Time `json:"time"`
	Project  string    `json:"project"`
	Datasets []string  `json:"datasets"`
	// Epsilon and Delta are what the query debited from each dataset's budget.
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
	// Rho is the query's cost in zero-concentrated DP, and ZDelta the δ
	// beside it that ρ does not cover (partition selection): the ledger's
	// zCDP account (see engine/budget).
	Rho    float64 `json:"rho"`
	ZDelta float64 `json:"zcdp_delta,omitempty"`
	// Split says how Epsilon and Delta were divided across the aggregates and partition selection.
	Split []Spend `json:"split"`
	// Mechanism is "laplace" or "gaussian", or "mixed" when the engine
	// chose Laplace for some parts and Gaussian for others (Split names
	// each part's).
	Mechanism string `json:"mechanism"`
	// Groups says how output groups were chosen: "public_domain",
	// "partition_selection" or "single_group".
	Groups string `json:"groups"`
	// Bounding reports the contribution bounds used.
	Bounding Bounding `json:"bounding"`
	// MinCellCount and RoundTo are the suppression and rounding rules applied.
	MinCellCount int `json:"min_cell_count"`
	RoundTo      int `json:"round_to,omitempty"`
	// SuppressBelow is the release threshold of the noisy person count:
	// a row whose noisy count is below it is suppressed. It sits far enough
	// above MinCellCount that a row whose true count is under
	// MinCellCount is released with probability at most 1 %; a row whose
	// true count equals it is released about half the time. 0: no
	// suppression.
	SuppressBelow float64 `json:"suppress_below,omitempty"`
	// SuppressedCells counts suppressed measure cells (primary and secondary).
	SuppressedCells int `json:"suppressed_cells"`
	// Notes are short remarks for the analyst (e.g. how a CI was derived).
	Notes []string `json:"notes,omitempty"`
	// Extract is the version of the extracts the result was computed
	// from: an opaque keyed ID (engine/extract.Version.ID), the same on
	// every replica serving the same data.
	Extract string `json:"extract,omitempty"`
	// ExtractVersion is that version's counter: every `statgate load` and
	// `statgate deliver` makes the next (0: extracts written before
	// versions were counted).
	ExtractVersion int64 `json:"extract_version,omitempty"`
	// DataUpTo is, per dataset read, the month its data reach ("2026-11"):
	// a declared public fact, never read from the rows
	// (engine/delivery.DataUpTo).
	DataUpTo map[string]string `json:"data_up_to,omitempty"`
	// Warnings say when a released answer should not be read as one:
	// a measure whose noise's standard deviation exceeds the range its
	// true value can plausibly take (engine/plausible).
	Warnings []string `json:"warnings,omitempty"`
	// DryRun is set, and Rows empty, when the request asked what it would
	// cost and how accurate it would be without running (?dry_run=true).
	DryRun *DryRun `json:"dry_run,omitempty"`
	// Cached is true when the answer is a free repeat: the stored release
	// of an identical question asked before in the project (CachedFrom is
	// its query id), returned again at no cost.
	Cached     bool   `json:"cached,omitempty"`
	CachedFrom string `json:"cached_from,omitempty"`
}

// DryRun states what a request would cost and how accurate its answer
// would be, from the plan and the policy alone: nothing was read from the
// extracts and nothing was debited.
type DryRun struct {
	// Cost is what the request would debit from each budget it pays.
	Cost []DryRunCost `json:"cost"`
	// Measures gives the expected accuracy of every measure.
	Measures []Expected `json:"measures"`
	// ReleaseThreshold is the noisy person count a row must reach to be
	// released (Meta.SuppressBelow), and SmallestReleasable the smallest
	// true person count released about half of the time; 0: no
	// suppression.
	ReleaseThreshold   float64 `json:"release_threshold"`
	SmallestReleasable int     `json:"smallest_releasable"`
	// BoundsFromData is true when the contribution bounds are chosen from
	// a noisy profile of the data at run time; Meta.Bounding then holds
	// the caps they are chosen under and the expected accuracy is at those.
	BoundsFromData bool `json:"bounds_from_data"`
	// Fits says whether every budget could pay Cost now; BudgetAfter is
	// each budget after paying it.
	Fits        bool          `json:"fits"`
	BudgetAfter []DryRunAfter `json:"budget_after"`
	// Cached is true when the question was answered before in the
	// project: it would be a free repeat, and Cost is zero.
	Cached bool `json:"cached,omitempty"`
}

// DryRunCost is a request's cost to one budget.
type DryRunCost struct {
	Dataset string  `json:"dataset"`
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
	Rho     float64 `json:"rho"`
}

// DryRunAfter is one budget's remaining guarantee after the request.
type DryRunAfter struct {
	// Scope names the budget: "dataset" (the project's budget on
	// Dataset), "project" (the project-wide budget), "member" (Principal's
	// cap in the project) or "lifetime" (Dataset's cap over all projects).
	Scope            string  `json:"scope"`
	Dataset          string  `json:"dataset,omitempty"`
	Principal        string  `json:"principal,omitempty"`
	RemainingEpsilon float64 `json:"remaining_epsilon"`
	RemainingDelta   float64 `json:"remaining_delta"`
	RemainingRho     float64 `json:"remaining_rho"`
}

// Expected is the accuracy a measure would have in every released row.
type Expected struct {
	Measure   string `json:"measure"`
	Aggregate string `json:"aggregate"`
	// Mechanism is the noise the measure would add (as in Meta.Split).
	Mechanism string `json:"mechanism,omitempty"`
	// StdDev is the standard deviation of the measure's noise and
	// HalfWidth95 the half-width of its 95 % interval, for counts and
	// sums; nil when they depend on the group's data (avg, quantiles,
	// variance), which Note then explains.
	StdDev      *float64 `json:"stddev,omitempty"`
	HalfWidth95 *float64 `json:"half_width_95,omitempty"`
	Note        string   `json:"note,omitempty"`
}

// Spend is one part of the budget split.
type Spend struct {
	// Purpose names the column or step, e.g. "persons", "avg(length_of_stay_days)", "partition_selection".
	Purpose string  `json:"purpose"`
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
	// Mechanism is the noise this part adds, "laplace" or "gaussian"
	// (empty for partition selection, the library's own mechanism);
	// TreeMechanism that of a quantile's tree, which may differ from its
	// count's and histogram's.
	Mechanism     string `json:"mechanism,omitempty"`
	TreeMechanism string `json:"tree_mechanism,omitempty"`
}

// Bounding reports the contribution bounds a result was computed under.
type Bounding struct {
	// MaxGroupsPerPerson is L0; MaxRowsPerPersonPerGroup is L∞ for counts.
	MaxGroupsPerPerson       int `json:"max_groups_per_person"`
	MaxRowsPerPersonPerGroup int `json:"max_rows_per_person_per_group"`
	// MaxValuesPerPersonPerGroup is how many of a person's values in one
	// group means, quantiles and spreads take (omitted when the result has
	// none of them).
	MaxValuesPerPersonPerGroup int `json:"max_values_per_person_per_group,omitempty"`
	// Bounds are the clamping bounds per aggregated column.
	Bounds map[string][2]float64 `json:"bounds,omitempty"`
	// L0Step says whether the per-person group limit had to be applied, or
	// why it was not needed ("applied", "one_group_per_person", "domain_within_limit").
	L0Step string `json:"l0_step"`
	// Chosen says where L0 and L∞ came from: "policy" (the datasets'
	// defaults, or the domain's size up to the cap), "request" (fixed by
	// the request) or "estimated" (from a noisy profile of the persons'
	// contributions, paid from the bound_selection share of ε).
	Chosen string `json:"chosen,omitempty"`
	// Truncated is the DP estimate of what the bounds cut, when they were
	// estimated: shares of the person × group pairs and of the rows.
	// Released counts and sums have their intervals widened by it.
	Truncated *Truncated `json:"truncated,omitempty"`
}

// Truncated is what contribution bounds cut, as estimated shares.
type Truncated struct {
	Pairs float64 `json:"pairs"`
	Rows  float64 `json:"rows"`
}
