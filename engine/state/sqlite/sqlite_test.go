package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/state"
	"github.com/statgate/statgate/engine/state/statetest"
)

// TestState runs engine/state's behavioural suite on the SQLite store.
func TestState(t *testing.T) {
	statetest.Run(t, func(t *testing.T, now func() time.Time) (state.Store, func(*testing.T) state.Store) {
		dir := t.TempDir()
		return openStore(t, dir, now), func(t *testing.T) state.Store { return openStore(t, dir, now) }
	})
}

// openStore opens the store of dir with the clock now (time.Now when nil),
// closed when t ends.
func openStore(t testing.TB, dir string, now func() time.Time) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if now != nil {
		s.now = now
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenCreatesPrivateFileWithSchema(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	if ok, err := Exists(dir); err != nil || ok {
		t.Fatalf("Exists before Open = %v, %v; want false, nil", ok, err)
	}
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	db := s.db
	if ok, err := Exists(dir); err != nil || !ok {
		t.Fatalf("Exists after Open = %v, %v; want true, nil", ok, err)
	}
	st, err := os.Stat(Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Errorf("state file mode = %o, want 600", perm)
	}
	var version int
	if err := db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version != SchemaVersion {
		t.Errorf("schema version = %d, want %d", version, SchemaVersion)
	}
	for _, table := range []string{"budget_spent", "budget_entries", "audit_log", "audit_head", "tokens"} {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("table %s missing", table)
		}
	}
}

func TestSchemaVersionMatchesMigrations(t *testing.T) {
	if len(migrations) != SchemaVersion {
		t.Errorf("SchemaVersion = %d but there are %d migration steps", SchemaVersion, len(migrations))
	}
}

func TestConnectionSettings(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := s.db
	// Hold one connection so the checks run on a second pooled one: the
	// settings must hold on every connection, not just the first.
	hold, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	tests := []struct {
		desc   string
		pragma string
		want   string
	}{
		{"WAL journal", "journal_mode", "wal"},
		{"durable commits", "synchronous", "2"},
		{"foreign keys", "foreign_keys", "1"},
		{"busy timeout", "busy_timeout", "30000"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			var got string
			if err := db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("PRAGMA %s = %q, want %q", tc.pragma, got, tc.want)
			}
		})
	}
}

func TestOpenIsIdempotentAndConcurrent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := Open(ctx, dir)
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
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var rows int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM schema_version`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Errorf("schema_version has %d rows, want 1", rows)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE schema_version SET version = ?`, SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(ctx, dir); err == nil {
		s.Close()
		t.Fatal("Open of a newer schema succeeded, want an error")
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc string
		dir  string
	}{
		{"empty data dir", ""},
		{"data dir is a file", file},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if s, err := Open(ctx, tc.dir); err == nil {
				s.Close()
				t.Errorf("Open(%q) succeeded, want an error", tc.dir)
			}
		})
	}
}

func TestTimeRoundTrip(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	in := time.Date(2026, 3, 1, 12, 30, 0, 120, loc)
	s := formatTime(in)
	if s != "2026-03-01T11:30:00.000000120Z" {
		t.Errorf("formatTime = %q", s)
	}
	if s != audit.FormatTime(in) {
		t.Errorf("formatTime = %q but audit.FormatTime = %q: audit_log.time is hashed as audit formats it", s, audit.FormatTime(in))
	}
	out, err := parseTime(s)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Equal(in) {
		t.Errorf("parseTime(formatTime(t)) = %v, want %v", out, in)
	}
	if _, err := parseTime("yesterday"); err == nil {
		t.Error("parseTime(garbage) succeeded")
	}
}

// TestOpenMigratesVersion1 opens a state file as the previous release
// wrote it (schema version 1, a token without expiry) and checks that Open
// brings it to SchemaVersion without losing the row.
func TestOpenMigratesVersion1(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old, err := sql.Open("sqlite", dsn(Path(dir)))
	if err != nil {
		t.Fatal(err)
	}
	stmts := append([]string{`CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT`}, migrations[0]...)
	stmts = append(stmts,
		`INSERT INTO schema_version (version) VALUES (1)`,
		`INSERT INTO tokens (id, hash, principal, created_at, last_used) VALUES ('0123456789ab', x'00', 'ingrid', '2025-01-01T00:00:00.000000000Z', NULL)`)
	for _, s := range stmts {
		if _, err := old.ExecContext(ctx, s); err != nil {
			t.Fatalf("writing a version 1 store: %v", err)
		}
	}
	old.Close()

	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatalf("Open of a version 1 store: %v", err)
	}
	defer s.Close()
	db := s.db
	var version int
	if err := db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version != SchemaVersion {
		t.Errorf("schema version after Open = %d, want %d", version, SchemaVersion)
	}
	var (
		principal string
		expires   sql.NullString
	)
	if err := db.QueryRowContext(ctx, `SELECT principal, expires_at FROM tokens WHERE id = '0123456789ab'`).Scan(&principal, &expires); err != nil {
		t.Fatalf("the old token after migration: %v", err)
	}
	if principal != "ingrid" || expires.Valid {
		t.Errorf("old token = %q, expires %v; want ingrid without expiry", principal, expires)
	}
	// A second Open finds the current version and changes nothing.
	s2, err := Open(ctx, dir)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	s2.Close()
}

