package exec

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestOpenValidates(t *testing.T) {
	tests := []struct {
		desc string
		opts *Options
	}{
		{"negative timeout", &Options{QueryTimeout: -1}},
		{"negative threads", &Options{Threads: -1}},
		{"read-only in memory", &Options{ReadOnly: true}},
		{"query string in path", &Options{Path: "x.duckdb?access_mode=READ_WRITE"}},
		{"bad memory limit", &Options{MemoryLimit: "lots"}},
		{"read-only missing file", &Options{Path: filepath.Join(t.TempDir(), "none.duckdb"), ReadOnly: true}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			db, err := Open(context.Background(), tc.opts)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), "exec.Open: ") {
				t.Errorf("error %q lacks the exec.Open prefix", err)
			}
		})
	}
}

func TestOpenAppliesSettings(t *testing.T) {
	db := openMemory(t, &Options{MemoryLimit: "512MB", Threads: 1})
	// Several connections at once: each must come up locked, whichever
	// was first.
	ctx := context.Background()
	for range 3 {
		conn, err := db.sql.Conn(ctx)
		if err != nil {
			t.Fatalf("Conn: %v", err)
		}
		defer conn.Close()
		var got []string
		for _, name := range []string{"threads", "lock_configuration", "enable_external_access",
			"autoload_known_extensions", "autoinstall_known_extensions",
			"allow_community_extensions", "allow_unsigned_extensions", "TimeZone", "disabled_optimizers"} {
			var v string
			if err := conn.QueryRowContext(ctx, "SELECT current_setting($1)::VARCHAR", name).Scan(&v); err != nil {
				t.Fatalf("setting %s: %v", name, err)
			}
			got = append(got, name+"="+v)
		}
		want := []string{"threads=1", "lock_configuration=true", "enable_external_access=false",
			"autoload_known_extensions=false", "autoinstall_known_extensions=false",
			"allow_community_extensions=false", "allow_unsigned_extensions=false", "TimeZone=UTC",
			"disabled_optimizers=common_subexpressions"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("settings = %v, want %v", got, want)
		}
	}
}

func TestLockdown(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "in.csv")
	parquet := filepath.Join(dir, "in.parquet")
	admin(t,
		"COPY (SELECT 1 AS a) TO "+quoteString(csv)+" (HEADER)",
		"COPY (SELECT 1 AS a) TO "+quoteString(parquet)+" (FORMAT parquet)",
	)
	db := openMemory(t, nil, "CREATE TABLE t AS SELECT 1 AS a")
	tests := []struct {
		desc    string
		query   string
		allowed bool
	}{
		{"read_csv", "SELECT * FROM read_csv(" + quoteString(csv) + ")", false},
		{"file as table", "SELECT * FROM " + quoteString(csv), false},
		{"read_parquet", "SELECT * FROM read_parquet(" + quoteString(parquet) + ")", false},
		{"read_text", "SELECT * FROM read_text(" + quoteString(csv) + ")", false},
		{"glob", "SELECT * FROM glob(" + quoteString(dir+"/*") + ")", false},
		{"copy to", "COPY t TO " + quoteString(filepath.Join(dir, "out.csv")), false},
		{"copy from", "COPY t FROM " + quoteString(csv), false},
		{"export database", "EXPORT DATABASE " + quoteString(filepath.Join(dir, "export")), false},
		{"attach file", "ATTACH " + quoteString(filepath.Join(dir, "other.duckdb")) + " AS other", false},
		{"install", "INSTALL httpfs", false},
		{"load", "LOAD httpfs", false},
		{"set external access", "SET enable_external_access = true", false},
		{"reset external access", "RESET enable_external_access", false},
		{"set global", "SET GLOBAL enable_external_access = true", false},
		{"pragma", "PRAGMA threads = 1", false},
		{"set threads", "SET threads = 1", false},
		{"set memory", "SET memory_limit = '100GB'", false},
		{"unlock", "SET lock_configuration = false", false},
		{"autoload", "SET autoload_known_extensions = true", false},
		{"secret", "CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 's')", false},
		{"read setting", "SELECT current_setting('enable_external_access')", true},
		{"plain query", "SELECT sum(a) FROM t", true},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			rr, err := db.QueryArrow(ctx, tc.query)
			if err == nil {
				for rr.Next() {
				}
				err = rr.Err()
				rr.Release()
			}
			if tc.allowed && err != nil {
				t.Errorf("%s: %v, want it allowed", tc.query, err)
			}
			if !tc.allowed && err == nil {
				t.Errorf("%s succeeded, want it refused", tc.query)
			}
		})
	}
	// The settings survived every attempt.
	rr, err := db.QueryArrow(ctx, "SELECT current_setting('enable_external_access')::VARCHAR AS e, current_setting('lock_configuration')::VARCHAR AS l")
	if err != nil {
		t.Fatalf("QueryArrow: %v", err)
	}
	if _, rows := readAll(t, rr); !reflect.DeepEqual(rows, [][]any{{"false", "true"}}) {
		t.Errorf("settings after the attempts = %v, want [[false true]]", rows)
	}
}

