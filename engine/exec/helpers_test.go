package exec

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	_ "github.com/duckdb/duckdb-go/v2"
)

// openMemory opens a locked-down in-memory DB and runs setup statements on
// it (DDL and inserts stay possible on an in-memory database: the lock-down
// is about files, extensions and settings).
func openMemory(t *testing.T, opts *Options, setup ...string) *DB {
	t.Helper()
	db, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	for _, s := range setup {
		if _, err := db.sql.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("setup %q: %v", s, err)
		}
	}
	return db
}

// admin runs statements on a fresh, unrestricted in-memory DuckDB; tests
// use it to write fixture files.
func admin(t *testing.T, stmts ...string) {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatalf("admin open: %v", err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("admin %q: %v", s, err)
		}
	}
}

// readAll reads a record reader into its schema and rows of Go values
// (see goValue), then releases it.
func readAll(t *testing.T, rr array.RecordReader) (*arrow.Schema, [][]any) {
	t.Helper()
	defer rr.Release()
	var rows [][]any
	for rr.Next() {
		rec := rr.RecordBatch()
		for i := range int(rec.NumRows()) {
			row := make([]any, rec.NumCols())
			for j := range row {
				row[j] = goValue(t, rec.Column(j), i)
			}
			rows = append(rows, row)
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatalf("reader: %v", err)
	}
	return rr.Schema(), rows
}

// goValue returns arr[i] as a comparable Go value: nil for NULL, int64,
// float64, string, bool, a "2006-01-02" string for dates, a time.Time in
// UTC for timestamps, []any for lists.
func goValue(t *testing.T, arr arrow.Array, i int) any {
	t.Helper()
	if arr.IsNull(i) {
		return nil
	}
	switch a := arr.(type) {
	case *array.Int64:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.String:
		// Value points into the batch's buffer, which the native build
		// frees with the batch: keep a copy.
		return strings.Clone(a.Value(i))
	case *array.Boolean:
		return a.Value(i)
	case *array.Date32:
		return a.Value(i).ToTime().Format(time.DateOnly)
	case *array.Timestamp:
		return time.UnixMicro(int64(a.Value(i))).UTC()
	case *array.List:
		start, end := a.ValueOffsets(i)
		out := []any{}
		for j := start; j < end; j++ {
			out = append(out, goValue(t, a.ListValues(), int(j)))
		}
		return out
	}
	t.Fatalf("goValue: unexpected array type %s", arr.DataType())
	return nil
}

// typeNames lists a schema's field types as strings.
func typeNames(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = fmt.Sprintf("%s: %s", f.Name, f.Type)
	}
	return out
}
