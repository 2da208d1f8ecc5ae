// Package exec fences off DuckDB: it opens the extracts database with a
// locked-down configuration, runs the SQL that engine/plan generated and
// returns the results as Arrow record batches, and loads registry extracts
// (Parquet, CSV, gzipped CSV) into a new database file through a separate,
// unrestricted admin connection. No other package imports DuckDB's Go
// driver, except engine/query for its parser call.
//
// # Result types
//
// QueryArrow returns the same Arrow schema whether the binary is built with
// the duckdb_arrow tag (DuckDB's native Arrow export) or without it (Arrow
// batches built from database/sql rows):
//
//	BOOLEAN                                   → Boolean
//	TINYINT … BIGINT, UTINYINT … UBIGINT       → Int64 (a UBIGINT above 2⁶³−1 is an error)
//	HUGEINT, UHUGEINT, FLOAT, DOUBLE, DECIMAL  → Float64
//	VARCHAR, ENUM                             → String
//	DATE                                      → Date32
//	TIMESTAMP (any precision)                 → Timestamp(µs)
//	TIMESTAMPTZ                               → Timestamp(µs, "UTC")
//	T[] (LIST)                                → List<mapping of T>
//	NULL (an untyped NULL literal)            → Int64, all null
//
// Other types (STRUCT, MAP, BLOB, INTERVAL, …) are refused with
// ErrUnsupportedType. NULLs are preserved; batch boundaries differ between
// the two builds, so callers must not depend on them.
//
// # Lock-down
//
// Every connection of a DB runs with external access disabled (no file,
// no network, no ATTACH, COPY, INSTALL or LOAD of extensions), extension
// autoloading and autoinstalling off, community and unsigned extensions
// refused, and the configuration locked so that no SET or RESET can undo
// it (DESIGN §6). Loading extracts uses a separate database handle without
// these restrictions and never serves queries.
package exec

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// DefaultSmallTableRows is the Options.SmallTableRows the engine opens
// its extracts with: four of DuckDB's row groups (122,880 rows each), so
// that no scan of a small database splits into more than a few tasks.
const DefaultSmallTableRows = 4 * 122_880

// DefaultQueryTimeout bounds one query when Options.QueryTimeout is zero.
const DefaultQueryTimeout = 60 * time.Second

// Options configure Open. The zero value (or nil) opens an empty in-memory
// database with DuckDB's default memory limit and all cores.
type Options struct {
	// Path is the extracts database file; "" opens an in-memory database
	// (for tests).
	Path string
	// ReadOnly opens the file read-only, so that `statgate load` in another
	// process can write a new file meanwhile. It requires a Path.
	ReadOnly bool
	// MemoryLimit is DuckDB's memory_limit, e.g. "4GB"; "": DuckDB's default.
	MemoryLimit string
	// Threads is DuckDB's thread count; 0: all cores, or one when
	// SmallTableRows says the database is small.
	Threads int
	// SmallTableRows, when positive and Threads is 0, makes DuckDB run one
	// thread when no table of the database has more rows than this (read
	// from DuckDB's catalog when the first connection opens). DuckDB's
	// thread count belongs to the database instance, not to a query, so it
	// is chosen from the largest plan the data allow: on small data every
	// plan is small, and a query that runs on its calling thread only
	// skips the scheduling of tasks across threads, so concurrent queries
	// each keep a core (issue 14: about twice the cohort estimates a
	// second with 8 clients on 2 cores). DefaultSmallTableRows is the
	// engine's.
	SmallTableRows int64
	// QueryTimeout bounds each QueryArrow and Prepare call (on top of the
	// caller's context); 0: DefaultQueryTimeout.
	QueryTimeout time.Duration
	// SpillDir is where DuckDB may write the pages of a query that does
	// not fit in MemoryLimit (hash tables, sorts, joins): in a directory
	// named for Path (see spillDir), which DuckDB creates when it first
	// spills and which Close removes,
	// so the DBs of two extracts versions never share one. "" means beside
	// Path (the extracts' own directory, which holds the same rows
	// unspilled), or no spilling for an in-memory database. It is set when
	// the database starts, before the lock-down: no query can change it or
	// read a file in it (DuckDB lets glob() list its temp directory's file
	// names; plans never call glob, and no file content can be read).
	SpillDir string
}

// DB is an open extracts database whose every connection is locked down.
// It is safe for concurrent use.
//
// A DB that has the extracts file open keeps reading that file even after
// `statgate load` renamed a new one over it; a server picks up new extracts
// when it is restarted (or reopens its DB).
type DB struct {
	sql     *sql.DB
	timeout time.Duration
	// parts is set for a version file (see version.go): its datasets are
	// views over attached part files.
	parts bool
	// spill is the DB's own spill directory ("" for none), removed by Close.
	spill string
}

