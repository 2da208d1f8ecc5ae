// Command flood measures statgate's execution limits: the p50 and p95 of
// one principal's light query alone and while another principal floods
// the API with heavy queries, and how the flooding principal is answered
// (429s, never 5xx). It writes its section of benchmarks/RESULTS.md.
//
//	go run -tags duckdb_arrow ./benchmarks/cmd/flood
//	go run -tags duckdb_arrow ./benchmarks/cmd/flood --threads 0,1 --unlimited --out -
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
	"strconv"
	"strings"
	"time"

	"github.com/statgate/statgate/benchmarks"
	"github.com/statgate/statgate/benchmarks/internal/cli"
)

// options are the command's flags.
type options struct {
	spec            benchmarks.Spec
	memoryLimit     string
	threads         []int
	maxConcurrent   int
	maxPerPrincipal int
	flooders        int
	light           int
	rounds          int
	quiet           float64
	pause           time.Duration
	retry           []bool
	unlimited       bool
	limit           time.Duration
	heavySQL        string
	cpuProfile      string
	cache, out      string
	args            []string
}

func main() { cli.Main("flood", parseFlags, run) }

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("flood", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run -tags duckdb_arrow ./benchmarks/cmd/flood [flags]\n\n"+
			"Times a light query of one principal alone and while another principal floods the API on\n"+
			"loopback with heavy queries, and writes the flood section of benchmarks/RESULTS.md.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	o := &options{args: args}
	var rows, retry string
	fs.StringVar(&rows, "rows", "1M", "npr rows of the generated registry (1e6, 2M, 500k)")
	fs.IntVar(&o.spec.Groups, "groups", 200, "three-character ICD-10 groups of the registry")
	fs.Uint64Var(&o.spec.Seed, "seed", 1, "data seed")
	fs.StringVar(&o.memoryLimit, "memory-limit", "", "DuckDB memory_limit (default: DuckDB's)")
	var threads string
	fs.StringVar(&threads, "threads", "0", "DuckDB thread counts, comma-separated, one set of runs each (0: all cores)")
	fs.IntVar(&o.maxConcurrent, "max-concurrent", 0, "the API's global execution limit (default: as statgate serve, --threads or all cores, at least 2)")
	fs.IntVar(&o.maxPerPrincipal, "max-per-principal", 0, "the API's per-principal execution limit (default: the API's, 2)")
	fs.IntVar(&o.flooders, "flooders", 16, "concurrent clients of the flooding principal")
	fs.IntVar(&o.light, "light", 300, "light queries per phase (alone, under the flood)")
	fs.IntVar(&o.rounds, "rounds", 6, "rounds of B alone then B under the flood, --light spread over them")
	fs.Float64Var(&o.quiet, "quiet", 0, "discard and repeat rounds in which other processes used more than this many cores (0: keep all)")
	fs.DurationVar(&o.pause, "pause", 20*time.Millisecond, "pause between two light queries")
	fs.StringVar(&retry, "retry", "after,now", "how the flooding clients follow a 429, one run each: now (retry at once), after (wait Retry-After)")
	fs.BoolVar(&o.unlimited, "unlimited", false, "add a run with both limits at 1,000 (in effect none), to show what the limits buy")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (server and clients) to this file")
	fs.StringVar(&o.heavySQL, "heavy-sql", "", "the flooding principal's query (default: benchmarks.FloodHeavySQL)")
	fs.DurationVar(&o.limit, "limit", 5*time.Minute, "bound on each flood phase")
	fs.StringVar(&o.cache, "cache", "", "cache directory for generated data (default: benchmarks/.cache in the repository)")
	fs.StringVar(&o.out, "out", "", "results file whose flood section is replaced (default: benchmarks/RESULTS.md; \"-\": standard output)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	n, err := cli.ParseCount(rows)
	if err != nil {
		return nil, fmt.Errorf("--rows: %w", err)
	}
	o.spec.Rows = n
	for _, r := range strings.Split(retry, ",") {
		switch strings.TrimSpace(r) {
		case "now":
			o.retry = append(o.retry, false)
		case "after":
			o.retry = append(o.retry, true)
		default:
			return nil, fmt.Errorf("--retry: unknown %q (want now, after)", r)
		}
	}
	for _, t := range strings.Split(threads, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(t))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("--threads: %q is not a thread count", t)
		}
		o.threads = append(o.threads, n)
	}
	if o.flooders < 1 || o.light < 1 || o.rounds < 1 || o.maxConcurrent < 0 || o.maxPerPrincipal < 0 {
		return nil, errors.New("--flooders, --light and --rounds must be positive, the limits not negative")
	}
	root, err := cli.RepoRoot("flood")
	if err != nil {
		return nil, err
	}
	if o.cache == "" {
		o.cache = filepath.Join(root, "benchmarks", ".cache")
	}
	if o.out == "" {
		o.out = filepath.Join(root, "benchmarks", "RESULTS.md")
	}
	return o, nil
}

// unlimited is the limit of the --unlimited run: more than any flood here.
const unlimited = 1000

// revision is the commit the binary was built from, "+modified" when the
// work tree had changes ("" when the build recorded none).
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
	if rev == "" {
		return ""
	}
	return rev + modified
}

func run(ctx context.Context, o *options, log io.Writer) error {
	start := time.Now()
	rep := &benchmarks.FloodReport{
		Command: "go run -tags duckdb_arrow ./benchmarks/cmd/flood " + strings.Join(o.args, " "),
		Started: start.UTC(), Machine: benchmarks.DescribeMachine(ctx), Spec: o.spec, Revision: revision(),
	}
	rep.Command = strings.TrimSpace(rep.Command)
	data, err := benchmarks.Prepare(ctx, o.cache, o.spec, false, log)
	if err != nil {
		return err
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	scratch, err := os.MkdirTemp(o.cache, "flood-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	type limits struct{ global, perPrincipal int }
	type runSpec struct {
		limits
		threads    int
		retryAfter bool
	}
	var runs []runSpec
	for _, t := range o.threads {
		for _, r := range o.retry {
			runs = append(runs, runSpec{limits{o.maxConcurrent, o.maxPerPrincipal}, t, r})
		}
	}
	if o.unlimited {
		runs = append(runs, runSpec{limits: limits{unlimited, unlimited}, threads: o.threads[0]})
	}
	for _, r := range runs {
		fmt.Fprintf(log, "flood run: %d clients, limits %d / %d (0: defaults), DuckDB threads %d, retry-after %v\n",
			o.flooders, r.global, r.perPrincipal, r.threads, r.retryAfter)
		res, err := benchmarks.Flood(ctx, &benchmarks.FloodOptions{
			Data: data, Scratch: scratch, MemoryLimit: o.memoryLimit, Threads: r.threads,
			MaxConcurrent: r.global, MaxPerPrincipal: r.perPrincipal, Flooders: o.flooders,
			Light: o.light, Rounds: o.rounds, QuietCores: o.quiet, Pause: o.pause, RetryAfter: r.retryAfter, Limit: o.limit, HeavySQL: o.heavySQL, Progress: log,
		})
		if err != nil {
			return err
		}
		rep.Runs = append(rep.Runs, res)
	}
	rep.Elapsed = time.Since(start)
	if o.out == "-" {
		_, err := io.WriteString(os.Stdout, rep.Markdown())
		return err
	}
	if err := benchmarks.WriteFloodSection(o.out, rep); err != nil {
		return err
	}
	fmt.Fprintf(log, "wrote the flood section of %s\n", o.out)
	return nil
}
