// Package statedb opens the state store: one SQLite file, state.db in the
// data directory, that holds the budget ledger, the audit log and the API
// tokens. It uses the pure-Go driver modernc.org/sqlite.
//
// The file is opened in WAL mode with synchronous=FULL (a commit is on disk
// before it returns), a busy timeout, foreign keys on, and every write
// transaction started with BEGIN IMMEDIATE, so writers serialise on the
// database's write lock whether they are goroutines of one process or
// separate processes. That lets an operator run `statgate token create`,
// `budget show` or `audit verify` next to a live server. Read-only
// transactions (sql.TxOptions{ReadOnly: true}) start with a plain BEGIN and
// see a consistent snapshot without blocking the writer.
//
// Open creates the file (mode 0600) and brings its schema to the version
// this binary knows; the tables of the budget, audit and tokens packages
// are declared in schema.go.
package statedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	// The pure-Go SQLite driver, registered as "sqlite".
	_ "modernc.org/sqlite"
)

// FileName is the name of the state file inside the data directory.
const FileName = "state.db"

// BusyTimeout is how long a statement waits for a lock another connection
// (or process) holds before it fails with SQLITE_BUSY.
const BusyTimeout = 30 * time.Second

// Path returns the state file of a data directory.
func Path(dataDir string) string { return filepath.Join(dataDir, FileName) }

// Open opens (creating when missing) the state store of dataDir and
// migrates its schema. The returned *sql.DB is safe for concurrent use;
// close it when done. A store written by a newer statgate (a schema version
// above SchemaVersion) is refused.
func Open(ctx context.Context, dataDir string) (*sql.DB, error) {
	if dataDir == "" {
		return nil, errors.New("statedb.Open: a data directory is required")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("statedb.Open: %w", err)
	}
	path, err := filepath.Abs(Path(dataDir))
	if err != nil {
		return nil, fmt.Errorf("statedb.Open: %w", err)
	}
	// Create the file ourselves so that it (and the -wal and -shm files,
	// which SQLite creates with the main file's mode) is private to the owner.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("statedb.Open: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("statedb.Open: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("statedb.Open: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("statedb.Open: %s: %w", path, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("statedb.Open: %s: %w", path, err)
	}
	return db, nil
}

// dsn is the modernc.org/sqlite data source name of the state file: a
// file: URI with the connection settings every pooled connection applies.
func dsn(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// Exists reports whether dataDir already holds a state file, so that
// read-only operator commands can say so instead of creating an empty one.
func Exists(dataDir string) (bool, error) {
	_, err := os.Stat(Path(dataDir))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("statedb.Exists: %w", err)
	}
}
