// Package audit is the append-only, hash-chained record of every request
// the engine answered or refused: who asked what, in which project, what
// it cost and what was released (as a digest).
//
// Each entry's Hash is the SHA-256 of a canonical encoding of all its
// fields including PrevHash, the Hash of the entry before it (see
// hash.go). A head record (last Seq and Hash) is kept apart from the
// entries and updated in the same transaction as each append, so Verify
// detects an entry changed, removed, inserted or moved anywhere in the
// log, and a truncated tail.
//
// The package holds the chain's rules and stores nothing: a store in
// engine/state keeps the entries and the head, and runs Append inside its
// write transaction (Tx) and Verify over a consistent read (Snapshot), so
// every backend chains and verifies alike.
//
// Out of scope: an attacker with write access to the store who rewrites
// the whole chain and the head consistently cannot be detected from the
// store alone. The mitigation is to anchor the head outside it: `statgate
// audit verify` prints the head's seq and hash so that operators can
// record them elsewhere (a ticket, a signed e-mail, another system) and
// compare later.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Kinds of request an entry records.
const (
	KindSQL      = "sql"
	KindTemplate = "template"
	KindCohort   = "cohort"
	// KindBudgetGrant records a raise of a budget (`statgate budget
	// grant`); its Epsilon and Delta are the amounts granted, not spent.
	KindBudgetGrant = "budget_grant"
)

// Outcomes of a request.
const (
	// OutcomeReleased: a protected result was returned.
	OutcomeReleased = "released"
	// OutcomeRefused: the request was refused (Reason holds the refusal code).
	OutcomeRefused = "refused"
	// OutcomeFailed: an internal error; nothing was released.
	OutcomeFailed = "failed"
	// OutcomeGranted: a budget grant was recorded in the ledger.
	OutcomeGranted = "granted"
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

// Tx is a store's write transaction on the log, as Append uses it. The
// store holds the log's write lock for the whole transaction, so that
// appends from several goroutines or processes serialise.
type Tx interface {
	// Head returns the head record; ok is false when there is none.
	Head(ctx context.Context) (seq int64, hash string, ok bool, err error)
	// Last returns the Seq and Hash of the stored entry with the highest
	// Seq; ok is false when the log is empty.
	Last(ctx context.Context) (seq int64, hash string, ok bool, err error)
	// Insert stores an entry.
	Insert(ctx context.Context, r Raw) error
	// SetHead records seq and hash as the head record.
	SetHead(ctx context.Context, seq int64, hash string) error
}

// Append assigns e its Seq, Time (now, UTC, to the nanosecond), PrevHash
// and Hash and stores it through tx with the new head record. It returns
// the stored entry; the store commits tx when Append returns nil and rolls
// it back otherwise. An entry Append cannot store is ErrInvalidEntry.
// Append refuses (ErrBroken) to extend a log whose last entry does not
// match the head record: the log has been tampered with, and nothing
// should be released until an operator has looked (`statgate audit
// verify`).
func Append(ctx context.Context, tx Tx, e Entry, now func() time.Time) (Entry, error) {
	out, err := appendTo(ctx, tx, e, now)
	if err != nil {
		return Entry{}, fmt.Errorf("audit.Append: %w", err)
	}
	return out, nil
}

func appendTo(ctx context.Context, tx Tx, e Entry, now func() time.Time) (Entry, error) {
	if err := normalize(&e); err != nil {
		return Entry{}, err
	}
	headSeq, headHash, ok, err := tx.Head(ctx)
	if err != nil {
		return Entry{}, fmt.Errorf("read head: %w", err)
	}
	if !ok {
		headSeq, headHash = 0, Genesis
	}
	lastSeq, lastHash, ok, err := tx.Last(ctx)
	if err != nil {
		return Entry{}, fmt.Errorf("read last entry: %w", err)
	}
	if !ok {
		lastSeq, lastHash = 0, Genesis
	}
	if lastSeq != headSeq || lastHash != headHash {
		return Entry{}, fmt.Errorf("%w: last entry is %d but the head record says %d", ErrBroken, lastSeq, headSeq)
	}
	e.Seq = headSeq + 1
	e.PrevHash = headHash
	if e.Time, err = parseTime(FormatTime(now())); err != nil {
		return Entry{}, err
	}
	e.Hash = e.ComputeHash()
	if err := tx.Insert(ctx, e.Raw()); err != nil {
		return Entry{}, fmt.Errorf("insert: %w", err)
	}
	if err := tx.SetHead(ctx, e.Seq, e.Hash); err != nil {
		return Entry{}, fmt.Errorf("head: %w", err)
	}
	return e, nil
}

// normalize checks the caller's fields and puts them in stored form.
func normalize(e *Entry) error {
	switch e.Outcome {
	case OutcomeReleased, OutcomeRefused, OutcomeFailed, OutcomeGranted:
	default:
		return fmt.Errorf("%w: outcome %q is not %q, %q, %q or %q", ErrInvalidEntry, e.Outcome, OutcomeReleased, OutcomeRefused, OutcomeFailed, OutcomeGranted)
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
