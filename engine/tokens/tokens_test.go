package tokens

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statgate/statgate/engine/statedb"
)

func openStore(t *testing.T) (*Store, *sql.DB, string) {
	t.Helper()
	return openStoreIn(t, t.TempDir())
}

func openStoreIn(t *testing.T, dir string) (*Store, *sql.DB, string) {
	t.Helper()
	db, err := statedb.Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("statedb.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := NewStore(db)
	if err != nil {
		t.Fatal(err)
	}
	return s, db, dir
}

func TestNewStoreNilDB(t *testing.T) {
	if _, err := NewStore(nil); err == nil {
		t.Error("NewStore(nil) succeeded")
	}
}

func TestCreateAndLookup(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openStore(t)
	tokIngrid, info, err := s.Create(ctx, "ingrid")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tokIngrid, Prefix) || len(tokIngrid) != 46 {
		t.Errorf("token %q: want %q + 43 base64url characters", tokIngrid, Prefix)
	}
	if len(info.ID) != 12 || info.Principal != "ingrid" || info.CreatedAt.IsZero() || info.Revoked {
		t.Errorf("Info = %+v", info)
	}
	tokOla, _, err := s.Create(ctx, "ola")
	if err != nil {
		t.Fatal(err)
	}
	if tokOla == tokIngrid {
		t.Fatal("two tokens are equal")
	}
	// One character changed, still well-formed.
	flipped := []byte(tokIngrid)
	if flipped[10] == 'A' {
		flipped[10] = 'B'
	} else {
		flipped[10] = 'A'
	}
	tests := []struct {
		desc   string
		token  string
		want   string
		wantOK bool
	}{
		{"ingrid's token", tokIngrid, "ingrid", true},
		{"ola's token", tokOla, "ola", true},
		{"one character changed", string(flipped), "", false},
		{"empty", "", "", false},
		{"no prefix", strings.TrimPrefix(tokIngrid, Prefix), "", false},
		{"truncated", tokIngrid[:len(tokIngrid)-1], "", false},
		{"not base64", Prefix + strings.Repeat("!", 43), "", false},
		{"the public id", info.ID, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, ok, err := s.Lookup(ctx, tc.token)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("Lookup = %q, %v; want %q, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openStore(t)
	tok, info, err := s.Create(ctx, "ingrid")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := s.Create(ctx, "ingrid")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if p, ok, err := s.Lookup(ctx, tok); err != nil || ok || p != "" {
		t.Errorf("Lookup(revoked) = %q, %v, %v; want not ok", p, ok, err)
	}
	if p, ok, err := s.Lookup(ctx, other); err != nil || !ok || p != "ingrid" {
		t.Errorf("Lookup(other token of the same principal) = %q, %v, %v; want ingrid", p, ok, err)
	}
	if err := s.Revoke(ctx, info.ID); err != nil {
		t.Errorf("second Revoke: %v, want nil", err)
	}
	if err := s.Revoke(ctx, "000000000000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Revoke(unknown) = %v, want ErrNotFound", err)
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("List has %d tokens, want 2", len(list))
	}
	for _, in := range list {
		if (in.ID == info.ID) != in.Revoked {
			t.Errorf("token %s: Revoked = %v", in.ID, in.Revoked)
		}
		if in.Revoked && in.RevokedAt.IsZero() {
			t.Errorf("token %s: revoked without RevokedAt", in.ID)
		}
	}
}

func TestCreateRejectsBadPrincipal(t *testing.T) {
	s, _, _ := openStore(t)
	for _, p := range []string{"", " ingrid", "ingrid ", "in grid", "in\ngrid", "a\x00b"} {
		t.Run(p, func(t *testing.T) {
			if _, _, err := s.Create(context.Background(), p); !errors.Is(err, ErrBadPrincipal) {
				t.Errorf("Create(%q) = %v, want ErrBadPrincipal", p, err)
			}
		})
	}
}

func TestLastUsedIsThrottled(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openStore(t)
	clock := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return clock }
	tok, _, err := s.Create(ctx, "ingrid")
	if err != nil {
		t.Fatal(err)
	}
	lastUsed := func() time.Time {
		t.Helper()
		list, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return list[0].LastUsed
	}
	if !lastUsed().IsZero() {
		t.Error("a new token has a LastUsed")
	}
	steps := []struct {
		desc    string
		advance time.Duration
		want    time.Time
	}{
		{"first use is recorded", time.Second, clock.Add(time.Second)},
		{"use within a minute is not", 30 * time.Second, clock.Add(time.Second)},
		{"use a minute later is", 40 * time.Second, clock.Add(71 * time.Second)},
	}
	for _, st := range steps {
		clock = clock.Add(st.advance)
		if _, ok, err := s.Lookup(ctx, tok); !ok || err != nil {
			t.Fatalf("%s: Lookup = %v, %v", st.desc, ok, err)
		}
		if got := lastUsed(); !got.Equal(st.want) {
			t.Errorf("%s: LastUsed = %v, want %v", st.desc, got, st.want)
		}
	}
}

// TestTokenNeverStoredInClear scans the state files' bytes for the token.
func TestTokenNeverStoredInClear(t *testing.T) {
	ctx := context.Background()
	s, db, dir := openStore(t)
	const principal = "principal-marker-7f3a"
	tok, _, err := s.Create(ctx, principal)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Lookup(ctx, tok); !ok || err != nil {
		t.Fatalf("Lookup = %v, %v", ok, err)
	}
	secret := tok[len(Prefix):]
	var all []byte
	for _, name := range []string{statedb.FileName, statedb.FileName + "-wal"} {
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

func TestWriteList(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	var buf bytes.Buffer
	err := WriteList(&buf, []Info{
		{ID: "0123456789ab", Principal: "ingrid", CreatedAt: at, LastUsed: at.Add(time.Hour)},
		{ID: "ba9876543210", Principal: "ola", CreatedAt: at, Revoked: true, RevokedAt: at.Add(24 * time.Hour)},
		{ID: "00aa00aa00aa", Principal: "kari", CreatedAt: at, ExpiresAt: at.Add(90 * 24 * time.Hour)},
		{ID: "11bb11bb11bb", Principal: "per", CreatedAt: at, ExpiresAt: at.Add(time.Hour), Expired: true, LastUsed: at},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		"ID            PRINCIPAL  CREATED            EXPIRES            LAST USED          STATUS\n" +
		"0123456789ab  ingrid     2026-03-04 05:06Z  never              2026-03-04 06:06Z  active\n" +
		"ba9876543210  ola        2026-03-04 05:06Z  never              never              revoked 2026-03-05 05:06Z\n" +
		"00aa00aa00aa  kari       2026-03-04 05:06Z  2026-06-02 05:06Z  never              active\n" +
		"11bb11bb11bb  per        2026-03-04 05:06Z  2026-03-04 06:06Z  2026-03-04 05:06Z  expired\n"
	if buf.String() != want {
		t.Errorf("WriteList:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestExpiry(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openStore(t)
	clock := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return clock }
	tok, info, err := s.CreateWith(ctx, "ingrid", &CreateOptions{TTL: 90 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if want := clock.Add(90 * 24 * time.Hour); !info.ExpiresAt.Equal(want) {
		t.Errorf("Info.ExpiresAt = %v, want %v", info.ExpiresAt, want)
	}
	forever, _, err := s.Create(ctx, "ingrid")
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		desc    string
		at      time.Time
		wantOK  bool
		wantErr error
	}{
		{"just created", clock, true, nil},
		{"a second before expiry", info.ExpiresAt.Add(-time.Second), true, nil},
		{"at expiry", info.ExpiresAt, false, ErrExpired},
		{"a year later", info.ExpiresAt.AddDate(1, 0, 0), false, ErrExpired},
	}
	for _, st := range steps {
		t.Run(st.desc, func(t *testing.T) {
			clock = st.at
			p, ok, err := s.Lookup(ctx, tok)
			if ok != st.wantOK || !errors.Is(err, st.wantErr) || (err == nil) != (st.wantErr == nil) {
				t.Fatalf("Lookup = %q, %v, %v; want ok %v, err %v", p, ok, err, st.wantOK, st.wantErr)
			}
			if ok && p != "ingrid" || !ok && p != "" {
				t.Errorf("Lookup principal %q (ok %v)", p, ok)
			}
			if p, ok, err := s.Lookup(ctx, forever); !ok || err != nil || p != "ingrid" {
				t.Errorf("the token without expiry: Lookup = %q, %v, %v", p, ok, err)
			}
		})
	}
	// The expired token's last use is its last accepted lookup.
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range list {
		switch in.ID {
		case info.ID:
			if !in.Expired || !in.ExpiresAt.Equal(info.ExpiresAt) {
				t.Errorf("expired token listed as %+v", in)
			}
			if want := info.ExpiresAt.Add(-time.Second); !in.LastUsed.Equal(want) {
				t.Errorf("expired token LastUsed = %v, want %v (its last accepted lookup)", in.LastUsed, want)
			}
		default:
			if in.Expired || !in.ExpiresAt.IsZero() {
				t.Errorf("token without expiry listed as %+v", in)
			}
		}
	}
	// A revoked token is refused as revoked, not as expired.
	if err := s.Revoke(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Lookup(ctx, tok); ok || err != nil {
		t.Errorf("Lookup(revoked and expired) = %v, %v; want not ok, nil", ok, err)
	}
	if _, _, err := s.CreateWith(ctx, "ingrid", &CreateOptions{TTL: -time.Hour}); !errors.Is(err, ErrBadTTL) {
		t.Errorf("CreateWith(negative TTL) = %v, want ErrBadTTL", err)
	}
}

// TestOldStoreTokensKeepWorking writes a token as the previous release did
// (schema version 1, no expires_at column), then opens the store with this
// one: the token still authenticates, never expires and is listed.
func TestOldStoreTokensKeepWorking(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, db, _ := openStoreIn(t, dir)
	tok, info, err := s.Create(ctx, "ingrid")
	if err != nil {
		t.Fatal(err)
	}
	// Turn the file back into a version 1 store.
	for _, stmt := range []string{
		`ALTER TABLE tokens DROP COLUMN expires_at`,
		`UPDATE schema_version SET version = 1`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, _, _ = openStoreIn(t, dir)
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
	s, db, _ := openStore(t)
	tok, _, err := s.Create(ctx, "ingrid")
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