// Open opens the database described by opts and locks down its
// connections. It checks the lock-down on a first connection before
// returning.
func Open(ctx context.Context, opts *Options) (*DB, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.QueryTimeout < 0 {
		return nil, fmt.Errorf("exec.Open: negative query timeout %v", o.QueryTimeout)
	}
	if o.QueryTimeout == 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
	if o.Threads < 0 {
		return nil, fmt.Errorf("exec.Open: negative thread count %d", o.Threads)
	}
	if o.ReadOnly && o.Path == "" {
		return nil, errors.New("exec.Open: a read-only database needs a path")
	}
	if strings.ContainsAny(o.Path, "?#") {
		return nil, fmt.Errorf("exec.Open: path %q contains '?' or '#'", o.Path)
	}
	var parts []part
	if _, err := os.Stat(o.Path); err == nil {
		if parts, err = readParts(ctx, o.Path); err != nil {
			return nil, fmt.Errorf("exec.Open: %s: %w", describePath(o.Path), err)
		}
	}
	spill, err := spillDir(&o)
	if err != nil {
		return nil, fmt.Errorf("exec.Open: %s: %w", describePath(o.Path), err)
	}
	connector, err := duckdb.NewConnector(dsn(o.Path, startupConfig(o.ReadOnly, len(parts) > 0, spill)), lockdown(&o, parts))
	if err != nil {
		removeSpill(spill)
		return nil, fmt.Errorf("exec.Open: %s: %w", describePath(o.Path), err)
	}
	db := &DB{sql: sql.OpenDB(connector), timeout: o.QueryTimeout, parts: len(parts) > 0, spill: spill}
	// database/sql keeps two idle connections by default: with more
	// queries at once than that (eight API clients, each request's profile
	// and plan), every further connection was closed after its query and a
	// new one opened and locked down — under lockdown's mutex — for the
	// next (2 % of a served small query's CPU in the load generator's
	// profile). An idle DuckDB connection costs little.
	db.sql.SetMaxIdleConns(maxIdleConns)
	if err := db.sql.PingContext(ctx); err != nil {
		db.sql.Close()
		removeSpill(spill)
		return nil, fmt.Errorf("exec.Open: %s: %w", describePath(o.Path), err)
	}
	return db, nil
}

// spillDir names the DB's spill directory (Options.SpillDir), or returns
// "" for an in-memory database without one. DuckDB's Go driver
// keeps one database instance per path for the process, and refuses to
// open a path again with another configuration while its instance is
// open; so the directory is named for the database's path (its base name
// and a hash of the absolute path): opening one path twice shares the
// instance and its directory, while another path (the hard link the
// extracts are opened through, one per version) has its own.
func spillDir(o *Options) (string, error) {
	parent := o.SpillDir
	if parent == "" {
		if o.Path == "" {
			return "", nil
		}
		parent = filepath.Dir(o.Path)
	}
	if o.Path == "" {
		// Every in-memory database is an instance of its own.
		dir, err := os.MkdirTemp(parent, spillPrefix+"memory-")
		if err != nil {
			return "", fmt.Errorf("spill directory: %w", err)
		}
		return dir, nil
	}
	abs, err := filepath.Abs(o.Path)
	if err != nil {
		return "", fmt.Errorf("spill directory: %w", err)
	}
	sum := sha256.Sum256([]byte(abs))
	// DuckDB creates the directory when it first spills and removes it
	// when the instance closes: a DB that never spills leaves no trace.
	return filepath.Join(parent, spillPrefix+filepath.Base(abs)+"-"+hex.EncodeToString(sum[:6])), nil
}

// spillPrefix starts the name of every DB's spill directory.
const spillPrefix = "statgate-spill-"

// removeSpill removes a spill directory (DuckDB has closed its files).
func removeSpill(dir string) {
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}

// maxIdleConns is how many idle connections DB keeps for the next queries.
const maxIdleConns = 64

// Close closes the database; readers still open fail afterwards.
func (db *DB) Close() error {
	err := db.sql.Close()
	removeSpill(db.spill)
	if err != nil {
		return fmt.Errorf("exec.Close: %w", err)
	}
	return nil
}

// Ping reports whether the database answers a query (for readiness checks).
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, db.timeout)
	defer cancel()
	var one int
	if err := db.sql.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("exec.Ping: %w", err)
	}
	return nil
}

