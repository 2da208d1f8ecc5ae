package exec

// These tests run unchanged with and without the duckdb_arrow build tag
// (`go test ./engine/exec` and `go test -tags duckdb_arrow ./engine/exec`),
// so they assert that both builds give the same schema and values.

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
)

func TestQueryArrowPlanTypes(t *testing.T) {
	// The types statgate's plans produce: BIGINT, DOUBLE, VARCHAR,
	// BOOLEAN, DATE and LIST(DOUBLE), with NULLs in every column.
	db := openMemory(t, nil)
	rr, err := db.QueryArrow(context.Background(), `
		SELECT * FROM (VALUES
			(1::BIGINT, 1.5::DOUBLE, 'a', true, DATE '2020-01-02', [1.0, 2.5]::DOUBLE[]),
			(2, NULL, NULL, NULL, NULL, NULL),
			(3, -0.25, 'Tromsø', false, DATE '1969-12-31', [NULL, 3.0]::DOUBLE[]),
			(4, 0, '', NULL, DATE '2024-02-29', []::DOUBLE[]),
			(NULL, 7, 'x', true, NULL, [4.0]::DOUBLE[])
		) t(i, f, s, b, d, l)
		ORDER BY i NULLS LAST`)
	if err != nil {
		t.Fatalf("QueryArrow: %v", err)
	}
	schema, rows := readAll(t, rr)
	wantTypes := []string{"i: int64", "f: float64", "s: utf8", "b: bool", "d: date32", "l: list<l: float64, nullable>"}
	if got := typeNames(schema); !reflect.DeepEqual(got, wantTypes) {
		t.Errorf("schema = %v, want %v", got, wantTypes)
	}
	want := [][]any{
		{int64(1), 1.5, "a", true, "2020-01-02", []any{1.0, 2.5}},
		{int64(2), nil, nil, nil, nil, nil},
		{int64(3), -0.25, "Tromsø", false, "1969-12-31", []any{nil, 3.0}},
		{int64(4), 0.0, "", nil, "2024-02-29", []any{}},
		{nil, 7.0, "x", true, nil, []any{4.0}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows = %v, want %v", rows, want)
	}
}

func TestQueryArrowConversions(t *testing.T) {
	tests := []struct {
		desc     string
		expr     string
		wantType string
		want     any
	}{
		{"tinyint", "5::TINYINT", "int64", int64(5)},
		{"smallint", "(-300)::SMALLINT", "int64", int64(-300)},
		{"integer", "70000::INTEGER", "int64", int64(70000)},
		{"utinyint", "200::UTINYINT", "int64", int64(200)},
		{"uinteger", "4000000000::UINTEGER", "int64", int64(4000000000)},
		{"ubigint", "42::UBIGINT", "int64", int64(42)},
		{"count", "count(*) FROM range(3)", "int64", int64(3)},
		{"hugeint sum", "sum(x) FROM (VALUES (9007199254740993::BIGINT), (1)) v(x)", "float64", 9007199254740994.0},
		{"hugeint", "12345678901234567890::HUGEINT", "float64", 12345678901234567890.0},
		{"decimal", "3.25::DECIMAL(10,2)", "float64", 3.25},
		{"wide decimal", "0.1::DECIMAL(38,10)", "float64", 0.1},
		{"negative decimal", "(-2.5)::DECIMAL(4,1)", "float64", -2.5},
		{"float", "1.5::FLOAT", "float64", 1.5},
		{"enum", "'b'::ENUM('a', 'b')", "utf8", "b"},
		{"timestamp", "TIMESTAMP '2020-01-02 03:04:05.123456'", "timestamp[us]",
			time.Date(2020, 1, 2, 3, 4, 5, 123456000, time.UTC)},
		{"timestamp_ns", "'2020-01-02 03:04:05.123456789'::TIMESTAMP_NS", "timestamp[us]",
			time.Date(2020, 1, 2, 3, 4, 5, 123456000, time.UTC)},
		{"timestamp_s", "'1960-01-02 03:04:05'::TIMESTAMP_S", "timestamp[us]",
			time.Date(1960, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"timestamptz", "TIMESTAMPTZ '2020-01-01 01:00:00+01'", "timestamp[us, tz=UTC]",
			time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"untyped null", "NULL", "int64", nil},
		{"integer list", "[1, NULL, 3]::INTEGER[]", "list<l: int64, nullable>", []any{int64(1), nil, int64(3)}},
		{"decimal list", "[1.5]::DECIMAL(4,2)[]", "list<l: float64, nullable>", []any{1.5}},
	}
	db := openMemory(t, nil)
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			rr, err := db.QueryArrow(context.Background(), "SELECT "+tc.expr)
			if err != nil {
				t.Fatalf("QueryArrow: %v", err)
			}
			schema, rows := readAll(t, rr)
			if got := schema.Field(0).Type.String(); got != tc.wantType {
				t.Errorf("type = %s, want %s", got, tc.wantType)
			}
			if len(rows) != 1 || !reflect.DeepEqual(rows[0][0], tc.want) {
				t.Errorf("rows = %v, want [[%v]]", rows, tc.want)
			}
		})
	}
}

