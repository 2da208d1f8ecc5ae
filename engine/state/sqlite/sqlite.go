// Package sqlite is the embedded state store: one SQLite file, state.db in
// the data directory, that holds the budget ledger, the audit log and the
// API tokens, and implements engine/state's interfaces over it. It uses
// the pure-Go driver modernc.org/sqlite.
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
// this binary knows (schema.go holds the tables and their migrations).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	// The pure-Go SQLite driver, registered as "sqlite".
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/statgate/statgate/engine/state"
)

// FileName is the name of the state file inside the data directory.
const FileName = "state.db"

// BusyTimeout is how long a statement waits for a lock another connection
// (or process) holds before it fails with SQLITE_BUSY.
const BusyTimeout = 30 * time.Second

// Path returns the state file of a data directory.
func Path(dataDir string) string { return filepath.Join(dataDir, FileName) }

// Store is the state kept in one SQLite file. It is safe for concurrent
// use, also by several processes that open the same file.
type Store struct {
	// db serves reads; w is the one connection every write of this
	// process goes through (see write).
	db, w *sql.DB
	// now is the clock every record is stamped with (tests replace it
	// before first use).
	now    func() time.Time
	ledger *ledger
	audit  *auditLog
	tokens *tokenStore
	cache  *resultCache

	// mu guards the writes waiting for the writer (see write).
	mu      sync.Mutex
	queue   []*pendingWrite
	leading bool // a goroutine is running the queued writes
	// commits counts the write transactions committed (for tests).
	commits atomic.Int64

	// stmts are the write statements prepared on the writer connection,
	// by text (see wtx); missed are those a write ran unprepared, prepared
	// once its batch has finished.
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt
	missed map[string]bool
	// unprepared counts the statements writes ran unprepared (for tests).
	unprepared atomic.Int64
}

var _ state.Store = (*Store)(nil)

// Open opens (creating when missing) the state store of dataDir and
// migrates its schema. Close it when done. A store written by a newer
// statgate (a schema version above SchemaVersion) is refused.
func Open(ctx context.Context, dataDir string) (*Store, error) {
	db, err := openDB(ctx, dataDir)
	if err != nil {
		return nil, fmt.Errorf("sqlite.Open: %w", err)
	}
	// The writer: the same file and settings, one connection. Writers of
	// this process queue for it in Go (first come, first served) instead
	// of meeting on SQLite's write lock, whose busy handler sleeps and
	// retries: under concurrent requests that retrying made the tails
	// (issue 14). Other processes still serialise on the lock.
	w, err := sql.Open("sqlite", dsn(mustAbs(dataDir)))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite.Open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	s := &Store{db: db, w: w, now: time.Now, stmts: map[string]*sql.Stmt{}, missed: map[string]bool{}}
	s.ledger = &ledger{st: s}
	s.audit = &auditLog{st: s}
	s.tokens = &tokenStore{st: s}
	s.cache = &resultCache{st: s}
	return s, nil
}

