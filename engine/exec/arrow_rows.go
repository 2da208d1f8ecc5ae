//go:build !duckdb_arrow

package exec

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// batchRows is the most rows one record batch holds in this build.
var batchRows = 64 * 1024

// queryArrow runs query on conn through database/sql and converts its rows
// into record batches of up to batchRows rows, one batch at a time.
func queryArrow(ctx context.Context, conn *sql.Conn, query string, args []any) (array.RecordReader, error) {
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	cts, err := rows.ColumnTypes()
	if err != nil {
		rows.Close()
		return nil, err
	}
	fields := make([]arrow.Field, len(cts))
	appenders := make([]appendFunc, len(cts))
	for i, ct := range cts {
		c, err := columnFor(ct.DatabaseTypeName())
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("column %q: %w", ct.Name(), err)
		}
		fields[i] = arrow.Field{Name: ct.Name(), Type: c.typ, Nullable: true}
		appenders[i] = c.append
	}
	schema := arrow.NewSchema(fields, nil)
	return &rowsReader{
		rows:      rows,
		schema:    schema,
		appenders: appenders,
		builder:   array.NewRecordBuilder(memory.DefaultAllocator, schema),
		refs:      1,
	}, nil
}

// rowsReader builds record batches from database/sql rows. It is not safe
// for concurrent use (nor is any array.RecordReader's Next).
type rowsReader struct {
	rows      *sql.Rows
	schema    *arrow.Schema
	appenders []appendFunc
	builder   *array.RecordBuilder
	refs      int64

	cur  arrow.RecordBatch
	done bool
	err  error
}

// Retain adds a reference.
func (r *rowsReader) Retain() { r.refs++ }

// Release drops a reference; the last one closes the rows.
func (r *rowsReader) Release() {
	if r.refs <= 0 {
		return
	}
	r.refs--
	if r.refs > 0 {
		return
	}
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	r.builder.Release()
	if err := r.rows.Close(); err != nil && r.err == nil {
		r.err = err
	}
}

// Schema returns the result's schema.
func (r *rowsReader) Schema() *arrow.Schema { return r.schema }

// Next reads the next batch of rows.
func (r *rowsReader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.done || r.err != nil || r.refs <= 0 {
		return false
	}
	vals := make([]any, len(r.appenders))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for n < batchRows && r.rows.Next() {
		if err := r.rows.Scan(ptrs...); err != nil {
			r.err = err
			return false
		}
		for i, app := range r.appenders {
			if err := app(r.builder.Field(i), vals[i]); err != nil {
				r.err = fmt.Errorf("column %q: %w", r.schema.Field(i).Name, err)
				return false
			}
		}
		n++
	}
	if n < batchRows {
		r.done = true
		if err := r.rows.Err(); err != nil {
			r.err = err
			return false
		}
	}
	if n == 0 {
		return false
	}
	r.cur = r.builder.NewRecordBatch()
	return true
}

// RecordBatch returns the current batch, valid until the next call to Next.
func (r *rowsReader) RecordBatch() arrow.RecordBatch { return r.cur }

// Record returns the current batch.
//
// Deprecated: use RecordBatch.
func (r *rowsReader) Record() arrow.RecordBatch { return r.cur }

// Err returns the error that stopped Next, if any.
func (r *rowsReader) Err() error { return r.err }
