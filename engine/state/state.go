// Package state declares the stores that keep statgate's state apart from
// the extracts: the budget ledger, the audit log and the API tokens. The
// engine, the API and the operator commands use these interfaces; a
// backend implements all of them over one store (engine/state/sqlite: a
// file beside the extracts, the default; a PostgreSQL store shared by
// several API replicas fits the same interfaces).
//
// Every store is safe for concurrent use, also by several processes on
// the same underlying store: `statgate token create`, `budget show` and
// `audit verify` run next to a live server. Writes that must be atomic (a
// debit over several datasets, an audit append with its head record) are
// one transaction that serialises with every other writer. Every method
// takes a context and returns only the types of the packages that own the
// concepts (budget, audit, tokens), never a backend's.
//
// The rules live with their concepts, not in the stores: a budget.Book
// decides whether a debit fits (Admitter), audit.Append and audit.Verify
// chain and check the log over a backend's transaction, and package tokens
// issues, hashes and checks tokens. A store only keeps what they decide.
//
// The result cache (Cache) answers an identical checked question in the
// same project from its stored release at no cost: releasing a released
// answer again is post-processing. It is state too, so it survives
// restarts and is shared by replicas on one store.
//
// Package statetest holds the behavioural tests every backend passes.
package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/tokens"
)

// ErrUnavailable marks a failure of the state store itself (a database
// that cannot be reached, a lost connection, a full disk) as opposed to a
// refusal of the request: the engine wraps a failed debit or audit append
// with it, and the API answers 503 state_unavailable. Nothing is released
// without a durable debit and audit entry, so the store failing closes the
// service rather than opening it.
var ErrUnavailable = errors.New("state store unavailable")

// Unavailable wraps err, a failure of the store, so that it matches
// ErrUnavailable (and still err). A nil err stays nil.
func Unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// Store is one backend's state: a ledger, an audit log and a token store
// over the same underlying store. The caller that opens a Store closes it.
type Store interface {
	Ledger() Ledger
	Audit() AuditLog
	Tokens() Tokens
	Cache() Cache
	// Ping reports whether the store can be reached.
	Ping(ctx context.Context) error
	// Close releases the store; the Ledger, AuditLog and Tokens it gave
	// must not be used afterwards.
	Close() error
}

// Ledger records spending, per project × dataset, durably and never
// refunded.
type Ledger interface {
	// Debit takes s.Cost from every account s is charged to
	// (s.Accounts(): s.Project's budget on every dataset of s.Datasets,
	// the project-wide account, the member's, each dataset's lifetime
	// account), or from none, in one atomic step that serialises with
	// every other debit on the store: it reads their standing, asks a
	// whether the debit may be taken, and records it (one budget.Entry per
	// dataset, one budget.Debit) only when a returns nil. a's
	// error, typically a *refusal.Error such as budget_exhausted, is
	// returned as it is and nothing is spent. An invalid s (see
	// budget.Spend.Normalize) is an error wrapping budget.ErrInvalidSpend.
	// On a nil error the debit is durable.
	Debit(ctx context.Context, s budget.Spend, a Admitter) error
	// Spent returns the sum of what project has spent on dataset (the
	// zero Cost when nothing).
	Spent(ctx context.Context, project, dataset string) (budget.Cost, error)
	// History returns a project's debits, newest first, at most limit of
	// them (limit ≤ 0: all).
	History(ctx context.Context, project string, limit int) ([]budget.Entry, error)
	// Debits returns a project's debits, one per query with every dataset
	// it read, newest first, the page p selects.
	Debits(ctx context.Context, project string, p budget.Page) ([]budget.Debit, error)
	// Standing returns what account a has spent and been granted (zero
	// when nothing). Every debit is recorded on every account it is
	// charged to (budget.Spend.Accounts), capped or not.
	Standing(ctx context.Context, a budget.Account) (budget.Standing, error)
	// Grant records g (its ID and Time assigned) and adds its amount to
	// the account's grants, durably, in one transaction that serialises
	// with debits. When entry is not nil, the same transaction appends
	// to the audit log the entry it returns for g as recorded (as
	// AuditLog.Append would): the grant and its audit entry are durable
	// together or not at all, so a failing append (or entry's error)
	// leaves no grant. It returns the stored entry (zero when entry is
	// nil). An amount without ε is budget.ErrInvalidCost.
	Grant(ctx context.Context, g budget.Grant, entry func(budget.Grant) (audit.Entry, error)) (budget.Grant, audit.Entry, error)
	// Grants returns the grants to a project's accounts (project "":
	// every grant), oldest first.
	Grants(ctx context.Context, project string) ([]budget.Grant, error)
}