// TestOpenMigratesVersion2 opens a state file as release 2 wrote it, with
// debits in the ledger, and checks that the debits keep their ε and δ, are
// charged ρ = ε²/2 with their δ additive (migration 4), and that the
// ledger takes the next debit.
func TestOpenMigratesVersion2(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old, err := sql.Open("sqlite", dsn(Path(dir)))
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{`CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT`}
	stmts = append(stmts, migrations[0]...)
	stmts = append(stmts, migrations[1]...)
	stmts = append(stmts,
		`INSERT INTO schema_version (version) VALUES (2)`,
		`INSERT INTO budget_spent (project, dataset, epsilon_units, delta_units) VALUES ('p', 'a', 1500000000, 20000000)`,
		`INSERT INTO budget_entries (time, query_id, project, principal, dataset, epsilon_units, delta_units)
			VALUES ('2025-06-01T00:00:00.000000000Z', 'q_old', 'p', 'ingrid', 'a', 1500000000, 20000000)`,
		// A join over two datasets: one entry per dataset, one debit.
		`INSERT INTO budget_spent (project, dataset, epsilon_units, delta_units) VALUES ('j', 'b', 250000000, 0), ('j', 'c', 250000000, 0)`,
		`INSERT INTO budget_entries (time, query_id, project, principal, dataset, epsilon_units, delta_units)
			VALUES ('2025-06-02T00:00:00.000000000Z', 'q_join', 'j', 'kari', 'c', 250000000, 0),
			       ('2025-06-02T00:00:00.000000000Z', 'q_join', 'j', 'kari', 'b', 250000000, 0)`)
	for _, s := range stmts {
		if _, err := old.ExecContext(ctx, s); err != nil {
			t.Fatalf("writing a version 2 store: %v", err)
		}
	}
	old.Close()

	s := openStore(t, dir, nil)
	// The old debit is charged ρ = ε²/2 with its δ additive.
	want, err := budget.NewCost(1.5, 2e-8, 1.5*1.5/2)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Ledger().Spent(ctx, "p", "a"); err != nil || got != want {
		t.Errorf("Spent after migration = %v, %v; want %v", got, err, want)
	}
	h, err := s.Ledger().History(ctx, "p", 0)
	if err != nil || len(h) != 1 || h[0].QueryID != "q_old" || h[0].Cost != want {
		t.Errorf("History after migration = %+v, %v", h, err)
	}
	// Migration 6 rebuilds one debit per query from the entries.
	if d, err := s.Ledger().Debits(ctx, "p", budget.Page{}); err != nil || len(d) != 1 || d[0].QueryID != "q_old" ||
		d[0].Cost != want || !slices.Equal(d[0].Datasets, []string{"a"}) || d[0].Principal != "ingrid" || d[0].Kind != "" {
		t.Errorf("Debits of p after migration = %+v, %v", d, err)
	}
	join, _ := budget.NewCost(0.25, 0, 0.25*0.25/2)
	if d, err := s.Ledger().Debits(ctx, "j", budget.Page{}); err != nil || len(d) != 1 || d[0].QueryID != "q_join" ||
		d[0].Cost != join || !slices.Equal(d[0].Datasets, []string{"b", "c"}) || d[0].Principal != "kari" {
		t.Errorf("Debits of j after migration = %+v, %v", d, err)
	}
	more, err := budget.NewCost(0.5, 0, 1e-4)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ledger().Debit(ctx, budget.Spend{Project: "p", Datasets: []string{"a"}, Cost: more}, admitAll{}); err != nil {
		t.Fatal(err)
	}
	sum, _ := want.Add(more)
	if got, err := s.Ledger().Spent(ctx, "p", "a"); err != nil || got != sum {
		t.Errorf("Spent after a new debit = %v, %v; want %v", got, err, sum)
	}
}

// admitAll admits every debit.
type admitAll struct{}

func (admitAll) Admit(budget.Spend, map[budget.Account]budget.Standing) error { return nil }
