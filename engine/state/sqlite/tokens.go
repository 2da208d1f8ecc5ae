package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/statgate/statgate/engine/tokens"
)

// tokenStore is the state.Tokens of a Store: tokens.Records in the tokens
// table (the SHA-256 of each token, never the token).
type tokenStore struct {
	st *Store
	// throttle keeps lookups from writing last_used more than once a
	// minute per token.
	throttle tokens.Throttle
}

// stamp is the current time as the store records it.
func (s *tokenStore) stamp() time.Time { return tokens.Stamp(s.st.now()) }

// Create implements state.Tokens.
func (s *tokenStore) Create(ctx context.Context, principal string, opts *tokens.CreateOptions) (string, tokens.Info, error) {
	now := s.stamp()
	tok, rec, err := tokens.Issue(principal, now, opts)
	if err != nil {
		return "", tokens.Info{}, fmt.Errorf("sqlite.Create: %w", err)
	}
	if _, err := s.st.w.ExecContext(ctx,
		`INSERT INTO tokens (id, hash, principal, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		rec.ID, rec.Hash[:], rec.Principal, formatTime(rec.CreatedAt), nullTime(rec.ExpiresAt)); err != nil {
		return "", tokens.Info{}, fmt.Errorf("sqlite.Create: %w", err)
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
		revoked, lastUse, expires sql.NullString
	)
	err := s.st.db.QueryRowContext(ctx,
		`SELECT id, principal, revoked_at, last_used, expires_at FROM tokens WHERE hash = ?`, hash[:]).
		Scan(&rec.ID, &rec.Principal, &revoked, &lastUse, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("sqlite.Lookup: %w", err)
	}
	if revoked.Valid {
		return "", false, nil
	}
	if expires.Valid {
		if rec.ExpiresAt, err = parseTime(expires.String); err != nil { // fail closed: an unreadable expiry accepts nothing
			return "", false, fmt.Errorf("sqlite.Lookup: token %s: expires_at: %w", rec.ID, err)
		}
	}
	if lastUse.Valid {
		rec.LastUsed, _ = parseTime(lastUse.String) // unreadable: written anew below
	}
	now := s.stamp()
	if ok, err := rec.Check(now); !ok {
		return "", false, err
	}
	if s.throttle.Due(rec.ID, rec.LastUsed, now) {
		if _, err := s.st.w.ExecContext(ctx,
			`UPDATE tokens SET last_used = ? WHERE id = ? AND revoked_at IS NULL`,
			formatTime(now), rec.ID); err != nil {
			s.throttle.Forget(rec.ID)
			return "", false, fmt.Errorf("sqlite.Lookup: record use: %w", err)
		}
	}
	return rec.Principal, true, nil
}

// List implements state.Tokens.
func (s *tokenStore) List(ctx context.Context) ([]tokens.Info, error) {
	rows, err := s.st.db.QueryContext(ctx,
		`SELECT id, principal, created_at, revoked_at, last_used, expires_at FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite.List: %w", err)
	}
	defer rows.Close()
	now := s.stamp()
	var out []tokens.Info
	for rows.Next() {
		var (
			rec                        tokens.Record
			created                    string
			revoked, lastUsed, expires sql.NullString
		)
		if err := rows.Scan(&rec.ID, &rec.Principal, &created, &revoked, &lastUsed, &expires); err != nil {
			return nil, fmt.Errorf("sqlite.List: %w", err)
		}
		if rec.CreatedAt, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("sqlite.List: token %s: %w", rec.ID, err)
		}
		for _, f := range []struct {
			col sql.NullString
			to  *time.Time
		}{{revoked, &rec.RevokedAt}, {lastUsed, &rec.LastUsed}, {expires, &rec.ExpiresAt}} {
			if !f.col.Valid {
				continue
			}
			if *f.to, err = parseTime(f.col.String); err != nil {
				return nil, fmt.Errorf("sqlite.List: token %s: %w", rec.ID, err)
			}
		}
		out = append(out, rec.Info(now))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite.List: %w", err)
	}
	return out, nil
}

// Revoke implements state.Tokens.
func (s *tokenStore) Revoke(ctx context.Context, id string) error {
	res, err := s.st.w.ExecContext(ctx,
		`UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`,
		formatTime(s.stamp()), id)
	if err != nil {
		return fmt.Errorf("sqlite.Revoke: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite.Revoke: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite.Revoke: %w: %q", tokens.ErrNotFound, id)
	}
	return nil
}

// nullTime is t as a nullable column: NULL when zero.
func nullTime(t time.Time) sql.NullString {
	if t.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: formatTime(t), Valid: true}
}
