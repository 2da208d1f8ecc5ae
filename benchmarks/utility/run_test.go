package utility

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// policyFile is the shipped policy, from this package's directory.
var policyFile = filepath.Join("..", "..", PolicyPath)

// smallExtract prepares a 2,000-person extract in a temporary directory.
func smallExtract(t *testing.T) (*Data, *Options) {
	t.Helper()
	if testing.Short() {
		t.Skip("generates and loads a synthetic extract")
	}
	pol, err := LoadPolicy(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pol.Projects {
		if p.Budget != Budget {
			t.Fatalf("project %s budget %+v, want %+v", p.ID, p.Budget, Budget)
		}
	}
	dir := t.TempDir()
	d, err := Prepare(context.Background(), &DataOptions{Persons: 2000, Seed: 3, CacheDir: dir, Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	again, err := Prepare(context.Background(), &DataOptions{Persons: 2000, Seed: 3, CacheDir: dir, Policy: pol})
	if err != nil || !again.Cached || len(again.Tables) != len(d.Tables) {
		t.Fatalf("second Prepare: cached %v, %d tables, err %v; want the cached extract", again != nil && again.Cached, len(again.Tables), err)
	}
	return d, &Options{Data: d, Policy: pol, ScratchDir: t.TempDir()}
}

func TestRunSmallExtract(t *testing.T) {
	_, base := smallExtract(t)
	byName := map[string]Question{}
	for _, q := range Workload() {
		byName[q.Name] = q
	}

	t.Run("three questions", func(t *testing.T) {
		o := *base
		o.Reps = 2
		o.Questions = []Question{byName["a10b_persons_by_year"], byName["mean_los_by_hospital"], byName["e11_metformin_cohort_by_sex"]}
		rep, err := Run(context.Background(), &o)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Outcomes) != 3 || rep.Reps != 2 {
			t.Fatalf("%d outcomes, %d reps; want 3, 2", len(rep.Outcomes), rep.Reps)
		}
		for _, out := range rep.Outcomes {
			if out.Status() != "answered" || out.Answered != 2 {
				t.Errorf("%s: %s (%s), want answered twice", out.Question.Name, out.Status(), out.Message)
			}
		}
		// Public-domain keys: every year 2010–2024 and every hospital is
		// listed, released or suppressed, in each repetition; sex M and F.
		for i, groups := range []int{15, 10, 2} {
			s := rep.Outcomes[i].Stats
			listed := (s.Released + s.Suppressed) / o.Reps
			perGroup := []int{1, 2, 1}[i]
			if listed != groups*perGroup || s.NotReleased != 0 {
				t.Errorf("%s: %d listed cells per repetition, %d not released; want %d, 0",
					rep.Outcomes[i].Question.Name, listed, s.NotReleased, groups*perGroup)
			}
		}
		// The cohort's exact answer (CohortExactSQL) agrees with the
		// engine's up to noise: sd about 2 at ε 0.5, rounding to 5.
		for _, c := range rep.Outcomes[2].Cells {
			if c.Status == Released && (c.Truth < 10 || abs(c.Value-c.Truth) > 40) {
				t.Errorf("cohort cell %s: released %v, exact %v", c.Key, c.Value, c.Truth)
			}
		}
		if rep.Overall.Cells != len(rep.Outcomes[0].Cells)+len(rep.Outcomes[1].Cells)+len(rep.Outcomes[2].Cells) {
			t.Errorf("overall pools %d cells, not every question's", rep.Overall.Cells)
		}
		var b bytes.Buffer
		rep.Command = "go run ./benchmarks/cmd/utility --persons 2000"
		if err := rep.WriteMarkdown(&b); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"## Targets (issue 12)", "| 95 % intervals containing the exact answer |", "a10b_persons_by_year",
			"persons 2000 --seed 3", "--persons 2000`", "nproc "} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("report lacks %q", want)
			}
		}
		b.Reset()
		if err := rep.WriteCellsCSV(&b); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(b.String(), "\n"); n != rep.Overall.Cells+1 {
			t.Errorf("cells CSV has %d lines, want %d", n, rep.Overall.Cells+1)
		}
	})

	t.Run("whole workload", func(t *testing.T) {
		// Every question's exact SQL runs and its released table matches
		// the exact one by column names and keys; refusals are allowed (they
		// are what the report shows), failures are not.
		rep, err := Run(context.Background(), base)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Outcomes) < 25 {
			t.Errorf("the workload has %d questions, want at least 25", len(rep.Outcomes))
		}
		answered := 0
		for _, out := range rep.Outcomes {
			if len(out.Failed) > 0 {
				t.Errorf("%s failed: %s", out.Question.Name, out.Message)
			}
			if out.Answered > 0 {
				answered++
			}
		}
		if answered < len(rep.Outcomes)*3/4 {
			t.Errorf("only %d of %d questions answered", answered, len(rep.Outcomes))
		}
	})

	t.Run("holdout", func(t *testing.T) {
		// The holdout's questions are asked and matched the same way, and
		// the engine answers every one of them (none is refused on a
		// small extract: they ask only what the policy allows).
		o := *base
		o.Questions = Holdout()
		rep, err := Run(context.Background(), &o)
		if err != nil {
			t.Fatal(err)
		}
		for _, out := range rep.Outcomes {
			if out.Status() != "answered" {
				t.Errorf("%s: %s (%s)", out.Question.Name, out.Status(), out.Message)
			}
		}
	})
}

func TestWorkloadIsValid(t *testing.T) {
	kinds := checkQuestions(t, Workload(), map[string]bool{})
	if kinds["sql"] == 0 || kinds["template"] == 0 || kinds["cohort"] == 0 {
		t.Errorf("the workload should mix SQL, templates and cohorts: %v", kinds)
	}
}

// checkQuestions validates qs, fails on a name in seen or repeated (seen
// collects them) and counts the questions of each kind.
func checkQuestions(t *testing.T, qs []Question, seen map[string]bool) map[string]int {
	t.Helper()
	kinds := map[string]int{}
	for _, q := range qs {
		if err := q.Validate(); err != nil {
			t.Error(err)
		}
		if seen[q.Name] {
			t.Errorf("two questions are named %s", q.Name)
		}
		seen[q.Name] = true
		kinds[q.Kind()]++
	}
	return kinds
}

// TestHoldoutIsValid: the holdout's questions are valid, mix the kinds,
// and none of them is a question of the workload.
func TestHoldoutIsValid(t *testing.T) {
	seen := map[string]bool{}
	checkQuestions(t, Workload(), seen)
	kinds := checkQuestions(t, Holdout(), seen)
	if kinds["sql"] < 20 || kinds["template"] == 0 || kinds["cohort"] == 0 {
		t.Errorf("the holdout should mix SQL (20 or more), templates and cohorts: %v", kinds)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