// Prepare prepares (parses, binds and plans) query without running it. It
// reports whether generated SQL is valid against the loaded tables.
func (db *DB) Prepare(ctx context.Context, query string) error {
	ctx, cancel := context.WithTimeout(ctx, db.timeout)
	defer cancel()
	stmt, err := db.sql.PrepareContext(ctx, query)
	if err != nil {
		return fmt.Errorf("exec.Prepare: %w", err)
	}
	if err := stmt.Close(); err != nil {
		return fmt.Errorf("exec.Prepare: %w", err)
	}
	return nil
}

// ColumnInfo is one column of a table as DuckDB declares it.
type ColumnInfo struct {
	Name string
	// DuckType is DuckDB's type name, e.g. "BIGINT", "VARCHAR", "DATE".
	DuckType string
}

// TableRows returns the row count of every table in the database, by
// table name. statgate's own bookkeeping tables (named _statgate_…) are
// left out.
func (db *DB) TableRows(ctx context.Context) (map[string]int64, error) {
	if db.parts {
		// A version file's datasets are views; their counts are stored.
		info, err := db.Version(ctx)
		if err != nil {
			return nil, fmt.Errorf("exec.TableRows: %w", err)
		}
		rows := make(map[string]int64, len(info.Datasets))
		for name, d := range info.Datasets {
			rows[name] = d.Rows
		}
		return rows, nil
	}
	names, err := tableNames(ctx, db.sql)
	if err != nil {
		return nil, fmt.Errorf("exec.TableRows: %w", err)
	}
	rows := make(map[string]int64, len(names))
	for _, name := range names {
		if isInternal(name) {
			continue
		}
		var n int64
		if err := db.sql.QueryRowContext(ctx, "SELECT count(*) FROM "+quoteIdent(name)).Scan(&n); err != nil {
			return nil, fmt.Errorf("exec.TableRows: %s: %w", name, err)
		}
		rows[name] = n
	}
	return rows, nil
}

// PersonRepeats counts the rows of table that do not stand for a person
// of their own: rows whose personKey is NULL or repeats another row's. A
// dataset the policy declares one row per person must have none, whatever
// policy the file was loaded or delivered with (see Engine's accept).
func (db *DB) PersonRepeats(ctx context.Context, table, personKey string) (int64, error) {
	pk := quoteIdent(personKey)
	var n int64
	err := db.sql.QueryRowContext(ctx, "SELECT count(*) - count(DISTINCT "+pk+") FROM "+quoteIdent(table)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("exec.PersonRepeats: %s: %w", table, err)
	}
	return n, nil
}

// Columns returns table's columns in declared order, or an error wrapping
// ErrNoTable.
func (db *DB) Columns(ctx context.Context, table string) ([]ColumnInfo, error) {
	cols, err := tableColumns(ctx, db.sql, table)
	if err != nil {
		return nil, fmt.Errorf("exec.Columns: %w", err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("exec.Columns: %q: %w", table, ErrNoTable)
	}
	return cols, nil
}

// queryer is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// tableNames lists the base tables of the main schema, sorted.
func tableNames(ctx context.Context, q queryer) ([]string, error) {
	return listTables(ctx, q, `SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' ORDER BY table_name`)
}

// catalogTables lists the main-schema tables of catalog cat, sorted.
func catalogTables(ctx context.Context, q queryer, cat string) ([]string, error) {
	return listTables(ctx, q, `SELECT table_name FROM duckdb_tables() WHERE database_name = $1 AND schema_name = 'main' ORDER BY table_name`, cat)
}

// listTables runs a query of table names and returns them.
func listTables(ctx context.Context, q queryer, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// tableColumns lists a main-schema table's columns in order; none when the
// table does not exist.
func tableColumns(ctx context.Context, q queryer, table string) ([]ColumnInfo, error) {
	return catalogColumns(ctx, q, "", table)
}

// internalPrefix starts the names of statgate's own tables.
const internalPrefix = "_statgate_"

func isInternal(table string) bool { return strings.HasPrefix(table, internalPrefix) }

// quoteIdent quotes a SQL identifier for DuckDB.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// quoteString quotes a SQL string literal for DuckDB.
func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// dsn builds a duckdb-go DSN: the path followed by startup options.
func dsn(path string, config map[string]string) string {
	v := url.Values{}
	for k, val := range config {
		v.Set(k, val)
	}
	return path + "?" + v.Encode()
}

func describePath(path string) string {
	if path == "" {
		return "in-memory database"
	}
	return path
}
