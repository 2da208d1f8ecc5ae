package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/statgate/statgate/engine/statedb"
)

// Filter selects entries for List. Zero fields select everything.
type Filter struct {
	Principal string
	Project   string
	// Dataset selects entries that read this dataset.
	Dataset string
	Outcome string
	// Since (inclusive) and Until (exclusive) bound the entries' Time.
	Since, Until time.Time
	// AfterSeq selects entries with Seq > AfterSeq (for paging).
	AfterSeq int64
	// Limit caps the number of entries (≤ 0: no cap).
	Limit int
}

// columns are the audit_log columns scanEntry reads, in its order.
const columns = `seq, time, query_id, principal, project, datasets, kind, query, template,
	params, plan_hash, epsilon, delta, outcome, reason, result_digest, prev_hash, hash`

// List returns the entries f selects, in Seq order.
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, error) {
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
	if f.Dataset != "" {
		add("EXISTS (SELECT 1 FROM json_each(audit_log.datasets) WHERE value = ?)", f.Dataset)
	}
	if f.Outcome != "" {
		add("outcome = ?", f.Outcome)
	}
	if !f.Since.IsZero() {
		add("time >= ?", statedb.FormatTime(f.Since))
	}
	if !f.Until.IsZero() {
		add("time < ?", statedb.FormatTime(f.Until))
	}
	if f.AfterSeq > 0 {
		add("seq > ?", f.AfterSeq)
	}
	q := `SELECT ` + columns + ` FROM audit_log`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY seq`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	out, err := queryEntries(ctx, l.db, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit.List: %w", err)
	}
	return out, nil
}

// Tail returns the last n entries, in Seq order (none when n ≤ 0).
func (l *Log) Tail(ctx context.Context, n int) ([]Entry, error) {
	if n <= 0 {
		return nil, nil
	}
	out, err := queryEntries(ctx, l.db, `SELECT `+columns+` FROM audit_log ORDER BY seq DESC LIMIT ?`, n)
	if err != nil {
		return nil, fmt.Errorf("audit.Tail: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// queryEntries runs q (selecting columns) and scans every row.
func queryEntries(ctx context.Context, db *sql.DB, q string, args ...any) ([]Entry, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// scanEntry reads one row of columns.
func scanEntry(rows *sql.Rows) (Entry, error) {
	var (
		e             Entry
		t, ds, params string
	)
	if err := rows.Scan(&e.Seq, &t, &e.QueryID, &e.Principal, &e.Project, &ds, &e.Kind, &e.Query,
		&e.Template, &params, &e.PlanHash, &e.Epsilon, &e.Delta, &e.Outcome, &e.Reason,
		&e.ResultDigest, &e.PrevHash, &e.Hash); err != nil {
		return Entry{}, fmt.Errorf("scan entry: %w", err)
	}
	var err error
	if e.Time, err = statedb.ParseTime(t); err != nil {
		return Entry{}, fmt.Errorf("entry %d: %w", e.Seq, err)
	}
	if err := json.Unmarshal([]byte(ds), &e.Datasets); err != nil {
		return Entry{}, fmt.Errorf("entry %d: datasets: %w", e.Seq, err)
	}
	if e.Datasets == nil {
		e.Datasets = []string{}
	}
	if params != "" {
		e.Params = json.RawMessage(params)
	}
	return e, nil
}
