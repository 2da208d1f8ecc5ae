// Package tokens issues and checks the API's bearer tokens. A token is 32
// random bytes from crypto/rand, written "sg_" + base64url (no padding);
// it is shown once, when created, and only its SHA-256 is stored, with a
// short random public id that operators use to list and revoke it. A token
// may expire (CreateOptions.TTL); the store records when each token was
// last accepted, to the minute.
package tokens

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/statgate/statgate/engine/statedb"
)

// Prefix starts every token, so that a leaked one is recognisable (secret
// scanners) and a mistyped one is rejected without a lookup.
const Prefix = "sg_"

// tokenBytes is the number of random bytes in a token.
const tokenBytes = 32

// encodedLen is the length of a token: the prefix and 43 base64url characters.
var encodedLen = len(Prefix) + base64.RawURLEncoding.EncodedLen(tokenBytes)

// lastUsedEvery is how stale a token's LastUsed may get before Lookup
// records a newer time; it keeps lookups from writing on every request.
const lastUsedEvery = time.Minute

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

// CreateOptions tune Create. The zero value (or nil) issues a token that
// does not expire.
type CreateOptions struct {
	// TTL, when positive, is how long the token authenticates from its
	// creation; after that Lookup refuses it with ErrExpired. Zero: no
	// expiry. Negative is an error.
	TTL time.Duration
}

// Store keeps tokens in the state store. It is safe for concurrent use,
// also from several processes (`statgate token create` next to a server).
type Store struct {
	db  *sql.DB
	now func() time.Time

	// recorded is when this process last wrote each token's last_used
	// (by id), so that concurrent requests with one token skip the write
	// without asking the store.
	mu       sync.Mutex
	recorded map[string]time.Time
}

// NewStore returns the token store kept in db, which must come from
// statedb.Open (it creates the table).
func NewStore(db *sql.DB) (*Store, error) {
	if db == nil {
		return nil, errors.New("tokens.NewStore: nil database")
	}
	return &Store{db: db, now: time.Now, recorded: map[string]time.Time{}}, nil
}

// Create issues a token for principal that does not expire; see CreateWith.
func (s *Store) Create(ctx context.Context, principal string) (string, Info, error) {
	return s.CreateWith(ctx, principal, nil)
}

