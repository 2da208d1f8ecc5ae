package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/statgate/statgate/engine/tokens"
)

// TestTokenNeverStoredInClear scans the state files' bytes for the token.
func TestTokenNeverStoredInClear(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir, nil)
	s, db := st.Tokens(), st.db
	const principal = "principal-marker-7f3a"
	tok, _, err := s.Create(ctx, principal, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Lookup(ctx, tok); !ok || err != nil {
		t.Fatalf("Lookup = %v, %v", ok, err)
	}
	secret := tok[len(tokens.Prefix):]
	var all []byte
	for _, name := range []string{FileName, FileName + "-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	// The scan must see what was written: the principal is stored in clear.
	if !bytes.Contains(all, []byte(principal)) {
		t.Fatal("the scan does not see the stored principal; it cannot prove anything")
	}
	for _, needle := range []string{tok, secret, secret[:20], secret[20:]} {
		if bytes.Contains(all, []byte(needle)) {
			t.Errorf("state files contain the token (or part of it: %q)", needle)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM tokens WHERE length(hash) = 32`).Scan(&n); err != nil || n != 1 {
		t.Errorf("stored hashes: %d (%v), want one 32-byte hash", n, err)
	}
}

// TestOldStoreTokensKeepWorking writes a token as the previous release did
// (schema version 1, no expires_at column), then opens the store with this
// one: the token still authenticates, never expires and is listed.
func TestOldStoreTokensKeepWorking(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir, nil)
	s, db := st.Tokens(), st.db
	tok, info, err := s.Create(ctx, "ingrid", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Turn the file back into a version 1 store.
	for _, stmt := range []string{
		`DROP TABLE budget_grants`,
		`DROP TABLE budget_accounts`,
		`DROP TABLE budget_debits`,
		`DROP TABLE result_cache`,
		`ALTER TABLE budget_spent DROP COLUMN zdelta_units`,
		`ALTER TABLE budget_entries DROP COLUMN zdelta_units`,
		`ALTER TABLE budget_spent DROP COLUMN rho_units`,
		`ALTER TABLE budget_entries DROP COLUMN rho_units`,
		`ALTER TABLE tokens DROP COLUMN expires_at`,
		`UPDATE schema_version SET version = 1`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	s = openStore(t, dir, nil).Tokens()
	if p, ok, err := s.Lookup(ctx, tok); !ok || err != nil || p != "ingrid" {
		t.Fatalf("Lookup of a version 1 token = %q, %v, %v", p, ok, err)
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != info.ID || !list[0].ExpiresAt.IsZero() || list[0].Expired || list[0].LastUsed.IsZero() {
		t.Errorf("List = %+v", list)
	}
}

// TestLookupWritesOncePerMinute: many concurrent lookups of one token in
// the same minute write last_used once.
func TestLookupWritesOncePerMinute(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir(), nil)
	s, db := st.Tokens(), st.db
	tok, _, err := s.Create(ctx, "ingrid", nil)
	if err != nil {
		t.Fatal(err)
	}
	before := totalChanges(t, db)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if _, ok, err := s.Lookup(ctx, tok); !ok || err != nil {
				t.Errorf("Lookup = %v, %v", ok, err)
			}
		})
	}
	wg.Wait()
	if n := totalChanges(t, db) - before; n != 1 {
		t.Errorf("32 lookups within a minute wrote %d rows, want 1", n)
	}
}

// totalChanges counts the writes of tokens.last_used since its first call,
// through a trigger it installs.
func totalChanges(t *testing.T, db *sql.DB) int {
	t.Helper()
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS test_writes (n INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TRIGGER IF NOT EXISTS test_count_writes AFTER UPDATE OF last_used ON tokens
		BEGIN INSERT INTO test_writes (n) VALUES (1); END`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM test_writes`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
