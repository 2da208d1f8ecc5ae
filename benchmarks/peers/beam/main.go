// Command beam is statgate's privacy-on-beam peer for the benchmark
// harness: the same question statgate answers — per 3-character ICD-10
// group, distinct persons, rows and mean length of stay, with the same
// contribution bounds and ε — computed with Google's privacy-on-beam v3.0.0
// on one of Apache Beam's local runners.
//
// It reads a CSV export of the synthetic npr extract, runs the pipeline
// and prints one JSON line to stdout:
//
//	{"rows_in":N,"groups_out":G,"seconds":S,...}
//
// where seconds is the wall time of the pipeline run alone. See README.md.
//
// It lives in its own Go module so that Beam's dependencies stay out of
// statgate's.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"

	// The reflection-optimized runtime, as beamx imports it.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec/optimized"
	// textio on local paths.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	// The local runners, registered by name for beam.Run.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/direct"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
)

// report is the JSON line printed for the harness. The harness needs
// rows_in, groups_out and seconds; the other fields describe the run.
type report struct {
	// RowsIn is the number of data rows read.
	RowsIn int64 `json:"rows_in"`
	// GroupsOut is the number of groups in the released table: groups
	// released by at least one of the three aggregations.
	GroupsOut int64 `json:"groups_out"`
	// Seconds is the wall time of the pipeline run alone: beam.Run in the
	// single plan; every stage's beam.Run and the join in the staged plan.
	Seconds float64 `json:"seconds"`
	// GroupsPersons, GroupsRows and GroupsMean are the groups released by
	// DistinctPrivacyID, Count and MeanPerKey.
	GroupsPersons int64 `json:"groups_persons"`
	GroupsRows    int64 `json:"groups_rows"`
	GroupsMean    int64 `json:"groups_mean"`
	// Runner, Plan, Noise and Partitions echo the settings used.
	Runner     string `json:"runner"`
	Plan       string `json:"plan"`
	Noise      string `json:"noise"`
	Partitions string `json:"partitions"`
	// Stages are the pipelines of a staged run, in order; empty for the
	// single plan.
	Stages []stageReport `json:"stages,omitempty"`
}

func main() {
	beam.Init()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "beam peer:", err)
		os.Exit(1)
	}
}

// run parses args, runs the pipeline and writes the report line to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	if !o.verbose {
		log.SetLogger(quietLogger{min: log.SevWarn, mu: &sync.Mutex{}, w: stderr})
	}
	l, err := readLayout(ctx, o.input)
	if err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	var rep report
	if o.plan == planSingle {
		rep, err = runSingle(ctx, o, l)
	} else {
		rep, err = runStaged(ctx, o, l)
	}
	if perr := stopProfile(); perr != nil && err == nil {
		return perr
	}
	if err != nil {
		return err
	}
	rep.Runner, rep.Plan, rep.Noise, rep.Partitions = o.runner, o.plan, o.noise, o.partitions
	line, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}

// startCPUProfile starts a CPU profile into path, or does nothing when
// path is empty. The returned function stops it and closes the file.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("cpuprofile: %w", err)
		}
		return nil
	}, nil
}

// quietLogger passes Beam log messages of severity min and above to w.
// The direct runner logs the whole execution plan at info level, which
// would bury the peer's own output on stderr.
type quietLogger struct {
	min log.Severity
	mu  *sync.Mutex
	w   io.Writer
}

// Log implements log.Logger.
func (q quietLogger) Log(_ context.Context, sev log.Severity, _ int, msg string) {
	if sev < q.min {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	fmt.Fprintln(q.w, msg)
}