// Admitter decides, inside a ledger's debit, whether s may be taken given
// the standing of every account s is charged to (s.Accounts(); an account
// without debits or grants may be absent), read in the debit's
// transaction. It must only read: a store may call it again when it
// retries a transaction. *budget.Book is the Admitter the engine uses.
type Admitter interface {
	Admit(s budget.Spend, st map[budget.Account]budget.Standing) error
}

var _ Admitter = (*budget.Book)(nil)

// AuditLog is the append-only, hash-chained log of requests (see package
// audit for the chain).
type AuditLog interface {
	// Append stores e as the next entry, with its Seq, Time, PrevHash and
	// Hash assigned (audit.Append, in one write transaction with the head
	// record), and returns the stored entry. An entry that cannot be
	// stored is audit.ErrInvalidEntry; a log whose last entry does not
	// match its head record is audit.ErrBroken.
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
	// List returns the entries f selects, in Seq order.
	List(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
	// Tail returns the last n entries, in Seq order (none when n ≤ 0).
	Tail(ctx context.Context, n int) ([]audit.Entry, error)
	// Verify checks the whole chain and the head record in one consistent
	// read (audit.Verify; appends continue meanwhile). An error means the
	// log could not be read, not that it is bad.
	Verify(ctx context.Context) (audit.Report, error)
	// CheckAnchor reports whether entry seq still has hash: an operator who
	// recorded a head (Report.HeadSeq, Report.HeadHash) outside the machine
	// checks it later with this, which catches even a consistent rewrite
	// of the whole log. A missing entry reports false.
	CheckAnchor(ctx context.Context, seq int64, hash string) (bool, error)
}

// Tokens keeps the API's bearer tokens: only their hashes, with the
// public ids operators list and revoke them by (see package tokens).
type Tokens interface {
	// Create issues a token for principal (opts nil: it does not expire).
	// The token is returned once and cannot be recovered later; Info
	// describes it. A bad principal is tokens.ErrBadPrincipal, a negative
	// TTL tokens.ErrBadTTL.
	Create(ctx context.Context, principal string, opts *tokens.CreateOptions) (string, tokens.Info, error)
	// Lookup returns the principal a token belongs to. ok is false for a
	// malformed, unknown, revoked or expired token. err is nil then,
	// except for an expired token, where it is tokens.ErrExpired: only the
	// holder of a token that was really issued can see that, so it tells
	// nothing to a guesser. Any other err is a failure of the store. An
	// accepted token's LastUsed is brought up to date at most once a
	// minute, so most lookups only read.
	Lookup(ctx context.Context, token string) (principal string, ok bool, err error)
	// List returns every token ever created, revoked ones included,
	// oldest first.
	List(ctx context.Context) ([]tokens.Info, error)
	// Revoke revokes the token with the given public id; later lookups of
	// it fail. Revoking a revoked token is a no-op. An unknown id is
	// tokens.ErrNotFound.
	Revoke(ctx context.Context, id string) error
}

// Cache keeps released answers by project and question key (the engine
// derives the key from the checked question, its parameters and the
// extracts' version; see engine's cacheKey). Answers are never shared
// across projects: a key is looked up in one project only.
type Cache interface {
	// Get returns the stored answer of key in project and the query id
	// that released it; ok is false when there is none.
	Get(ctx context.Context, project, key string) (body []byte, queryID string, ok bool, err error)
	// Put stores body, released by queryID, as the answer of key in
	// project. When an answer is already stored the first one is kept
	// (two identical questions racing both paid; either answer is a
	// valid release).
	Put(ctx context.Context, project, key, queryID string, body []byte) error
}

// AppendGrantEntry is the audit half of Ledger.Grant, for the stores: in
// the grant's transaction (t, the store's audit.Tx over it) it appends
// the entry entry returns for g as recorded, and returns it stored (the
// zero entry when entry is nil). Its error makes the store roll the grant
// back with it.
func AppendGrantEntry(ctx context.Context, t audit.Tx, g budget.Grant, entry func(budget.Grant) (audit.Entry, error), now func() time.Time) (audit.Entry, error) {
	if entry == nil {
		return audit.Entry{}, nil
	}
	en, err := entry(g)
	if err != nil {
		return audit.Entry{}, fmt.Errorf("audit entry of grant %d: %w", g.ID, err)
	}
	stored, err := audit.Append(ctx, t, en, now)
	if err != nil {
		return audit.Entry{}, fmt.Errorf("audit entry of grant %d: %w", g.ID, err)
	}
	return stored, nil
}
