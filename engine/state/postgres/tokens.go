package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/statgate/statgate/engine/tokens"
)

// tokenStore is the state.Tokens of a Store: tokens.Records in the tokens
// table (the SHA-256 of each token, never the token).
type tokenStore struct {
	st *Store
	// throttle keeps lookups from writing last_used more than once a
	// minute per token (per process; replicas each write at most once a
	// minute).
	throttle tokens.Throttle
}

// stamp is the current time as the store records it.
func (s *tokenStore) stamp() time.Time { return tokens.Stamp(s.st.now()) }

// Create implements state.Tokens.
func (s *tokenStore) Create(ctx context.Context, principal string, opts *tokens.CreateOptions) (string, tokens.Info, error) {
	now := s.stamp()
	tok, rec, err := tokens.Issue(principal, now, opts)
	if err != nil {
		return "", tokens.Info{}, fmt.Errorf("postgres.Create: %w", err)
	}
	if _, err := s.st.pool.Exec(ctx,
		`INSERT INTO tokens (id, hash, principal, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		rec.ID, rec.Hash[:], rec.Principal, formatTime(rec.CreatedAt), nullTime(rec.ExpiresAt)); err != nil {
		return "", tokens.Info{}, fmt.Errorf("postgres.Create: %w", err)
	}
	return tok, rec.Info(now), nil
}

// Lookup implements state.Tokens.
func (s *tokenStore) Lookup(ctx context.Context, token string) (string, bool, error) {
	hash, ok := tokens.HashOf(token)
	if !ok {
		return "", false, nil
	}
	var (
		rec                       tokens.Record
		revoked, lastUse, expires *string
	)
	err := s.st.pool.QueryRow(ctx,
		`SELECT id, principal, revoked_at, last_used, expires_at FROM tokens WHERE hash = $1`, hash[:]).
		Scan(&rec.ID, &rec.Principal, &revoked, &lastUse, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("postgres.Lookup: %w", err)
	}
	if revoked != nil {
		return "", false, nil
	}
	if expires != nil {
		if rec.ExpiresAt, err = parseTime(*expires); err != nil { // fail closed: an unreadable expiry accepts nothing
			return "", false, fmt.Errorf("postgres.Lookup: token %s: expires_at: %w", rec.ID, err)
		}
	}
	if lastUse != nil {
		rec.LastUsed, _ = parseTime(*lastUse) // unreadable: written anew below
	}
	now := s.stamp()
	if ok, err := rec.Check(now); !ok {
		return "", false, err
	}
	if s.throttle.Due(rec.ID, rec.LastUsed, now) {
		if _, err := s.st.pool.Exec(ctx,
			`UPDATE tokens SET last_used = $1 WHERE id = $2 AND revoked_at IS NULL`,
			formatTime(now), rec.ID); err != nil {
			s.throttle.Forget(rec.ID)
			return "", false, fmt.Errorf("postgres.Lookup: record use: %w", err)
		}
	}
	return rec.Principal, true, nil
}

// List implements state.Tokens.
func (s *tokenStore) List(ctx context.Context) ([]tokens.Info, error) {
	rows, err := s.st.pool.Query(ctx,
		`SELECT id, principal, created_at, revoked_at, last_used, expires_at FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("postgres.List: %w", err)
	}
	defer rows.Close()
	now := s.stamp()
	var out []tokens.Info
	for rows.Next() {
		var (
			rec                        tokens.Record
			created                    string
			revoked, lastUsed, expires *string
		)
		if err := rows.Scan(&rec.ID, &rec.Principal, &created, &revoked, &lastUsed, &expires); err != nil {
			return nil, fmt.Errorf("postgres.List: %w", err)
		}
		if rec.CreatedAt, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("postgres.List: token %s: %w", rec.ID, err)
		}
		for _, f := range []struct {
			col *string
			to  *time.Time
		}{{revoked, &rec.RevokedAt}, {lastUsed, &rec.LastUsed}, {expires, &rec.ExpiresAt}} {
			if f.col == nil {
				continue
			}
			if *f.to, err = parseTime(*f.col); err != nil {
				return nil, fmt.Errorf("postgres.List: token %s: %w", rec.ID, err)
			}
		}
		out = append(out, rec.Info(now))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres.List: %w", err)
	}
	return out, nil
}

// Revoke implements state.Tokens.
func (s *tokenStore) Revoke(ctx context.Context, id string) error {
	tag, err := s.st.pool.Exec(ctx,
		`UPDATE tokens SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`,
		formatTime(s.stamp()), id)
	if err != nil {
		return fmt.Errorf("postgres.Revoke: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres.Revoke: %w: %q", tokens.ErrNotFound, id)
	}
	return nil
}
