package utility

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/statgate/statgate/benchmarks/internal/cache"
	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/result"
	"github.com/statgate/statgate/policies"
)

// Options configure Run. Data and Policy are required.
type Options struct {
	// Data is the prepared extract; Policy the policy it was loaded under
	// (LoadPolicy).
	Data   *Data
	Policy *policies.Policy
	// Questions to ask; nil means Workload().
	Questions []Question
	// Reps is how many times each question is asked, with fresh noise
	// each time; cells of every repetition are pooled. 0 means 1.
	Reps int
	// ScratchDir is where the engine's state directory is made (removed
	// afterwards); "" means the system's temporary directory.
	ScratchDir string
	// Progress, when not nil, receives a line per question.
	Progress io.Writer
}

// Outcome is what one question gave over all its repetitions.
type Outcome struct {
	Question Question
	// Runs is the number of times it was asked; Answered how many gave a
	// result. Refused counts refusals by code; Failed holds the first
	// line of other errors (a failed match of a released table too).
	Runs, Answered int
	Refused        map[string]int
	Failed         []string
	// Message is the first refusal or failure's text.
	Message string
	// Meta is the first released result's meta (zero when none).
	Meta result.Meta
	// ExactRows is the number of rows of the exact answer.
	ExactRows int
	// Cells are the matched cells of every answered repetition.
	Cells []Cell
	Stats Stats
	// Elapsed is the time of all repetitions in the engine.
	Elapsed time.Duration
}

// Status is "answered", "refused: CODE", "failed" or a mix with counts
// when repetitions differ.
func (o *Outcome) Status() string {
	var parts []string
	if o.Answered > 0 {
		parts = append(parts, "answered")
	}
	codes := make([]string, 0, len(o.Refused))
	for c := range o.Refused {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		parts = append(parts, "refused: "+c)
	}
	if len(o.Failed) > 0 {
		parts = append(parts, "failed")
	}
	if len(parts) == 1 {
		return parts[0]
	}
	s := make([]string, 0, len(parts))
	if o.Answered > 0 {
		s = append(s, fmt.Sprintf("answered %d", o.Answered))
	}
	for _, c := range codes {
		s = append(s, fmt.Sprintf("refused %d (%s)", o.Refused[c], c))
	}
	if len(o.Failed) > 0 {
		s = append(s, fmt.Sprintf("failed %d", len(o.Failed)))
	}
	return strings.Join(s, ", ")
}

// Report is one run of the benchmark.
type Report struct {
	// Command is the command line, set by the caller.
	Command string
	// Holdout says the questions are the holdout's (Holdout), set by the
	// caller: the report's title and opening say so.
	Holdout bool
	// Commit describes the source tree, set by the caller ("" when unknown).
	Commit  string
	Started time.Time
	Machine Machine
	Data    *Data
	Reps    int
	// Outcomes in workload order; Overall pools the cells of all of them.
	// Worst is the index of the question with the largest |median bias|
	// among those whose bias the noise lets us measure (BiasSE ≤
	// BiasPrecision), WorstAny among all; -1 when none qualifies.
	Outcomes        []*Outcome
	Overall         Stats
	Worst, WorstAny int
	// Elapsed is the whole Run (exact answers and engine).
	Elapsed time.Duration
	// History holds rows of the History table (HistoryRow) to write,
	// oldest first; set by the caller.
	History []string
	// Epi is the epidemiology section (RunEpi), when the caller ran it.
	Epi *EpiReport
}

// asker is what Run needs of the engine.
type asker interface {
	Query(ctx context.Context, p engine.Principal, r engine.Request) (*result.Result, error)
}

// Run asks every question of o and compares the released tables with the
// exact answers. A question the engine refuses or fails on is reported
// as such; an error is returned only when the benchmark itself cannot run
// (bad options, an exact query that fails, no engine).
func Run(ctx context.Context, o *Options) (*Report, error) {
	if o == nil || o.Data == nil || o.Policy == nil {
		return nil, errors.New("utility.Run: data and policy are required")
	}
	start := time.Now()
	qs := o.Questions
	if qs == nil {
		qs = Workload()
	}
	reps := max(o.Reps, 1)
	names := map[string]bool{}
	for i := range qs {
		if err := qs[i].Validate(); err != nil {
			return nil, err
		}
		if names[qs[i].Name] {
			return nil, fmt.Errorf("utility.Run: two questions are named %s", qs[i].Name)
		}
		names[qs[i].Name] = true
	}
	ex, err := OpenExact(ctx, o.Data.Dir, o.Data.TableNames())
	if err != nil {
		return nil, err
	}
	defer ex.Close()
	exact := make([]*Table, len(qs))
	for i := range qs {
		text, err := ExactSQL(&qs[i], o.Policy)
		if err != nil {
			return nil, err
		}
		if exact[i], err = ex.Query(ctx, text); err != nil {
			return nil, fmt.Errorf("utility.Run: exact answer of %s: %w", qs[i].Name, err)
		}
	}
	dir, err := cache.StateDir(o.ScratchDir, o.Data.ExtractsDir())
	if err != nil {
		return nil, fmt.Errorf("utility.Run: %w", err)
	}
	defer os.RemoveAll(dir)
	eng, closeEngine, err := openEngine(ctx, o.Policy, dir)
	if err != nil {
		return nil, fmt.Errorf("utility.Run: %w", err)
	}
	defer closeEngine()
	rep := &Report{Started: start, Machine: DescribeMachine(ctx), Data: o.Data, Reps: reps}
	var all []Cell
	for i := range qs {
		out, err := ask(ctx, eng, &qs[i], exact[i], reps)
		if err != nil {
			return nil, err
		}
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "%2d/%d %-40s %-22s %5.1fs\n", i+1, len(qs), qs[i].Name, out.Status(), out.Elapsed.Seconds())
		}
		rep.Outcomes = append(rep.Outcomes, out)
		all = append(all, out.Cells...)
	}
	rep.Overall = Summarize(all)
	rep.Worst, rep.WorstAny = Worst(rep.Outcomes, BiasPrecision), Worst(rep.Outcomes, math.Inf(1))
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// ask puts q to a reps times and matches every released table with ex.
// Only a cancelled ctx is an error.
func ask(ctx context.Context, a asker, q *Question, ex *Table, reps int) (*Outcome, error) {
	out := &Outcome{Question: *q, Refused: map[string]int{}, ExactRows: len(ex.Rows)}
	start := time.Now()
	for range reps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out.Runs++
		res, err := a.Query(ctx, engine.Principal{Name: q.Principal}, q.Request())
		if err == nil {
			var cells []Cell
			if cells, err = Match(res, ex); err == nil {
				if out.Answered == 0 {
					out.Meta = res.Meta
				}
				out.Answered++
				out.Cells = append(out.Cells, cells...)
				continue
			}
		}
		if rf, ok := refusal.As(err); ok {
			out.Refused[rf.Code.String()]++
		} else {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			out.Failed = append(out.Failed, firstLine(err.Error()))
		}
		if out.Message == "" {
			out.Message = firstLine(err.Error())
		}
	}
	out.Elapsed = time.Since(start)
	out.Stats = Summarize(out.Cells)
	return out, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