// CreateWith issues a token for principal. The token is returned once and
// cannot be recovered later; Info describes it.
func (s *Store) CreateWith(ctx context.Context, principal string, opts *CreateOptions) (string, Info, error) {
	var o CreateOptions
	if opts != nil {
		o = *opts
	}
	if err := checkPrincipal(principal); err != nil {
		return "", Info{}, fmt.Errorf("tokens.Create: %w", err)
	}
	if o.TTL < 0 {
		return "", Info{}, fmt.Errorf("tokens.Create: %w: %s", ErrBadTTL, o.TTL)
	}
	var secret [tokenBytes]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", Info{}, fmt.Errorf("tokens.Create: %w", err)
	}
	token := Prefix + base64.RawURLEncoding.EncodeToString(secret[:])
	hash := sha256.Sum256([]byte(token))
	var idBytes [6]byte
	if _, err := rand.Read(idBytes[:]); err != nil {
		return "", Info{}, fmt.Errorf("tokens.Create: %w", err)
	}
	info := Info{ID: hex.EncodeToString(idBytes[:]), Principal: principal, CreatedAt: s.stamp()}
	var expires sql.NullString
	if o.TTL > 0 {
		info.ExpiresAt = info.CreatedAt.Add(o.TTL)
		expires = sql.NullString{String: statedb.FormatTime(info.ExpiresAt), Valid: true}
	}
	if _, err := s.db.ExecContext(ctx,
		`INSERT INTO tokens (id, hash, principal, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		info.ID, hash[:], info.Principal, statedb.FormatTime(info.CreatedAt), expires); err != nil {
		return "", Info{}, fmt.Errorf("tokens.Create: %w", err)
	}
	return token, info, nil
}

// Lookup returns the principal a token belongs to. ok is false for a
// malformed, unknown, revoked or expired token. err is nil then, except
// for an expired token, where it is ErrExpired: only the holder of a token
// that was really issued can see that, so it tells nothing to a guesser.
// Any other err is a failure of the store. An accepted token's LastUsed is
// brought up to date at most once a minute, so most lookups only read.
func (s *Store) Lookup(ctx context.Context, token string) (principal string, ok bool, err error) {
	if !wellFormed(token) {
		return "", false, nil
	}
	hash := sha256.Sum256([]byte(token))
	var (
		id                        string
		revoked, lastUse, expires sql.NullString
	)
	err = s.db.QueryRowContext(ctx,
		`SELECT id, principal, revoked_at, last_used, expires_at FROM tokens WHERE hash = ?`, hash[:]).
		Scan(&id, &principal, &revoked, &lastUse, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("tokens.Lookup: %w", err)
	}
	if revoked.Valid {
		return "", false, nil
	}
	now := s.stamp()
	if expires.Valid {
		at, perr := statedb.ParseTime(expires.String)
		if perr != nil { // fail closed: an unreadable expiry accepts nothing
			return "", false, fmt.Errorf("tokens.Lookup: token %s: expires_at: %w", id, perr)
		}
		if !now.Before(at) {
			return "", false, ErrExpired
		}
	}
	if err := s.recordUse(ctx, id, lastUse, now); err != nil {
		return "", false, err
	}
	return principal, true, nil
}

// recordUse writes now as the token's last use unless the stored time, or
// the time this process last wrote, is less than lastUsedEvery old.
func (s *Store) recordUse(ctx context.Context, id string, stored sql.NullString, now time.Time) error {
	if last, err := statedb.ParseTime(stored.String); stored.Valid && err == nil && now.Sub(last) < lastUsedEvery {
		return nil
	}
	s.mu.Lock()
	if last, ok := s.recorded[id]; ok && now.Sub(last) < lastUsedEvery && !now.Before(last) {
		s.mu.Unlock()
		return nil
	}
	s.recorded[id] = now
	s.mu.Unlock()
	if _, err := s.db.ExecContext(ctx,
		`UPDATE tokens SET last_used = ? WHERE id = ? AND revoked_at IS NULL`,
		statedb.FormatTime(now), id); err != nil {
		s.mu.Lock()
		delete(s.recorded, id)
		s.mu.Unlock()
		return fmt.Errorf("tokens.Lookup: record use: %w", err)
	}
	return nil
}

// List returns every token ever created, revoked ones included, oldest first.
func (s *Store) List(ctx context.Context) ([]Info, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, principal, created_at, revoked_at, last_used, expires_at FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("tokens.List: %w", err)
	}
	defer rows.Close()
	now := s.stamp()
	var out []Info
	for rows.Next() {
		var (
			in                         Info
			created                    string
			revoked, lastUsed, expires sql.NullString
		)
		if err := rows.Scan(&in.ID, &in.Principal, &created, &revoked, &lastUsed, &expires); err != nil {
			return nil, fmt.Errorf("tokens.List: %w", err)
		}
		if in.CreatedAt, err = statedb.ParseTime(created); err != nil {
			return nil, fmt.Errorf("tokens.List: token %s: %w", in.ID, err)
		}
		if revoked.Valid {
			in.Revoked = true
			if in.RevokedAt, err = statedb.ParseTime(revoked.String); err != nil {
				return nil, fmt.Errorf("tokens.List: token %s: %w", in.ID, err)
			}
		}
		if lastUsed.Valid {
			if in.LastUsed, err = statedb.ParseTime(lastUsed.String); err != nil {
				return nil, fmt.Errorf("tokens.List: token %s: %w", in.ID, err)
			}
		}
		if expires.Valid {
			if in.ExpiresAt, err = statedb.ParseTime(expires.String); err != nil {
				return nil, fmt.Errorf("tokens.List: token %s: %w", in.ID, err)
			}
			in.Expired = !now.Before(in.ExpiresAt)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tokens.List: %w", err)
	}
	return out, nil
}

// Revoke revokes the token with the given public id; later lookups of it
// fail. Revoking a revoked token is a no-op. An unknown id is ErrNotFound.
func (s *Store) Revoke(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`,
		statedb.FormatTime(s.stamp()), id)
	if err != nil {
		return fmt.Errorf("tokens.Revoke: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("tokens.Revoke: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("tokens.Revoke: %w: %q", ErrNotFound, id)
	}
	return nil
}

// stamp is the current time as the store records it.
func (s *Store) stamp() time.Time {
	return s.now().UTC().Round(0)
}

// wellFormed reports whether token has the shape Create gives tokens.
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
