// Command budget replays one session of distinct researcher questions
// (benchmarks/budget.Session) through the real engine under basic
// composition and under zCDP accounting, with the shipped policy's
// budgets, and writes how many answers each buys and the information
// they carry (Σ 1/sd²) as its section of benchmarks/RESULTS.md.
//
//	go run ./benchmarks/cmd/budget --persons 100000 --questions 300
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/statgate/statgate/benchmarks"
	"github.com/statgate/statgate/benchmarks/budget"
	"github.com/statgate/statgate/benchmarks/internal/cli"
	"github.com/statgate/statgate/benchmarks/utility"
	"github.com/statgate/statgate/policies"
)

type options struct {
	persons, questions int
	seed, order        uint64
	out, data          string
	args               []string
}

func main() { cli.Main("budget", parseFlags, run) }

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("budget", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{args: args}
	fs.IntVar(&o.persons, "persons", 100_000, "synthetic persons (cached like the utility benchmark's)")
	fs.Uint64Var(&o.seed, "seed", 11, "seed of the synthetic data")
	fs.IntVar(&o.questions, "questions", 300, "distinct questions in the session")
	fs.Uint64Var(&o.order, "order", 20, "seed of the session's question order")
	fs.StringVar(&o.out, "out", "", `results file (default: benchmarks/RESULTS.md; "-": standard output)`)
	fs.StringVar(&o.data, "data", "", "cache directory of the extracts (default "+utility.DefaultCacheDir()+")")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 || o.persons <= 0 || o.questions <= 0 {
		return nil, errors.New("--persons and --questions must be positive and there are no arguments")
	}
	return o, nil
}

func run(ctx context.Context, o *options, stderr io.Writer) error {
	root, err := cli.RepoRoot("budget")
	if err != nil {
		return err
	}
	policyPath := filepath.Join(root, utility.PolicyPath)
	pol, err := policies.Load(policyPath)
	if err != nil {
		return err
	}
	d, err := utility.Prepare(ctx, &utility.DataOptions{Persons: o.persons, Seed: o.seed, CacheDir: o.data, Policy: pol, Progress: stderr})
	if err != nil {
		return err
	}
	qs := budget.Session(o.questions, o.order)
	if len(qs) < o.questions {
		return fmt.Errorf("the session has %d distinct questions, fewer than --questions %d", len(qs), o.questions)
	}
	var outs []*budget.Outcome
	for _, acc := range []string{policies.AccountingBasic, policies.AccountingZCDP} {
		out, err := budget.Replay(ctx, policyPath, d.ExtractsDir(), acc, qs, stderr)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "%s: %d answers, Σ1/sd² %.4g\n", acc, len(out.Answers), out.Info())
		outs = append(outs, out)
	}
	c := budget.NewCompare(outs[0], outs[1])
	setup := &budget.Setup{Command: "go run ./benchmarks/cmd/budget " + strings.Join(o.args, " "), Persons: o.persons, Seed: o.seed,
		Questions: qs, Policy: utility.PolicyPath, Commit: commit(ctx, root)}
	var b strings.Builder
	if err := c.WriteMarkdown(&b, setup); err != nil {
		return err
	}
	switch o.out {
	case "-":
		_, err = io.WriteString(os.Stdout, b.String())
		return err
	case "":
		o.out = filepath.Join(root, "benchmarks", "RESULTS.md")
	}
	return benchmarks.WriteSection(o.out, budget.SectionBegin, budget.SectionEnd, b.String(), false)
}

// commit is git's short commit of root, or "unknown".
func commit(ctx context.Context, root string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
