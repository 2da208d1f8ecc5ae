package budget

import (
	"slices"
	"strings"
	"time"
)

// Debit is one query's debit as the ledger recorded it: what the query
// cost, once, with the datasets it read (each of which was charged the same
// Cost against its own budget). The budget history lists these. A free
// repeat (the engine's result cache) and a dry run debit nothing, so they
// have no Debit; the audit log records them.
type Debit struct {
	// ID numbers debits in the order the ledger recorded them; a page of
	// history continues below the smallest ID it returned.
	ID        int64
	Time      time.Time
	QueryID   string
	Project   string
	Principal string
	// Kind is the request's kind ("sql", "template", "cohort", "rates",
	// "survival"), "" for debits recorded before kinds were.
	Kind     string
	Datasets []string
	Cost     Cost
}

// Page selects a page of history, newest first: at most Limit debits
// (Limit ≤ 0: all) with an ID below Before (Before ≤ 0: from the newest).
type Page struct {
	Before int64
	Limit  int
}

// JoinDatasets returns datasets as a ledger store records them in one
// column: sorted, comma-separated (dataset names are identifiers, without
// commas). SplitDatasets is its inverse.
func JoinDatasets(datasets []string) string {
	ds := slices.Clone(datasets)
	slices.Sort(ds)
	return strings.Join(slices.Compact(ds), ",")
}

// SplitDatasets returns the sorted datasets of a column JoinDatasets wrote
// (or a store's migration aggregated).
func SplitDatasets(s string) []string {
	if s == "" {
		return nil
	}
	ds := strings.Split(s, ",")
	slices.Sort(ds)
	return slices.Compact(ds)
}

// Grant is a raise of one account's budget, recorded in the ledger (and
// by `statgate budget grant` in the audit log). Grants only add: a budget
// is never lowered by the ledger and spending is never refunded; a new
// budget period is a grant of the period's amount.
type Grant struct {
	// ID numbers grants in the order the ledger recorded them.
	ID   int64
	Time time.Time
	// Account is the budget raised: ScopeProject (project_budget) or
	// ScopeDataset (a project's budget on one dataset), or any account
	// the policy caps.
	Account Account
	// Amount is the ε and δ added (NewGrant).
	Amount Cost
	// Principal is who granted (the operator), Reason why.
	Principal, Reason string
}
