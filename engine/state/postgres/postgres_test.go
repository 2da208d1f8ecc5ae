package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/state"
	"github.com/statgate/statgate/engine/state/postgres/pgtest"
	"github.com/statgate/statgate/engine/state/statetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestState runs engine/state's behavioural suite on the PostgreSQL store,
// each test on a schema of its own; reopen opens a second pool on it, as
// a second replica would.
func TestState(t *testing.T) {
	statetest.Run(t, func(t *testing.T, now func() time.Time) (state.Store, func(*testing.T) state.Store) {
		url := pgtest.NewSchema(t)
		return openStore(t, url, now), func(t *testing.T) state.Store { return openStore(t, url, now) }
	})
}

// openStore opens the store at url with the clock now (time.Now when nil),
// closed when t ends.
func openStore(t testing.TB, url string, now func() time.Time) *Store {
	t.Helper()
	s, err := Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if now != nil {
		s.now = now
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSchemaVersionMatchesMigrations(t *testing.T) {
	if len(migrations) != SchemaVersion {
		t.Errorf("SchemaVersion = %d but there are %d migration steps", SchemaVersion, len(migrations))
	}
}

func TestOpenCreatesSchema(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, pgtest.NewSchema(t), nil)
	var version int
	if err := s.pool.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version != SchemaVersion {
		t.Errorf("schema version = %d, want %d", version, SchemaVersion)
	}
	for _, table := range []string{"budget_spent", "budget_entries", "audit_log", "audit_head", "tokens"} {
		var n int
		if err := s.pool.QueryRow(ctx,
			`SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1`, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("table %s missing from the URL's schema", table)
		}
	}
}

// TestOpenIsIdempotentAndConcurrent: replicas starting together migrate
// once.
func TestOpenIsIdempotentAndConcurrent(t *testing.T) {
	url := pgtest.NewSchema(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := Open(context.Background(), url)
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: %v", i, err)
		}
	}
	s := openStore(t, url, nil)
	var rows int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM schema_version`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Errorf("schema_version has %d rows, want 1", rows)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	url := pgtest.NewSchema(t)
	s := openStore(t, url, nil)
	if _, err := s.pool.Exec(context.Background(), `UPDATE schema_version SET version = $1`, SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(context.Background(), url)
	if err == nil {
		s2.Close()
		t.Fatal("Open of a newer schema succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "upgrade statgate") {
		t.Errorf("error %q does not say to upgrade", err)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		desc, url, want string
	}{
		{"not a URL", "postgres://a b@:x", "not a valid PostgreSQL connection string"},
		{"no server there", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", "127.0.0.1:1"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			s, err := Open(context.Background(), tc.url)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tc.url)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%q) = %v, want it to mention %q", tc.url, err, tc.want)
			}
		})
	}
}

func TestIsURL(t *testing.T) {
	for s, want := range map[string]bool{
		"postgres://u@h/db": true, "postgresql://h/db": true, ".statgate/data": false, "": false, "sqlite://x": false,
	} {
		if got := IsURL(s); got != want {
			t.Errorf("IsURL(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestAuditLogIsAppendOnly: the triggers refuse UPDATE, DELETE and
// TRUNCATE of the log.
func TestAuditLogIsAppendOnly(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, pgtest.NewSchema(t), nil)
	statetest.AppendN(t, s.audit, 2)
	for _, stmt := range []string{
		`UPDATE audit_log SET outcome = 'refused' WHERE seq = 1`,
		`DELETE FROM audit_log WHERE seq = 2`,
		`TRUNCATE audit_log`,
	} {
		_, err := s.pool.Exec(ctx, stmt)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || !strings.Contains(pe.Message, "append-only") {
			t.Errorf("%s = %v, want the append-only refusal", stmt, err)
		}
	}
	if rep, err := s.audit.Verify(ctx); err != nil || !rep.OK || rep.Entries != 2 {
		t.Errorf("Verify = %+v, %v; want 2 intact entries", rep, err)
	}
}

// TestVerifyDetectsTampering: what an attacker with write access changes
// in the stored log, Verify reports at the first entry it touches.
func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		desc     string
		stmts    []string
		problem  string
		firstBad int64
	}{
		{"content changed", []string{`UPDATE audit_log SET outcome = 'refused' WHERE seq = 3`}, audit.ProblemChanged, 3},
		{"epsilon changed", []string{`UPDATE audit_log SET epsilon = 0.01 WHERE seq = 2`}, audit.ProblemChanged, 2},
		{"entry removed", []string{`DELETE FROM audit_log WHERE seq = 4`}, "", 4},
		{"tail truncated", []string{`DELETE FROM audit_log WHERE seq = 5`}, "", 5},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, pgtest.NewSchema(t), nil)
			statetest.AppendN(t, s.audit, 5)
			stmts := append([]string{`ALTER TABLE audit_log DISABLE TRIGGER USER`}, tc.stmts...)
			for _, stmt := range stmts {
				if _, err := s.pool.Exec(ctx, stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			rep, err := s.audit.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK {
				t.Fatalf("Verify after tampering = %+v, want not OK", rep)
			}
			if tc.problem != "" && rep.Problem != tc.problem {
				t.Errorf("Problem = %q, want %q", rep.Problem, tc.problem)
			}
			if rep.FirstBad != tc.firstBad {
				t.Errorf("FirstBad = %d, want %d (%s)", rep.FirstBad, tc.firstBad, rep.Problem)
			}
			// A log whose tail no longer matches its head takes no more entries.
			if tc.desc == "tail truncated" {
				if _, err := s.audit.Append(ctx, statetest.Entry(9)); !errors.Is(err, audit.ErrBroken) {
					t.Errorf("Append to a truncated log = %v, want ErrBroken", err)
				}
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	for code, want := range map[string]bool{"40001": true, "40P01": true, "23505": false, "57P01": false} {
		if got := retryable(&pgconn.PgError{Code: code}); got != want {
			t.Errorf("retryable(%s) = %v, want %v", code, got, want)
		}
	}
	if retryable(errors.New("x")) {
		t.Error("retryable(plain error) = true")
	}
}
