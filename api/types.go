package api

import (
	"encoding/json"
	"time"
)

// The wire types: the JSON bodies of the API's requests and responses,
// one Go type per schema of openapi.json (TestOpenAPISchemasMatchTypes
// keeps the two equal). They belong to the API, not the engine: convert.go
// fills them from the engine's types and turns request bodies into engine
// requests, so an engine struct can change without changing the wire.
// Field order is the order of the JSON members. They are plain values,
// safe for concurrent reads.

// StatusBody is the body of /healthz and /readyz.
type StatusBody struct {
	Status string `json:"status"`
}

// QueryBody is the body of POST /v1/query.
type QueryBody struct {
	Project string `json:"project"`
	SQL     string `json:"sql"`
	// Epsilon is the ε to spend, within the policy's range; omitted: the default.
	Epsilon *float64 `json:"epsilon,omitempty"`
	// Totals asks for margins with secondary suppression.
	Totals bool `json:"totals,omitempty"`
	// Bounds fixes contribution bounds at or under the policy's caps.
	Bounds *Bounds `json:"bounds,omitempty"`
}

// TemplateRunBody is the body of POST /v1/templates/{name}/run.
type TemplateRunBody struct {
	Project string         `json:"project"`
	Params  map[string]any `json:"params"`
	// Bounds fixes contribution bounds at or under the policy's caps.
	Bounds *Bounds `json:"bounds,omitempty"`
}

// CohortBody is the body of POST /v1/cohorts/estimate.
type CohortBody struct {
	Project   string      `json:"project"`
	Include   []Criterion `json:"include"`
	Exclude   []Criterion `json:"exclude,omitempty"`
	Breakdown []string    `json:"breakdown,omitempty"`
	// Epsilon is the ε to spend, within the policy's range; omitted: the default.
	Epsilon *float64 `json:"epsilon,omitempty"`
	// Bounds fixes contribution bounds at or under the policy's caps.
	Bounds *Bounds `json:"bounds,omitempty"`
}

// Criterion is one registry condition of a cohort: a person meets it when
// the dataset has a row for them where Where holds, dated within
// [From, To] when given.
type Criterion struct {
	Dataset string `json:"dataset"`
	Where   string `json:"where"`
	// From and To are optional ISO dates (YYYY-MM-DD), inclusive.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// After and Before date the criterion's rows relative to the index
	// date of another include criterion; NoneWithinDaysBefore is a
	// washout; AgeAtIndex [min, max] bounds the age at the index date
	// (see engine.Criterion).
	After                *RelativeTo `json:"after,omitempty"`
	Before               *RelativeTo `json:"before,omitempty"`
	NoneWithinDaysBefore *int        `json:"none_within_days_before,omitempty"`
	AgeAtIndex           []int       `json:"age_at_index,omitempty"`
}

// RelativeTo names an include criterion by its position (from 0) and
// optionally the most days between its index date and the row's date.
type RelativeTo struct {
	Criterion  int  `json:"criterion"`
	WithinDays *int `json:"within_days,omitempty"`
}

// Bounds are contribution bounds a request fixes, each at or under the
// policy's caps; zero fields are left to the engine.
type Bounds struct {
	// MaxGroupsPerPerson is L0.
	MaxGroupsPerPerson int `json:"max_groups_per_person,omitempty"`
	// MaxRowsPerPersonPerGroup is L∞ for counts.
	MaxRowsPerPersonPerGroup int `json:"max_rows_per_person_per_group,omitempty"`
	// Clamp narrows the declared bounds [lo, hi] of numeric columns, by column name.
	Clamp map[string][2]float64 `json:"clamp,omitempty"`
}

// Result is a protected, releasable table: the body of a query, template
// run or cohort estimate answered as JSON. Every row has one cell per column.
type Result struct {
	Columns []Column `json:"columns"`
	Rows    []Row    `json:"rows"`
	Meta    Meta     `json:"meta"`
}

