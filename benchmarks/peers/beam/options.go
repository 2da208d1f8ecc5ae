package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
)

// Runners accepted by --runner.
const (
	runnerDirect = "direct"
	runnerPrism  = "prism"
)

// Plans accepted by --plan: how the operations are laid out in Beam
// pipelines. Both compute the same released table with the same pbeam
// calls, parameters and budget.
const (
	// planStaged runs one pipeline per privacy-on-beam operation, one
	// after another, each reading the input anew: SelectPartitions (shared
	// mode only), then DistinctPrivacyID, Count and MeanPerKey, the
	// selected groups passed to them as an in-memory PublicPartitions
	// slice; the peer joins the three small outputs itself. The direct
	// runner buffers every grouping step's whole input in memory, so one
	// operation at a time needs a fraction of the memory of planSingle.
	planStaged = "staged"
	// planSingle builds every operation into one pipeline, the selected
	// groups passed as a PCollection and the outputs joined with
	// CoGroupByKey. On the direct runner all its grouping steps fill at
	// once: about 1.3 GB of live heap per million rows.
	planSingle = "single"
)

// options are the command-line settings of one run.
type options struct {
	input           string
	epsilon, delta  float64
	maxPartitions   int64
	maxPerPartition int64
	lo, hi          float64
	runner          string
	plan            string
	noise           string
	partitions      string
	preThreshold    int64
	out             string
	verbose         bool
	cpuProfile      string
}

// parseOptions parses the command line (without the program name). Usage
// and flag errors are written to stderr.
func parseOptions(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("beam-peer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run . --input FILE.csv --epsilon E --delta D --max-partitions L0 --max-per-partition M --lo LO --hi HI [--runner direct]\n\n"+
			"Computes per 3-character ICD-10 group, with privacy-on-beam: distinct persons, rows and mean length of stay.\n"+
			"Prints one JSON line {\"rows_in\":N,\"groups_out\":G,\"seconds\":S,...} to stdout.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	o := &options{}
	fs.StringVar(&o.input, "input", "", "CSV file with a header naming pid, icd3 (or icd10) and length_of_stay_days (required)")
	fs.Float64Var(&o.epsilon, "epsilon", 0, "total ε of the query, > 0 (required)")
	fs.Float64Var(&o.delta, "delta", 0, "total δ of the query, in (0, 1): DP partition selection needs it (required)")
	fs.Int64Var(&o.maxPartitions, "max-partitions", 0, "L0: groups one person may contribute to (required, ≥ 1)")
	fs.Int64Var(&o.maxPerPartition, "max-per-partition", 0, "rows one person may contribute to one group (required, ≥ 1)")
	fs.Float64Var(&o.lo, "lo", 0, "lower clamp of length_of_stay_days for the mean")
	fs.Float64Var(&o.hi, "hi", 0, "upper clamp of length_of_stay_days for the mean (> lo)")
	fs.StringVar(&o.runner, "runner", runnerDirect, "Beam runner: direct (in-process, single-threaded) or prism (in-process, parallel)")
	fs.StringVar(&o.plan, "plan", planStaged, "pipeline layout: staged (one pipeline per pbeam operation, run in turn) or single (one pipeline for all)")
	fs.StringVar(&o.noise, "noise", noiseLaplace, "noise kind: laplace or gaussian")
	fs.StringVar(&o.partitions, "partitions", partitionsPerAggregate, "DP partition selection: per-aggregate (each aggregation selects its groups) or shared (pbeam.SelectPartitions once, as statgate)")
	fs.Int64Var(&o.preThreshold, "pre-threshold", 0, "pre-threshold of partition selection (statgate's min_cell_count); 0 for none")
	fs.StringVar(&o.out, "out", "", "optional CSV file for the released table (key,persons,rows,mean_los)")
	fs.BoolVar(&o.verbose, "verbose", false, "pass Beam's informational logs through to stderr")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "optional file for a CPU profile of the pipeline run (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	return o, nil
}

// validate checks the options up front: pbeam reports bad parameters with
// log.Fatal during pipeline construction, which a caller cannot handle.
func (o *options) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if o.input == "" {
		bad("--input is required")
	}
	if !(o.epsilon > 0) || math.IsInf(o.epsilon, 0) {
		bad("--epsilon must be a finite number > 0")
	}
	if !(o.delta > 0 && o.delta < 1) {
		bad("--delta must be in (0, 1): groups pass DP partition selection, which spends δ")
	}
	if o.maxPartitions < 1 {
		bad("--max-partitions must be ≥ 1")
	}
	if o.maxPerPartition < 1 {
		bad("--max-per-partition must be ≥ 1")
	}
	if math.IsNaN(o.lo) || math.IsNaN(o.hi) || math.IsInf(o.lo, 0) || math.IsInf(o.hi, 0) || !(o.lo < o.hi) {
		bad("--lo and --hi must be finite with lo < hi")
	}
	if o.runner != runnerDirect && o.runner != runnerPrism {
		bad("--runner must be %q or %q", runnerDirect, runnerPrism)
	}
	if o.plan != planStaged && o.plan != planSingle {
		bad("--plan must be %q or %q", planStaged, planSingle)
	}
	if o.noise != noiseLaplace && o.noise != noiseGaussian {
		bad("--noise must be %q or %q", noiseLaplace, noiseGaussian)
	}
	if o.partitions != partitionsPerAggregate && o.partitions != partitionsShared {
		bad("--partitions must be %q or %q", partitionsPerAggregate, partitionsShared)
	}
	if o.preThreshold < 0 {
		bad("--pre-threshold must be ≥ 0")
	}
	return errors.Join(errs...)
}
