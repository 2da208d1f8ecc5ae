package budget

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"

	"github.com/statgate/statgate/benchmarks/utility"
	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/result"
	"github.com/statgate/statgate/engine/state/sqlite"
	"github.com/statgate/statgate/policies"
)

// Answer is what one question released.
type Answer struct {
	Question string
	Project  string
	// Info is Σ 1/sd² over the answer's released (not suppressed) cells;
	// Cells is how many they are and MedianSD their median sd.
	Info     float64
	Cells    int
	MedianSD float64
	// CountInfo is Σ 1/sd² over its released count cells only (counts of
	// rows or persons: one scale, unlike sums and means, whose 1/sd²
	// depends on their unit).
	CountInfo float64
	// Mechanism is the answer's meta.mechanism; Epsilon and Rho what it
	// was charged.
	Mechanism    string
	Epsilon, Rho float64
}

// Outcome is one replay of a session under one accounting.
type Outcome struct {
	Accounting string
	Answers    []Answer
	// Exhausted counts the questions refused because the budget could not
	// pay them, per project.
	Exhausted map[string]int
	// Budgets are the projects' budget reports at the end.
	Budgets []*engine.BudgetReport
}

// Info is the information the replay released: Σ 1/sd² over every answer.
func (o *Outcome) Info() float64 {
	var s float64
	for _, a := range o.Answers {
		s += a.Info
	}
	return s
}

// CountInfo is Σ 1/sd² over every answer's count cells.
func (o *Outcome) CountInfo() float64 {
	var s float64
	for _, a := range o.Answers {
		s += a.CountInfo
	}
	return s
}

// Cells is the number of released cells with a standard deviation.
func (o *Outcome) Cells() int {
	n := 0
	for _, a := range o.Answers {
		n += a.Cells
	}
	return n
}

// ByProject counts answers and information per project.
func (o *Outcome) ByProject() map[string][2]float64 {
	out := map[string][2]float64{}
	for _, a := range o.Answers {
		v := out[a.Project]
		out[a.Project] = [2]float64{v[0] + 1, v[1] + a.Info}
	}
	return out
}

// Replay asks every question, in order, of one engine over the extracts
// in dataDir with a fresh state store of its own, under the policy at
// policyPath with its accounting set to accounting (the budgets as the
// policy declares them). A question refused because the budget cannot
// pay it is counted and the session goes on (a cheaper one may still
// fit); any other refusal or error fails the replay, so that the session
// is made of questions the engine answers.
func Replay(ctx context.Context, policyPath, dataDir, accounting string, qs []Question, progress io.Writer) (*Outcome, error) {
	pol, err := policies.Load(policyPath)
	if err != nil {
		return nil, fmt.Errorf("budget.Replay: %w", err)
	}
	pol.Accounting = accounting
	stateDir, err := os.MkdirTemp("", "statgate-budget-bench-")
	if err != nil {
		return nil, fmt.Errorf("budget.Replay: %w", err)
	}
	defer os.RemoveAll(stateDir)
	store, err := sqlite.Open(ctx, stateDir)
	if err != nil {
		return nil, fmt.Errorf("budget.Replay: %w", err)
	}
	defer store.Close()
	eng, err := engine.New(ctx, &engine.Options{Policy: pol, DataDir: dataDir, State: store})
	if err != nil {
		return nil, fmt.Errorf("budget.Replay: %w", err)
	}
	defer eng.Close()
	out := &Outcome{Accounting: accounting, Exhausted: map[string]int{}}
	for i, q := range qs {
		res, err := eng.Query(ctx, engine.Principal{Name: q.Principal}, q.Request)
		switch {
		case refusal.CodeOf(err) == refusal.BudgetExhausted:
			out.Exhausted[q.Request.Project]++
			continue
		case err != nil:
			return nil, fmt.Errorf("budget.Replay: question %d (%s): %w", i+1, q.Name, err)
		}
		out.Answers = append(out.Answers, answerOf(q, res))
		if progress != nil && (i+1)%50 == 0 {
			fmt.Fprintf(progress, "%s: %d/%d asked, %d answered\n", accounting, i+1, len(qs), len(out.Answers))
		}
	}
	if out.Budgets, err = budgets(ctx, eng, qs); err != nil {
		return nil, err
	}
	return out, nil
}

// answerOf measures one released answer.
func answerOf(q Question, res *result.Result) Answer {
	a := Answer{Question: q.Name, Project: q.Request.Project, Mechanism: res.Meta.Mechanism, Epsilon: res.Meta.Epsilon, Rho: res.Meta.Rho}
	var sds []float64
	for _, row := range res.Rows {
		for i, c := range row.Cells {
			if c.StdDev > 0 && !c.Suppressed {
				a.Info += 1 / (c.StdDev * c.StdDev)
				sds = append(sds, c.StdDev)
				switch res.Columns[i].Aggregate {
				case "count_star", "count", "count_persons":
					a.CountInfo += 1 / (c.StdDev * c.StdDev)
				}
			}
		}
	}
	a.Cells = len(sds)
	if len(sds) > 0 {
		sort.Float64s(sds)
		a.MedianSD = sds[len(sds)/2]
	}
	return a
}

// budgets reads the budget report of every project the session's
// questions are asked in, as the researcher (a member of each) sees it.
func budgets(ctx context.Context, eng *engine.Engine, qs []Question) ([]*engine.BudgetReport, error) {
	var projects []string
	for _, q := range qs {
		if !slices.Contains(projects, q.Request.Project) {
			projects = append(projects, q.Request.Project)
		}
	}
	slices.Sort(projects)
	var out []*engine.BudgetReport
	for _, p := range projects {
		rep, err := eng.Budget(ctx, engine.Principal{Name: utility.Researcher}, p)
		if err != nil {
			return nil, fmt.Errorf("budget.Replay: budget of %s: %w", p, err)
		}
		out = append(out, rep)
	}
	return out, nil
}

// Compare is the two replays side by side.
type Compare struct {
	Basic, ZCDP *Outcome
	// Common is how many questions both answered; SDRatio the median,
	// over them, of the zCDP answer's median sd over the basic one's
	// (1: equal accuracy per answer).
	Common  int
	SDRatio float64
}

// NewCompare pairs the replays' answers.
func NewCompare(basic, zcdp *Outcome) *Compare {
	c := &Compare{Basic: basic, ZCDP: zcdp}
	sd := map[string]float64{}
	for _, a := range basic.Answers {
		sd[a.Question] = a.MedianSD
	}
	var ratios []float64
	for _, a := range zcdp.Answers {
		if b, ok := sd[a.Question]; ok && b > 0 && a.MedianSD > 0 {
			ratios = append(ratios, a.MedianSD/b)
		}
	}
	c.Common = len(ratios)
	c.SDRatio = math.NaN()
	if len(ratios) > 0 {
		sort.Float64s(ratios)
		c.SDRatio = ratios[len(ratios)/2]
	}
	return c
}
