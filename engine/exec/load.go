package exec

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/statgate/statgate/policies"
)

// ExtractsPath is the extracts database file in a data directory.
func ExtractsPath(dataDir string) string {
	return filepath.Join(dataDir, "extracts.duckdb")
}

// loadTable is statgate's record of what each table was loaded from.
const loadTable = internalPrefix + "load"

// stagePrefix starts the name of a table being loaded.
const stagePrefix = internalPrefix + "stage_"

// progressEvery is how often Load reports a dataset it is still reading.
var progressEvery = 5 * time.Second

// LoadOptions configure Load. Policy and DataDir are required.
type LoadOptions struct {
	// Policy declares the datasets to load: their source files and columns.
	Policy *policies.Policy
	// DataDir is where the extracts database is written (ExtractsPath).
	DataDir string
	// ExtractsDir, when set, replaces the directory of every dataset's
	// source: the file read is filepath.Join(ExtractsDir,
	// filepath.Base(dataset.Source)).
	ExtractsDir string
	// Through, per dataset, is the last day its source covers: a public
	// fact the registry declares, as for a delivery (DeliverOptions.Through).
	// A row with a later date is refused, and answers say the dataset
	// holds data up to its month. A dataset without one declares nothing:
	// "data up to" is then the end of its date column's public years.
	Through map[string]time.Time
	// Progress receives one line per step (a dataset started, still
	// reading every few seconds, rows loaded and time taken); nil: silent.
	Progress io.Writer
}

// LoadReport says what Load wrote.
type LoadReport struct {
	// Path is the extracts database file.
	Path string
	// Version is the version counter the load made (see Deliver).
	Version int64
	// Datasets in name order.
	Datasets []DatasetLoad
	// Elapsed is the whole load's duration.
	Elapsed time.Duration
}

// DatasetLoad is one loaded dataset.
type DatasetLoad struct {
	Name string
	// Source is the file read; Format is "parquet" or "csv".
	Source string
	Format string
	Rows   int64
	// Elapsed is the time taken to read and check it.
	Elapsed time.Duration
}

// String summarises the report on one line: "3 datasets, 1200 rows
// (lmr 800, npr 300, population 100)".
func (r *LoadReport) String() string {
	var total int64
	parts := make([]string, len(r.Datasets))
	for i, d := range r.Datasets {
		total += d.Rows
		parts[i] = fmt.Sprintf("%s %d", d.Name, d.Rows)
	}
	return fmt.Sprintf("%d datasets, %d rows (%s)", len(r.Datasets), total, strings.Join(parts, ", "))
}

// Load reads every dataset of the policy from its source file, checks it
// against the policy (columns present with compatible types, person keys
// present, unique where the dataset is one row per person) and writes all
// of them into a new extracts database, which then replaces
// ExtractsPath(DataDir) atomically.
//
// Load rebuilds every dataset each time, so loading twice from unchanged
// sources gives the same database (see DB.Fingerprint). It never writes to
// the existing file: a server holding it open keeps reading the old
// extracts until it restarts, and a failed load leaves it as it was. A
// dataset that fails its checks is reported as a *LoadError.
func Load(ctx context.Context, opts *LoadOptions) (*LoadReport, error) {
	start := time.Now()
	if opts == nil || opts.Policy == nil {
		return nil, errors.New("exec.Load: a policy is required")
	}
	if opts.DataDir == "" {
		return nil, errors.New("exec.Load: a data directory is required")
	}
	if len(opts.Policy.Datasets) == 0 {
		return nil, fmt.Errorf("exec.Load: %s: %w", opts.Policy.Path, ErrNoDatasets)
	}
	for name, t := range opts.Through {
		ds, ok := opts.Policy.Datasets[name]
		if !ok {
			return nil, fmt.Errorf("exec.Load: --through for %q, which the policy does not declare", name)
		}
		if !slices.ContainsFunc(ds.Columns, func(c *policies.Column) bool { return c.Type == policies.TypeDate }) {
			return nil, fmt.Errorf("exec.Load: --through for %s, which has no date column", name)
		}
		if err := checkThrough(ds, t); err != nil {
			return nil, fmt.Errorf("exec.Load: %w", err)
		}
	}
	if err := os.MkdirAll(opts.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("exec.Load: %w", err)
	}
	unlock, err := lockData(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("exec.Load: %w", err)
	}
	defer unlock()
	last, err := readCounter(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("exec.Load: %w", err)
	}
	final := ExtractsPath(opts.DataDir)
	tmp, err := tempPath(final)
	if err != nil {
		return nil, fmt.Errorf("exec.Load: %w", err)
	}
	defer removeDatabase(tmp) // a no-op once tmp was renamed
	p := &progress{w: opts.Progress}
	rep, err := build(ctx, opts, tmp, p, last+1)
	if err != nil {
		return nil, err
	}
	// A WAL beside the old file would be replayed into the new one.
	if err := os.Remove(final + ".wal"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("exec.Load: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("exec.Load: %w", err)
	}
	if err := syncDir(opts.DataDir); err != nil {
		return nil, fmt.Errorf("exec.Load: %w", err)
	}
	if err := writeCounter(opts.DataDir, last+1); err != nil {
		return nil, fmt.Errorf("exec.Load: %w", err)
	}
	rep.Path, rep.Version = final, last+1
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// build writes every dataset into a new database file at path.
func build(ctx context.Context, opts *LoadOptions, path string, p *progress, version int64) (rep *LoadReport, err error) {
	connector, err := duckdb.NewConnector(dsn(path, map[string]string{
		"autoinstall_known_extensions": "false",
		"allow_community_extensions":   "false",
	}), nil)
	if err != nil {
		return nil, fmt.Errorf("exec.Load: %s: %w", path, err)
	}
	db := sql.OpenDB(connector)
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("exec.Load: %w", cerr)
		}
	}()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("exec.Load: %w", err)
	}
	defer conn.Close()

	names := make([]string, 0, len(opts.Policy.Datasets))
	for name := range opts.Policy.Datasets {
		names = append(names, name)
	}
	slices.Sort(names)
	rep = &LoadReport{}
	sources := make([]sourceInfo, len(names))
	for i, name := range names {
		ds := opts.Policy.Datasets[name]
		src := ds.Source
		if opts.ExtractsDir != "" {
			src = filepath.Join(opts.ExtractsDir, filepath.Base(ds.Source))
		}
		d, info, err := loadDataset(ctx, conn, ds, src, opts.Through[name], p)
		if err != nil {
			return nil, err
		}
		rep.Datasets = append(rep.Datasets, d)
		sources[i] = info
	}
	if err := publish(ctx, conn, rep.Datasets, sources, version, opts.Through); err != nil {
		return nil, fmt.Errorf("exec.Load: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return nil, fmt.Errorf("exec.Load: checkpoint: %w", err)
	}
	return rep, nil
}

