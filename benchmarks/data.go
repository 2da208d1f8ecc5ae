package benchmarks

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/statgate/statgate/benchmarks/internal/cache"
	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/policies"
)

//go:embed policy.yaml
var policyYAML []byte

// PolicyPath is where the benchmark policy lives in the repository; the
// harness embeds it.
const PolicyPath = "benchmarks/policy.yaml"

// Policy returns the benchmark policy (policy.yaml).
func Policy() (*policies.Policy, error) {
	p, err := policies.Parse(policyYAML, PolicyPath)
	if err != nil {
		return nil, fmt.Errorf("benchmarks.Policy: %w", err)
	}
	return p, nil
}

// Project and Principal are the benchmark policy's project and its member.
const (
	Project   = "bench"
	Principal = "bench"
)

// Data is a generated and loaded benchmark registry in the cache.
type Data struct {
	Spec Spec
	// Dir holds the generated files (NPRParquet, …) and the marker.
	Dir string
	// Generated is how long generating the Parquet files took, and Loaded
	// how long loading them into the extracts database took, when they
	// were made (possibly by an earlier run).
	Generated, Loaded time.Duration
}

// marker records a completed Prepare in Data.Dir.
type marker struct {
	Spec             Spec    `json:"spec"`
	GenerateSeconds  float64 `json:"generate_seconds"`
	LoadSeconds      float64 `json:"load_seconds"`
	GeneratedAtLocal string  `json:"generated_at"`
}

// ExtractsDir is the data directory whose extracts.duckdb holds the loaded
// registry. Engines use their own state directories (see StateDir).
func (d *Data) ExtractsDir() string { return cache.ExtractsDir(d.Dir) }

// Path returns the path of one of the generated files.
func (d *Data) Path(file string) string { return filepath.Join(d.Dir, file) }

// Prepare returns the registry of spec under cacheDir, generating and
// loading it first unless an earlier Prepare completed it (the directory
// is named by spec.Key()). With csv, npr.csv is written too when missing.
// progress, when not nil, receives a line per step.
func Prepare(ctx context.Context, cacheDir string, spec Spec, csv bool, progress io.Writer) (*Data, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("benchmarks.Prepare: %w", err)
	}
	logf := func(format string, args ...any) {
		if progress != nil {
			fmt.Fprintf(progress, format+"\n", args...)
		}
	}
	d := &Data{Spec: spec, Dir: filepath.Join(cacheDir, spec.Key())}
	m := &marker{}
	ready, err := cache.ReadMarker(d.Dir, m)
	if err != nil {
		return nil, fmt.Errorf("benchmarks.Prepare: %w", err)
	}
	if !ready {
		pol, err := Policy()
		if err != nil {
			return nil, err
		}
		logf("generating %s (%d persons) in %s", spec.Key(), spec.Persons(), d.Dir)
		start := time.Now()
		if err := Generate(ctx, spec, d.Dir); err != nil {
			return nil, fmt.Errorf("benchmarks.Prepare: %w", err)
		}
		gen := time.Since(start)
		logf("generated in %.1fs; loading", gen.Seconds())
		start = time.Now()
		if _, err := exec.Load(ctx, &exec.LoadOptions{Policy: pol, DataDir: d.ExtractsDir(), ExtractsDir: d.Dir}); err != nil {
			return nil, fmt.Errorf("benchmarks.Prepare: %w", err)
		}
		m = &marker{Spec: spec, GenerateSeconds: gen.Seconds(), LoadSeconds: time.Since(start).Seconds(),
			GeneratedAtLocal: time.Now().Format(time.RFC3339)}
		logf("loaded in %.1fs", m.LoadSeconds)
		if err := cache.WriteMarker(d.Dir, m); err != nil {
			return nil, fmt.Errorf("benchmarks.Prepare: %w", err)
		}
	}
	d.Generated = time.Duration(m.GenerateSeconds * float64(time.Second))
	d.Loaded = time.Duration(m.LoadSeconds * float64(time.Second))
	if csv {
		if _, err := os.Stat(d.Path(NPRCSV)); errors.Is(err, fs.ErrNotExist) {
			logf("writing %s", d.Path(NPRCSV))
			if err := parquetToCSV(ctx, d.Path(NPRParquet), d.Path(NPRCSV)); err != nil {
				return nil, fmt.Errorf("benchmarks.Prepare: %w", err)
			}
		} else if err != nil {
			return nil, fmt.Errorf("benchmarks.Prepare: %w", err)
		}
	}
	return d, nil
}

// StateDir makes a fresh engine data directory under parent: a hard link
// to the cached extracts.duckdb (falling back to a copy) and no state, so
// each engine starts with an empty ledger and audit log.
func (d *Data) StateDir(parent string) (string, error) {
	dir, err := cache.StateDir(parent, d.ExtractsDir())
	if err != nil {
		return "", fmt.Errorf("benchmarks.StateDir: %w", err)
	}
	return dir, nil
}

// LoadThroughput is one timed load of the npr extract.
type LoadThroughput struct {
	// Format is "parquet" or "csv".
	Format  string
	Rows    int64
	Seconds float64
	// Bytes is the source file's size.
	Bytes int64
}

// RowsPerSecond is Rows / Seconds.
func (l LoadThroughput) RowsPerSecond() float64 { return perSecond(float64(l.Rows), l.Seconds) }

// MeasureLoad times `statgate load` (exec.Load) of the npr extract alone
// from file (NPRParquet or NPRCSV) into a scratch data directory under
// scratch, which it removes afterwards.
func (d *Data) MeasureLoad(ctx context.Context, file, scratch string) (LoadThroughput, error) {
	pol, err := Policy()
	if err != nil {
		return LoadThroughput{}, err
	}
	ds := *pol.Datasets["npr"]
	ds.Source = d.Path(file)
	one := *pol
	one.Datasets = map[string]*policies.Dataset{"npr": &ds}
	fi, err := os.Stat(ds.Source)
	if err != nil {
		return LoadThroughput{}, fmt.Errorf("benchmarks.MeasureLoad: %w", err)
	}
	dir, err := os.MkdirTemp(scratch, "load-")
	if err != nil {
		return LoadThroughput{}, fmt.Errorf("benchmarks.MeasureLoad: %w", err)
	}
	defer os.RemoveAll(dir)
	rep, err := exec.Load(ctx, &exec.LoadOptions{Policy: &one, DataDir: dir})
	if err != nil {
		return LoadThroughput{}, fmt.Errorf("benchmarks.MeasureLoad: %w", err)
	}
	format := "parquet"
	if file == NPRCSV {
		format = "csv"
	}
	return LoadThroughput{Format: format, Rows: rep.Datasets[0].Rows, Seconds: rep.Elapsed.Seconds(), Bytes: fi.Size()}, nil
}

func perSecond(n, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return n / seconds
}