// The roles of a Column.
const (
	RoleKey     = "key"
	RoleMeasure = "measure"
)

// The value types of a Column.
const (
	TypeString  = "string"
	TypeInteger = "integer"
	TypeNumber  = "number"
	TypeDate    = "date"
	TypeBool    = "boolean"
)

// Column describes one released column.
type Column struct {
	Name string `json:"name"`
	// Role is RoleKey or RoleMeasure.
	Role string `json:"role"`
	// Type is one of the Type constants.
	Type string `json:"type"`
	// Aggregate is the measure's aggregate kind (e.g. "count_persons", "avg"); empty for keys.
	Aggregate string `json:"aggregate,omitempty"`
}

// Row is one released group.
type Row struct {
	Cells []Cell `json:"cells"`
	// Margin is true for a total row; its rolled-up key cells are null.
	Margin bool `json:"margin,omitempty"`
}

// Cell is one released value.
type Cell struct {
	// Value is the key value (dates as YYYY-MM-DD) or the noisy measure;
	// nil when suppressed or NULL.
	Value any `json:"value"`
	// Suppressed is true when the measure is withheld.
	Suppressed bool `json:"suppressed,omitempty"`
	// Reason says why a cell is suppressed: "min_cell_count" or
	// "secondary", or for an expression of aggregates
	// "denominator_may_be_zero" or "out_of_range".
	Reason string `json:"reason,omitempty"`
	// StdDev is the standard deviation of the noise added to a measure.
	StdDev float64 `json:"stddev,omitempty"`
	// CI is the 95% confidence interval [lo, hi] of a measure.
	CI *[2]float64 `json:"ci95,omitempty"`
}

// Meta describes how a result was protected. In CSV and Arrow renderings
// it is summarised in response headers, and in Arrow it is also the
// schema metadata under MetaKey.
type Meta struct {
	QueryID  string    `json:"query_id"`
	Time     time.Time `json:"time"`
	Project  string    `json:"project"`
	Datasets []string  `json:"datasets"`
	// Epsilon and Delta are what the query debited from each dataset's budget.
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
	// Rho is the query's ρ charged to the zCDP account, ZDelta the δ
	// beside it (partition selection).
	Rho    float64 `json:"rho"`
	ZDelta float64 `json:"zcdp_delta,omitempty"`
	// Split says how Epsilon and Delta were divided.
	Split []Spend `json:"split"`
	// Mechanism is "laplace", "gaussian", or "mixed" when the parts
	// (Split) add different noises.
	Mechanism string `json:"mechanism"`
	// Groups says how output groups were chosen: "public_domain",
	// "partition_selection" or "single_group".
	Groups string `json:"groups"`
	// Bounding reports the contribution bounds used.
	Bounding Bounding `json:"bounding"`
	// MinCellCount and RoundTo are the suppression and rounding rules applied.
	MinCellCount int `json:"min_cell_count"`
	RoundTo      int `json:"round_to,omitempty"`
	// SuppressBelow is the release threshold of the noisy person count; 0: none.
	SuppressBelow float64 `json:"suppress_below,omitempty"`
	// SuppressedCells counts suppressed measure cells.
	SuppressedCells int `json:"suppressed_cells"`
	// Notes are short remarks for the analyst.
	Notes []string `json:"notes,omitempty"`
	// Extract is the opaque ID of the extracts version the result was
	// computed from (the same on every replica serving the same data).
	Extract string `json:"extract,omitempty"`
	// ExtractVersion is that version's counter (every load and delivery
	// makes the next).
	ExtractVersion int64 `json:"extract_version,omitempty"`
	// DataUpTo is, per dataset read, the month its data reach ("2026-11").
	DataUpTo map[string]string `json:"data_up_to,omitempty"`
	// Warnings say when an answer is mostly noise (see result.Meta.Warnings).
	Warnings []string `json:"warnings,omitempty"`
	// DryRun is set, and Rows empty, for ?dry_run=true: the cost and the
	// expected accuracy, with nothing read or debited.
	DryRun *DryRun `json:"dry_run,omitempty"`
	// Cached is true for a free repeat: the stored release of an
	// identical question (CachedFrom its query id), at no cost.
	Cached     bool   `json:"cached,omitempty"`
	CachedFrom string `json:"cached_from,omitempty"`
}