// openDB creates dataDir and the state file as needed, opens it with the
// connection settings of dsn and migrates the schema.
func openDB(ctx context.Context, dataDir string) (*sql.DB, error) {
	if dataDir == "" {
		return nil, errors.New("a data directory is required")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	path, err := filepath.Abs(Path(dataDir))
	if err != nil {
		return nil, err
	}
	// Create the file ourselves so that it (and the -wal and -shm files,
	// which SQLite creates with the main file's mode) is private to the owner.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, err
	}
	// Two processes (or goroutines) opening a new file at once can meet
	// SQLITE_BUSY while one switches it to WAL, a step SQLite does not
	// retry under busy_timeout; Open retries it within BusyTimeout.
	deadline := time.Now().Add(BusyTimeout)
	for {
		err = db.PingContext(ctx)
		if err == nil {
			err = migrate(ctx, db)
		}
		if err == nil {
			return db, nil
		}
		if !isBusy(err) || time.Now().After(deadline) || ctx.Err() != nil {
			db.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mustAbs is the state file's absolute path in dataDir (openDB has
// already resolved it once, so it cannot fail here but on a removed
// working directory, where Path's relative form is kept).
func mustAbs(dataDir string) string {
	path, err := filepath.Abs(Path(dataDir))
	if err != nil {
		return Path(dataDir)
	}
	return path
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (database is locked).
func isBusy(err error) bool {
	var se *msqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// dsn is the modernc.org/sqlite data source name of the state file: a
// file: URI with the connection settings every pooled connection applies.
// _txlock=immediate makes every write transaction (BeginTx without
// ReadOnly) a BEGIN IMMEDIATE; write depends on it.
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
		return false, fmt.Errorf("sqlite.Exists: %w", err)
	}
}

// Ledger implements state.Store.
func (s *Store) Ledger() state.Ledger { return s.ledger }

// Audit implements state.Store.
func (s *Store) Audit() state.AuditLog { return s.audit }

// Tokens implements state.Store.
func (s *Store) Tokens() state.Tokens { return s.tokens }

// Cache implements state.Store.
func (s *Store) Cache() state.Cache { return s.cache }

// Ping implements state.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite.Ping: %w", err)
	}
	return nil
}

// Close implements state.Store.
func (s *Store) Close() error {
	s.stmtMu.Lock()
	var errs []error
	for q, st := range s.stmts {
		errs = append(errs, st.Close())
		delete(s.stmts, q)
	}
	s.stmtMu.Unlock()
	return errors.Join(append(errs, s.w.Close(), s.db.Close())...)
}

// write runs fn in a write transaction on the store's one writer
// connection (s.w: this process's writes run one at a time, in the order
// they ask for it) and returns once what fn wrote is committed — on disk,
// with synchronous=FULL — or once fn failed, when nothing of it is kept.
// fn's error is returned as it is. fn runs with the batch's context,
// which no single request's cancellation ends (see commitOne): use that
// ctx, not the request's, for the statements inside the transaction.
//
// Writes that arrive while a transaction commits share the next one
// (group commit): the first writer to find the connection free runs every
// write queued meanwhile, each fn inside a SAVEPOINT of its own, in
// arrival order, and commits them together, so eight concurrent requests'
// debits and audit appends cost one commit and one fsync instead of
// eight. Each fn sees what the writes before it in the batch wrote (a
// debit sees the budget the previous debit spent; an audit append the
// head the previous one set); a fn that fails is rolled back to its
// savepoint alone and the others are kept; a failed commit fails every
// write of the batch. No write returns before its commit, so the budget
// is still debited durably before anything runs and the audit entry is
// durable before the answer is released. The transaction is a BEGIN
// IMMEDIATE (see dsn): it takes the database's write lock at once, so
// what a fn reads before it writes (what was spent, the audit head)
// cannot change before it commits, whichever goroutine or process writes
// next. A write whose ctx ends while it waits for its batch is not run.
func (s *Store) write(ctx context.Context, fn func(context.Context, *wtx) error) error {
	w := &pendingWrite{ctx: ctx, fn: fn, done: make(chan error, 1)}
	s.mu.Lock()
	s.queue = append(s.queue, w)
	if s.leading {
		s.mu.Unlock()
		return <-w.done // the leader runs it, whatever happens to ctx
	}
	s.leading = true
	for {
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		s.commit(batch)
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.leading = false
			s.mu.Unlock()
			return <-w.done
		}
	}
}

// pendingWrite is one write waiting in Store.write's queue.
type pendingWrite struct {
	ctx  context.Context
	fn   func(context.Context, *wtx) error
	done chan error // receives the write's outcome, once
}

// MaxBatch is the most writes Store.write commits in one transaction.
const MaxBatch = 64

// commit runs a batch of queued writes in transactions of at most
// MaxBatch writes and sends each its outcome.
func (s *Store) commit(batch []*pendingWrite) {
	for len(batch) > 0 {
		n := min(len(batch), MaxBatch)
		s.commitOne(batch[:n])
		batch = batch[n:]
		s.prepareMissed()
	}
}

