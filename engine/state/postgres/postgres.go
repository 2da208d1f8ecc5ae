// Package postgres is the shared state store: the budget ledger, the audit
// log and the API tokens in a PostgreSQL database, so that several API
// replicas (`statgate serve --state postgres://…` on several machines
// behind one load balancer) spend one budget and append to one audit
// chain. It implements engine/state's interfaces with the driver
// github.com/jackc/pgx/v5 (a pgxpool connection pool).
//
// Correctness across processes rests on PostgreSQL's locks, taken inside
// each write transaction, never on anything held in one process:
//
//   - a debit locks the rows of its project × datasets in budget_spent
//     (created empty first when missing, in dataset order, so that two
//     debits never wait on each other in a cycle) with SELECT … FOR
//     UPDATE, reads what was spent, asks the admitter and records the
//     debit before it commits: two replicas debiting the same budget run
//     one after the other, and neither overspends nor loses the other's
//     debit;
//   - an audit append takes a transaction-scoped advisory lock
//     (pg_advisory_xact_lock on AuditLockKey) before it reads the head and
//     inserts the next entry with the previous hash, so appends from every
//     replica form one linear chain; seq is the primary key besides, so a
//     fork could not even be stored;
//   - Verify reads the log and its head in one REPEATABLE READ, READ ONLY
//     transaction: a consistent snapshot that does not block appends.
//
// A transaction that fails with a serialization failure or a deadlock
// (SQLSTATE 40001, 40P01) is retried a few times; the admitter only reads,
// so running it again is harmless.
//
// Open applies the versioned migrations in schema.go in one transaction
// under a second advisory lock, so replicas starting together migrate
// once. The connection URL is pgx's (postgres://user@host:port/db?…, or
// key=value pairs); a search_path parameter in it selects a schema, which
// the tests use to give every store its own.
//
// Times are stored as text in the fixed-width UTC form of engine/audit
// (audit.TimeFormat), exactly as the SQLite store keeps them: the audit
// chain hashes that text to the nanosecond, which timestamptz (microsecond
// precision) could not hold.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/state"
)

// IsURL reports whether s names a PostgreSQL store (a postgres:// or
// postgresql:// URL), as `--state` takes it.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// maxRetries bounds how often a write transaction is retried after a
// serialization failure or a deadlock.
const maxRetries = 8

// Store is the state kept in one PostgreSQL database (schema). It is safe
// for concurrent use, also by several processes and machines on the same
// database.
type Store struct {
	pool *pgxpool.Pool
	// now is the clock every record is stamped with (tests replace it
	// before first use).
	now    func() time.Time
	ledger *ledger
	audit  *auditLog
	tokens *tokenStore
	cache  *resultCache
}

var _ state.Store = (*Store)(nil)

// Open connects to the database url names, checks that it answers and
// migrates its schema to SchemaVersion. A database written by a newer
// statgate is refused. Close the store when done.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may repeat the URL with its password; say only what is wrong.
		return nil, fmt.Errorf("postgres.Open: the state URL is not a valid PostgreSQL connection string: %w", redact(err))
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "statgate"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres.Open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres.Open: %s: %w", describe(cfg), err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres.Open: %s: %w", describe(cfg), err)
	}
	s := &Store{pool: pool, now: time.Now}
	s.ledger = &ledger{st: s}
	s.audit = &auditLog{st: s}
	s.tokens = &tokenStore{st: s}
	s.cache = &resultCache{st: s}
	return s, nil
}

// describe names the server and database of cfg, without credentials.
func describe(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("database %q on %s:%d", c.Database, c.Host, c.Port)
}

// redact drops what follows the first colon of a parse error, where pgx
// may quote the connection string.
func redact(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "@") {
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			return errors.New(msg[i+2:])
		}
		return errors.New("cannot parse")
	}
	return err
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
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres.Ping: %w", err)
	}
	return nil
}

// Close implements state.Store.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// write runs fn in one read-write transaction and commits it when fn
// returns nil; fn takes the locks it needs (see the package doc). A
// serialization failure or deadlock anywhere in the transaction runs it
// again, up to maxRetries times. fn's own error is returned as it is.
func (s *Store) write(ctx context.Context, fn func(pgx.Tx) error) error {
	var err error
	for attempt := 0; ; attempt++ {
		err = s.writeOnce(ctx, fn)
		if err == nil || !retryable(err) || attempt == maxRetries || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
}

func (s *Store) writeOnce(ctx context.Context, fn func(pgx.Tx) error) (err error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// retryable reports whether err is a serialization failure or a deadlock,
// after which the whole transaction may simply run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// timeFormat is how the store writes times: audit.TimeFormat, UTC and fixed
// width, so that text order is time order and a time reads back exactly as
// written (and as audit entries are hashed).
const timeFormat = audit.TimeFormat

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

// nullTime is t as a nullable column: NULL when zero.
func nullTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := formatTime(t)
	return &s
}
