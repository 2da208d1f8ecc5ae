package utility

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/statgate/statgate/benchmarks/internal/cache"
	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/synth"
	"github.com/statgate/statgate/policies"
)

// PolicyPath is the shipped policy the benchmark asks under, relative to
// the repository root.
const PolicyPath = "policies/norway-synthetic.yaml"

// Budget is what LoadPolicy gives every project on every dataset: far more
// than any number of repetitions of the workload spends, so that no
// question is refused for budget. The per-query ε stays the policy's.
var Budget = policies.Budget{Epsilon: 1e6, Delta: 0.1}

// LoadPolicy loads the policy file at path and raises every project's
// budget to Budget, in memory only.
func LoadPolicy(path string) (*policies.Policy, error) {
	pol, err := policies.Load(path)
	if err != nil {
		return nil, fmt.Errorf("utility.LoadPolicy: %w", err)
	}
	for _, p := range pol.Projects {
		p.Budget = Budget
	}
	return pol, nil
}

// Data is a generated and loaded synthetic extract.
type Data struct {
	Persons int
	Seed    uint64
	// Dir holds the Parquet files (<table>.parquet) and, in Dir/data, the
	// loaded extracts database.
	Dir string
	// Tables are the generated tables with their row counts.
	Tables []synth.TableSummary
	// Generated and Loaded are how long generation and loading took when
	// the data were made (possibly by an earlier run); Cached says whether
	// this Prepare found them made.
	Generated, Loaded time.Duration
	Cached            bool
}

// ExtractsDir is the data directory whose extracts.duckdb holds the loaded
// registries.
func (d *Data) ExtractsDir() string { return cache.ExtractsDir(d.Dir) }

// TableNames are the generated tables, in generation order.
func (d *Data) TableNames() []string {
	out := make([]string, len(d.Tables))
	for i, t := range d.Tables {
		out[i] = t.Name
	}
	return out
}

// DataOptions say which extract Prepare makes and where.
type DataOptions struct {
	Persons int
	Seed    uint64
	// CacheDir holds one directory per persons and seed; "" means
	// DefaultCacheDir().
	CacheDir string
	// Policy declares the datasets to load (LoadPolicy). Required.
	Policy *policies.Policy
	// Regenerate makes the data even when the cache has them.
	Regenerate bool
	// Progress, when not nil, receives a line per step.
	Progress io.Writer
}

// DefaultCacheDir is where generated extracts are kept between runs.
func DefaultCacheDir() string { return filepath.Join(os.TempDir(), "statgate-utility") }

// marker records a completed Prepare.
type marker struct {
	Persons         int                  `json:"persons"`
	Seed            uint64               `json:"seed"`
	Tables          []synth.TableSummary `json:"tables"`
	GenerateSeconds float64              `json:"generate_seconds"`
	LoadSeconds     float64              `json:"load_seconds"`
}

// Prepare returns the extract of o.Persons persons and o.Seed under
// o.CacheDir, generating it with engine/synth and loading it with exec.Load
// (what `statgate gen` and `statgate load` do) unless an earlier Prepare
// completed it. Delete the directory (or set Regenerate) after a change to
// engine/synth.
func Prepare(ctx context.Context, o *DataOptions) (*Data, error) {
	if o == nil || o.Policy == nil || o.Persons <= 0 {
		return nil, errors.New("utility.Prepare: a policy and a positive number of persons are required")
	}
	logf := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	cacheDir := o.CacheDir
	if cacheDir == "" {
		cacheDir = DefaultCacheDir()
	}
	d := &Data{Persons: o.Persons, Seed: o.Seed, Dir: filepath.Join(cacheDir, fmt.Sprintf("persons=%d,seed=%d", o.Persons, o.Seed))}
	m := &marker{}
	ready, err := cache.ReadMarker(d.Dir, m)
	if err != nil {
		return nil, fmt.Errorf("utility.Prepare: %w", err)
	}
	if ready && !o.Regenerate {
		d.Tables, d.Cached = m.Tables, true
	} else {
		os.Remove(filepath.Join(d.Dir, cache.MarkerFile))
		logf("generating %d persons, seed %d, in %s", o.Persons, o.Seed, d.Dir)
		start := time.Now()
		sum, err := synth.Generate(ctx, &synth.Options{Persons: o.Persons, Seed: o.Seed, OutDir: d.Dir})
		if err != nil {
			return nil, fmt.Errorf("utility.Prepare: %w", err)
		}
		gen := time.Since(start)
		logf("generated in %.1fs; loading", gen.Seconds())
		start = time.Now()
		if err := os.RemoveAll(d.ExtractsDir()); err != nil {
			return nil, fmt.Errorf("utility.Prepare: %w", err)
		}
		if _, err := exec.Load(ctx, &exec.LoadOptions{Policy: o.Policy, DataDir: d.ExtractsDir(), ExtractsDir: d.Dir}); err != nil {
			return nil, fmt.Errorf("utility.Prepare: %w", err)
		}
		m = &marker{Persons: o.Persons, Seed: o.Seed, Tables: sum.Tables,
			GenerateSeconds: gen.Seconds(), LoadSeconds: time.Since(start).Seconds()}
		logf("loaded in %.1fs", m.LoadSeconds)
		if err := cache.WriteMarker(d.Dir, m); err != nil {
			return nil, fmt.Errorf("utility.Prepare: %w", err)
		}
		d.Tables = sum.Tables
	}
	d.Generated = time.Duration(m.GenerateSeconds * float64(time.Second))
	d.Loaded = time.Duration(m.LoadSeconds * float64(time.Second))
	return d, nil
}