// commitOne runs writes in one transaction, each fn in a savepoint, and
// commits them.
func (s *Store) commitOne(batch []*pendingWrite) {
	var live []*pendingWrite
	for _, w := range batch {
		if err := w.ctx.Err(); err != nil {
			w.done <- err // given up before it ran: nothing written
			continue
		}
		live = append(live, w)
	}
	if len(live) == 0 {
		return
	}
	// The transaction serves every write of the batch: no single one's
	// cancellation may roll the others back.
	ctx := context.WithoutCancel(live[0].ctx)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		for _, w := range live {
			w.done <- fmt.Errorf("begin: %w", err)
		}
		return
	}
	var kept []*pendingWrite
	wt := &wtx{Tx: tx, st: s}
	for i, w := range live {
		broken, err := savepoint(ctx, wt, w.fn)
		if broken {
			// SQLite may have rolled the whole transaction back (it does
			// on some I/O and lock errors): nothing of the batch is kept,
			// and nothing more runs on a connection that may be out of
			// its transaction.
			tx.Rollback()
			w.done <- err
			for _, o := range append(kept, live[i+1:]...) {
				o.done <- fmt.Errorf("a write of the same transaction failed: %w", err)
			}
			return
		}
		if err != nil {
			w.done <- err
			continue
		}
		kept = append(kept, w)
	}
	if len(kept) == 0 {
		tx.Rollback()
		return
	}
	err = tx.Commit()
	s.commits.Add(1)
	if err != nil {
		err = fmt.Errorf("commit: %w", err)
	}
	for _, w := range kept {
		w.done <- err
	}
}

// savepoint runs fn inside a savepoint of tx: when fn fails, what it
// wrote is undone and the transaction goes on without it. broken reports
// that the savepoint could not be set, undone or released, so the
// transaction is not usable any more.
func savepoint(ctx context.Context, tx *wtx, fn func(context.Context, *wtx) error) (broken bool, err error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT write"); err != nil {
		return true, fmt.Errorf("savepoint: %w", err)
	}
	if err := fn(ctx, tx); err != nil {
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO write"); rerr != nil {
			return true, errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rerr))
		}
		if _, rerr := tx.ExecContext(ctx, "RELEASE write"); rerr != nil {
			return true, errors.Join(err, fmt.Errorf("release savepoint: %w", rerr))
		}
		return false, err
	}
	if _, err := tx.ExecContext(ctx, "RELEASE write"); err != nil {
		return true, fmt.Errorf("release savepoint: %w", err)
	}
	return false, nil
}

// wtx is a write transaction on the writer connection whose statements
// run prepared: a write's statements are the same few texts every time
// (a debit's dozen, an audit append's three), and SQLite parsing them
// anew for every request cost more CPU than running them (issue 14). A
// text met for the first time runs unprepared and is prepared on the
// writer once its batch has finished (the connection is the
// transaction's until then); later writes reuse it. Statements behave
// exactly as tx's own: same connection, same transaction.
type wtx struct {
	*sql.Tx
	st *Store
}

// prepared returns q's statement bound to the transaction, or nil when q
// is not prepared yet (it will be after this batch) or t has no store.
func (t *wtx) prepared(ctx context.Context, q string) *sql.Stmt {
	if t.st == nil {
		return nil
	}
	t.st.stmtMu.Lock()
	st := t.st.stmts[q]
	if st == nil {
		t.st.missed[q] = true
	}
	t.st.stmtMu.Unlock()
	if st == nil {
		t.st.unprepared.Add(1)
		return nil
	}
	return t.Tx.StmtContext(ctx, st)
}

// ExecContext is sql.Tx.ExecContext with q prepared.
func (t *wtx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.prepared(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, q, args...)
}

// QueryRowContext is sql.Tx.QueryRowContext with q prepared.
func (t *wtx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.prepared(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, q, args...)
}

// QueryContext is sql.Tx.QueryContext with q prepared.
func (t *wtx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.prepared(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, q, args...)
}

// prepareMissed prepares on the writer the statements writes ran
// unprepared. It runs between batches, when no transaction holds the
// writer's one connection. A statement that fails to prepare stays
// unprepared (its writes report their own errors).
func (s *Store) prepareMissed() {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	for q := range s.missed {
		delete(s.missed, q)
		if s.stmts[q] != nil || len(s.stmts) >= maxPrepared {
			continue
		}
		if st, err := s.w.PrepareContext(context.Background(), q); err == nil {
			s.stmts[q] = st
		}
	}
}

// maxPrepared bounds the writer's prepared statements; the writes use
// about twenty texts.
const maxPrepared = 256

// timeFormat is how the store writes times: UTC, fixed width, so that text
// order is time order and a time reads back exactly as written. It is
// also audit.TimeFormat, the form audit entries are hashed in.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// formatTime renders t in timeFormat (in UTC).
func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// parseTime reads a time written by formatTime.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeFormat, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time: %w", err)
	}
	return t.UTC(), nil
}
