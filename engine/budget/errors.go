package budget

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/statgate/statgate/engine/refusal"
)

// ErrInvalidCost reports an amount NewCost cannot hold: NaN, infinite,
// negative or absurdly large. It is a programming error, not a refusal.
var ErrInvalidCost = errors.New("invalid cost")

// ErrInvalidSpend reports a Spend the engine should never have built: a
// missing project or dataset, or a cost without ε. It is a programming
// error, not a refusal.
var ErrInvalidSpend = errors.New("invalid spend")

// shortfall is one account whose budget cannot cover a spend.
type shortfall struct {
	account                    Account
	remainingEps, remainingDel float64
}

// exhausted is the refusal of a debit that would overspend the accounts
// in short, naming each (which cap stopped the query). Budget numbers are
// policy, not data, so the message shows them.
func exhausted(project string, cost Cost, short []shortfall) *refusal.Error {
	parts := make([]string, len(short))
	for i, s := range short {
		name := s.account.String()
		if s.account.Scope == ScopeDataset {
			name = fmt.Sprintf("its budget on %s", s.account.Dataset)
		}
		parts[i] = fmt.Sprintf("%s has ε %g and δ %g left", name, s.remainingEps, s.remainingDel)
	}
	amount := fmt.Sprintf("ε %g", cost.Epsilon())
	if cost.del > 0 {
		amount += fmt.Sprintf(" and δ %g", cost.Delta())
	}
	hint := "ask for a smaller epsilon, or ask the registry owner to raise the project's budget"
	for _, s := range slices.Backward(short) { // the first member or lifetime cap says it
		switch s.account.Scope {
		case ScopeMember:
			hint = "ask for a smaller epsilon, or ask the project's owner to raise your cap"
		case ScopeLifetime:
			hint = "the dataset's lifetime budget over all projects is spent: only the registry owner can raise it"
		}
	}
	return &refusal.Error{
		Code: refusal.BudgetExhausted,
		Message: fmt.Sprintf("project %q cannot spend %s: %s",
			project, amount, strings.Join(parts, "; ")),
		Hint: hint,
	}
}

// noBudget is the refusal of a debit on a dataset outside the project:
// dataset_not_in_project, as the checker says of such a dataset in FROM.
func noBudget(project, dataset string) *refusal.Error {
	return &refusal.Error{
		Code:    refusal.DatasetNotInProject,
		Message: fmt.Sprintf("project %q has no budget for dataset %q", project, dataset),
		Hint:    "query only the project's datasets, or ask the registry owner to add this one to the project",
	}
}

// notFound is the refusal of a balance for a project × dataset without a budget.
func notFound(project, dataset string) *refusal.Error {
	return &refusal.Error{
		Code:    refusal.BudgetNotFound,
		Message: fmt.Sprintf("project %q has no budget for dataset %q", project, dataset),
	}
}
