package refusal

import (
	"fmt"
	"regexp"
)

// Code is a registered refusal code: a stable snake_case name, the one Kind
// (and so the one HTTP status) every refusal with that code has, and a
// line of documentation. The values are the variables of this file; no
// other package can make a Code, so every refusal carries a registered
// code and the kind the registry gives it. The zero Code is no code (what
// CodeOf returns for an error that is not a refusal).
//
// Codes are comparable (use == and switch) and safe for concurrent use.
type Code struct{ e *entry }

// entry is what the registry knows about one code.
type entry struct {
	name string
	kind Kind
	doc  string
}

var (
	// registry holds every code in declaration order; byName indexes it.
	registry []Code
	byName   = map[string]Code{}
	// snakeCase is the shape of a code's name.
	snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
)

// register adds a code to the registry. A bad or repeated name panics
// while the package initialises, so no binary or test runs with one.
func register(name string, k Kind, doc string) Code {
	switch {
	case !snakeCase.MatchString(name):
		panic(fmt.Sprintf("refusal: code %q is not snake_case", name))
	case byName[name] != Code{}:
		panic(fmt.Sprintf("refusal: code %q registered twice", name))
	case k < KindQuery || k > KindNotFound:
		panic(fmt.Sprintf("refusal: code %q has no valid kind", name))
	case doc == "":
		panic(fmt.Sprintf("refusal: code %q has no doc", name))
	}
	c := Code{&entry{name: name, kind: k, doc: doc}}
	registry = append(registry, c)
	byName[name] = c
	return c
}

// String returns the code's name, e.g. "select_star"; "" for the zero Code.
func (c Code) String() string {
	if c.e == nil {
		return ""
	}
	return c.e.name
}

// Kind returns the kind every refusal with this code has. The zero Code,
// which no refusal should carry, has KindQuery.
func (c Code) Kind() Kind {
	if c.e == nil {
		return KindQuery
	}
	return c.e.kind
}

// Doc returns the one-line description of the code.
func (c Code) Doc() string {
	if c.e == nil {
		return ""
	}
	return c.e.doc
}

// MarshalText encodes the code as its name.
func (c Code) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// Lookup returns the registered code of the given name.
func Lookup(name string) (Code, bool) {
	c, ok := byName[name]
	return c, ok
}

// Codes returns every registered code, in the order this file declares them.
func Codes() []Code { return append([]Code(nil), registry...) }

// The codes, by the stage that refuses. Within a stage most codes share a
// kind; the exceptions say so in their doc.

// Parsing (query.Parse).
var (
	QueryTooLong       = register("query_too_long", KindQuery, "the text exceeds query.MaxQueryLength bytes")
	EmptyQuery         = register("empty_query", KindQuery, "no statement at all")
	ParseError         = register("parse_error", KindQuery, "DuckDB's parser refused the text")
	NotASelect         = register("not_a_select", KindQuery, "COPY, ATTACH, PRAGMA, SET, INSTALL, CREATE, DESCRIBE, SHOW, ...: only SELECT is allowed")
	MultipleStatements = register("multiple_statements", KindQuery, "more than one statement")
)

// Statement shape (query.Check).
var (
	SetOperation         = register("set_operation", KindQuery, "UNION, EXCEPT or INTERSECT")
	CTENotAllowed        = register("cte_not_allowed", KindQuery, "WITH")
	RecursiveQuery       = register("recursive_query", KindQuery, "WITH RECURSIVE")
	SelectDistinct       = register("select_distinct", KindQuery, "SELECT DISTINCT [ON]")
	QualifyNotAllowed    = register("qualify_not_allowed", KindQuery, "QUALIFY")
	SampleNotAllowed     = register("sample_not_allowed", KindQuery, "TABLESAMPLE or USING SAMPLE")
	ParameterNotAllowed  = register("parameter_not_allowed", KindQuery, "a prepared-statement parameter ($1, ?, $name) in SQL sent to /v1/query")
	OffsetNotAllowed     = register("offset_not_allowed", KindQuery, "OFFSET")
	BadLimit             = register("bad_limit", KindQuery, "a LIMIT that is not a constant >= 0")
	ClauseNotAllowed     = register("clause_not_allowed", KindQuery, "a clause or modifier the checker does not know")
	ExpressionNotAllowed = register("expression_not_allowed", KindQuery, "an expression form the checker does not know")
	QueryTooComplex      = register("query_too_complex", KindQuery, "expressions nested too deep or too many of them")
)

