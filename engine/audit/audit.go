// Package audit is the append-only, hash-chained record of every request
// the engine answered or refused: who asked what, in which project, what
// it cost and what was released (as a digest).
//
// Each entry's Hash is the SHA-256 of a canonical encoding of all its
// fields including PrevHash, the Hash of the entry before it (see
// hash.go). A head record (last Seq and Hash) is kept in its own table and
// updated in the same transaction as each append, so Verify detects an
// entry changed, removed, inserted or moved anywhere in the log, and a
// truncated tail.
//
// Out of scope: an attacker with write access to the state file who
// rewrites the whole chain and the head consistently cannot be detected
// from the file alone. The mitigation is to anchor the head outside it:
// `statgate audit verify` prints the head's seq and hash so that operators
// can record them elsewhere (a ticket, a signed e-mail, another system)
// and compare later.
package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/statgate/statgate/engine/statedb"
)

// Kinds of request an entry records.
const (
	KindSQL      = "sql"
	KindTemplate = "template"
	KindCohort   = "cohort"
)

// Outcomes of a request.
const (
	// OutcomeReleased: a protected result was returned.
	OutcomeReleased = "released"
	// OutcomeRefused: the request was refused (Reason holds the refusal code).
	OutcomeRefused = "refused"
	// OutcomeFailed: an internal error; nothing was released.
	OutcomeFailed = "failed"
)

// Entry is one audit record. Append assigns Seq, Time, PrevHash and Hash;
// the caller fills the rest.
type Entry struct {
	// Seq numbers entries 1, 2, 3, … in append order.
	Seq int64 `json:"seq"`
	// Time the entry was appended (UTC).
	Time time.Time `json:"time"`
	// QueryID is the engine's id of the request (also in the budget ledger).
	QueryID   string   `json:"query_id,omitempty"`
	Principal string   `json:"principal"`
	Project   string   `json:"project"`
	Datasets  []string `json:"datasets"`
	// Kind is KindSQL, KindTemplate, KindCohort or another word the engine uses.
	Kind string `json:"kind"`
	// Query is the SQL text or the cohort specification as JSON.
	Query string `json:"query,omitempty"`
	// Template and Params name the template run and its parameter values.
	Template string          `json:"template,omitempty"`
	Params   json.RawMessage `json:"params,omitempty"`
	// PlanHash is the hex SHA-256 of the SQL that was (or would have been) executed.
	PlanHash string `json:"plan_hash,omitempty"`
	// Epsilon and Delta are what the request debited from each dataset.
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
	// Outcome is OutcomeReleased, OutcomeRefused or OutcomeFailed.
	Outcome string `json:"outcome"`
	// Reason is the refusal code of a refused or failed request.
	Reason string `json:"reason,omitempty"`
	// ResultDigest is the hex SHA-256 of the released result's bytes.
	ResultDigest string `json:"result_digest,omitempty"`
	// PrevHash is the Hash of the previous entry (Genesis for the first).
	PrevHash string `json:"prev_hash"`
	// Hash is the hex SHA-256 of this entry's canonical encoding.
	Hash string `json:"hash"`
}

// Log is the audit log in the state store. It is safe for concurrent use,
// also by several processes sharing the store: appends serialise on the
// store's write lock.
type Log struct {
	db  *sql.DB
	now func() time.Time
}

// NewLog returns the log kept in db, which must come from statedb.Open
// (it creates the tables and makes write transactions IMMEDIATE).
func NewLog(db *sql.DB) (*Log, error) {
	if db == nil {
		return nil, errors.New("audit.NewLog: nil database")
	}
	return &Log{db: db, now: time.Now}, nil
}

// Append assigns e its Seq, Time, PrevHash and Hash and stores it, in one
// write transaction with the head record. It returns the stored entry.
// Append refuses (ErrBroken) to extend a log whose last entry does not
// match the head record: the log has been tampered with, and nothing
// should be released until an operator has looked (`statgate audit verify`).
func (l *Log) Append(ctx context.Context, e Entry) (out Entry, err error) {
	if err := normalize(&e); err != nil {
		return Entry{}, fmt.Errorf("audit.Append: %w", err)
	}
	tx, err := l.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: takes the write lock now
	if err != nil {
		return Entry{}, fmt.Errorf("audit.Append: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	headSeq, headHash, err := head(ctx, tx)
	if err != nil {
		return Entry{}, fmt.Errorf("audit.Append: %w", err)
	}
	var lastSeq int64
	lastHash := Genesis
	err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&lastSeq, &lastHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Entry{}, fmt.Errorf("audit.Append: read last entry: %w", err)
	}
	if lastSeq != headSeq || lastHash != headHash {
		err = fmt.Errorf("audit.Append: %w: last entry is %d but the head record says %d", ErrBroken, lastSeq, headSeq)
		return Entry{}, err
	}
	e.Seq = headSeq + 1
	e.PrevHash = headHash
	if e.Time, err = statedb.ParseTime(statedb.FormatTime(l.now())); err != nil {
		return Entry{}, fmt.Errorf("audit.Append: %w", err)
	}
	e.Hash = e.ComputeHash()
	if _, err = tx.ExecContext(ctx, `
		INSERT INTO audit_log (seq, time, query_id, principal, project, datasets, kind, query, template,
			params, plan_hash, epsilon, delta, outcome, reason, result_digest, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, statedb.FormatTime(e.Time), e.QueryID, e.Principal, e.Project, datasetsJSON(e.Datasets),
		e.Kind, e.Query, e.Template, string(e.Params), e.PlanHash, e.Epsilon, e.Delta,
		e.Outcome, e.Reason, e.ResultDigest, e.PrevHash, e.Hash); err != nil {
		return Entry{}, fmt.Errorf("audit.Append: insert: %w", err)
	}
	if _, err = tx.ExecContext(ctx, `
		INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)
		ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`,
		e.Seq, e.Hash); err != nil {
		return Entry{}, fmt.Errorf("audit.Append: head: %w", err)
	}
	if err = tx.Commit(); err != nil {
		return Entry{}, fmt.Errorf("audit.Append: commit: %w", err)
	}
	return e, nil
}

// normalize checks the caller's fields and puts them in stored form.
func normalize(e *Entry) error {
	switch e.Outcome {
	case OutcomeReleased, OutcomeRefused, OutcomeFailed:
	default:
		return fmt.Errorf("%w: outcome %q is not %q, %q or %q", ErrInvalidEntry, e.Outcome, OutcomeReleased, OutcomeRefused, OutcomeFailed)
	}
	if e.Kind == "" {
		return fmt.Errorf("%w: no kind", ErrInvalidEntry)
	}
	for _, x := range []float64{e.Epsilon, e.Delta} {
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return fmt.Errorf("%w: epsilon and delta must be finite and non-negative", ErrInvalidEntry)
		}
	}
	if len(e.Params) > 0 {
		p, err := compactJSON(e.Params)
		if err != nil {
			return fmt.Errorf("%w: params: %w", ErrInvalidEntry, err)
		}
		e.Params = p
	} else {
		e.Params = nil
	}
	if e.Datasets == nil {
		e.Datasets = []string{}
	}
	return nil
}

// head returns the head record (0 and Genesis when the log is empty).
func head(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int64, string, error) {
	var (
		seq  int64
		hash string
	)
	err := q.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, Genesis, nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("read head: %w", err)
	}
	return seq, hash, nil
}
