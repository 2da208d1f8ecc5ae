package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/state"
	"github.com/statgate/statgate/policies"
)

// grantRecord is what the audit entry of a grant holds in its query field:
// enough to check it against the ledger's grant (checkGrants).
type grantRecord struct {
	GrantID   int64   `json:"grant_id"`
	Scope     string  `json:"scope"`
	Project   string  `json:"project"`
	Dataset   string  `json:"dataset,omitempty"`
	Principal string  `json:"principal,omitempty"`
	Epsilon   float64 `json:"epsilon"`
	Delta     float64 `json:"delta"`
	Reason    string  `json:"reason,omitempty"`
}

// grantQueryID is the audit entry's query id of ledger grant id.
func grantQueryID(id int64) string { return "grant_" + strconv.FormatInt(id, 10) }

// grantBudget raises one budget the policy declares: it records the grant
// in the ledger and its audit entry (kind budget_grant, outcome granted)
// in one transaction of the state store, so a grant whose audit entry
// cannot be written is not recorded either (review F4).
func grantBudget(ctx context.Context, st state.Store, pol *policies.Policy, g budget.Grant) (budget.Grant, audit.Entry, error) {
	acct, err := budget.ForAccounting(pol.Accounting)
	if err != nil {
		return budget.Grant{}, audit.Entry{}, err
	}
	book, err := budget.NewPolicyBook(pol, acct)
	if err != nil {
		return budget.Grant{}, audit.Entry{}, err
	}
	if err := book.CheckGrant(g.Account); err != nil {
		return budget.Grant{}, audit.Entry{}, err
	}
	entry := func(g budget.Grant) (audit.Entry, error) {
		rec := grantRecord{GrantID: g.ID, Scope: string(g.Account.Scope), Project: g.Account.Project, Dataset: g.Account.Dataset,
			Principal: g.Account.Principal, Epsilon: g.Amount.Epsilon(), Delta: g.Amount.Delta(), Reason: g.Reason}
		body, err := json.Marshal(rec)
		if err != nil {
			return audit.Entry{}, err
		}
		en := audit.Entry{QueryID: grantQueryID(g.ID), Principal: g.Principal, Project: g.Account.Project,
			Kind: audit.KindBudgetGrant, Query: string(body), Epsilon: rec.Epsilon, Delta: rec.Delta, Outcome: audit.OutcomeGranted}
		if g.Account.Dataset != "" {
			en.Datasets = []string{g.Account.Dataset}
		}
		return en, nil
	}
	g, en, err := st.Ledger().Grant(ctx, g, entry)
	if err != nil {
		return budget.Grant{}, audit.Entry{}, fmt.Errorf("the grant and its audit entry were not recorded: %w", err)
	}
	return g, en, nil
}

// checkGrants returns, for every ledger grant, whether the audit log has
// its entry with the same account and amounts, and an error when one has
// not: a grant must be in the tamper-evident log to count as verified.
func checkGrants(ctx context.Context, st state.Store, project string) ([]budget.Grant, map[int64]bool, error) {
	grants, err := st.Ledger().Grants(ctx, project)
	if err != nil {
		return nil, nil, err
	}
	entries, err := st.Audit().List(ctx, audit.Filter{Project: project, Outcome: audit.OutcomeGranted})
	if err != nil {
		return nil, nil, err
	}
	byID := map[string]grantRecord{}
	for _, e := range entries {
		var rec grantRecord
		if e.Kind != audit.KindBudgetGrant || json.Unmarshal([]byte(e.Query), &rec) != nil {
			continue
		}
		byID[e.QueryID] = rec
	}
	ok := map[int64]bool{}
	var bad []int64
	for _, g := range grants {
		rec, found := byID[grantQueryID(g.ID)]
		ok[g.ID] = found && rec.GrantID == g.ID && rec.Scope == string(g.Account.Scope) && rec.Project == g.Account.Project &&
			rec.Dataset == g.Account.Dataset && rec.Principal == g.Account.Principal &&
			rec.Epsilon == g.Amount.Epsilon() && rec.Delta == g.Amount.Delta()
		if !ok[g.ID] {
			bad = append(bad, g.ID)
		}
	}
	if len(bad) > 0 {
		return grants, ok, fmt.Errorf("grants %v have no matching audit entry", bad)
	}
	return grants, ok, nil
}

func runBudgetGrant(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var policy, data, stateURL, project, dataset, by, reason string
	var eps, del float64
	fs := newFlags("budget grant", "budget grant --project P [--dataset D] --epsilon E [--delta D] [--reason TEXT] [--by NAME] [--policy FILE] [--data DIR | --state URL]", stderr, budgetGrantExamples...)
	fs.StringVar(&policy, "policy", defaultPolicy, "policy file with the budgets (env STATGATE_POLICY)")
	fs.StringVar(&data, "data", defaultData, "data directory (env STATGATE_DATA)")
	stateFlag(fs, &stateURL)
	fs.StringVar(&project, "project", "", "the project whose budget is raised (required)")
	fs.StringVar(&dataset, "dataset", "", "raise the project's budget on this dataset; without it, its project_budget")
	fs.Float64Var(&eps, "epsilon", 0, "ε to add (required, > 0)")
	fs.Float64Var(&del, "delta", 0, "δ to add")
	fs.StringVar(&reason, "reason", "", "why, for the audit log (e.g. 'budget period 2027')")
	fs.StringVar(&by, "by", defaultOperator(), "who grants, for the audit log (default $USER)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if project == "" || eps <= 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "statgate budget grant: --project and an --epsilon above 0 are required")
		fs.Usage()
		return errUsage
	}
	pol, err := policies.Load(policy)
	if err != nil {
		return err
	}
	if _, ok := pol.Projects[project]; !ok {
		return fmt.Errorf("no project %q in %s", project, pol.Path)
	}
	amount, err := budget.NewGrant(eps, del)
	if err != nil {
		return err
	}
	st, err := openExistingState(ctx, stateURL, data)
	if err != nil {
		return err
	}
	defer st.Close()
	a := budget.Account{Scope: budget.ScopeProject, Project: project}
	if dataset != "" {
		a = budget.Account{Scope: budget.ScopeDataset, Project: project, Dataset: dataset}
	}
	g, en, err := grantBudget(ctx, st, pol, budget.Grant{Account: a, Amount: amount, Principal: by, Reason: reason})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "granted ε %g δ %g to %s (grant %d, audit entry %d)\n", g.Amount.Epsilon(), g.Amount.Delta(), a, g.ID, en.Seq)
	return nil
}

func runBudgetGrants(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var data, stateURL, project string
	fs := newFlags("budget grants", "budget grants [--project P] [--data DIR | --state URL]", stderr, budgetGrantExamples...)
	fs.StringVar(&data, "data", defaultData, "data directory (env STATGATE_DATA)")
	stateFlag(fs, &stateURL)
	fs.StringVar(&project, "project", "", "only this project")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, err := openExistingState(ctx, stateURL, data)
	if err != nil {
		return err
	}
	defer st.Close()
	grants, audited, cerr := checkGrants(ctx, st, project)
	if grants == nil && cerr != nil {
		return cerr
	}
	if err := budget.WriteGrants(stdout, grants, audited); err != nil {
		return err
	}
	return cerr
}

// defaultOperator is who grants when --by is not given.
func defaultOperator() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "operator"
}