// FROM (query.Check; access.Control.Dataset for cohort criteria; the
// ledger for a debit; the dataset handler of the API).
var (
	NoFrom = register("no_from", KindQuery, "a SELECT without FROM")
	// UnknownDataset is KindNotFound (404) wherever it is found, in a
	// query's FROM as in GET /v1/datasets/{name}: like unknown_project and
	// unknown_template, the request names something that does not exist.
	UnknownDataset = register("unknown_dataset", KindNotFound, "a name that is not a dataset of the policy")
	// DatasetNotInProject is KindForbidden (403) wherever it is found: the
	// dataset exists, the project may not read it.
	DatasetNotInProject     = register("dataset_not_in_project", KindForbidden, "a dataset the project may not read (or has no budget for)")
	TableFunction           = register("table_function", KindQuery, "read_csv(...), range(...), ... in FROM")
	Subquery                = register("subquery", KindQuery, "a subquery anywhere but a person-level semi join in WHERE")
	FromNotDataset          = register("from_not_dataset", KindQuery, "VALUES, PIVOT, ... in FROM")
	TableModifierNotAllowed = register("table_modifier_not_allowed", KindQuery, "AT (...) or column aliases on a table")
	SelfJoin                = register("self_join", KindQuery, "the same dataset twice")
	JoinTypeNotAllowed      = register("join_type_not_allowed", KindQuery, "LEFT, RIGHT, FULL, CROSS, NATURAL, SEMI, ANTI, ASOF, POSITIONAL or LATERAL join")
	JoinConditionNotAllowed = register("join_condition_not_allowed", KindQuery, "a join not on equal person keys")
	DuplicateTableAlias     = register("duplicate_table_alias", KindQuery, "two tables under one name")
	BadAlias                = register("bad_alias", KindQuery, "an alias statgate does not accept (characters, length)")
)

// Columns (query.Check).
var (
	UnknownColumn       = register("unknown_column", KindQuery, "a column no dataset in FROM has")
	AmbiguousColumn     = register("ambiguous_column", KindQuery, "a column name more than one dataset in FROM has")
	SelectStar          = register("select_star", KindQuery, "*, t.* or COLUMNS(...)")
	PersonKeyInSelect   = register("person_key_in_select", KindQuery, "the person key as (part of) an output or in ORDER BY/HAVING")
	PersonKeyInWhere    = register("person_key_in_where", KindQuery, "the person key in WHERE")
	PersonKeyAggregated = register("person_key_aggregated", KindQuery, "sum(pid), avg(pid), count(pid + 1), count of a LEFT JOINed dataset's key, ...")
	GroupByPersonKey    = register("group_by_person_key", KindQuery, "GROUP BY the person key or an expression of it")
)

// Scalar expressions (query.Check).
var (
	FunctionNotAllowed = register("function_not_allowed", KindQuery, "a function outside the allow-list")
	OperatorNotAllowed = register("operator_not_allowed", KindQuery, "IS DISTINCT FROM, //, ||, SIMILAR TO, ...")
	TypeMismatch       = register("type_mismatch", KindQuery, "operands or arguments of incompatible types")
	CastNotAllowed     = register("cast_not_allowed", KindQuery, "a CAST to a type outside the model, TRY_CAST, or a cast that could fail on data")
	BadLiteral         = register("bad_literal", KindQuery, "a constant the model cannot hold (bad date, huge number, BLOB, ...)")
	BadArgument        = register("bad_argument", KindQuery, "a function argument outside what the function accepts")
	BadRegexp          = register("bad_regexp", KindQuery, "a regexp_matches/regexp_full_match pattern that is not a valid RE2 pattern statgate can check (Unicode classes, named groups, too large)")
	WindowFunction     = register("window_function", KindQuery, "OVER (...)")
)

