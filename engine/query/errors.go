package query

import (
	"fmt"

	"github.com/statgate/statgate/engine/refusal"
)

// The refusals of package query. Every refusal Parse, Check, Compile and
// CompileWhere return is a *refusal.Error with one of the codes registered
// in engine/refusal/codes.go under parsing, statement shape, FROM, columns,
// scalar expressions, aggregates and the output list. The codes are stable
// (clients and the rejection corpus testdata/queries/rejected.txt match on
// them), the messages are not; messages name parts of the query and the
// policy, never data values. All are KindQuery (422) except
// refusal.UnknownDataset (404) and refusal.DatasetNotInProject (403).

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

// refuse returns a refusal with a formatted message and a hint.
func refuse(code refusal.Code, hint, format string, args ...any) *refusal.Error {
	return refusal.New(code, fmt.Sprintf(format, args...), hint)
}
