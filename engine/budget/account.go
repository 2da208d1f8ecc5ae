package budget

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/statgate/statgate/policies"
)

// Scope says which budget an Account is.
type Scope string

// The scopes every debit is charged to. The ledger records all of them for
// every debit, whether or not the policy caps them, so that a cap added
// later (or a switch of accounting) starts from what was really spent.
const (
	// ScopeDataset is a project × dataset budget (the project's budget).
	ScopeDataset Scope = "dataset"
	// ScopeProject is the project-wide budget (project_budget): each query
	// is charged once, whatever it joins. It bounds what one person loses
	// in the project, the person being the privacy unit across registries.
	ScopeProject Scope = "project"
	// ScopeMember is one member's cap within a project (members[].budget).
	ScopeMember Scope = "member"
	// ScopeLifetime is a dataset's cap over every project together
	// (datasets.<name>.lifetime_budget).
	ScopeLifetime Scope = "lifetime"
)

// Account names one budget a debit is charged to. Project is empty for
// ScopeLifetime, Dataset for ScopeProject and ScopeMember, Principal for
// every scope but ScopeMember. Accounts are comparable (map keys).
type Account struct {
	Scope                       Scope
	Project, Dataset, Principal string
}

// String names the account in words, e.g. `project "p"'s budget on dataset
// "npr"`; refusals and tables use it.
func (a Account) String() string {
	switch a.Scope {
	case ScopeProject:
		return fmt.Sprintf("project %q's project-wide budget", a.Project)
	case ScopeMember:
		return fmt.Sprintf("member %q's cap in project %q", a.Principal, a.Project)
	case ScopeLifetime:
		return fmt.Sprintf("dataset %q's lifetime budget over all projects", a.Dataset)
	}
	return fmt.Sprintf("project %q's budget on dataset %q", a.Project, a.Dataset)
}

// Compare orders accounts by scope, project, dataset and principal: the
// order a ledger store locks them in, so that concurrent debits never wait
// on each other in a cycle.
func (a Account) Compare(b Account) int {
	return cmp.Or(cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Project, b.Project),
		cmp.Compare(a.Dataset, b.Dataset), cmp.Compare(a.Principal, b.Principal))
}

// Accounts returns every account s is charged to, sorted (Compare): the
// project × dataset and lifetime account of each dataset, the project's
// and, when s names a principal, the member's. s should be normalised.
func (s Spend) Accounts() []Account {
	out := []Account{{Scope: ScopeProject, Project: s.Project}}
	if s.Principal != "" {
		out = append(out, Account{Scope: ScopeMember, Project: s.Project, Principal: s.Principal})
	}
	for _, d := range s.Datasets {
		out = append(out, Account{Scope: ScopeDataset, Project: s.Project, Dataset: d},
			Account{Scope: ScopeLifetime, Dataset: d})
	}
	slices.SortFunc(out, Account.Compare)
	return slices.CompactFunc(out, func(a, b Account) bool { return a == b })
}

// Standing is an account as the ledger holds it: the sum of what it spent
// and of the grants that raised its budget (Granted has only ε and δ).
type Standing struct {
	Spent, Granted Cost
}

// NewGrant returns the amount of a grant: ε > 0 and δ ≥ 0, rounded down
// to whole units (a grant never adds more than asked).
func NewGrant(epsilon, delta float64) (Cost, error) {
	if err := checkAmount("epsilon", epsilon, maxEpsilon); err != nil {
		return Cost{}, err
	}
	if err := checkAmount("delta", delta, maxDelta); err != nil {
		return Cost{}, err
	}
	g := Cost{eps: limitUnits(epsilon, epsilonScale), del: limitUnits(delta, deltaScale)}
	if g.eps <= 0 {
		return Cost{}, fmt.Errorf("%w: a grant must add some ε, not %g", ErrInvalidCost, epsilon)
	}
	return g, nil
}

// raised returns b raised by granted.
func raised(b policies.Budget, granted Cost) policies.Budget {
	if granted.IsZero() {
		return b
	}
	return policies.Budget{Epsilon: b.Epsilon + granted.Epsilon(), Delta: b.Delta + granted.Delta()}
}

// AccountLimits returns the budget the policy declares for an account.
// capped is false when the account has no cap (it is still recorded); ok
// is false only for a ScopeDataset account whose dataset is not the
// project's (or an unknown project): such a debit is refused.
type AccountLimits func(a Account) (b policies.Budget, capped, ok bool)

