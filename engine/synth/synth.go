// Package synth generates deterministic synthetic registries shaped like
// the Norwegian health registries: a population register, the patient
// registry (npr), the prescription database (lmr), the cancer registry and
// the cause of death registry. No real person is in them.
//
// The data are built in DuckDB SQL in an in-memory database. Every random
// draw is a hash of the seed, a stream number and the row's keys, so the
// same Options.Seed and the same code give byte-identical Parquet files
// whatever the number of threads.
//
// What the data look like (analysts should get meaningful answers):
//   - population: birth years 1915–2024 with a Norway-like age pyramid,
//     about half women (more among the old), residence in one of the 357
//     municipalities of 2024 weighted by population, death dates in
//     2010–2024 (Gompertz mortality, raised by diabetes, atrial fibrillation,
//     infarction and late-stage cancer).
//   - npr: contacts 2010–2024. Chronic conditions with age gradients (E11
//     diabetes, I10 hypertension, J45 asthma in the young, F32 depression in
//     women of working age, I48 atrial fibrillation) give repeated contacts;
//     acute events (I21 infarction, mostly older men; S72 hip fracture,
//     mostly elderly women) an admission and follow-ups; cancers a
//     treatment phase; and everyone may have background contacts (Z00,
//     J06, R10, O80, ...), more with age, with 1.5% heavy users. icd10 is a
//     three-character ICD-10 code, optionally followed by a dot and one
//     subcode digit: it always matches ^[A-Z][0-9]{2}(\.[0-9])?$ (E11,
//     E11.9, I10). Inpatient stays last 1–60 days with a long tail that
//     rarely passes 90; outpatient and day contacts have 0.
//   - lmr: drugs follow diagnoses (E11 → A10BA02 metformin, later
//     A10BJ/A10BK and insulin; I10 → C09AA05, C09CA01, C07AB02, C08CA01;
//     J45 → R03AC02, R03BA02; F32 → N06AB; I21 → B01AC06, C10AA05;
//     I48 → B01AF; C50 → L02BG03/L02BA01; C61 → L02AE02), dispensed every
//     30–180 days while a course lasts; a few drugs are used without a
//     registered diagnosis (contraceptives, levothyroxine, statins, a little
//     metformin), and everyone may get one-off background drugs (N02BE01,
//     J01CA04, J01CE02, ...). ddd is mostly 30–100, rarely above 365.
//   - cancer: one row per case with a three-character C-code and stage;
//     almost every case has C-code contacts in npr (a few are registered
//     from pathology alone). C50 is almost only women, C61 only men.
//   - death_causes: one row per death, on the population's death date.
//
// No contact, dispensing or diagnosis lies before birth or after death.
package synth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" database/sql driver
)

// DefaultPersons is the population size when Options.Persons is 0.
const DefaultPersons = 5000

// MaxPersons is the largest population Generate accepts.
const MaxPersons = 100_000_000

// ErrInvalidOptions is returned (wrapped) when Options cannot be used.
var ErrInvalidOptions = errors.New("invalid options")

// Options says what to generate and where.
type Options struct {
	// Persons is the population size; 0 means DefaultPersons.
	Persons int
	// Seed selects the data set; every seed (0 included) is valid.
	Seed uint64
	// OutDir is the directory the Parquet files are written to (created
	// if missing; existing files of the same names are replaced). Required.
	OutDir string
	// Threads is DuckDB's thread count; 0 means DuckDB's default (all
	// cores). The output does not depend on it.
	Threads int
	// Progress, when set, is called with the name of each stage as it
	// starts ("setup", "population", "conditions", "deaths", "npr", "lmr",
	// "cancer", "write population", ...). It is called from the
	// goroutine that called Generate.
	Progress func(stage string)
}

// Summary reports what Generate wrote.
type Summary struct {
	Persons int
	Seed    uint64
	// Tables are the files in the order they were written.
	Tables []TableSummary
	// Duration is the wall time of the whole generation.
	Duration time.Duration
}

