package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/statgate/statgate/engine/audit"
)

// auditLog is the state.AuditLog of a Store: the entries in audit_log, as
// audit.Raw holds them, and the head record in audit_head. Appends
// serialise on the file's write lock.
type auditLog struct{ st *Store }

// columns are the audit_log columns, in the order scanRaw and insert use.
const columns = `seq, time, query_id, principal, project, datasets, kind, query, template,
	params, plan_hash, epsilon, delta, outcome, reason, result_digest, prev_hash, hash`

// Append implements state.AuditLog with audit.Append in one write
// transaction.
func (l *auditLog) Append(ctx context.Context, e audit.Entry) (audit.Entry, error) {
	var out audit.Entry
	err := l.st.write(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		out, err = audit.Append(ctx, auditTx{tx}, e, l.st.now)
		return err
	})
	if err != nil {
		return audit.Entry{}, fmt.Errorf("sqlite.Append: %w", err)
	}
	return out, nil
}

// auditTx is audit.Tx over a write transaction.
type auditTx struct{ tx *wtx }

func (t auditTx) Head(ctx context.Context) (int64, string, bool, error) {
	return head(ctx, t.tx)
}

func (t auditTx) Last(ctx context.Context) (seq int64, hash string, ok bool, err error) {
	err = t.tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", false, nil
	}
	if err != nil {
		return 0, "", false, err
	}
	return seq, hash, true, nil
}

func (t auditTx) Insert(ctx context.Context, r audit.Raw) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO audit_log (`+columns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Seq, r.Time, r.QueryID, r.Principal, r.Project, r.Datasets, r.Kind, r.Query, r.Template,
		r.Params, r.PlanHash, r.Epsilon, r.Delta, r.Outcome, r.Reason, r.ResultDigest, r.PrevHash, r.Hash)
	return err
}

func (t auditTx) SetHead(ctx context.Context, seq int64, hash string) error {
	_, err := t.tx.ExecContext(ctx, `
		INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)
		ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`, seq, hash)
	return err
}

// head reads the head record; ok is false when there is none.
func head(ctx context.Context, q querier) (seq int64, hash string, ok bool, err error) {
	err = q.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
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
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.Principal != "" {
		add("principal = ?", f.Principal)
	}
	if f.Project != "" {
		add("project = ?", f.Project)
	}
	if len(f.Projects) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(f.Projects)), ", ")
		where = append(where, "project IN ("+marks+")")
		for _, p := range f.Projects {
			args = append(args, p)
		}
	}
	if f.Dataset != "" {
		add("EXISTS (SELECT 1 FROM json_each(audit_log.datasets) WHERE value = ?)", f.Dataset)
	}
	if f.Outcome != "" {
		add("outcome = ?", f.Outcome)
	}
	if !f.Since.IsZero() {
		add("time >= ?", audit.FormatTime(f.Since))
	}
	if !f.Until.IsZero() {
		add("time < ?", audit.FormatTime(f.Until))
	}
	if f.AfterSeq > 0 {
		add("seq > ?", f.AfterSeq)
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
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	out, err := l.entries(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite.List: %w", err)
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
	out, err := l.entries(ctx, `SELECT `+columns+` FROM audit_log ORDER BY seq DESC LIMIT ?`, n)
	if err != nil {
		return nil, fmt.Errorf("sqlite.Tail: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// entries runs q (selecting columns) and parses every row.
func (l *auditLog) entries(ctx context.Context, q string, args ...any) ([]audit.Entry, error) {
	rows, err := l.st.db.QueryContext(ctx, q, args...)
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
func scanRaw(rows *sql.Rows) (audit.Raw, error) {
	var r audit.Raw
	if err := rows.Scan(&r.Seq, &r.Time, &r.QueryID, &r.Principal, &r.Project, &r.Datasets, &r.Kind, &r.Query,
		&r.Template, &r.Params, &r.PlanHash, &r.Epsilon, &r.Delta, &r.Outcome, &r.Reason,
		&r.ResultDigest, &r.PrevHash, &r.Hash); err != nil {
		return audit.Raw{}, fmt.Errorf("read entry: %w", err)
	}
	return r, nil
}

// Verify implements state.AuditLog: audit.Verify over one read-only
// transaction, a consistent snapshot that does not block appends.
func (l *auditLog) Verify(ctx context.Context) (audit.Report, error) {
	tx, err := l.st.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return audit.Report{}, fmt.Errorf("sqlite.Verify: begin: %w", err)
	}
	defer tx.Rollback()
	rep, err := audit.Verify(ctx, snapshot{tx})
	if err != nil {
		return audit.Report{}, fmt.Errorf("sqlite.Verify: %w", err)
	}
	return rep, nil
}

// snapshot is audit.Snapshot over a read-only transaction.
type snapshot struct{ tx *sql.Tx }

func (s snapshot) Head(ctx context.Context) (int64, string, bool, error) { return head(ctx, s.tx) }

func (s snapshot) Count(ctx context.Context) (n int64, err error) {
	err = s.tx.QueryRowContext(ctx, `SELECT count(*) FROM audit_log`).Scan(&n)
	return n, err
}

func (s snapshot) Walk(ctx context.Context, fn func(audit.Raw) bool) error {
	rows, err := s.tx.QueryContext(ctx, `SELECT `+columns+` FROM audit_log ORDER BY seq`)
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
	var n int
	err := s.tx.QueryRowContext(ctx, `SELECT count(*) FROM audit_log WHERE hash = ?`, hash).Scan(&n)
	return n > 0, err
}

// CheckAnchor implements state.AuditLog.
func (l *auditLog) CheckAnchor(ctx context.Context, seq int64, hash string) (bool, error) {
	var stored string
	err := l.st.db.QueryRowContext(ctx, `SELECT hash FROM audit_log WHERE seq = ?`, seq).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite.CheckAnchor: %w", err)
	}
	return stored == hash, nil
}