// publish renames the staged tables to their dataset names and records
// the load, in one transaction.
//
// The record keeps, besides the sources, the version counter (volatile:
// left out of the fingerprint) and each table's row-hash sum, so that a
// delivery on top of this file (Deliver) need not read its rows again.
func publish(ctx context.Context, conn *sql.Conn, loads []DatasetLoad, sources []sourceInfo, version int64, through map[string]time.Time) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, d := range loads {
		if _, err := tx.ExecContext(ctx, "DROP TABLE IF EXISTS "+quoteIdent(d.Name)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+quoteIdent(stagePrefix+d.Name)+" RENAME TO "+quoteIdent(d.Name)); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE OR REPLACE TABLE `+quoteIdent(loadTable)+` (
		dataset VARCHAR PRIMARY KEY, source VARCHAR, format VARCHAR,
		source_size BIGINT, source_mtime TIMESTAMP, row_count BIGINT, loaded_at TIMESTAMP,
		version_key VARCHAR, version BIGINT, hash_sum VARCHAR, through DATE)`); err != nil {
		return err
	}
	now := time.Now().UTC()
	key, err := newVersionKey()
	if err != nil {
		return err
	}
	for i, d := range loads {
		cols, err := tableColumns(ctx, tx, d.Name)
		if err != nil {
			return err
		}
		_, sum, err := tableSum(ctx, tx, quoteIdent(d.Name), cols)
		if err != nil {
			return err
		}
		var th sql.NullTime
		if t, ok := through[d.Name]; ok && !t.IsZero() {
			th = sql.NullTime{Time: t, Valid: true}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+quoteIdent(loadTable)+` VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			d.Name, d.Source, d.Format, sources[i].size, sources[i].mtime, d.Rows, now, key, version, sum, th); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// tempPath returns a fresh file name beside final, on the same file
// system so that the rename is atomic.
func tempPath(final string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	dir, base := filepath.Split(final)
	return filepath.Join(dir, fmt.Sprintf(".%s.%d-%s.loading", base, os.Getpid(), hex.EncodeToString(b[:]))), nil
}

// removeDatabase removes a database file and its WAL, if present.
func removeDatabase(path string) {
	os.Remove(path)
	os.Remove(path + ".wal")
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// progress writes progress lines; safe for concurrent use.
type progress struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *progress) printf(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// during runs f, printing a line every progressEvery while it runs.
func (p *progress) during(dataset string, f func() error) error {
	if p.w == nil {
		return f()
	}
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.printf("load %s: still reading after %s", dataset, time.Since(start).Round(time.Second))
			}
		}
	})
	err := f()
	close(done)
	wg.Wait()
	return err
}