// Aggregates (query.Check).
var (
	NoAggregate            = register("no_aggregate", KindQuery, "a query without an aggregate")
	MinMaxNotAllowed       = register("min_max_not_allowed", KindQuery, "min or max, which release one person's value")
	AggregateNotAllowed    = register("aggregate_not_allowed", KindQuery, "string_agg, list, first, mode, ...")
	NestedAggregate        = register("nested_aggregate", KindQuery, "an aggregate inside an aggregate")
	AggregateInWhere       = register("aggregate_in_where", KindQuery, "an aggregate in WHERE")
	AggregateInGroupBy     = register("aggregate_in_group_by", KindQuery, "an aggregate in GROUP BY")
	AggregateInExpression  = register("aggregate_in_expression", KindQuery, "an aggregate inside an expression other than round(agg, n): sum(x) * 2, 1 + count(*)")
	AggregateNonNumeric    = register("aggregate_non_numeric", KindQuery, "an aggregate that needs a numeric column, of one that is not")
	AggregateUnbounded     = register("aggregate_unbounded", KindQuery, "an aggregate of a column the policy gives no bounds")
	CountDistinctNotPerson = register("count_distinct_not_person", KindQuery, "count(DISTINCT x) of anything but the person key")
	DistinctAggregate      = register("distinct_aggregate", KindQuery, "sum(DISTINCT x), ...")
	AggregateOrderBy       = register("aggregate_order_by", KindQuery, "sum(x ORDER BY y)")
	AggregateFilter        = register("aggregate_filter", KindQuery, "a FILTER (WHERE ...) in a WITH query")
	BadQuantile            = register("bad_quantile", KindQuery, "a quantile that is not one constant strictly between 0 and 1")
	TooManyAggregates      = register("too_many_aggregates", KindQuery, "more than query.MaxAggregates distinct aggregates")
)

// GROUP BY, HAVING, ORDER BY and the output list (query.Check), and
// query.CompileWhere.
var (
	ColumnNotGrouped           = register("column_not_grouped", KindQuery, "an output column neither grouped nor aggregated")
	ConstantInSelect           = register("constant_in_select", KindQuery, "a constant as an output or a GROUP BY key")
	TooManyGroupKeys           = register("too_many_group_keys", KindQuery, "more than query.MaxGroupKeys GROUP BY keys")
	BadPosition                = register("bad_position", KindQuery, "a GROUP BY or ORDER BY position out of range or at an aggregate")
	DuplicateOutputName        = register("duplicate_output_name", KindQuery, "two outputs with the same name")
	HavingNeedsOutput          = register("having_needs_output", KindQuery, "HAVING on something that is not an output")
	OrderByNeedsOutput         = register("order_by_needs_output", KindQuery, "ORDER BY something that is not an output")
	HavingExpressionNotAllowed = register("having_expression_not_allowed", KindQuery, "functions, LIKE, CASE, ... in HAVING")
	OrderByNullsFirst          = register("order_by_nulls_first", KindQuery, "NULLS FIRST in ORDER BY (suppressed cells sort last)")
	WhereNotACondition         = register("where_not_a_condition", KindQuery, "a cohort criterion's where that is not one boolean condition")
)

// Bounds and release (engine/plan, engine/protect, engine).
var (
	BoundsAboveCap            = register("bounds_above_cap", KindQuery, "requested contribution bounds or clamps outside the policy's caps")
	DomainTooLarge            = register("domain_too_large", KindQuery, "group keys whose public domains together span more than plan.MaxDomainCells groups")
	TooManyGroups             = register("too_many_groups", KindQuery, "public domains giving more than protect.MaxGroups groups")
	NeedsPublicDomain         = register("needs_public_domain", KindQuery, "a group key without a public domain where the policy allows no δ for partition selection")
	EpsilonRangeEmpty         = register("epsilon_range_empty", KindQuery, "datasets whose epsilon_per_query ranges do not overlap")
	EpsilonTooLarge           = register("epsilon_too_large", KindQuery, "an epsilon above the policy's maximum per query")
	EpsilonTooSmall           = register("epsilon_too_small", KindQuery, "an epsilon below the policy's minimum, or too small to divide between the query's parts")
	PrivacyParametersRejected = register("privacy_parameters_rejected", KindQuery, "privacy parameters the noise library refuses")
	QueryTooExpensive         = register("query_too_expensive", KindQuery, "a query over the policy's max_query_cost or max_rows_scanned")
)

// The request (engine, engine/template and the cohort compiler): KindBadRequest.
var (
	BadRequest              = register("bad_request", KindBadRequest, "a request with not exactly one of sql, template or cohort")
	MissingProject          = register("missing_project", KindBadRequest, "a request that names no project")
	BadEpsilon              = register("bad_epsilon", KindBadRequest, "an epsilon that is not a positive number")
	UnknownParameter        = register("unknown_parameter", KindBadRequest, "a parameter the template does not declare")
	MissingParameter        = register("missing_parameter", KindBadRequest, "a template parameter without a value or a default")
	BadParameter            = register("bad_parameter", KindBadRequest, "a template parameter value of the wrong type or outside its range")
	CohortNeedsInclude      = register("cohort_needs_include", KindBadRequest, "a cohort without an include criterion")
	CohortTooManyCriteria   = register("cohort_too_many_criteria", KindBadRequest, "a cohort with more criteria than allowed")
	CohortTooManyBreakdowns = register("cohort_too_many_breakdowns", KindBadRequest, "a cohort broken down by more keys than allowed")
	CohortBadBreakdown      = register("cohort_bad_breakdown", KindBadRequest, "a breakdown that is not age_band or a persons-register column with a public domain")
	CohortNoPopulation      = register("cohort_no_population", KindBadRequest, "a breakdown without a persons register the project may read")
	CohortNoDateColumn      = register("cohort_no_date_column", KindBadRequest, "from/to on a dataset without a date_column")
	CohortBadDate           = register("cohort_bad_date", KindBadRequest, "a from/to that is not a YYYY-MM-DD date")
)

