package exec

import (
	"errors"
	"strconv"
	"strings"
)

// ErrNoTable is returned, wrapped, by Columns for a table the database does not hold.
var ErrNoTable = errors.New("exec: no such table")

// ErrUnsupportedType is returned, wrapped, by QueryArrow when a result
// column has a DuckDB type with no Arrow mapping (see the package doc).
var ErrUnsupportedType = errors.New("exec: unsupported result type")

// ErrNoDatasets is returned, wrapped, by Load for a policy without datasets.
var ErrNoDatasets = errors.New("exec: the policy declares no datasets")

// LoadError is why one dataset could not be loaded. Its message is one
// line naming the dataset, the source file and, where one is at fault, the
// column: "load npr: /data/npr.parquet: column length_of_stay_days: type
// VARCHAR, policy says number". Match it with errors.As.
type LoadError struct {
	// Dataset is the policy's dataset name.
	Dataset string
	// Source is the file that was read.
	Source string
	// Column is the column at fault; empty when the problem is the file.
	Column string
	// Row is the row at fault (1 = the first data row of the file); 0
	// when the problem is not one row's.
	Row int64
	// Reason says what is wrong, in one line.
	Reason string
	// Err is the underlying error, if any (e.g. DuckDB's own message).
	Err error
}

// Error implements error.
func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString("load ")
	b.WriteString(e.Dataset)
	b.WriteString(": ")
	b.WriteString(e.Source)
	if e.Column != "" {
		b.WriteString(": column ")
		b.WriteString(e.Column)
	}
	if e.Row > 0 {
		b.WriteString(": row ")
		b.WriteString(strconv.FormatInt(e.Row, 10))
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns the underlying error.
func (e *LoadError) Unwrap() error { return e.Err }

// firstLine returns err's message up to its first line break, trimmed, so
// that DuckDB's multi-line messages fit the one-line LoadError.
func firstLine(err error) string {
	msg := err.Error()
	if i := strings.IndexAny(msg, "\r\n"); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimSpace(msg)
}
