package query

import (
	"fmt"

	"github.com/statgate/statgate/engine/refusal"
)

// The refusal codes of package query. Every refusal Parse, Check, Compile
// and CompileWhere return is a *refusal.Error of Kind refusal.KindQuery with
// one of these codes; the codes are stable (clients and the rejection
// corpus testdata/queries/rejected.txt match on them), the messages are not.
// Messages name parts of the query and the policy, never data values.
const (
	// Parsing (Parse).
	CodeQueryTooLong       = "query_too_long"      // the text exceeds MaxQueryLength
	CodeEmptyQuery         = "empty_query"         // no statement at all
	CodeParseError         = "parse_error"         // DuckDB's parser refused the text
	CodeNotASelect         = "not_a_select"        // COPY, ATTACH, PRAGMA, SET, INSTALL, CREATE, DESCRIBE, SHOW, ...
	CodeMultipleStatements = "multiple_statements" // more than one statement

	// Statement shape.
	CodeSetOperation         = "set_operation"          // UNION / EXCEPT / INTERSECT
	CodeCTE                  = "cte_not_allowed"        // WITH
	CodeRecursive            = "recursive_query"        // WITH RECURSIVE
	CodeSelectDistinct       = "select_distinct"        // SELECT DISTINCT [ON]
	CodeQualify              = "qualify_not_allowed"    // QUALIFY
	CodeSample               = "sample_not_allowed"     // TABLESAMPLE / USING SAMPLE
	CodeParameter            = "parameter_not_allowed"  // $1, ?, $name
	CodeOffset               = "offset_not_allowed"     // OFFSET
	CodeBadLimit             = "bad_limit"              // LIMIT that is not a constant >= 0
	CodeClauseNotAllowed     = "clause_not_allowed"     // any other clause or modifier the checker does not know
	CodeExpressionNotAllowed = "expression_not_allowed" // an expression form the checker does not know
	CodeTooComplex           = "query_too_complex"      // expressions nested too deep or too many of them

	// FROM.
	CodeNoFrom              = "no_from"                    // SELECT without FROM
	CodeUnknownDataset      = "unknown_dataset"            // not a dataset of the policy
	CodeNotInProject        = "dataset_not_in_project"     // a dataset the project may not read
	CodeTableFunction       = "table_function"             // read_csv(...), range(...), ... in FROM
	CodeSubquery            = "subquery"                   // a subquery anywhere
	CodeFromNotDataset      = "from_not_dataset"           // VALUES, PIVOT, ... in FROM
	CodeTableModifier       = "table_modifier_not_allowed" // AT (...), column aliases on a table
	CodeSelfJoin            = "self_join"                  // the same dataset twice
	CodeJoinType            = "join_type_not_allowed"      // LEFT, RIGHT, FULL, CROSS, NATURAL, SEMI, ANTI, ASOF, POSITIONAL, LATERAL
	CodeJoinCondition       = "join_condition_not_allowed" // a join not on equal person keys
	CodeDuplicateTableAlias = "duplicate_table_alias"      // two tables under one name
	CodeBadAlias            = "bad_alias"                  // an alias statgate does not accept (characters, length)

	// Columns.
	CodeUnknownColumn     = "unknown_column"
	CodeAmbiguousColumn   = "ambiguous_column"
	CodeSelectStar        = "select_star"           // *, t.*, COLUMNS(...)
	CodePersonKeyInSelect = "person_key_in_select"  // the person key as (part of) an output or ORDER BY/HAVING
	CodePersonKeyInWhere  = "person_key_in_where"   // the person key in WHERE
	CodePersonKeyAgg      = "person_key_aggregated" // sum(pid), count(pid), avg(pid), ...
	CodeGroupByPersonKey  = "group_by_person_key"   // GROUP BY pid (or an expression of it)

	// Scalar expressions.
	CodeFunction     = "function_not_allowed" // a function outside the allow-list
	CodeOperator     = "operator_not_allowed" // IS DISTINCT FROM, //, ||, SIMILAR TO, ...
	CodeTypeMismatch = "type_mismatch"        // operands or arguments of incompatible types
	CodeCast         = "cast_not_allowed"     // CAST to a type outside the model, TRY_CAST, a cast that could fail on data
	CodeBadLiteral   = "bad_literal"          // a constant the model cannot hold (bad date, huge number, BLOB, ...)
	CodeBadArgument  = "bad_argument"         // a function argument outside what the function accepts
	CodeWindow       = "window_function"      // OVER (...)

	// Aggregates.
	CodeNoAggregate         = "no_aggregate"
	CodeMinMax              = "min_max_not_allowed"
	CodeAggregate           = "aggregate_not_allowed" // string_agg, list, first, mode, ...
	CodeNestedAggregate     = "nested_aggregate"
	CodeAggregateInWhere    = "aggregate_in_where"
	CodeAggregateInGroupBy  = "aggregate_in_group_by"
	CodeAggregateInExpr     = "aggregate_in_expression" // sum(x) * 2, 1 + count(*)
	CodeAggregateOverExpr   = "aggregate_over_expression"
	CodeAggregateNonNumeric = "aggregate_non_numeric"
	CodeAggregateUnbounded  = "aggregate_unbounded"
	CodeCountDistinct       = "count_distinct_not_person"
	CodeDistinctAggregate   = "distinct_aggregate" // sum(DISTINCT x), ...
	CodeAggregateOrderBy    = "aggregate_order_by" // sum(x ORDER BY y)
	CodeAggregateFilter     = "aggregate_filter"   // count(*) FILTER (WHERE ...)
	CodeBadQuantile         = "bad_quantile"
	CodeTooManyAggregates   = "too_many_aggregates"

	// GROUP BY, HAVING, ORDER BY and the output list.
	CodeNotGrouped          = "column_not_grouped"
	CodeConstantInSelect    = "constant_in_select"
	CodeTooManyKeys         = "too_many_group_keys"
	CodeBadPosition         = "bad_position"          // GROUP BY / ORDER BY position out of range or at an aggregate
	CodeDuplicateOutputName = "duplicate_output_name" // two SELECT items with the same alias
	CodeHavingNeedsOutput   = "having_needs_output"
	CodeOrderByNeedsOutput  = "order_by_needs_output"
	CodeHavingExpression    = "having_expression_not_allowed" // functions, LIKE, CASE, ... in HAVING
	CodeOrderByNulls        = "order_by_nulls_first"

	// CompileWhere.
	CodeWhereNotCondition = "where_not_a_condition"
)

// Limits the checker enforces.
const (
	// MaxQueryLength is the longest query text (in bytes) Parse accepts.
	MaxQueryLength = 20000
	// MaxGroupKeys is the most GROUP BY keys a query may have.
	MaxGroupKeys = 4
	// MaxAggregates is the most distinct aggregates a query may have.
	MaxAggregates = 10
	// maxDepth and maxNodes bound the expression trees the checker walks.
	maxDepth = 64
	maxNodes = 4000
)

// refuse returns a KindQuery refusal with a formatted message and a hint.
func refuse(code, hint, format string, args ...any) *refusal.Error {
	return &refusal.Error{Kind: refusal.KindQuery, Code: code, Message: fmt.Sprintf(format, args...), Hint: hint}
}
