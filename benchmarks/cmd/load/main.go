// Command load is statgate's closed-loop load generator: it serves the API
// on loopback over a synthetic extract and measures requests per second
// and latencies with 1, 2 and 8 clients sending ad-hoc SQL, template runs
// and cohort estimates (every request a new question), each next to the
// same questions run as plain SQL on DuckDB (raw, raw-template,
// raw-cohort), and writes its run, labelled, into the
// load section of benchmarks/RESULTS.md.
//
//	go run -tags duckdb_arrow ./benchmarks/cmd/load --label after
//	go run -tags duckdb_arrow ./benchmarks/cmd/load --kinds adhoc --clients 8 --duration 5s --out -
//
// See benchmarks/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/statgate/statgate/benchmarks"
	"github.com/statgate/statgate/benchmarks/internal/cli"
	"github.com/statgate/statgate/benchmarks/load"
	"github.com/statgate/statgate/benchmarks/utility"
)

type options struct {
	persons  int
	seed     uint64
	clients  []int
	kinds    []load.Kind
	duration time.Duration
	warmup   time.Duration
	threads  int
	memory   string
	label    string
	cacheDir string
	out      string
	cpuprof  string
	stages   bool
	args     []string
	root     string
}

func main() { cli.Main("load", parseFlags, run) }

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run -tags duckdb_arrow ./benchmarks/cmd/load [flags]\n\n"+
			"Closed-loop clients against the API on loopback (ad hoc, template, cohort; a new question per\n"+
			"request), each next to the same questions as plain SQL on DuckDB (raw, raw-template, raw-cohort);\n"+
			"writes a labelled run into benchmarks/RESULTS.md.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	o := &options{args: args}
	var clients, kinds string
	fs.IntVar(&o.persons, "persons", 20000, "synthetic persons (engine/synth; cached like the utility benchmark's)")
	fs.Uint64Var(&o.seed, "seed", 1, "data seed")
	fs.StringVar(&clients, "clients", "1,2,8", "concurrent clients per cell, comma-separated")
	fs.StringVar(&kinds, "kinds", kindList(load.Kinds), "kinds of request, comma-separated")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "time each (kind, clients) cell sends requests")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before each cell")
	fs.IntVar(&o.threads, "threads", 0, "DuckDB threads (0: all cores)")
	fs.StringVar(&o.memory, "memory-limit", "", "DuckDB memory_limit (default: DuckDB's)")
	fs.StringVar(&o.label, "label", "latest", "the run's label in RESULTS.md; a run with the same label is replaced")
	fs.StringVar(&o.cacheDir, "cache", "", "cache directory of generated extracts (default: the utility benchmark's, under $TMPDIR)")
	fs.StringVar(&o.cpuprof, "cpuprofile", "", "write a CPU profile of the run (server and clients, one process) to this file")
	fs.BoolVar(&o.stages, "stages", true, "profile each engine kind's cell with the most clients and report its CPU by pipeline stage (not with --cpuprofile)")
	fs.StringVar(&o.out, "out", "", "results file (default: benchmarks/RESULTS.md in the repository; \"-\": standard output)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, f := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 256 {
			return nil, fmt.Errorf("--clients %q: want counts from 1 to 256", clients)
		}
		o.clients = append(o.clients, n)
	}
	for _, f := range strings.Split(kinds, ",") {
		k := load.Kind(strings.TrimSpace(f))
		if !slices.Contains(load.Kinds, k) {
			return nil, fmt.Errorf("--kinds: unknown kind %q (want %s)", k, strings.ReplaceAll(kindList(load.Kinds), ",", ", "))
		}
		o.kinds = append(o.kinds, k)
	}
	if o.cpuprof != "" {
		o.stages = false // one CPU profile at a time
	}
	if o.persons < 100 || o.duration <= 0 || o.warmup < 0 || o.threads < 0 {
		return nil, errors.New("--persons must be at least 100, --duration positive, --warmup and --threads not negative")
	}
	if strings.ContainsAny(o.label, "<>\n") || o.label == "" {
		return nil, fmt.Errorf("--label %q: want a short name without <, > or newlines", o.label)
	}
	var err error
	if o.root, err = cli.RepoRoot("load"); err != nil {
		return nil, err
	}
	if o.out == "" {
		o.out = filepath.Join(o.root, "benchmarks", "RESULTS.md")
	}
	return o, nil
}

func run(ctx context.Context, o *options, log io.Writer) error {
	pol, err := utility.LoadPolicy(filepath.Join(o.root, utility.PolicyPath))
	if err != nil {
		return err
	}
	data, err := utility.Prepare(ctx, &utility.DataOptions{Persons: o.persons, Seed: o.seed, CacheDir: o.cacheDir, Policy: pol, Progress: log})
	if err != nil {
		return err
	}
	scratch, err := os.MkdirTemp("", "statgate-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	machine := benchmarks.DescribeMachine(ctx)
	if o.cpuprof != "" {
		f, err := os.Create(o.cpuprof)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := load.Run(ctx, &load.Options{Policy: pol, ExtractsDir: data.ExtractsDir(), Scratch: scratch,
		Clients: o.clients, Kinds: o.kinds, Duration: o.duration, Warmup: o.warmup,
		Threads: o.threads, MemoryLimit: o.memory, Progress: log, Stages: o.stages})
	if err != nil {
		return err
	}
	rep := &load.Report{Label: o.label, Command: commandLine(o.args, machine.NativeArrow), Revision: revision(),
		Machine: machine, Persons: o.persons, Result: res}
	if o.out == "-" {
		_, err := io.WriteString(os.Stdout, rep.Markdown())
		return err
	}
	if err := load.WriteRun(o.out, rep); err != nil {
		return err
	}
	fmt.Fprintf(log, "wrote run %q into %s\n", o.label, o.out)
	return nil
}

// kindList is kinds comma-separated, as --kinds takes them.
func kindList(kinds []load.Kind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ",")
}

// commandLine is the command that reproduces this run.
func commandLine(args []string, nativeArrow bool) string {
	parts := []string{"go", "run"}
	if nativeArrow {
		parts = append(parts, "-tags", "duckdb_arrow")
	}
	parts = append(parts, "./benchmarks/cmd/load")
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// revision is the statgate commit the binary was built from ("" unknown).
func revision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+modified"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return rev + modified
}