// Spend is one part of a result's budget split.
type Spend struct {
	// Purpose names the column or step, e.g. "persons", "partition_selection".
	Purpose string  `json:"purpose"`
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
	// Mechanism is the noise this part adds ("laplace" or "gaussian";
	// absent for partition selection); TreeMechanism a quantile tree's.
	Mechanism     string `json:"mechanism,omitempty"`
	TreeMechanism string `json:"tree_mechanism,omitempty"`
}

// Bounding reports the contribution bounds a result was computed under.
type Bounding struct {
	MaxGroupsPerPerson       int `json:"max_groups_per_person"`
	MaxRowsPerPersonPerGroup int `json:"max_rows_per_person_per_group"`
	// MaxValuesPerPersonPerGroup is how many of a person's values in one
	// group means, quantiles and spreads take (omitted without them).
	MaxValuesPerPersonPerGroup int `json:"max_values_per_person_per_group,omitempty"`
	// Bounds are the clamping bounds per aggregated column.
	Bounds map[string][2]float64 `json:"bounds,omitempty"`
	// L0Step is "applied", "one_group_per_person" or "domain_within_limit".
	L0Step string `json:"l0_step"`
	// Chosen is "policy", "request" or "estimated".
	Chosen string `json:"chosen,omitempty"`
	// Truncated is the estimated share of what estimated bounds cut.
	Truncated *Truncated `json:"truncated,omitempty"`
}

// Truncated is what contribution bounds cut, as estimated shares.
type Truncated struct {
	Pairs float64 `json:"pairs"`
	Rows  float64 `json:"rows"`
}

// DatasetList is the body of GET /v1/datasets.
type DatasetList struct {
	Datasets []Dataset `json:"datasets"`
}

// Dataset is one dataset of the data map: the body of GET /v1/datasets/{name}.
type Dataset struct {
	Name            string `json:"name"`
	Title           string `json:"title"`
	Description     string `json:"description,omitempty"`
	PersonKey       string `json:"person_key"`
	OneRowPerPerson bool   `json:"one_row_per_person"`
	// Size is the number of rows in words ("about 12,000", "unknown").
	Size string `json:"size"`
	// ApproxRows is the row count to two significant figures; 0 when small or unknown.
	ApproxRows int64 `json:"approx_rows"`
	// LastDelivery is when the dataset's last load or delivery was written.
	LastDelivery *time.Time `json:"last_delivery,omitempty"`
	// DataUpTo is the month the data reach ("2026-11"), a declared public fact.
	DataUpTo string          `json:"data_up_to,omitempty"`
	Bounding DatasetBounding `json:"bounding"`
	Columns  []DatasetColumn `json:"columns"`
	// Hits is the number of search matches (?q= only).
	Hits int `json:"hits,omitempty"`
	// Matches say which field each search word matched (?q= only).
	Matches []SearchMatch `json:"matches,omitempty"`
}

// SearchMatch says which field of a dataset a search word matched.
type SearchMatch struct {
	// Column is the matching column; empty for the dataset's own fields.
	Column string `json:"column,omitempty"`
	// Field is "name", "title", "description", "code_system", "code_list",
	// "domain" (a listed value) or "label" (a code's name).
	Field string `json:"field"`
	// Text is the matching text, e.g. "A10BA02 metformin".
	Text string `json:"text"`
	// Word is the query word; Via the synonym that matched, if another.
	Word string `json:"word"`
	Via  string `json:"via,omitempty"`
}

// CodeListList is the body of GET /v1/codelists: every code list and
// code system, without their codes.
type CodeListList struct {
	CodeLists []CodeList `json:"code_lists"`
}

