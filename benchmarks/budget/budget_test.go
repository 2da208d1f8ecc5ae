package budget

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/statgate/statgate/benchmarks/utility"
	"github.com/statgate/statgate/policies"
)

// TestSessionIsDistinct: the session has 300 questions, no two alike,
// of every kind, in both projects, at every ε of the mix.
func TestSessionIsDistinct(t *testing.T) {
	qs := Session(300, 20)
	if len(qs) != 300 {
		t.Fatalf("%d questions, want 300", len(qs))
	}
	seen := map[string]bool{}
	kinds, projects, eps := map[string]int{}, map[string]int{}, map[float64]int{}
	for _, q := range qs {
		b, err := json.Marshal(q.Request)
		if err != nil {
			t.Fatal(err)
		}
		if seen[string(b)] || seen[q.Name] {
			t.Errorf("question %s repeated", q.Name)
		}
		seen[string(b)], seen[q.Name] = true, true
		switch {
		case q.Request.Template != "":
			kinds["template"]++
		case q.Request.Cohort != nil:
			kinds["cohort"]++
			eps[q.Request.Epsilon]++
		default:
			kinds["sql"]++
			eps[q.Request.Epsilon]++
		}
		projects[q.Request.Project]++
	}
	if len(kinds) != 3 || len(projects) != 2 || len(eps) != len(Epsilons) {
		t.Errorf("kinds %v, projects %v, ε %v", kinds, projects, eps)
	}
	if a, b := Session(300, 20), Session(300, 21); a[0].Name == b[0].Name && a[1].Name == b[1].Name && a[2].Name == b[2].Name {
		t.Error("the order does not depend on the seed")
	}
}

// TestReplay replays a short session on a small extract under both
// accountings: every question is answered or refused for budget (none
// refused otherwise), the ledgers stay within the declared budgets, the
// same question is as accurate under both, and the report says so.
func TestReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and queries an extract")
	}
	ctx := context.Background()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	policyPath := filepath.Join(root, utility.PolicyPath)
	pol, err := policies.Load(policyPath)
	if err != nil {
		t.Fatal(err)
	}
	d, err := utility.Prepare(ctx, &utility.DataOptions{Persons: 3000, Seed: 5, CacheDir: t.TempDir(), Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	qs := Session(60, 3)
	var outs []*Outcome
	for _, acc := range []string{policies.AccountingBasic, policies.AccountingZCDP} {
		o, err := Replay(ctx, policyPath, d.ExtractsDir(), acc, qs, nil)
		if err != nil {
			t.Fatal(err)
		}
		refused := 0
		for _, n := range o.Exhausted {
			refused += n
		}
		if len(o.Answers)+refused != len(qs) || len(o.Answers) == 0 {
			t.Errorf("%s: %d answers + %d refused for budget, %d asked", acc, len(o.Answers), refused, len(qs))
		}
		for _, rep := range o.Budgets {
			for _, ds := range rep.Datasets {
				if ds.Epsilon.Spent > ds.Epsilon.Total+1e-9 || ds.Delta.Spent > ds.Delta.Total+1e-18 {
					t.Errorf("%s: %s/%s spent %+v / %+v over the budget", acc, rep.Project, ds.Dataset, ds.Epsilon, ds.Delta)
				}
			}
		}
		outs = append(outs, o)
	}
	c := NewCompare(outs[0], outs[1])
	if c.Common == 0 || c.SDRatio < 0.8 || c.SDRatio > 1.25 {
		t.Errorf("%d questions answered under both, median sd ratio %g: want about 1", c.Common, c.SDRatio)
	}
	var b strings.Builder
	if err := c.WriteMarkdown(&b, &Setup{Command: "test", Persons: 3000, Seed: 5, Questions: qs, Policy: utility.PolicyPath, Commit: "test"}); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); !strings.HasPrefix(got, SectionBegin) || !strings.HasSuffix(strings.TrimSpace(got), SectionEnd) || !strings.Contains(got, "| zcdp |") {
		t.Errorf("report:\n%s", got)
	}
}
