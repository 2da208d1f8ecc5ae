package budget

import (
	"errors"
	"fmt"
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

// shortfall is one dataset whose budget cannot cover a spend.
type shortfall struct {
	dataset                    string
	remainingEps, remainingDel float64
}

// exhausted is the refusal of a debit that would overspend the datasets in
// short. Budget numbers are policy, not data, so the message shows them.
func exhausted(project string, cost Cost, short []shortfall) *refusal.Error {
	parts := make([]string, len(short))
	for i, s := range short {
		parts[i] = fmt.Sprintf("%s has ε %g and δ %g left", s.dataset, s.remainingEps, s.remainingDel)
	}
	amount := fmt.Sprintf("ε %g", cost.Epsilon())
	if cost.del > 0 {
		amount += fmt.Sprintf(" and δ %g", cost.Delta())
	}
	return &refusal.Error{
		Code: refusal.BudgetExhausted,
		Message: fmt.Sprintf("project %q cannot spend %s per dataset: %s",
			project, amount, strings.Join(parts, "; ")),
		Hint: "ask for a smaller epsilon, or ask the registry owner to raise the project's budget",
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