func TestPrepare(t *testing.T) {
	db := openMemory(t, nil, "CREATE TABLE npr (pid BIGINT, icd10 VARCHAR)")
	tests := []struct {
		desc    string
		query   string
		wantErr bool
	}{
		{"valid", "SELECT icd10, count(DISTINCT pid) FROM npr GROUP BY icd10", false},
		{"parameter", "SELECT count(*) FROM npr WHERE icd10 LIKE $1", false},
		{"unknown column", "SELECT nosuch FROM npr", true},
		{"unknown table", "SELECT * FROM nosuch", true},
		{"syntax error", "SELEC 1", true},
		{"external access", "SELECT * FROM read_csv('/etc/passwd')", true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			err := db.Prepare(context.Background(), tc.query)
			if (err != nil) != tc.wantErr {
				t.Errorf("Prepare(%q) = %v, wantErr %v", tc.query, err, tc.wantErr)
			}
		})
	}
	// Preparing never runs anything.
	rows, err := db.TableRows(context.Background())
	if err != nil {
		t.Fatalf("TableRows: %v", err)
	}
	if rows["npr"] != 0 {
		t.Errorf("npr has %d rows after Prepare, want 0", rows["npr"])
	}
}

func TestTableRowsAndColumns(t *testing.T) {
	db := openMemory(t, nil,
		"CREATE TABLE npr (pid BIGINT, contact_date DATE, icd10 VARCHAR, length_of_stay_days DOUBLE)",
		"INSERT INTO npr SELECT range, DATE '2020-01-01', 'E11', 1.5 FROM range(7)",
		"CREATE TABLE population (pid BIGINT)",
		"CREATE TABLE _statgate_load (dataset VARCHAR)",
	)
	ctx := context.Background()
	rows, err := db.TableRows(ctx)
	if err != nil {
		t.Fatalf("TableRows: %v", err)
	}
	if want := map[string]int64{"npr": 7, "population": 0}; !reflect.DeepEqual(rows, want) {
		t.Errorf("TableRows = %v, want %v", rows, want)
	}
	tests := []struct {
		desc    string
		table   string
		want    []ColumnInfo
		wantErr error
	}{
		{"npr", "npr", []ColumnInfo{
			{"pid", "BIGINT"}, {"contact_date", "DATE"}, {"icd10", "VARCHAR"}, {"length_of_stay_days", "DOUBLE"},
		}, nil},
		{"missing", "nosuch", nil, ErrNoTable},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := db.Columns(ctx, tc.table)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Columns error = %v, want %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Columns = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPing(t *testing.T) {
	db, err := Open(context.Background(), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := db.Ping(context.Background()); err != nil {
		t.Errorf("Ping on an open DB: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.Ping(context.Background()); err == nil {
		t.Error("Ping on a closed DB succeeded")
	}
}

// TestSmallTableRowsChoosesOneThread: with Threads 0 and SmallTableRows
// set, a database whose tables are all at most that size runs one DuckDB
// thread, a larger one all cores; Threads set wins.
func TestSmallTableRowsChoosesOneThread(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("one core: one thread either way")
	}
	path := filepath.Join(t.TempDir(), "x.duckdb")
	admin(t, "ATTACH '"+path+"' AS x", "CREATE TABLE x.t AS SELECT range AS i FROM range(1000)", "DETACH x")
	threads := func(o *Options) string {
		t.Helper()
		o.Path, o.ReadOnly = path, true
		db, err := Open(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var v string
		if err := db.sql.QueryRowContext(context.Background(), "SELECT current_setting('threads')::VARCHAR").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	all := strconv.Itoa(runtime.NumCPU())
	for _, tc := range []struct {
		desc string
		o    Options
		want string
	}{
		{"small", Options{SmallTableRows: 1000}, "1"},
		{"one row over", Options{SmallTableRows: 999}, all},
		{"not asked", Options{}, all},
		{"threads set", Options{SmallTableRows: 1000, Threads: 2}, "2"},
	} {
		if got := threads(&tc.o); got != tc.want {
			t.Errorf("%s: threads %s, want %s", tc.desc, got, tc.want)
		}
	}
}
