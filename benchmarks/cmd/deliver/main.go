// Command deliver measures a 1 % delivery onto a large npr (issue 19,
// package benchmarks/deliverbench) and writes its section of
// benchmarks/RESULTS.md.
//
//	go run -tags duckdb_arrow ./benchmarks/cmd/deliver --rows 100M --memory-limit 2.5GB
//	go run -tags duckdb_arrow ./benchmarks/cmd/deliver --rows 1M --out -      # a quick look
//
// The registries are generated once under --cache (100 M rows need about
// 10 GB there); the run's data directory is a hard link of the loaded
// extracts under --scratch, removed afterwards.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/statgate/statgate/benchmarks"
	"github.com/statgate/statgate/benchmarks/deliverbench"
	"github.com/statgate/statgate/benchmarks/internal/cli"
)

type options struct {
	bench   deliverbench.Options
	prepare bool
	out     string
	args    []string
}

func main() { cli.Main("deliver", parseFlags, run) }

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("deliver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{args: args}
	var rows, delivery string
	fs.StringVar(&rows, "rows", "100M", "rows of the base npr")
	fs.StringVar(&delivery, "delivery", "", "rows delivered (default: 1 % of --rows)")
	fs.IntVar(&o.bench.Groups, "groups", 200, "ICD-10 groups of the generated npr")
	fs.Uint64Var(&o.bench.Seed, "seed", 1, "seed of the base registry (the delivery's is seed+1000)")
	fs.IntVar(&o.bench.Clients, "clients", 2, "closed-loop clients asking through the delivery")
	fs.DurationVar(&o.bench.Watch, "watch", 250*time.Millisecond, "how often the engine checks the extracts file")
	fs.StringVar(&o.bench.MemoryLimit, "memory-limit", "", "DuckDB memory limit of the engine")
	fs.IntVar(&o.bench.Threads, "threads", 0, "DuckDB threads of the engine (0: all cores)")
	fs.DurationVar(&o.bench.QueryTimeout, "query-timeout", 15*time.Minute, "bound on each execution (the engine's and the exact check's)")
	fs.BoolVar(&o.bench.SkipCopy, "skip-copy", false, "skip the copy-and-append alternative")
	fs.StringVar(&o.bench.Cache, "cache", "", "cache of generated data (default: benchmarks/.cache in the repository)")
	fs.StringVar(&o.bench.Scratch, "scratch", "", "scratch directory (default: $TMPDIR/statgate-deliver)")
	fs.BoolVar(&o.prepare, "prepare", false, "only generate and load the registries into --cache, measure nothing")
	fs.StringVar(&o.out, "out", "", `results file (default: benchmarks/RESULTS.md; "-": standard output)`)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	n, err := cli.ParseCount(rows)
	if err != nil {
		return nil, fmt.Errorf("--rows: %w", err)
	}
	o.bench.Rows, o.bench.DeliveryRows = n, max(1, n/100)
	if delivery != "" {
		if o.bench.DeliveryRows, err = cli.ParseCount(delivery); err != nil {
			return nil, fmt.Errorf("--delivery: %w", err)
		}
	}
	if o.bench.Clients < 1 {
		return nil, fmt.Errorf("--clients must be at least 1")
	}
	return o, nil
}

func run(ctx context.Context, o *options, stderr io.Writer) error {
	root, err := cli.RepoRoot("deliver")
	if err != nil {
		return err
	}
	if o.bench.Cache == "" {
		o.bench.Cache = filepath.Join(root, "benchmarks", ".cache")
	}
	if o.bench.Scratch == "" {
		o.bench.Scratch = filepath.Join(os.TempDir(), "statgate-deliver")
	}
	o.bench.Progress = stderr
	if o.prepare {
		return deliverbench.Prepare(ctx, o.bench)
	}
	r, err := deliverbench.Run(ctx, o.bench)
	if err != nil {
		return err
	}
	section := r.Section("go run ./benchmarks/cmd/deliver " + strings.Join(o.args, " "))
	if o.out == "-" {
		fmt.Print(section)
		return nil
	}
	out := o.out
	if out == "" {
		out = filepath.Join(root, "benchmarks", "RESULTS.md")
	}
	if err := benchmarks.WriteSection(out, deliverbench.SectionBegin, deliverbench.SectionEnd, section, false); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s\n", out)
	return nil
}