func TestQueryArrowRefusesUnsupported(t *testing.T) {
	tests := []struct {
		desc    string
		query   string
		wantErr error
	}{
		{"struct", "SELECT {'a': 1} AS s", ErrUnsupportedType},
		{"blob", "SELECT 'x'::BLOB AS b", ErrUnsupportedType},
		{"interval", "SELECT INTERVAL 1 DAY AS i", ErrUnsupportedType},
		{"ubigint overflow", "SELECT 18446744073709551615::UBIGINT AS u", nil},
	}
	db := openMemory(t, nil)
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			rr, err := db.QueryArrow(context.Background(), tc.query)
			if err == nil {
				for rr.Next() {
				}
				err = rr.Err()
				rr.Release()
			}
			if err == nil {
				t.Fatal("no error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestQueryArrowArgsAndBatches(t *testing.T) {
	// More rows than one batch of either build; the values must arrive
	// complete and in order whatever the batch boundaries.
	db := openMemory(t, nil)
	const n = 70_000
	rr, err := db.QueryArrow(context.Background(),
		"SELECT range AS i, range * 0.5 AS h FROM range($1::BIGINT) ORDER BY i", n)
	if err != nil {
		t.Fatalf("QueryArrow: %v", err)
	}
	_, rows := readAll(t, rr)
	if len(rows) != n {
		t.Fatalf("got %d rows, want %d", len(rows), n)
	}
	for i, r := range rows {
		if r[0] != int64(i) || r[1] != float64(i)*0.5 {
			t.Fatalf("row %d = %v", i, r)
		}
	}
	if inUse := db.sql.Stats().InUse; inUse != 0 {
		t.Errorf("%d connections in use after Release, want 0", inUse)
	}
}

func TestQueryArrowEmptyResult(t *testing.T) {
	db := openMemory(t, nil)
	rr, err := db.QueryArrow(context.Background(), "SELECT range AS i, 'x' AS s FROM range(10) WHERE range < 0")
	if err != nil {
		t.Fatalf("QueryArrow: %v", err)
	}
	schema, rows := readAll(t, rr)
	if got, want := typeNames(schema), []string{"i: int64", "s: utf8"}; !reflect.DeepEqual(got, want) {
		t.Errorf("schema = %v, want %v", got, want)
	}
	if len(rows) != 0 {
		t.Errorf("rows = %v, want none", rows)
	}
}

func TestQueryArrowTimeout(t *testing.T) {
	const slow = "SELECT sum(a.range * b.range) FROM range(1000000000) a, range(1000000000) b"
	tests := []struct {
		desc    string
		opts    *Options
		timeout time.Duration // of the caller's context; 0: none
	}{
		{"context deadline", nil, 200 * time.Millisecond},
		{"query timeout option", &Options{QueryTimeout: 200 * time.Millisecond}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			db := openMemory(t, tc.opts)
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			start := time.Now()
			rr, err := db.QueryArrow(ctx, slow)
			if err == nil {
				for rr.Next() {
				}
				err = rr.Err()
				rr.Release()
			}
			elapsed := time.Since(start)
			if err == nil {
				t.Fatal("slow query finished without error")
			}
			if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "Interrupt") {
				t.Errorf("error = %v, want a deadline or interrupt", err)
			}
			if elapsed > 5*time.Second {
				t.Errorf("query took %v to stop, want well under 5s", elapsed)
			}
			// The connection is usable again afterwards.
			rr, err = db.QueryArrow(context.Background(), "SELECT 1::BIGINT AS one")
			if err != nil {
				t.Fatalf("QueryArrow after timeout: %v", err)
			}
			if _, rows := readAll(t, rr); len(rows) != 1 || rows[0][0] != int64(1) {
				t.Errorf("rows after timeout = %v", rows)
			}
		})
	}
}

func TestQueryArrowConcurrent(t *testing.T) {
	// Readers held at once each hold their own connection; connections
	// opened after the first find the configuration locked and verify it.
	db := openMemory(t, nil, "CREATE TABLE t AS SELECT range AS i FROM range(1000)")
	const n = 6
	errs := make(chan error, n)
	for g := range n {
		go func() {
			errs <- func() error {
				rr, err := db.QueryArrow(context.Background(), "SELECT (sum(i) + $1)::BIGINT AS s FROM t", g)
				if err != nil {
					return err
				}
				defer rr.Release()
				if !rr.Next() {
					return fmt.Errorf("no batch: %v", rr.Err())
				}
				col, ok := rr.RecordBatch().Column(0).(*array.Int64)
				if !ok {
					return fmt.Errorf("column of type %s", rr.RecordBatch().Column(0).DataType())
				}
				if got, want := col.Value(0), int64(499500+g); got != want {
					return fmt.Errorf("sum = %d, want %d", got, want)
				}
				return nil
			}()
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("concurrent QueryArrow: %v", err)
		}
	}
}
