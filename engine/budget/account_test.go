package budget

import (
	"math"
	"testing"

	"github.com/statgate/statgate/policies"
)

// TestDeltaSource: a cap written with ε alone reports where its δ comes
// from, and the δ PolicyAccountLimits gives it is that one: a member's
// the project-wide budget's (or, without one, the sum of the project's
// per-dataset δs), a lifetime budget's the sum over the projects reading
// the dataset, capped at MaxImpliedDelta ("ceiling"); a declared δ is
// "declared".
func TestDeltaSource(t *testing.T) {
	pol := &policies.Policy{
		Datasets: map[string]*policies.Dataset{
			"a": {Name: "a", LifetimeBudget: &policies.Budget{Epsilon: 5}},
			"b": {Name: "b", LifetimeBudget: &policies.Budget{Epsilon: 5, Delta: 1e-6}},
			"c": {Name: "c", LifetimeBudget: &policies.Budget{Epsilon: 5}},
		},
		Projects: map[string]*policies.Project{
			"wide": {ID: "wide", Datasets: []string{"a", "b", "c"}, ProjectBudget: &policies.Budget{Epsilon: 8, Delta: 1e-5},
				Members: []policies.Member{{Principal: "ann", Budget: &policies.Budget{Epsilon: 2}}, {Principal: "bo", Budget: &policies.Budget{Epsilon: 2, Delta: 1e-7}}}},
			"per": {ID: "per", Datasets: []string{"a", "c"}, Budget: policies.Budget{Epsilon: 3, Delta: 2e-5}, DatasetBudgets: true,
				Members: []policies.Member{{Principal: "cy", Budget: &policies.Budget{Epsilon: 1}}}},
			"loose": {ID: "loose", Datasets: []string{"c"}, Budget: policies.Budget{Epsilon: 3, Delta: 0.6}, DatasetBudgets: true},
		},
	}
	limits := PolicyAccountLimits(pol)
	tests := []struct {
		a     Account
		from  string
		delta float64
	}{
		{Account{Scope: ScopeMember, Project: "wide", Principal: "ann"}, DeltaFromProjectBudget, 1e-5},
		{Account{Scope: ScopeMember, Project: "wide", Principal: "bo"}, DeltaDeclared, 1e-7},
		{Account{Scope: ScopeMember, Project: "per", Principal: "cy"}, DeltaFromDatasetBudgets, 4e-5},
		{Account{Scope: ScopeLifetime, Dataset: "a"}, DeltaFromProjects, 1e-5 + 2e-5},
		{Account{Scope: ScopeLifetime, Dataset: "b"}, DeltaDeclared, 1e-6},
		{Account{Scope: ScopeLifetime, Dataset: "c"}, DeltaCeiling, MaxImpliedDelta},
		{Account{Scope: ScopeProject, Project: "wide"}, DeltaDeclared, 1e-5},
	}
	for _, tc := range tests {
		if got := DeltaSource(pol, tc.a); got != tc.from {
			t.Errorf("%v: δ from %q, want %q", tc.a, got, tc.from)
		}
		b, capped, ok := limits(tc.a)
		if !capped || !ok || math.Abs(b.Delta-tc.delta) > 1e-12*tc.delta {
			t.Errorf("%v: limit %+v (capped %v, ok %v), want δ %g", tc.a, b, capped, ok, tc.delta)
		}
	}
}
