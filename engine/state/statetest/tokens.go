package statetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/statgate/statgate/engine/tokens"
)

// TestTokens tests a backend's state.Tokens: creation, lookup, revocation,
// expiry, the once-a-minute last use, and a token created or revoked
// through another handle (`statgate token create` next to a server).
func TestTokens(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"CreateAndLookup", tokensCreateAndLookup},
		{"Revoke", tokensRevoke},
		{"CreateRejectsBadPrincipal", tokensBadPrincipal},
		{"LastUsedIsThrottled", tokensLastUsed},
		{"Expiry", tokensExpiry},
		{"AnotherHandle", tokensAnotherHandle},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}

func tokensCreateAndLookup(t *testing.T, b Backend) {
	ctx := context.Background()
	st, _ := open(t, b)
	s := st.Tokens()
	tokIngrid, info, err := s.Create(ctx, "ingrid", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tokIngrid, tokens.Prefix) || len(tokIngrid) != 46 {
		t.Errorf("token %q: want %q + 43 base64url characters", tokIngrid, tokens.Prefix)
	}
	if len(info.ID) != 12 || info.Principal != "ingrid" || info.CreatedAt.IsZero() || info.Revoked || !info.ExpiresAt.IsZero() {
		t.Errorf("Info = %+v", info)
	}
	tokOla, _, err := s.Create(ctx, "ola", nil)
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
		{"no prefix", strings.TrimPrefix(tokIngrid, tokens.Prefix), "", false},
		{"truncated", tokIngrid[:len(tokIngrid)-1], "", false},
		{"not base64", tokens.Prefix + strings.Repeat("!", 43), "", false},
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
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != info.ID || list[1].Principal != "ola" {
		t.Errorf("List = %+v, want ingrid's token then ola's", list)
	}
}

func tokensRevoke(t *testing.T, b Backend) {
	ctx := context.Background()
	st, _ := open(t, b)
	s := st.Tokens()
	tok, info, err := s.Create(ctx, "ingrid", nil)
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := s.Create(ctx, "ingrid", nil)
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
	if err := s.Revoke(ctx, "000000000000"); !errors.Is(err, tokens.ErrNotFound) {
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

func tokensBadPrincipal(t *testing.T, b Backend) {
	st, _ := open(t, b)
	s := st.Tokens()
	for _, p := range []string{"", " ingrid", "ingrid ", "in grid", "in\ngrid", "a\x00b"} {
		t.Run(p, func(t *testing.T) {
			if _, _, err := s.Create(context.Background(), p, nil); !errors.Is(err, tokens.ErrBadPrincipal) {
				t.Errorf("Create(%q) = %v, want ErrBadPrincipal", p, err)
			}
		})
	}
	if list, err := st.Tokens().List(context.Background()); err != nil || len(list) != 0 {
		t.Errorf("List = %v, %v; want no tokens", list, err)
	}
}

func tokensLastUsed(t *testing.T, b Backend) {
	ctx := context.Background()
	clk := newClock()
	start := clk.Now()
	st, _ := b(t, clk.Now)
	s := st.Tokens()
	tok, _, err := s.Create(ctx, "ingrid", nil)
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
		{"first use is recorded", time.Second, start.Add(time.Second)},
		{"use within a minute is not", 30 * time.Second, start.Add(time.Second)},
		{"use a minute later is", 40 * time.Second, start.Add(71 * time.Second)},
	}
	for _, step := range steps {
		clk.Advance(step.advance)
		if _, ok, err := s.Lookup(ctx, tok); !ok || err != nil {
			t.Fatalf("%s: Lookup = %v, %v", step.desc, ok, err)
		}
		if got := lastUsed(); !got.Equal(step.want) {
			t.Errorf("%s: LastUsed = %v, want %v", step.desc, got, step.want)
		}
	}
}

func tokensExpiry(t *testing.T, b Backend) {
	ctx := context.Background()
	clk := newClock()
	created := clk.Now()
	st, _ := b(t, clk.Now)
	s := st.Tokens()
	tok, info, err := s.Create(ctx, "ingrid", &tokens.CreateOptions{TTL: 90 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if want := created.Add(90 * 24 * time.Hour); !info.ExpiresAt.Equal(want) {
		t.Errorf("Info.ExpiresAt = %v, want %v", info.ExpiresAt, want)
	}
	forever, _, err := s.Create(ctx, "ingrid", nil)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		desc    string
		at      time.Time
		wantOK  bool
		wantErr error
	}{
		{"just created", created, true, nil},
		{"a second before expiry", info.ExpiresAt.Add(-time.Second), true, nil},
		{"at expiry", info.ExpiresAt, false, tokens.ErrExpired},
		{"a year later", info.ExpiresAt.AddDate(1, 0, 0), false, tokens.ErrExpired},
	}
	for _, step := range steps {
		t.Run(step.desc, func(t *testing.T) {
			clk.Set(step.at)
			p, ok, err := s.Lookup(ctx, tok)
			if ok != step.wantOK || !errors.Is(err, step.wantErr) || (err == nil) != (step.wantErr == nil) {
				t.Fatalf("Lookup = %q, %v, %v; want ok %v, err %v", p, ok, err, step.wantOK, step.wantErr)
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
	if _, _, err := s.Create(ctx, "ingrid", &tokens.CreateOptions{TTL: -time.Hour}); !errors.Is(err, tokens.ErrBadTTL) {
		t.Errorf("Create(negative TTL) = %v, want ErrBadTTL", err)
	}
}

// tokensAnotherHandle: a token created through one handle authenticates
// through another at once, and a revocation through one refuses it
// through the other at once.
func tokensAnotherHandle(t *testing.T, b Backend) {
	ctx := context.Background()
	st, reopen := open(t, b)
	server, operator := st.Tokens(), reopen(t).Tokens()
	tok, info, err := operator.Create(ctx, "ingrid", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok, err := server.Lookup(ctx, tok); !ok || err != nil || p != "ingrid" {
		t.Fatalf("Lookup of a token another handle created = %q, %v, %v", p, ok, err)
	}
	if err := operator.Revoke(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := server.Lookup(ctx, tok); ok || err != nil {
		t.Errorf("Lookup of a token another handle revoked = %v, %v; want not ok", ok, err)
	}
}
