// Package policies holds the policy format: what a registry owner declares
// about its datasets (columns, bounds, public domains, suppression rules),
// its projects (budgets and members) and its approved query templates. It
// loads and validates policy files; it knows nothing about DuckDB or HTTP.
package policies

// Policy is one loaded, validated policy file. It is read-only after Load
// and safe for concurrent use.
type Policy struct {
	// Path is the absolute path of the file the policy was loaded from.
	Path string
	// Datasets by name (the name is the table name analysts query).
	Datasets map[string]*Dataset
	// Projects by id.
	Projects map[string]*Project
	// Templates by name.
	Templates map[string]*Template
	// Roles by name: which actions each role may take.
	Roles map[string]*Role
	// CodeLists are named public code lists columns may refer to as their domain.
	CodeLists map[string][]string
	// Limits cap the work one query may ask for.
	Limits Limits
	// Accounting is how spending composes: AccountingZCDP (the default)
	// or AccountingBasic. Budgets are declared as (ε, δ) under either.
	Accounting string
	// DataMap is who may read the data map: DataMapPublic (the default) or DataMapToken.
	DataMap string
	// Labels name codes for the data map and its search, by code list
	// (from a code list file's name column) or code system (code_systems).
	Labels map[string]*LabelSet
	// Catalog is what metadata catalogues are told (DCAT-AP); optional.
	Catalog Catalog
}

// The accountings a policy's accounting may name (engine/budget implements
// them).
const (
	// AccountingZCDP charges every query its ρ (zero-concentrated DP)
	// beside its ε and δ, and states the smaller of the two bounds.
	AccountingZCDP = "zcdp"
	// AccountingBasic sums ε and δ.
	AccountingBasic = "basic"
)

// Limits cap the work of one query, whoever asks; a query over a cap is
// refused before any debit ("query_too_expensive"). 0 means no cap.
type Limits struct {
	// MaxQueryCost caps the estimated noise draws of a query's protection:
	// output groups times each aggregate's draws per group (a count one, a
	// quantile about two hundred: three walks of its noisy tree). Default
	// DefaultMaxQueryCost.
	MaxQueryCost int64
	// MaxRowsScanned caps the rows of the datasets a query reads (the sum
	// of their sizes when the engine opened). Default 0: no cap.
	MaxRowsScanned int64
}

// ColumnType is the declared type of a dataset column.
type ColumnType string

// The column types a policy may declare. The loader checks the extract's
// physical column against them (id: integer or string; date: DATE;
// integer: any integer; number: any integer or floating point; code,
// category and string: VARCHAR).
const (
	TypeID       ColumnType = "id"
	TypeDate     ColumnType = "date"
	TypeCode     ColumnType = "code"
	TypeCategory ColumnType = "category"
	TypeString   ColumnType = "string"
	TypeInteger  ColumnType = "integer"
	TypeNumber   ColumnType = "number"
)

// Dataset is one registry extract as the owner declares it.
type Dataset struct {
	Name        string
	Title       string
	Description string
	// Source is the extract file (Parquet, CSV or gzipped CSV), resolved to
	// an absolute path relative to the policy file.
	Source string
	// PersonKey names the column that identifies the person (the privacy unit).
	PersonKey string
	// OneRowPerPerson declares that every person has at most one row (e.g.
	// the population register); the loader verifies it. Group keys that are
	// functions of such a dataset's columns put each person in one group.
	OneRowPerPerson bool
	// MaxGroupsPerPerson is L0 by default: the number of output groups one
	// person may contribute to when nothing public says more is needed.
	// MaxGroupsPerPersonCap is the most the engine may choose for a query
	// (when the keys' public domains are that small, every group of a
	// person is kept and nothing is truncated) or a request may fix. A
	// scalar max_groups_per_person sets both; {default, max} sets each.
	MaxGroupsPerPerson    int
	MaxGroupsPerPersonCap int
	// MaxRowsPerPersonPerGroup is L∞ for counts by default: rows one person
	// may add to one group; MaxRowsPerPersonPerGroupCap the most a query
	// may use. Declared like max_groups_per_person.
	MaxRowsPerPersonPerGroup    int
	MaxRowsPerPersonPerGroupCap int
	// MinCellCount: a released cell whose noisy person count is below it is suppressed.
	MinCellCount int
	// RoundTo rounds released counts to a multiple of it (0 or 1: no rounding).
	RoundTo int
	// Epsilon is the per-query ε: the least and the most a request may ask
	// for, and the default.
	Epsilon EpsilonRange
	// DeltaPerQuery is the δ one query spends (Gaussian noise, DP partition
	// selection of groups without a public domain). 0 means pure ε: such a
	// query may only group by keys with a public domain.
	DeltaPerQuery float64
	// Noise is "auto" (default: the engine gives every noisy part of a
	// query the one of Laplace and Gaussian noise that is more accurate at
	// its share of ε and δ; Laplace throughout when DeltaPerQuery is 0),
	// "laplace" or "gaussian" (requires DeltaPerQuery > 0).
	Noise string
	// Columns in declared order.
	Columns []*Column
	// Role is RolePersons for the persons register that cohort estimates
	// count persons in and break down by (at most one per policy, and
	// one_row_per_person); "" for other datasets.
	Role DatasetRole
	// BirthYearColumn names the persons register's integer year-of-birth
	// column, which the cohort breakdown age_band reads; "" when none.
	BirthYearColumn string
	// LifetimeBudget, when set, caps what every project together may spend
	// on the dataset (lifetime_budget): the most any one person's record
	// in it loses over all projects. nil: no such cap.
	LifetimeBudget *Budget
	// DateColumn names the date column that a cohort criterion's from/to
	// bound (the date of what one row records, e.g. the contact date);
	// "" when none, and then a criterion on the dataset may not give from/to.
	DateColumn string
}

