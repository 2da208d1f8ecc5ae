package budget

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

func TestBalancesAndWriteTable(t *testing.T) {
	ctx := context.Background()
	pol := &policies.Policy{Projects: map[string]*policies.Project{
		"diabetes": {ID: "diabetes", Datasets: []string{"npr", "lmr"}, Budget: policies.Budget{Epsilon: 10, Delta: 1e-6}},
		"cancer":   {ID: "cancer", Datasets: []string{"cancer"}, Budget: policies.Budget{Epsilon: 5}},
	}}
	book, err := NewBook(PolicyLimits(pol), nil)
	if err != nil {
		t.Fatal(err)
	}
	spent := spentMap{"diabetes/npr": mustCost(t, 0.5, 1e-8, 0)}
	tests := []struct {
		desc    string
		project string
		want    string
	}{
		{"all projects, sorted", "", `
PROJECT   DATASET  ε SPENT  ε REMAINING  ε TOTAL  δ SPENT  δ REMAINING  δ TOTAL  ρ SPENT  ρ REMAINING  BOUND
cancer    cancer   0        5            5        0        0            0        0        0            basic
diabetes  npr      0.5      9.5          10       1e-08    9.9e-07      1e-06    0        1.538        basic
diabetes  lmr      0        10           10       0        1e-06        1e-06    0        1.539        basic
`},
		{"one project", "cancer", `
PROJECT  DATASET  ε SPENT  ε REMAINING  ε TOTAL  δ SPENT  δ REMAINING  δ TOTAL  ρ SPENT  ρ REMAINING  BOUND
cancer   cancer   0        5            5        0        0            0        0        0            basic
`},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			bs, err := book.Balances(ctx, spent, pol, tc.project)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := WriteTable(&buf, bs); err != nil {
				t.Fatal(err)
			}
			if got, want := buf.String(), strings.TrimPrefix(tc.want, "\n"); got != want {
				t.Errorf("WriteTable:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	if _, err := book.Balances(ctx, spent, pol, "nope"); refusal.CodeOf(err).String() != "project_not_found" {
		t.Errorf("Balances(unknown project) = %v, want project_not_found", err)
	}
}

func TestWriteHistory(t *testing.T) {
	var buf bytes.Buffer
	err := WriteHistory(&buf, []Entry{{
		ID: 7, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), QueryID: "q_1",
		Project: "p", Principal: "ingrid", Dataset: "npr", Cost: mustCost(t, 0.5, 1e-8, 0),
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := "ID  TIME                  PROJECT  DATASET  PRINCIPAL  QUERY  ε    δ\n" +
		"7   2026-01-02 03:04:05Z  p        npr      ingrid     q_1    0.5  1e-08\n"
	if buf.String() != want {
		t.Errorf("WriteHistory:\n%s\nwant:\n%s", buf.String(), want)
	}
}

// TestWriteCapsNamesTheDeltaSource: `budget show` lists every cap with
// where its δ comes from (declared, or implied for a cap written with ε
// alone) and the per-person guarantee.
func TestWriteCapsNamesTheDeltaSource(t *testing.T) {
	caps := []Balance{
		{Scope: ScopeProject, Project: "p", TotalEpsilon: 8, TotalDelta: 1e-5, DeltaFrom: DeltaDeclared, Bound: "zcdp"},
		{Scope: ScopeMember, Project: "p", Principal: "ann", TotalEpsilon: 2, TotalDelta: 1e-5, DeltaFrom: DeltaFromProjectBudget, Bound: "zcdp"},
		{Scope: ScopeLifetime, Dataset: "a", TotalEpsilon: 5, TotalDelta: 0.5, DeltaFrom: DeltaCeiling, Bound: "zcdp"},
	}
	var b strings.Builder
	if err := WriteCaps(&b, caps, []Guarantee{{Project: "p", MaxEpsilon: 8, MaxDelta: 1e-5, From: "project_budget", Bound: "zcdp"}}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, re := range []string{`(?m)^BUDGET\s.*\sδ TOTAL\s+δ FROM\s+BOUND$`, `(?m)member "ann".*\s1e-05\s+project_budget\s+zcdp$`,
		`(?m)"a"'s lifetime.*\s0\.5\s+ceiling\s+zcdp$`, `(?m)project.*"p".*\s1e-05\s+declared\s+zcdp$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("budget show lacks %s:\n%s", re, out)
		}
	}
}