// CodeList is a code list (a public domain) or a code system (names of
// codes): the body of GET /v1/codelists/{name}.
type CodeList struct {
	Name string `json:"name"`
	// Kind is "code_list" or "code_system".
	Kind    string `json:"kind"`
	Source  string `json:"source,omitempty"`
	Licence string `json:"licence,omitempty"`
	Count   int    `json:"count"`
	// UsedBy lists the columns ("dataset.column") that use it.
	UsedBy []string `json:"used_by"`
	// Codes are the codes (GET /v1/codelists/{name} only; filtered by ?q=).
	Codes []CodeListCode `json:"codes,omitempty"`
}

// CodeListCode is one code with its name.
type CodeListCode struct {
	Code  string `json:"code"`
	Name  string `json:"name,omitempty"`
	Level string `json:"level,omitempty"`
}

// DatasetBounding is how a dataset's contributions are bounded and what
// one query may spend on it.
type DatasetBounding struct {
	MaxGroupsPerPerson       int             `json:"max_groups_per_person"`
	MaxRowsPerPersonPerGroup int             `json:"max_rows_per_person_per_group"`
	MinCellCount             int             `json:"min_cell_count"`
	RoundTo                  int             `json:"round_to"`
	Epsilon                  EpsilonPerQuery `json:"epsilon_per_query"`
	DeltaPerQuery            float64         `json:"delta_per_query"`
	Noise                    string          `json:"noise"`
}

// EpsilonPerQuery is the default and maximum ε of one query.
type EpsilonPerQuery struct {
	Default float64 `json:"default"`
	Max     float64 `json:"max"`
}

// DatasetColumn is one column of a dataset.
type DatasetColumn struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	CodeSystem  string `json:"code_system,omitempty"`
	// PersonKey marks the dataset's person key.
	PersonKey bool `json:"person_key,omitempty"`
	// Bounds are the clamping bounds of a numeric column.
	Bounds *[2]float64 `json:"bounds,omitempty"`
	// PublicDomain summarises the values the column (or a date's year) may take.
	PublicDomain *Domain `json:"public_domain,omitempty"`
	// PrefixDomains summarise the public domains of the column's first n
	// characters, by increasing n.
	PrefixDomains []PrefixDomain `json:"prefix_domains,omitempty"`
	// Matched marks a column that matched a search.
	Matched bool `json:"matched,omitempty"`
}

// Domain summarises a public domain.
type Domain struct {
	// Kind is "values", "code_list", "range" or "years".
	Kind string `json:"kind"`
	// Values lists the values of a small domain.
	Values []string `json:"values,omitempty"`
	// CodeList names the code list the values come from.
	CodeList string `json:"code_list,omitempty"`
	// Count is the number of values.
	Count int `json:"count"`
	// Range is [lo, hi] of a range or years domain.
	Range *[2]int `json:"range,omitempty"`
	// Summary says it in words, e.g. "M, F", "years 2010–2024".
	Summary string `json:"summary"`
}

// PrefixDomain is the public domain of a column's first Length characters.
type PrefixDomain struct {
	Length int `json:"length"`
	Domain
}

// TemplateList is the body of GET /v1/templates.
type TemplateList struct {
	Templates []TemplateInfo `json:"templates"`
}

// TemplateInfo describes an approved template to the principals who may run it.
type TemplateInfo struct {
	Name        string      `json:"name"`
	Title       string      `json:"title"`
	Description string      `json:"description,omitempty"`
	Datasets    []string    `json:"datasets"`
	Params      []ParamInfo `json:"params"`
	// Epsilon is what one run costs on each of Datasets.
	Epsilon float64 `json:"epsilon"`
	// SQL is the approved query text with its placeholders.
	SQL string `json:"sql"`
}

// ParamInfo describes one template parameter.
type ParamInfo struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Description string   `json:"description,omitempty"`
	Pattern     string   `json:"pattern,omitempty"`
	Min         *float64 `json:"min,omitempty"`
	Max         *float64 `json:"max,omitempty"`
	Enum        []string `json:"enum,omitempty"`
	Default     any      `json:"default,omitempty"`
	Required    bool     `json:"required"`
}