// Access (engine/access, engine): KindNotFound or KindForbidden.
var (
	UnknownProject       = register("unknown_project", KindNotFound, "a project the policy does not declare")
	NotAMember           = register("not_a_member", KindForbidden, "a principal that is not a member of the project")
	RoleNotAllowed       = register("role_not_allowed", KindForbidden, "an action the principal's role does not grant")
	UnknownTemplate      = register("unknown_template", KindNotFound, "a template the policy does not declare")
	TemplateNotInProject = register("template_not_in_project", KindForbidden, "a template reading a dataset the project lacks")
)

// The budget (engine/budget); a debit on a dataset without budget is
// DatasetNotInProject.
var (
	BudgetExhausted = register("budget_exhausted", KindBudget, "a debit the remaining budget cannot cover")
	BudgetNotFound  = register("budget_not_found", KindNotFound, "a balance asked for a project and dataset without a budget")
	ProjectNotFound = register("project_not_found", KindNotFound, "balances asked for a project the policy does not declare")
)

// Person-level WITH queries, LEFT JOIN and aggregates of expressions
// (query.Check, issue 13).
var (
	ExpressionUnbounded    = register("expression_unbounded", KindQuery, "an aggregate of an expression from whose columns' declared bounds no finite bound follows (x / y, an undeclared column)")
	CTENotPersonLevel      = register("cte_not_person_level", KindQuery, "a WITH query that is not grouped by the person key alone, or selects something other than the key and aggregates")
	CTEAggregateNotAllowed = register("cte_aggregate_not_allowed", KindQuery, "an aggregate in a WITH query other than min, max, count, sum, bool_or, arg_min and arg_max (of a column)")
	CTENested              = register("cte_nested", KindQuery, "a WITH query that reads another WITH query or has a WITH of its own")
	CTENameTaken           = register("cte_name_taken", KindQuery, "a WITH query named like a dataset, or two named alike")
	LeftJoinNotPersonLevel = register("left_join_not_person_level", KindQuery, "a LEFT JOIN whose right side is not one row per person (population, death_causes, a person-level WITH)")
)

// The data map (engine/catalog, issue 16).
var (
	UnknownCodeList = register("unknown_code_list", KindNotFound, "a code list or code system the data map does not have")
)

// Rates and survival (engine/compile, engine/epi): KindBadRequest.
var (
	EpiBadSpec       = register("epi_bad_spec", KindBadRequest, "a rates or survival request with a missing or malformed field (dates, interval, horizon, per, standardise)")
	EpiBadStratum    = register("epi_bad_stratum", KindBadRequest, "a rates or survival stratum that is not age_band, year (rates) or a column with a public domain")
	EpiTooManyCells  = register("epi_too_many_cells", KindBadRequest, "strata, years and intervals asking for more than epi.MaxCells cells")
	EpiNoPopulation  = register("epi_no_population", KindBadRequest, "rates, or survival strata from the persons register, without a persons register (with a birth year) the project may read")
	EpiBadDateColumn = register("epi_bad_date_column", KindBadRequest, "an event or index column that is not a date column of its dataset")
)

// Temporal cohort criteria (engine/compile, issue 13 item 6): KindBadRequest.
var (
	CohortBadReference = register("cohort_bad_reference", KindBadRequest, "an after/before naming no other include criterion (out of range, the criterion itself, or on an exclude's index)")
	CohortCycle        = register("cohort_cycle", KindBadRequest, "criteria whose after/before refer to each other in a cycle")
	CohortBadDays      = register("cohort_bad_days", KindBadRequest, "a within_days or none_within_days_before that is negative, zero where a window needs a day, or over 36,525 days")
	CohortBadAge       = register("cohort_bad_age", KindBadRequest, "an age_at_index that is not [min, max] whole years with 0 ≤ min ≤ max ≤ 150")
)
