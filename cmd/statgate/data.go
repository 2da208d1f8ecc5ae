package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/statgate/statgate/engine/delivery"
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
	through  throughFlag
}

// throughFlag collects `load --through [DATASET=]YYYY-MM[-DD]`: the last
// day a dataset's source covers; without a dataset, every dataset with a
// date column.
type throughFlag []string

func (f *throughFlag) String() string { return strings.Join(*f, ",") }

// Set checks one value and keeps it.
func (f *throughFlag) Set(s string) error {
	_, day, _ := strings.Cut(s, "=")
	if day == "" {
		day = s
	}
	if _, err := delivery.ParseThrough(day); err != nil {
		return err
	}
	*f = append(*f, s)
	return nil
}

// resolve gives each named dataset (or, for a value without a name,
// each dataset of pol with a date column) its declared end.
func (f throughFlag) resolve(pol *policies.Policy) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	for _, v := range f {
		name, day, named := strings.Cut(v, "=")
		if !named {
			day = v
		}
		t, err := delivery.ParseThrough(day)
		if err != nil {
			return nil, err
		}
		if named {
			if _, ok := pol.Datasets[name]; !ok {
				return nil, fmt.Errorf("--through %s: the policy declares no dataset %q", v, name)
			}
			out[name] = t
			continue
		}
		for n, ds := range pol.Datasets {
			if slices.ContainsFunc(ds.Columns, func(c *policies.Column) bool { return c.Type == policies.TypeDate }) {
				out[n] = t
			}
		}
	}
	return out, nil
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o loadOptions
	fs := newFlags("load", "load --policy FILE --data DIR [--extracts DIR] [--through [DATASET=]YYYY-MM[-DD]]…", stderr,
		"statgate load --policy policies/norway-synthetic.yaml --extracts extracts   # into "+defaultData,
		"statgate load --extracts extracts --through npr=2024-11 --through lmr=2024-10   # the period each source covers")
	fs.StringVar(&o.policy, "policy", defaultPolicy, "policy file (env STATGATE_POLICY)")
	fs.StringVar(&o.data, "data", defaultData, "data directory the database is written to (env STATGATE_DATA)")
	fs.StringVar(&o.extracts, "extracts", "", "directory holding the extract files (default: each dataset's source in the policy)")
	fs.Var(&o.through, "through", "last day (or month) a dataset's source covers, a public fact: DATASET=YYYY-MM[-DD], or YYYY-MM[-DD] for every dataset with a date column (repeatable); later dates are refused, answers say \"data up to\" its month, and later deliveries to it must declare theirs")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	return load(ctx, o, stdout)
}

func load(ctx context.Context, o loadOptions, stdout io.Writer) error {
	pol, err := policies.Load(o.policy)
	if err != nil {
		return err
	}
	through, err := o.through.resolve(pol)
	if err != nil {
		return err
	}
	start := time.Now()
	rep, err := exec.Load(ctx, &exec.LoadOptions{
		Policy: pol, DataDir: o.data, ExtractsDir: o.extracts, Through: through, Progress: stdout,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "loaded %s in %.1fs: %s\n", exec.ExtractsPath(o.data), time.Since(start).Seconds(), rep)
	return nil
}