// BudgetReport is a project's budget per dataset: the body of
// GET /v1/projects/{id}/budget.
type BudgetReport struct {
	Project  string          `json:"project"`
	Datasets []DatasetBudget `json:"datasets"`
	// Caps are the other budgets the project's queries are charged to:
	// its project-wide budget, its members' caps, its datasets' lifetime
	// budgets over all projects (only those the policy declares).
	Caps []CapBudget `json:"caps"`
	// PerPerson is the guarantee the project gives each person.
	PerPerson PerPerson `json:"per_person"`
}

// CapBudget is one budget beyond project × dataset.
type CapBudget struct {
	// Scope is "project", "member" (Principal's cap) or "lifetime"
	// (Dataset's budget over all projects).
	Scope     string `json:"scope"`
	Dataset   string `json:"dataset,omitempty"`
	Principal string `json:"principal,omitempty"`
	Epsilon   Amount `json:"epsilon"`
	Delta     Amount `json:"delta"`
	Rho       Amount `json:"rho"`
	Bound     string `json:"bound"`
	// DeltaFrom says where Delta.Total comes from: "declared", or for a
	// cap written with ε alone the budgets it sits over ("project_budget",
	// "dataset_budgets", "projects", or "ceiling": that sum capped at 0.5).
	DeltaFrom string `json:"delta_from"`
}

// PerPerson is what one person can lose in a project, whatever datasets
// its queries join: at most Epsilon and Delta (From "project_budget" or
// "datasets", their sum), and SpentEpsilon and SpentDelta so far (Bound:
// the smaller valid bound).
type PerPerson struct {
	Epsilon      float64 `json:"epsilon"`
	Delta        float64 `json:"delta"`
	From         string  `json:"from"`
	SpentEpsilon float64 `json:"spent_epsilon"`
	SpentDelta   float64 `json:"spent_delta"`
	Bound        string  `json:"bound"`
}

// DatasetBudget is the budget of one project × dataset.
type DatasetBudget struct {
	Dataset string `json:"dataset"`
	// Epsilon and Delta are the (ε, δ) guarantee spent, under Bound.
	Epsilon Amount `json:"epsilon"`
	Delta   Amount `json:"delta"`
	// Rho is the zCDP account (ρ spent, allowed, left).
	Rho Amount `json:"rho"`
	// Accounting is "zcdp" or "basic"; Bound the account the guarantee
	// comes from.
	Accounting string `json:"accounting"`
	Bound      string `json:"bound"`
}

// BudgetHistory is the body of GET /v1/projects/{id}/budget/history: a
// page of the project's debits, newest first.
type BudgetHistory struct {
	Project string         `json:"project"`
	Debits  []HistoryDebit `json:"debits"`
	// NextBefore is the before of the next (older) page; absent on the last.
	NextBefore int64 `json:"next_before,omitempty"`
}

// HistoryDebit is one query's debit: its cost, charged once to the
// project and to each dataset it read, when, by whom, and what kind of
// request. Free repeats and dry runs debit nothing and are not listed.
type HistoryDebit struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	QueryID   string    `json:"query_id"`
	Principal string    `json:"principal"`
	Kind      string    `json:"kind"`
	Datasets  []string  `json:"datasets"`
	Epsilon   float64   `json:"epsilon"`
	Delta     float64   `json:"delta"`
	Rho       float64   `json:"rho"`
}

// Amount is a budget total, what was spent, and what remains (never negative).
type Amount struct {
	Total     float64 `json:"total"`
	Spent     float64 `json:"spent"`
	Remaining float64 `json:"remaining"`
}

// AuditList is the body of GET /v1/audit, newest entries as the engine returns them.
type AuditList struct {
	Entries []AuditEntry `json:"entries"`
}