// EpsilonRange is the least, default and greatest ε of one query. A
// request below Min is refused before any debit ("epsilon_too_small"):
// tiny ε gives answers that are pure noise while the ledger charges
// almost nothing, so without a floor the budget throttles nothing.
type EpsilonRange struct {
	Min     float64
	Default float64
	Max     float64
}

// Column is one declared column of a dataset.
type Column struct {
	Name        string
	Type        ColumnType
	Description string
	// CodeSystem names the classification of a code column (ICD-10, ATC, kommunenummer).
	CodeSystem string
	// Bounds are the declared [lo, hi] for a numeric column; nil when none.
	// Numeric aggregates are refused over columns without bounds.
	Bounds *[2]float64
	// Domain is the column's public domain (every value it may take), if any.
	Domain *Domain
	// Years is the public domain [from, to] of year(col) for a date column; nil when none.
	Years *[2]int
	// PrefixDomains are public domains of the column's first n characters
	// (left(col, n) or substr(col, 1, n)), by n; nil when none.
	PrefixDomains map[int]*Domain
}

// Domain is a public domain: the full list of values a key may take, known
// without looking at the data. Exactly one of Values and Range is set.
type Domain struct {
	// Values lists the values (for a code list, its expanded values).
	Values []string
	// CodeList names the code list Values came from, if any.
	CodeList string
	// Range is an inclusive integer range [lo, hi], e.g. birth years.
	Range *[2]int
}

// Project is a research or industry project with its own budget.
type Project struct {
	ID       string
	Title    string
	Datasets []string
	// Budget is the total (ε, δ) the project may spend on each of its
	// datasets (budget): a cap per dataset. With a ProjectBudget it is
	// optional (DatasetBudgets false: no cap per dataset).
	Budget Budget
	// DatasetBudgets says whether Budget was declared.
	DatasetBudgets bool
	// ProjectBudget, when set (project_budget), is the project-wide
	// budget: every query is charged it once, whatever datasets it joins,
	// so it bounds what one person loses in the project. nil: none (each
	// dataset's Budget alone, as before project budgets existed).
	ProjectBudget *Budget
	Members       []Member
}

// Budget is a total privacy budget under basic composition.
type Budget struct {
	Epsilon float64
	Delta   float64
}

// Member grants a principal a role in a project.
type Member struct {
	Principal string
	Role      string
	// Budget, when set, caps what the member's own queries may spend in
	// the project, all datasets together (charged once per query). nil:
	// no cap of their own.
	Budget *Budget
}

// Action is something a role may be allowed to do.
type Action string

// The actions roles can grant.
const (
	ActionTemplates Action = "templates"
	ActionSQL       Action = "sql"
	ActionCohorts   Action = "cohorts"
	ActionAudit     Action = "audit"
	ActionTokens    Action = "tokens"
)

// Role names a set of allowed actions.
type Role struct {
	Name    string
	Actions []Action
}

// Template is a parametrised aggregate query the owner approved.
type Template struct {
	Name        string
	Title       string
	Description string
	// SQL holds :name placeholders for its parameters.
	SQL string
	// Datasets the template reads (derived from the SQL's FROM at load time
	// by the engine; declared here for validation).
	Datasets []string
	Params   map[string]*Param
	// Epsilon is the fixed ε one run costs.
	Epsilon float64
}

// ParamType is the type of a template parameter.
type ParamType string

// The parameter types templates may declare.
const (
	ParamString  ParamType = "string"
	ParamInteger ParamType = "integer"
	ParamNumber  ParamType = "number"
	ParamDate    ParamType = "date"
)

// Param declares one template parameter.
type Param struct {
	Name        string
	Type        ParamType
	Description string
	// Pattern is a regular expression a string parameter must match in full.
	Pattern string
	// Min and Max bound integer and number parameters (inclusive); nil when unbounded.
	Min, Max *float64
	// Enum lists the allowed values, if restricted.
	Enum []string
	// Default is used when the request omits the parameter; nil: required.
	Default any
}
