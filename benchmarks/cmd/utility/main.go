// Command utility runs statgate's utility benchmark (benchmarks/utility):
// it asks the workload's questions of the engine over a synthetic extract
// and compares every released number with the exact answer of plain DuckDB
// over the same files, then writes benchmarks/UTILITY.md.
//
//	go run ./benchmarks/cmd/utility --persons 100000 --seed 11 --out benchmarks/UTILITY.md
//	go run ./benchmarks/cmd/utility --reps 1 --questions a10b_persons_by_year,mean_los_by_hospital --out -
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"

	"github.com/statgate/statgate/benchmarks/utility"
)

// options are the command's flags.
type options struct {
	persons    int
	seed       uint64
	reps       int
	out        string
	data       string
	policy     string
	questions  string
	workload   string
	regenerate bool
	cells      string
	history    string
	source     string
	epi        bool
	epiOnly    bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "utility:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("utility", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./benchmarks/cmd/utility [--persons N] [--seed S] [--reps N] [--out FILE|-] [--data DIR] [--questions a,b]")
		fs.PrintDefaults()
	}
	fs.IntVar(&o.persons, "persons", 100_000, "synthetic persons to generate (engine/synth)")
	fs.Uint64Var(&o.seed, "seed", 11, "seed of the synthetic data")
	fs.IntVar(&o.reps, "reps", 5, "times each question is asked, with fresh noise each time (cells pooled)")
	fs.StringVar(&o.out, "out", "benchmarks/UTILITY.md", "report file; - prints it")
	fs.StringVar(&o.data, "data", "", "cache directory for the generated and loaded extracts (default "+utility.DefaultCacheDir()+")")
	fs.StringVar(&o.policy, "policy", utility.PolicyPath, "policy the questions are asked under")
	fs.StringVar(&o.questions, "questions", "", "comma-separated question names to run (default: the whole workload)")
	fs.StringVar(&o.workload, "workload", "main", "the questions asked: main (utility.Workload, the targets' workload) or holdout (utility.Holdout, questions never used to tune the engine)")
	fs.StringVar(&o.cells, "cells", "", "also write every matched cell (released value, interval, exact value) to this CSV file")
	fs.StringVar(&o.history, "history", "", "add this run's targets figures to the report's History table under this label (e.g. 'after item 5'); rows already in --out are kept either way")
	fs.StringVar(&o.source, "source", "", "how the report describes the source tree (default: git's short commit, and whether engine/ or policies/ have uncommitted changes)")
	fs.BoolVar(&o.regenerate, "regenerate", false, "generate and load the data even when cached")
	fs.BoolVar(&o.epi, "epi", true, "also ask the epidemiology questions (POST /v1/survival and /v1/rates at ε 1, issue 13) and report them against exact Kaplan–Meier and rates")
	fs.BoolVar(&o.epiOnly, "epi-only", false, "ask only the epidemiology questions and print their section (--out is not written)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || o.persons <= 0 || o.reps <= 0 {
		fs.Usage()
		return errors.New("--persons and --reps must be positive and there are no arguments")
	}
	qs, err := selectQuestions(o.workload, o.questions)
	if err != nil {
		return err
	}
	pol, err := utility.LoadPolicy(o.policy)
	if err != nil {
		return err
	}
	d, err := utility.Prepare(ctx, &utility.DataOptions{Persons: o.persons, Seed: o.seed, CacheDir: o.data,
		Policy: pol, Regenerate: o.regenerate, Progress: stderr})
	if err != nil {
		return err
	}
	if o.epiOnly {
		er, err := utility.RunEpi(ctx, d, pol, o.reps, "")
		if err != nil {
			return err
		}
		return er.WriteMarkdown(stdout)
	}
	rep, err := utility.Run(ctx, &utility.Options{Data: d, Policy: pol, Questions: qs, Reps: o.reps, Progress: stderr})
	if err != nil {
		return err
	}
	if o.epi {
		if rep.Epi, err = utility.RunEpi(ctx, d, pol, o.reps, ""); err != nil {
			return err
		}
	}
	rep.Command = commandLine(args)
	rep.Holdout = o.workload == "holdout"
	rep.Commit = o.source
	if rep.Commit == "" {
		rep.Commit = commit(ctx)
	}
	if o.out != "-" {
		if b, err := os.ReadFile(o.out); err == nil {
			rep.History = utility.ParseHistory(string(b))
		}
	}
	if o.history != "" {
		rep.History = append(rep.History, rep.HistoryRow(o.history))
	}
	for _, t := range rep.Targets() {
		fmt.Fprintf(stderr, "%-56s %-40s target %s\n", t.Figure, t.Now, t.Goal)
	}
	if o.cells != "" {
		if err := writeFile(o.cells, rep.WriteCellsCSV); err != nil {
			return err
		}
	}
	if o.out == "-" {
		return rep.WriteMarkdown(stdout)
	}
	if err := writeFile(o.out, rep.WriteMarkdown); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "wrote", o.out)
	return nil
}

// writeFile writes path through a temporary file renamed when complete;
// a path that is not a regular file (/dev/null, a pipe) is written to
// directly, never replaced.
func writeFile(path string, write func(io.Writer) error) error {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		return errors.Join(write(f), f.Close())
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// selectQuestions returns the named questions of the workload ("main" or
// "holdout") in its order; for names "", nil (all of them) for the main
// workload and every question of the holdout.
func selectQuestions(workload, names string) ([]utility.Question, error) {
	var all []utility.Question
	switch workload {
	case "main":
		if strings.TrimSpace(names) == "" {
			return nil, nil
		}
		all = utility.Workload()
	case "holdout":
		all = utility.Holdout()
		if strings.TrimSpace(names) == "" {
			return all, nil
		}
	default:
		return nil, fmt.Errorf("--workload %q: want main or holdout", workload)
	}
	want := map[string]bool{}
	for _, n := range strings.Split(names, ",") {
		want[strings.TrimSpace(n)] = true
	}
	var qs []utility.Question
	for _, q := range all {
		if want[q.Name] {
			qs = append(qs, q)
			delete(want, q.Name)
		}
	}
	for n := range want {
		return nil, fmt.Errorf("no question is named %q", n)
	}
	return qs, nil
}

// commandLine is how the report says it was made, quoted for a shell.
func commandLine(args []string) string {
	parts := []string{"go run ./benchmarks/cmd/utility"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$`\\|&;<>()*?") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// commit describes the source tree: the short commit, and whether files
// differ from it; "" outside a git checkout.
func commit(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	s := "commit " + strings.TrimSpace(string(out))
	dirty, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no", "--", "engine", "policies").Output()
	if err == nil && len(strings.TrimSpace(string(dirty))) > 0 {
		s += " with uncommitted changes in engine/ or policies/"
	}
	return s
}