// AuditEntry is one hash-chained audit log entry. Hash is computed by the
// engine over its own encoding of the entry, not over this JSON.
type AuditEntry struct {
	Seq       int64     `json:"seq"`
	Time      time.Time `json:"time"`
	QueryID   string    `json:"query_id,omitempty"`
	Principal string    `json:"principal"`
	Project   string    `json:"project"`
	Datasets  []string  `json:"datasets"`
	// Kind is "sql", "template", "cohort" or another kind of request.
	Kind string `json:"kind"`
	// Query is the SQL text or the cohort specification as JSON.
	Query string `json:"query,omitempty"`
	// Template and Params name the template run and its parameter values.
	Template string          `json:"template,omitempty"`
	Params   json.RawMessage `json:"params,omitempty"`
	// PlanHash is the hex SHA-256 of the SQL that was (or would have been) executed.
	PlanHash string `json:"plan_hash,omitempty"`
	// Epsilon and Delta are what the request debited from each dataset.
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
	// Outcome is "released", "refused" or "failed".
	Outcome string `json:"outcome"`
	// Reason is the refusal code of a refused or failed request.
	Reason string `json:"reason,omitempty"`
	// ResultDigest is the hex SHA-256 of the released result as the engine encodes it.
	ResultDigest string `json:"result_digest,omitempty"`
	// PrevHash is the Hash of the previous entry.
	PrevHash string `json:"prev_hash"`
	// Hash is the hex SHA-256 of this entry's canonical encoding.
	Hash string `json:"hash"`
}

// SQLReference is the allowed SQL subset, listed from the checker's own
// allow-list: the body of GET /v1/sql/reference.
type SQLReference struct {
	Statement  []SQLClause   `json:"statement"`
	Functions  []SQLFunction `json:"functions"`
	Aggregates []SQLFunction `json:"aggregates"`
	Refused    []SQLRefused  `json:"refused"`
	Codes      []RefusalCode `json:"codes"`
}

// SQLClause is one clause of the statement form and what it may hold.
type SQLClause struct {
	Clause string `json:"clause"`
	Rule   string `json:"rule"`
}

// SQLFunction is an allowed scalar function or aggregate.
type SQLFunction struct {
	Name string `json:"name"`
	// Synonyms are other names accepted for it.
	Synonyms  []string `json:"synonyms,omitempty"`
	Signature string   `json:"signature"`
	Doc       string   `json:"doc"`
	// Example is a query the checker accepts over the shipped policy.
	Example string `json:"example"`
}

// SQLRefused is a group of names refused with one code and hint.
type SQLRefused struct {
	Names  []string `json:"names"`
	Code   string   `json:"code"`
	Reason string   `json:"reason"`
	Hint   string   `json:"hint,omitempty"`
}

// RefusalCode is a refusal code a query can get, with what it refuses.
type RefusalCode struct {
	Code string `json:"code"`
	Doc  string `json:"doc"`
}

// Me is the body of GET /v1/me: who the bearer token belongs to and the
// projects they may work in.
type Me struct {
	Principal string              `json:"principal"`
	Projects  []ProjectMembership `json:"projects"`
}

// ProjectMembership is one project of the caller, with their role and
// the actions it allows ("templates", "sql", "cohorts", "audit", "tokens").
type ProjectMembership struct {
	Project  string   `json:"project"`
	Title    string   `json:"title"`
	Role     string   `json:"role"`
	Actions  []string `json:"actions"`
	Datasets []string `json:"datasets"`
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
	// Mechanism is the noise the measure would add.
	Mechanism string `json:"mechanism,omitempty"`
	// StdDev is the standard deviation of the measure's noise and
	// HalfWidth95 the half-width of its 95 % interval, for counts and
	// sums; nil when they depend on the group's data (avg, quantiles,
	// variance), which Note then explains.
	StdDev      *float64 `json:"stddev,omitempty"`
	HalfWidth95 *float64 `json:"half_width_95,omitempty"`
	Note        string   `json:"note,omitempty"`
}
