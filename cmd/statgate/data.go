package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/synth"
	"github.com/statgate/statgate/policies"
)

// genOptions are the flags of `statgate gen`.
type genOptions struct {
	persons int
	seed    uint64
	out     string
}

func runGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o genOptions
	fs := newFlags("gen", "gen --persons N --seed S --out DIR", stderr,
		"statgate gen --persons 100000 --seed 1 --out extracts")
	fs.IntVar(&o.persons, "persons", 100_000, "number of synthetic persons")
	fs.Uint64Var(&o.seed, "seed", 1, "seed; the same seed and version give byte-identical files")
	fs.StringVar(&o.out, "out", "", "output directory for the Parquet files (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.out == "" || o.persons <= 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "statgate gen: --out is required and --persons must be positive")
		fs.Usage()
		return errUsage
	}
	return generate(ctx, o, stdout)
}

func generate(ctx context.Context, o genOptions, stdout io.Writer) error {
	start := time.Now()
	sum, err := synth.Generate(ctx, &synth.Options{
		Persons: o.persons, Seed: o.seed, OutDir: o.out,
		Progress: func(stage string) { fmt.Fprintf(stdout, "  %-14s %6.1fs\n", stage, time.Since(start).Seconds()) },
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s in %.1fs:", o.out, time.Since(start).Seconds())
	for _, t := range sum.Tables {
		fmt.Fprintf(stdout, " %s %d rows;", t.Name, t.Rows)
	}
	fmt.Fprintln(stdout)
	return nil
}

// loadOptions are the flags of `statgate load`.
type loadOptions struct {
	policy   string
	data     string
	extracts string
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o loadOptions
	fs := newFlags("load", "load --policy FILE --data DIR [--extracts DIR]", stderr,
		"statgate load --policy policies/norway-synthetic.yaml --extracts extracts   # into "+defaultData)
	fs.StringVar(&o.policy, "policy", defaultPolicy, "policy file (env STATGATE_POLICY)")
	fs.StringVar(&o.data, "data", defaultData, "data directory the database is written to (env STATGATE_DATA)")
	fs.StringVar(&o.extracts, "extracts", "", "directory holding the extract files (default: each dataset's source in the policy)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "statgate load: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	return load(ctx, o, stdout)
}

func load(ctx context.Context, o loadOptions, stdout io.Writer) error {
	pol, err := policies.Load(o.policy)
	if err != nil {
		return err
	}
	start := time.Now()
	rep, err := exec.Load(ctx, &exec.LoadOptions{
		Policy: pol, DataDir: o.data, ExtractsDir: o.extracts, Progress: stdout,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "loaded %s in %.1fs: %s\n", exec.ExtractsPath(o.data), time.Since(start).Seconds(), rep)
	return nil
}
