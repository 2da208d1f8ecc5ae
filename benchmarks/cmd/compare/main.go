// Command compare is statgate's benchmark harness. It generates benchmark
// registries once (cached under benchmarks/.cache), times the same
// question answered by raw DuckDB (A), statgate's bounded SQL without
// noise (B), the whole engine (C), the HTTP API on loopback (D), a cohort
// estimate across three registries (K) and Google's privacy-on-beam on
// Beam's local runner (E), measures load throughput, profiles the bounded
// plan, and writes benchmarks/RESULTS.md.
//
//	go run -tags duckdb_arrow ./benchmarks/cmd/compare                      # 1 M and 10 M rows
//	go run -tags duckdb_arrow ./benchmarks/cmd/compare --rows 100000000 --skip-beam --memory-limit 3GB
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
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/statgate/statgate/benchmarks"
	"github.com/statgate/statgate/benchmarks/internal/cli"
)

// options are the command's flags.
type options struct {
	rows         []int64
	groups       int
	scaleGroups  []int64
	scaleRows    int64
	reps         int
	variants     []benchmarks.Variant
	skipBeam     bool
	beamReps     int
	beamMaxRows  int64
	memoryLimit  string
	threads      int
	seed         uint64
	cache        string
	out          string
	skipLoads    bool
	skipExplain  bool
	repoRoot     string
	originalArgs []string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if benchmarks.IsChild() {
		os.Exit(benchmarks.ChildMain(ctx))
	}
	if code := cli.Run(ctx, "compare", os.Args[1:], os.Stderr, parseFlags, run); code != 0 {
		stop()
		os.Exit(code)
	}
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run -tags duckdb_arrow ./benchmarks/cmd/compare [flags]\n\n"+
			"Times raw DuckDB (A), statgate's bounded SQL (B), Engine.Query (C), HTTP (D), a cohort (K)\n"+
			"and privacy-on-beam (E) on generated registries, and writes benchmarks/RESULTS.md.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	o := &options{originalArgs: args}
	var rows, scaleGroups, variants string
	fs.StringVar(&rows, "rows", "1000000,10000000", "npr row counts to measure, comma-separated (1e7 and 10M are accepted)")
	fs.IntVar(&o.groups, "groups", 200, "three-character ICD-10 groups the rows spread over")
	fs.StringVar(&scaleGroups, "scale-groups", "20,2000", "further group counts, measured at --scale-rows, to show the cost per group (\"\": none)")
	var scaleRows string
	fs.StringVar(&scaleRows, "scale-rows", "", "npr rows of the --scale-groups runs (default: the smallest of --rows)")
	fs.IntVar(&o.reps, "reps", 0, "timed rounds of A, B, C, D, K (after one warm-up each); 0: by size (see repsFor)")
	fs.StringVar(&variants, "variants", "A,B,C,D,K", "child variants, in round order")
	fs.BoolVar(&o.skipBeam, "skip-beam", false, "do not run the privacy-on-beam peer (E)")
	fs.IntVar(&o.beamReps, "beam-reps", 1, "runs of the peer per size (each takes about rows / 8,000 s: ~2 min at 1 M rows, ~25 min at 10 M)")
	var beamMax string
	fs.StringVar(&beamMax, "beam-max-rows", "10000000", "run the peer only up to this many rows")
	fs.StringVar(&o.memoryLimit, "memory-limit", "", "DuckDB memory_limit of every variant, e.g. 3GB (default: DuckDB's)")
	fs.IntVar(&o.threads, "threads", 0, "DuckDB threads (default: all cores)")
	fs.Uint64Var(&o.seed, "seed", 1, "data seed")
	fs.StringVar(&o.cache, "cache", "", "cache directory for generated data (default: benchmarks/.cache in the repository)")
	fs.StringVar(&o.out, "out", "", "results file (default: benchmarks/RESULTS.md in the repository; \"-\": standard output)")
	fs.BoolVar(&o.skipLoads, "skip-loads", false, "do not measure Parquet and CSV load throughput")
	fs.BoolVar(&o.skipExplain, "skip-explain", false, "do not profile the plans with EXPLAIN ANALYZE")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.rows, err = parseCounts(rows); err != nil || len(o.rows) == 0 {
		return nil, fmt.Errorf("--rows %q: want comma-separated row counts", rows)
	}
	if o.scaleGroups, err = parseCounts(scaleGroups); err != nil {
		return nil, fmt.Errorf("--scale-groups %q: %w", scaleGroups, err)
	}
	o.scaleRows = o.rows[0]
	for _, r := range o.rows {
		o.scaleRows = min(o.scaleRows, r)
	}
	if scaleRows != "" {
		if o.scaleRows, err = cli.ParseCount(scaleRows); err != nil {
			return nil, fmt.Errorf("--scale-rows: %w", err)
		}
	}
	if o.beamMaxRows, err = cli.ParseCount(beamMax); err != nil {
		return nil, fmt.Errorf("--beam-max-rows: %w", err)
	}
	for _, v := range strings.Split(variants, ",") {
		v = strings.TrimSpace(v)
		switch benchmarks.Variant(v) {
		case benchmarks.VariantRaw, benchmarks.VariantBounded, benchmarks.VariantEngine, benchmarks.VariantHTTP, benchmarks.VariantCohort:
			o.variants = append(o.variants, benchmarks.Variant(v))
		default:
			return nil, fmt.Errorf("--variants: unknown variant %q (want A, B, C, D, K; E is the peer)", v)
		}
	}
	if o.reps < 0 || o.beamReps < 0 {
		return nil, errors.New("--reps and --beam-reps must not be negative")
	}
	if o.repoRoot, err = cli.RepoRoot("compare"); err != nil {
		return nil, err
	}
	if o.cache == "" {
		o.cache = filepath.Join(o.repoRoot, "benchmarks", ".cache")
	}
	if o.out == "" {
		o.out = filepath.Join(o.repoRoot, "benchmarks", "RESULTS.md")
	}
	return o, nil
}

