package exec

import (
	"context"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// The canonical Arrow types of QueryArrow results (see the package doc).
var (
	timestampType   = &arrow.TimestampType{Unit: arrow.Microsecond}
	timestampTZType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
)

// QueryArrow runs query (with args bound to its $n/? parameters) on a
// locked-down connection and returns its result as Arrow record batches
// whose types follow the package doc. The query is bounded by the
// context and the DB's QueryTimeout; a timeout interrupts DuckDB.
//
// The caller must Release the reader: it holds a connection (and, in the
// native build, DuckDB's result) until then. A batch is valid until the
// next call to Next; in the native build its buffers (and so strings from
// array.String.Value) live in DuckDB's memory, so copy (strings.Clone) what
// must outlive the batch. The reader is not safe for concurrent use.
func (db *DB) QueryArrow(ctx context.Context, query string, args ...any) (array.RecordReader, error) {
	ctx, cancel := context.WithTimeout(ctx, db.timeout)
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("exec.QueryArrow: %w", err)
	}
	rr, err := queryArrow(ctx, conn, query, args)
	if err != nil {
		conn.Close()
		cancel()
		return nil, fmt.Errorf("exec.QueryArrow: %w", err)
	}
	return &connReader{RecordReader: rr, refs: 1, release: func() {
		conn.Close()
		cancel()
	}}, nil
}

// connReader is a record reader that keeps its connection (and query
// context) until its last reference is released.
type connReader struct {
	array.RecordReader
	mu      sync.Mutex
	refs    int64
	release func()
}

// Retain adds a reference.
func (r *connReader) Retain() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refs > 0 {
		r.refs++
	}
}

// Release drops a reference; the last one releases the underlying reader,
// returns the connection to the pool and cancels the query's context.
func (r *connReader) Release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refs <= 0 {
		return
	}
	r.refs--
	if r.refs > 0 {
		return
	}
	r.RecordReader.Release()
	r.release()
}
