package testkit

import (
	"strings"

	"github.com/statgate/statgate/engine/result"
)

// ColumnNames is a result's column names, comma-separated.
func ColumnNames(r *result.Result) string {
	names := make([]string, 0, len(r.Columns))
	for _, c := range r.Columns {
		names = append(names, c.Name)
	}
	return strings.Join(names, ",")
}