// parseCounts parses "1000000,1e7,10M".
func parseCounts(s string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		n, err := cli.ParseCount(f)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func run(ctx context.Context, o *options, log io.Writer) error {
	start := time.Now()
	pol, err := benchmarks.Policy()
	if err != nil {
		return err
	}
	params, err := benchmarks.BeamParamsOf(pol)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.cache, 0o755); err != nil {
		return err
	}
	scratch, err := os.MkdirTemp(o.cache, "run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	rep := &benchmarks.Report{
		Started: start, Machine: benchmarks.DescribeMachine(ctx),
		Params: params, MemoryLimit: o.memoryLimit, Threads: o.threads,
	}
	rep.Command = commandLine(o.originalArgs, rep.Machine.NativeArrow)
	var beamBin string
	if !o.skipBeam && o.beamReps > 0 {
		beamBin = filepath.Join(scratch, "beam-peer")
		fmt.Fprintf(log, "building the privacy-on-beam peer (%s)\n", benchmarks.BeamDir)
		if err := benchmarks.BuildBeam(ctx, filepath.Join(o.repoRoot, benchmarks.BeamDir), beamBin); err != nil {
			return fmt.Errorf("%w (use --skip-beam to run without the peer)", err)
		}
		rep.BeamRunner = "direct"
	}
	specs := make([]benchmarks.Spec, 0, len(o.rows)+len(o.scaleGroups))
	for _, n := range o.rows {
		specs = append(specs, benchmarks.Spec{Rows: n, Groups: o.groups, Seed: o.seed})
	}
	for _, g := range o.scaleGroups {
		s := benchmarks.Spec{Rows: o.scaleRows, Groups: int(g), Seed: o.seed}
		if g != int64(o.groups) || !containsRows(o.rows, o.scaleRows) {
			specs = append(specs, s)
		}
	}
	for _, spec := range specs {
		primary := spec.Groups == o.groups
		withBeam := beamBin != "" && primary && spec.Rows <= o.beamMaxRows
		withLoads := !o.skipLoads && primary
		fmt.Fprintf(log, "== %s\n", spec.Key())
		data, err := benchmarks.Prepare(ctx, o.cache, spec, withBeam || withLoads, log)
		if err != nil {
			return err
		}
		co := &benchmarks.CompareOptions{
			Data: data, Variants: o.variants, Reps: repsFor(spec.Rows, o.reps), Exe: exe, Scratch: scratch,
			MemoryLimit: o.memoryLimit, Threads: o.threads,
			Loads: withLoads, Explain: !o.skipExplain, Progress: log,
		}
		if withBeam {
			co.Beam = &benchmarks.BeamRun{Binary: beamBin, Reps: o.beamReps, Params: params}
		}
		res, err := benchmarks.Compare(ctx, co)
		if err != nil {
			return err
		}
		rep.Sizes = append(rep.Sizes, res)
		rep.Elapsed = time.Since(start)
		if err := write(o.out, rep); err != nil { // after every size, so a long run keeps what it measured
			return err
		}
	}
	fmt.Fprintf(log, "done in %s; wrote %s\n", time.Since(start).Round(time.Second), o.out)
	return nil
}

// repsFor is the number of timed rounds at a size: the --reps flag when
// set, otherwise more rounds where a question takes well under a second
// (there the machine's noise is large beside the time measured) and fewer
// where each round takes minutes.
func repsFor(rows int64, flag int) int {
	switch {
	case flag > 0:
		return flag
	case rows <= 2_000_000:
		return 15
	case rows <= 20_000_000:
		return 5
	}
	return 3
}

func containsRows(rows []int64, n int64) bool {
	for _, r := range rows {
		if r == n {
			return true
		}
	}
	return false
}

func write(out string, rep *benchmarks.Report) error {
	if out == "-" {
		_, err := io.WriteString(os.Stdout, rep.Markdown())
		return err
	}
	return benchmarks.WriteResults(out, rep)
}

// commandLine is the command that reproduces this run.
func commandLine(args []string, nativeArrow bool) string {
	parts := []string{"go", "run"}
	if nativeArrow {
		parts = append(parts, "-tags", "duckdb_arrow")
	}
	parts = append(parts, "./benchmarks/cmd/compare")
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
