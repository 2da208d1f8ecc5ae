package engine

import (
	"time"

	"github.com/statgate/statgate/engine/compile"
	"github.com/statgate/statgate/engine/plan"
)

// Principal is the authenticated caller: a name the policy's project
// members refer to. The API resolves it from a bearer token.
type Principal struct {
	Name string
}

// Request is one question to the engine (see compile.Request). Exactly
// one of SQL, Template and Cohort is set.
type Request = compile.Request

// CohortSpec selects persons across registries (see compile.CohortSpec).
type CohortSpec = compile.CohortSpec

// Criterion is one registry condition of a cohort (see compile.Criterion).
type Criterion = compile.Criterion

// RelativeTo names the include criterion a temporal criterion is relative to.
type RelativeTo = compile.RelativeTo

// Bounds are contribution bounds a request fixes (see plan.RequestBounds).
type Bounds = plan.RequestBounds

// TemplateInfo describes an approved template to the principals who may run it.
type TemplateInfo struct {
	Name        string      `json:"name"`
	Title       string      `json:"title"`
	Description string      `json:"description,omitempty"`
	Datasets    []string    `json:"datasets"`
	Params      []ParamInfo `json:"params"`
	// Epsilon is what one run costs on each of Datasets.
	Epsilon float64 `json:"epsilon"`
	// SQL is the approved query text with its :placeholders.
	SQL string `json:"sql"`
}

// ParamInfo describes one template parameter.
type ParamInfo struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Description string   `json:"description,omitempty"`
	Pattern     string   `json:"pattern,omitempty"`
	Min         *float64 `json:"min,omitempty"`
	Max         *float64 `json:"max,omitempty"`
	Enum        []string `json:"enum,omitempty"`
	Default     any      `json:"default,omitempty"`
	Required    bool     `json:"required"`
}

// BudgetReport is a project's budget per dataset, its other caps and the
// per-person guarantee it gives.
type BudgetReport struct {
	Project  string          `json:"project"`
	Datasets []DatasetBudget `json:"datasets"`
	// Caps are the other budgets the policy declares that the project's
	// queries are charged to: its project-wide budget, its members' caps
	// and its datasets' lifetime budgets over all projects.
	Caps []CapBudget `json:"caps"`
	// PerPerson is what one person can lose in the project.
	PerPerson PerPerson `json:"per_person"`
}

// CapBudget is one budget beyond project × dataset.
type CapBudget struct {
	// Scope is "project", "member" (Principal's cap) or "lifetime"
	// (Dataset's budget over all projects).
	Scope     string `json:"scope"`
	Dataset   string `json:"dataset,omitempty"`
	Principal string `json:"principal,omitempty"`
	Epsilon   Amount `json:"epsilon"`
	Delta     Amount `json:"delta"`
	Rho       Amount `json:"rho"`
	Bound     string `json:"bound"`
	// DeltaFrom says where Delta.Total comes from: "declared" by the
	// policy, or, for a cap written with ε alone, implied by the budgets
	// it sits over (budget.DeltaSource: "project_budget",
	// "dataset_budgets", "projects", "ceiling").
	DeltaFrom string `json:"delta_from"`
}

// PerPerson is the per-person guarantee of a project: every query may read
// any one person, whatever datasets it joins, so the person is the privacy
// unit across registries.
type PerPerson struct {
	// Epsilon and Delta are the most the policy lets the project spend on
	// one person (From: "project_budget", its project-wide budget with
	// grants, or "datasets", the sum of its datasets' budgets).
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
	From    string  `json:"from"`
	// SpentEpsilon and SpentDelta bound what it has spent on one person:
	// all its queries composed, each once, under Bound (the smaller valid
	// bound, "zcdp" or "basic").
	SpentEpsilon float64 `json:"spent_epsilon"`
	SpentDelta   float64 `json:"spent_delta"`
	Bound        string  `json:"bound"`
}

// DatasetBudget is the budget of one project × dataset.
type DatasetBudget struct {
	Dataset string `json:"dataset"`
	// Epsilon and Delta are the guarantee spent, under Bound.
	Epsilon Amount `json:"epsilon"`
	Delta   Amount `json:"delta"`
	// Rho is the zCDP account: the ρ spent and the ρ the budget allows
	// with the additive δ spent so far.
	Rho Amount `json:"rho"`
	// Accounting is the policy's ("zcdp" or "basic"); Bound the account
	// the spent guarantee comes from, the smaller valid one.
	Accounting string `json:"accounting"`
	Bound      string `json:"bound"`
}

// Amount is a budget total, what was spent, and what remains (never negative).
type Amount struct {
	Total     float64 `json:"total"`
	Spent     float64 `json:"spent"`
	Remaining float64 `json:"remaining"`
}

// BudgetHistory is one page of a project's debits, newest first.
type BudgetHistory struct {
	Project string         `json:"project"`
	Debits  []HistoryDebit `json:"debits"`
	// NextBefore continues the history (the before of the next page); 0
	// when this page is the last.
	NextBefore int64 `json:"next_before,omitempty"`
}

// HistoryDebit is one query's debit: what it cost once, charged to the
// project and to each of its datasets' budgets, when and by whom.
type HistoryDebit struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	QueryID   string    `json:"query_id"`
	Principal string    `json:"principal"`
	Kind      string    `json:"kind"`
	Datasets  []string  `json:"datasets"`
	Epsilon   float64   `json:"epsilon"`
	Delta     float64   `json:"delta"`
	Rho       float64   `json:"rho"`
}
