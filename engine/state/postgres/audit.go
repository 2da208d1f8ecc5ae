package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/statgate/statgate/engine/audit"
)

// auditLog is the state.AuditLog of a Store: the entries in audit_log, as
// audit.Raw holds them, and the head record in audit_head. Appends
// serialise on the advisory lock AuditLockKey.
type auditLog struct{ st *Store }

// columns are the audit_log columns, in the order scanRaw and insert use.
const columns = `seq, time, query_id, principal, project, datasets, kind, query, template,
	params, plan_hash, epsilon, delta, outcome, reason, result_digest, prev_hash, hash`

// Append implements state.AuditLog with audit.Append in one transaction
// that first takes the log's advisory lock: every replica's appends queue
// there, and each reads the head the previous one committed.
func (l *auditLog) Append(ctx context.Context, e audit.Entry) (audit.Entry, error) {
	var out audit.Entry
	err := l.st.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockSpace, AuditLockKey); err != nil {
			return fmt.Errorf("lock the log: %w", err)
		}
		var err error
		out, err = audit.Append(ctx, auditTx{tx}, e, l.st.now)
		return err
	})
	if err != nil {
		return audit.Entry{}, fmt.Errorf("postgres.Append: %w", err)
	}
	return out, nil
}

// auditTx is audit.Tx over a write transaction holding the log's lock.
type auditTx struct{ tx pgx.Tx }

func (t auditTx) Head(ctx context.Context) (int64, string, bool, error) {
	return head(ctx, t.tx)
}

func (t auditTx) Last(ctx context.Context) (seq int64, hash string, ok bool, err error) {
	err = t.tx.QueryRow(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", false, nil
	}
	if err != nil {
		return 0, "", false, err
	}
	return seq, hash, true, nil
}

func (t auditTx) Insert(ctx context.Context, r audit.Raw) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO audit_log (`+columns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		r.Seq, r.Time, r.QueryID, r.Principal, r.Project, r.Datasets, r.Kind, r.Query, r.Template,
		r.Params, r.PlanHash, r.Epsilon, r.Delta, r.Outcome, r.Reason, r.ResultDigest, r.PrevHash, r.Hash)
	return err
}

func (t auditTx) SetHead(ctx context.Context, seq int64, hash string) error {
	_, err := t.tx.Exec(ctx, `
		INSERT INTO audit_head (id, seq, hash) VALUES (1, $1, $2)
		ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`, seq, hash)
	return err
}

// head reads the head record; ok is false when there is none.
func head(ctx context.Context, q querier) (seq int64, hash string, ok bool, err error) {
	err = q.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", false, nil
	}
	if err != nil {
		return 0, "", false, err
	}
	return seq, hash, true, nil
}

// List implements state.AuditLog.
func (l *auditLog) List(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	var (
		where []string
		args  []any
	)
	// arg adds a parameter and returns its placeholder.
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Principal != "" {
		where = append(where, "principal = "+arg(f.Principal))
	}
	if f.Project != "" {
		where = append(where, "project = "+arg(f.Project))
	}
	if len(f.Projects) > 0 {
		where = append(where, "project = ANY("+arg(f.Projects)+"::text[])")
	}
	if f.Dataset != "" {
		where = append(where, "datasets::jsonb ? "+arg(f.Dataset))
	}
	if f.Outcome != "" {
		where = append(where, "outcome = "+arg(f.Outcome))
	}
	if !f.Since.IsZero() {
		where = append(where, "time >= "+arg(audit.FormatTime(f.Since)))
	}
	if !f.Until.IsZero() {
		where = append(where, "time < "+arg(audit.FormatTime(f.Until)))
	}
	if f.AfterSeq > 0 {
		where = append(where, "seq > "+arg(f.AfterSeq))
	}
	q := `SELECT ` + columns + ` FROM audit_log`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	if f.Newest {
		q += ` ORDER BY seq DESC`
	} else {
		q += ` ORDER BY seq`
	}
	if f.Limit > 0 {
		q += ` LIMIT ` + arg(f.Limit)
	}
	out, err := l.entries(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres.List: %w", err)
	}
	if f.Newest {
		slices.Reverse(out)
	}
	return out, nil
}

// Tail implements state.AuditLog.
func (l *auditLog) Tail(ctx context.Context, n int) ([]audit.Entry, error) {
	if n <= 0 {
		return nil, nil
	}
	out, err := l.entries(ctx, `SELECT `+columns+` FROM audit_log ORDER BY seq DESC LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("postgres.Tail: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// entries runs q (selecting columns) and parses every row.
func (l *auditLog) entries(ctx context.Context, q string, args ...any) ([]audit.Entry, error) {
	rows, err := l.st.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		r, err := scanRaw(rows)
		if err != nil {
			return nil, err
		}
		e, err := r.Entry()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// scanRaw reads one row of columns as stored.
func scanRaw(rows pgx.Rows) (audit.Raw, error) {
	var r audit.Raw
	if err := rows.Scan(&r.Seq, &r.Time, &r.QueryID, &r.Principal, &r.Project, &r.Datasets, &r.Kind, &r.Query,
		&r.Template, &r.Params, &r.PlanHash, &r.Epsilon, &r.Delta, &r.Outcome, &r.Reason,
		&r.ResultDigest, &r.PrevHash, &r.Hash); err != nil {
		return audit.Raw{}, fmt.Errorf("read entry: %w", err)
	}
	return r, nil
}

// Verify implements state.AuditLog: audit.Verify over one REPEATABLE
// READ, READ ONLY transaction, a consistent snapshot that does not block
// appends.
func (l *auditLog) Verify(ctx context.Context) (audit.Report, error) {
	tx, err := l.st.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return audit.Report{}, fmt.Errorf("postgres.Verify: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	rep, err := audit.Verify(ctx, snapshot{tx})
	if err != nil {
		return audit.Report{}, fmt.Errorf("postgres.Verify: %w", err)
	}
	return rep, nil
}

// snapshot is audit.Snapshot over a read-only transaction.
type snapshot struct{ tx pgx.Tx }

func (s snapshot) Head(ctx context.Context) (int64, string, bool, error) { return head(ctx, s.tx) }

func (s snapshot) Count(ctx context.Context) (n int64, err error) {
	err = s.tx.QueryRow(ctx, `SELECT count(*) FROM audit_log`).Scan(&n)
	return n, err
}

func (s snapshot) Walk(ctx context.Context, fn func(audit.Raw) bool) error {
	rows, err := s.tx.Query(ctx, `SELECT `+columns+` FROM audit_log ORDER BY seq`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRaw(rows)
		if err != nil {
			return err
		}
		if !fn(r) {
			return nil
		}
	}
	return rows.Err()
}

func (s snapshot) HasHash(ctx context.Context, hash string) (bool, error) {
	var n int64
	err := s.tx.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE hash = $1`, hash).Scan(&n)
	return n > 0, err
}

// CheckAnchor implements state.AuditLog.
func (l *auditLog) CheckAnchor(ctx context.Context, seq int64, hash string) (bool, error) {
	var stored string
	err := l.st.pool.QueryRow(ctx, `SELECT hash FROM audit_log WHERE seq = $1`, seq).Scan(&stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("postgres.CheckAnchor: %w", err)
	}
	return stored == hash, nil
}