// TableSummary describes one written file.
type TableSummary struct {
	// Name is the table name (the file is Name + ".parquet").
	Name string
	// Path is the file's path.
	Path  string
	Rows  int64
	Bytes int64
}

// Rows returns the number of rows written to the named table, or 0 when
// the summary has no such table.
func (s *Summary) Rows(table string) int64 {
	for _, t := range s.Tables {
		if t.Name == table {
			return t.Rows
		}
	}
	return 0
}

// Tables returns the names of the tables Generate writes, in order; each
// is written to OutDir/<name>.parquet.
func Tables() []string {
	names := make([]string, len(outputs))
	for i, o := range outputs {
		names[i] = o.name
	}
	return names
}

// Generate writes the synthetic registries population.parquet,
// npr.parquet, lmr.parquet, cancer.parquet and death_causes.parquet
// (ZSTD-compressed) to opts.OutDir. Each file is first written under a
// temporary name and renamed when all are complete, so a failed or
// cancelled run leaves earlier files of the same names in place.
// Generate is safe to call concurrently with different OutDirs.
func Generate(ctx context.Context, opts *Options) (*Summary, error) {
	start := time.Now()
	if opts == nil {
		return nil, fmt.Errorf("synth.Generate: %w: nil options (OutDir is required)", ErrInvalidOptions)
	}
	o := *opts
	if o.Persons == 0 {
		o.Persons = DefaultPersons
	}
	switch {
	case o.Persons < 0 || o.Persons > MaxPersons:
		return nil, fmt.Errorf("synth.Generate: %w: Persons must be between 1 and %d, got %d", ErrInvalidOptions, MaxPersons, o.Persons)
	case o.Threads < 0:
		return nil, fmt.Errorf("synth.Generate: %w: Threads must not be negative, got %d", ErrInvalidOptions, o.Threads)
	case strings.TrimSpace(o.OutDir) == "":
		return nil, fmt.Errorf("synth.Generate: %w: OutDir is required", ErrInvalidOptions)
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("synth.Generate: %w", err)
	}

	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("synth.Generate: open DuckDB: %w", err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("synth.Generate: connect DuckDB: %w", err)
	}
	defer conn.Close()

	settings := []string{"SET preserve_insertion_order = true"}
	if o.Threads > 0 {
		settings = append(settings, "SET threads = "+strconv.Itoa(o.Threads))
	}
	for _, q := range settings {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("synth.Generate: %s: %w", q, err)
		}
	}
	for _, st := range stages(o.Persons, o.Seed) {
		progress(st.name)
		for _, q := range st.stmts {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return nil, fmt.Errorf("synth.Generate: stage %s: %w", st.name, err)
			}
		}
	}

	sum := &Summary{Persons: o.Persons, Seed: o.Seed}
	var tmps []string
	defer func() {
		for _, t := range tmps {
			os.Remove(t) // best effort: the temporary files of a failed run
		}
	}()
	for _, out := range outputs {
		progress("write " + out.name)
		path := filepath.Join(o.OutDir, out.name+".parquet")
		tmp := filepath.Join(o.OutDir, "."+out.name+".parquet.tmp")
		tmps = append(tmps, tmp)
		q := fmt.Sprintf("COPY (%s ORDER BY %s) TO %s (FORMAT parquet, COMPRESSION zstd)", out.query, out.order, quote(tmp))
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("synth.Generate: write %s: %w", out.name, err)
		}
		var rows int64
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM ("+out.query+")").Scan(&rows); err != nil {
			return nil, fmt.Errorf("synth.Generate: count %s: %w", out.name, err)
		}
		fi, err := os.Stat(tmp)
		if err != nil {
			return nil, fmt.Errorf("synth.Generate: %w", err)
		}
		sum.Tables = append(sum.Tables, TableSummary{Name: out.name, Path: path, Rows: rows, Bytes: fi.Size()})
	}
	for i, t := range sum.Tables {
		if err := os.Rename(tmps[i], t.Path); err != nil {
			return nil, fmt.Errorf("synth.Generate: %w", err)
		}
	}
	tmps = nil
	sum.Duration = time.Since(start)
	return sum, nil
}
