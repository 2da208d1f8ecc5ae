// Package tokens issues and checks the API's bearer tokens. A token is 32
// random bytes from crypto/rand, written "sg_" + base64url (no padding);
// it is shown once, when created, and only its SHA-256 is stored, with a
// short random public id that operators use to list and revoke it. A token
// may expire (CreateOptions.TTL); the store records when each token was
// last accepted, to the minute.
//
// The package holds the rules (Issue, HashOf, Record.Check, Throttle) and
// stores nothing: the token store is state.Tokens in engine/state, whose
// backends keep Records.
package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Prefix starts every token, so that a leaked one is recognisable (secret
// scanners) and a mistyped one is rejected without a lookup.
const Prefix = "sg_"

// tokenBytes is the number of random bytes in a token.
const tokenBytes = 32

// encodedLen is the length of a token: the prefix and 43 base64url characters.
var encodedLen = len(Prefix) + base64.RawURLEncoding.EncodedLen(tokenBytes)

// LastUsedEvery is how stale a token's LastUsed may get before a lookup
// records a newer time; it keeps lookups from writing on every request.
const LastUsedEvery = time.Minute

// Info describes a stored token. It never contains the token.
type Info struct {
	// ID is the token's public id (12 hex digits).
	ID        string    `json:"id"`
	Principal string    `json:"principal"`
	CreatedAt time.Time `json:"created_at"`
	Revoked   bool      `json:"revoked"`
	// RevokedAt is zero unless Revoked.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// LastUsed is when a Lookup last accepted the token (to the minute);
	// zero when never.
	LastUsed time.Time `json:"last_used,omitzero"`
	// ExpiresAt is when the token stops authenticating; zero when it
	// does not expire.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Expired reports whether ExpiresAt had passed when List read the token.
	Expired bool `json:"expired,omitempty"`
}

// CreateOptions tune token creation. The zero value (or nil) issues a
// token that does not expire.
type CreateOptions struct {
	// TTL, when positive, is how long the token authenticates from its
	// creation; after that a lookup refuses it with ErrExpired. Zero: no
	// expiry. Negative is an error.
	TTL time.Duration
}

// Hash is the SHA-256 of a token, the only form in which it is stored.
type Hash [sha256.Size]byte

// Record is a stored token: everything a store keeps of it. Zero times
// mean none (not revoked, never used, no expiry).
type Record struct {
	ID        string
	Hash      Hash
	Principal string
	CreatedAt time.Time
	RevokedAt time.Time
	LastUsed  time.Time
	ExpiresAt time.Time
}

// Issue makes a new token for principal at now (a store's Stamp): the
// token, to show once, and the Record to store. A bad principal is
// ErrBadPrincipal, a negative TTL ErrBadTTL.
func Issue(principal string, now time.Time, opts *CreateOptions) (string, Record, error) {
	var o CreateOptions
	if opts != nil {
		o = *opts
	}
	if err := checkPrincipal(principal); err != nil {
		return "", Record{}, fmt.Errorf("tokens.Issue: %w", err)
	}
	if o.TTL < 0 {
		return "", Record{}, fmt.Errorf("tokens.Issue: %w: %s", ErrBadTTL, o.TTL)
	}
	var secret [tokenBytes]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", Record{}, fmt.Errorf("tokens.Issue: %w", err)
	}
	token := Prefix + base64.RawURLEncoding.EncodeToString(secret[:])
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", Record{}, fmt.Errorf("tokens.Issue: %w", err)
	}
	rec := Record{ID: hex.EncodeToString(id[:]), Hash: sha256.Sum256([]byte(token)), Principal: principal, CreatedAt: now}
	if o.TTL > 0 {
		rec.ExpiresAt = now.Add(o.TTL)
	}
	return token, rec, nil
}

// HashOf returns the hash a store looks token up by, and false when the
// token is malformed (then there is nothing to look up).
func HashOf(token string) (Hash, bool) {
	if !wellFormed(token) {
		return Hash{}, false
	}
	return sha256.Sum256([]byte(token)), true
}

// Stamp is now as stores record times: UTC, without the monotonic reading.
func Stamp(now time.Time) time.Time { return now.UTC().Round(0) }

// Check decides a lookup at now of the token r records: ok for a token
// neither revoked nor expired; ErrExpired (with ok false) for an expired
// one that is not revoked.
func (r Record) Check(now time.Time) (bool, error) {
	if !r.RevokedAt.IsZero() {
		return false, nil
	}
	if !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt) {
		return false, ErrExpired
	}
	return true, nil
}

// Info describes r as List shows it at now.
func (r Record) Info(now time.Time) Info {
	return Info{
		ID: r.ID, Principal: r.Principal, CreatedAt: r.CreatedAt,
		Revoked: !r.RevokedAt.IsZero(), RevokedAt: r.RevokedAt,
		LastUsed: r.LastUsed, ExpiresAt: r.ExpiresAt,
		Expired: !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt),
	}
}

// Throttle decides when a store writes an accepted token's last use: when
// the stored time and the time this process last wrote are both at least
// LastUsedEvery old, so that concurrent requests with one token write once
// a minute and skip the write without asking the store. The zero value is
// ready; it is safe for concurrent use.
type Throttle struct {
	mu       sync.Mutex
	recorded map[string]time.Time // token id → when this process last wrote
}

// Due reports whether the use at now of token id, whose stored last use is
// stored (zero: never), should be written. A true result counts as written;
// call Forget when the write fails.
func (t *Throttle) Due(id string, stored, now time.Time) bool {
	if !stored.IsZero() && now.Sub(stored) < LastUsedEvery {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if last, ok := t.recorded[id]; ok && now.Sub(last) < LastUsedEvery && !now.Before(last) {
		return false
	}
	if t.recorded == nil {
		t.recorded = map[string]time.Time{}
	}
	t.recorded[id] = now
	return true
}

// Forget undoes the last Due of id, after its write failed.
func (t *Throttle) Forget(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.recorded, id)
}

// wellFormed reports whether token has the shape Issue gives tokens.
func wellFormed(token string) bool {
	if len(token) != encodedLen || !strings.HasPrefix(token, Prefix) {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token[len(Prefix):])
	return err == nil && len(b) == tokenBytes
}

// checkPrincipal rejects a principal name that could not come from a policy.
func checkPrincipal(p string) error {
	if p == "" || strings.TrimSpace(p) != p {
		return fmt.Errorf("%w: %q", ErrBadPrincipal, p)
	}
	for _, r := range p {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("%w: %q", ErrBadPrincipal, p)
		}
	}
	return nil
}