// PolicyAccountLimits returns the budgets p declares: each project's
// budget per dataset (when declared), project_budget, its members' caps,
// and the datasets' lifetime budgets. It reads p on every call.
func PolicyAccountLimits(p *policies.Policy) AccountLimits {
	return func(a Account) (policies.Budget, bool, bool) {
		if a.Scope == ScopeLifetime {
			if ds, ok := p.Datasets[a.Dataset]; ok && ds.LifetimeBudget != nil {
				b := *ds.LifetimeBudget
				if b.Delta == 0 {
					b.Delta = lifetimeDelta(p, a.Dataset)
				}
				return b, true, true
			}
			return policies.Budget{}, false, true
		}
		pr, ok := p.Projects[a.Project]
		switch {
		case a.Scope == ScopeDataset:
			if !ok || !slices.Contains(pr.Datasets, a.Dataset) {
				return policies.Budget{}, false, false
			}
			if !pr.DatasetBudgets && pr.ProjectBudget != nil {
				// No cap of its own: the project-wide budget bounds it,
				// shown as its total but not checked twice.
				return *pr.ProjectBudget, false, true
			}
			return pr.Budget, pr.DatasetBudgets, true
		case !ok:
			return policies.Budget{}, false, true
		case a.Scope == ScopeProject && pr.ProjectBudget != nil:
			return *pr.ProjectBudget, true, true
		case a.Scope == ScopeMember:
			for _, m := range pr.Members {
				if m.Principal == a.Principal && m.Budget != nil {
					b := *m.Budget
					if b.Delta == 0 {
						b.Delta = projectDelta(pr)
					}
					return b, true, true
				}
			}
		}
		return policies.Budget{}, false, true
	}
}

// A cap declared without δ (a member's budget, a dataset's lifetime
// budget) bounds ε only: its δ is the most the budgets it sits over
// allow, so that it never refuses a query they admit for its δ alone
// (Gaussian noise, partition selection). projectDelta is that δ for a
// member: the project-wide δ, or without one the sum of the project's
// per-dataset δs; lifetimeDelta for a dataset's lifetime budget: the sum
// over the projects that read it of what each may spend on it.
func projectDelta(pr *policies.Project) float64 {
	if pr.ProjectBudget != nil {
		return pr.ProjectBudget.Delta
	}
	return pr.Budget.Delta * float64(len(pr.Datasets))
}

// Where the δ of a capped account comes from (Balance.DeltaFrom).
const (
	// DeltaDeclared: the policy states the cap's δ (or the account is
	// not a member cap or lifetime budget).
	DeltaDeclared = "declared"
	// DeltaFromProjectBudget: a member cap written with ε alone takes the
	// δ of its project's project_budget.
	DeltaFromProjectBudget = "project_budget"
	// DeltaFromDatasetBudgets: a member cap written with ε alone in a
	// project without project_budget takes the sum of the project's
	// per-dataset δs.
	DeltaFromDatasetBudgets = "dataset_budgets"
	// DeltaFromProjects: a lifetime budget written with ε alone takes the
	// sum of the δs every project reading the dataset may spend on it.
	DeltaFromProjects = "projects"
	// DeltaCeiling: that sum exceeded MaxImpliedDelta, which it is then.
	DeltaCeiling = "ceiling"
)

// MaxImpliedDelta is the most δ a lifetime budget written with ε alone
// takes (lifetimeDelta). It is not a meaningful privacy bound — an
// (ε, 0.5) statement says little — but only a ceiling that keeps the
// zCDP conversion finite; an owner who means a δ writes it.
const MaxImpliedDelta = 0.5

// DeltaSource says where the δ of account a's cap comes from under p: one
// of the Delta constants. It reads only the policy.
func DeltaSource(p *policies.Policy, a Account) string {
	switch a.Scope {
	case ScopeLifetime:
		ds, ok := p.Datasets[a.Dataset]
		if !ok || ds.LifetimeBudget == nil || ds.LifetimeBudget.Delta != 0 {
			return DeltaDeclared
		}
		if lifetimeDelta(p, a.Dataset) >= MaxImpliedDelta {
			return DeltaCeiling
		}
		return DeltaFromProjects
	case ScopeMember:
		pr, ok := p.Projects[a.Project]
		if !ok {
			return DeltaDeclared
		}
		for _, m := range pr.Members {
			if m.Principal == a.Principal && m.Budget != nil && m.Budget.Delta == 0 {
				if pr.ProjectBudget != nil {
					return DeltaFromProjectBudget
				}
				return DeltaFromDatasetBudgets
			}
		}
	}
	return DeltaDeclared
}

// lifetimeDelta: see projectDelta.
func lifetimeDelta(p *policies.Policy, dataset string) float64 {
	var sum float64
	for _, pr := range p.Projects {
		if !slices.Contains(pr.Datasets, dataset) {
			continue
		}
		if pr.DatasetBudgets || pr.ProjectBudget == nil {
			sum += pr.Budget.Delta
		} else {
			sum += pr.ProjectBudget.Delta
		}
	}
	return min(sum, MaxImpliedDelta)
}

// datasetLimits adapts a project × dataset Limits: every other scope is
// uncapped.
func datasetLimits(l Limits) AccountLimits {
	return func(a Account) (policies.Budget, bool, bool) {
		if a.Scope != ScopeDataset {
			return policies.Budget{}, false, true
		}
		b, ok := l(a.Project, a.Dataset)
		return b, ok, ok
	}
}

// StandingOfUnits returns the Standing a ledger store recorded in units
// (Cost.Units for the spending, ε and δ units for the grants). A negative
// amount is ErrInvalidCost: the store is damaged.
func StandingOfUnits(epsilon, delta, rho, zdelta, grantedEpsilon, grantedDelta int64) (Standing, error) {
	spent, err := CostOfUnits(epsilon, delta, rho, zdelta)
	if err != nil {
		return Standing{}, err
	}
	granted, err := CostOfUnits(grantedEpsilon, grantedDelta, 0, 0)
	if err != nil {
		return Standing{}, err
	}
	return Standing{Spent: spent, Granted: granted}, nil
}
