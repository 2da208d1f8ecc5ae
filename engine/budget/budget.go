// Package budget is the privacy accountant: it keeps, per project ×
// dataset, how much of the policy's (ε, δ) budget has been spent, and
// debits each query's cost durably before the query runs. Spending is
// never refunded. Composition is basic (sums of ε and of δ).
//
// The Ledger interface is what the engine uses; SQLLedger is the embedded
// implementation on the SQLite state store (engine/statedb). A PostgreSQL
// ledger shared by several API replicas would implement the same interface.
package budget

import (
	"context"
	"time"

	"github.com/statgate/statgate/policies"
)

// Spend is the cost of one query: Epsilon and Delta are taken from the
// budget of Project on each of Datasets (the query reads all of them, so
// each pays in full).
type Spend struct {
	// QueryID identifies the request (it is also in the audit log).
	QueryID string
	// Project pays for the query.
	Project string
	// Principal asked the query.
	Principal string
	// Datasets the query reads; duplicates are paid for once.
	Datasets []string
	// Epsilon must be positive and finite; Delta zero or positive and finite.
	Epsilon, Delta float64
}

// Balance is the state of one project × dataset budget. Remaining is
// never negative, also when a policy lowers a budget below what is spent.
type Balance struct {
	Project, Dataset                             string
	TotalEpsilon, SpentEpsilon, RemainingEpsilon float64
	TotalDelta, SpentDelta, RemainingDelta       float64
}

// Entry is one recorded debit on one dataset (a Spend over three datasets
// records three entries).
type Entry struct {
	ID                          int64
	Time                        time.Time
	QueryID, Project, Principal string
	Dataset                     string
	Epsilon, Delta              float64
}

// Ledger records spending. Implementations are safe for concurrent use,
// also across processes sharing the same store.
type Ledger interface {
	// Debit takes s from the budget of every dataset in s.Datasets, or from
	// none: when any of them cannot cover it, Debit returns a
	// *refusal.Error with code "budget_exhausted" and spends nothing. On a
	// nil error the debit is durable.
	Debit(ctx context.Context, s Spend) error
	// Remaining returns the balance of one project × dataset.
	Remaining(ctx context.Context, project, dataset string) (Balance, error)
	// History returns a project's debits, newest first, at most limit
	// of them (limit ≤ 0: all).
	History(ctx context.Context, project string, limit int) ([]Entry, error)
}

// Limits returns the total budget of a project on a dataset, and false when
// the project has no budget there (unknown project, or a dataset outside
// the project). The engine passes a closure over the loaded policy, so that
// a reloaded policy with a changed budget applies to the next debit.
type Limits func(project, dataset string) (policies.Budget, bool)
