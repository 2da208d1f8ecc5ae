package benchmarks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" database/sql driver
)

// RowsPerPerson is the mean number of npr rows per person in a benchmark
// registry: Spec.Persons is Rows / RowsPerPerson.
const RowsPerPerson = 10

// MaxGroups is the number of distinct three-character ICD-10 codes
// (A00–Z99), the most groups a Spec can ask for.
const MaxGroups = 2600

// ErrBadSpec is returned (wrapped) for a Spec that cannot be generated.
var ErrBadSpec = errors.New("bad benchmark spec")

// Spec names one benchmark registry. The zero Seed is a valid seed.
type Spec struct {
	// Rows is the exact number of npr rows.
	Rows int64
	// Groups is the number of distinct three-character ICD-10 codes
	// (substr(icd10, 1, 3)) the rows spread over, 1 to MaxGroups.
	Groups int
	// Seed selects the data.
	Seed uint64
}

// Persons is the number of persons: Rows / RowsPerPerson, at least 1.
func (s Spec) Persons() int64 { return max(1, s.Rows/RowsPerPerson) }

// Key names the spec in cache directory names: "rows=1000000,groups=200,seed=1".
func (s Spec) Key() string {
	return fmt.Sprintf("rows=%d,groups=%d,seed=%d", s.Rows, s.Groups, s.Seed)
}

// TableRows are the sizes of the generated datasets, by name.
func (s Spec) TableRows() map[string]int64 {
	return map[string]int64{"npr": s.Rows, "population": s.Persons(), "lmr": max(1, s.Rows/2)}
}

// Validate reports whether the spec can be generated.
func (s Spec) Validate() error {
	switch {
	case s.Rows < 1:
		return fmt.Errorf("%w: rows must be at least 1, got %d", ErrBadSpec, s.Rows)
	case s.Groups < 1 || s.Groups > MaxGroups:
		return fmt.Errorf("%w: groups must be between 1 and %d, got %d", ErrBadSpec, MaxGroups, s.Groups)
	}
	return nil
}

// File names of a generated registry inside its directory.
const (
	NPRParquet        = "npr.parquet"
	NPRCSV            = "npr.csv"
	PopulationParquet = "population.parquet"
	LMRParquet        = "lmr.parquet"
)

// Generate writes the benchmark registry of spec into dir: npr.parquet
// (spec.Rows rows), population.parquet (one row per person) and
// lmr.parquet (Rows/2 dispensings), with the columns and types of the
// synthetic registries that engine/synth writes (see policy.yaml).
//
// The shape is the worst case for the L0 step, like the probe in
// notes/bounding-plan-costs.md: each npr row picks its person uniformly
// (so persons have Poisson(10) rows) and its group from a mildly skewed
// distribution over spec.Groups codes, so a person typically touches
// several more groups than the policy's max_groups_per_person of 4. About
// half the codes carry a subcode (E11.9), so the key substr(icd10, 1, 3)
// differs from the column. Every value is a hash of the seed and the row
// number: the same spec gives the same data with any thread count.
func Generate(ctx context.Context, spec Spec, dir string) error {
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("benchmarks.Generate: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("benchmarks.Generate: %w", err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return fmt.Errorf("benchmarks.Generate: %w", err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("benchmarks.Generate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET preserve_insertion_order = false"); err != nil {
		return fmt.Errorf("benchmarks.Generate: %w", err)
	}
	outputs := []struct{ file, query, format string }{
		{NPRParquet, nprSQL(spec), "FORMAT parquet, COMPRESSION zstd"},
		{PopulationParquet, populationSQL(spec), "FORMAT parquet, COMPRESSION zstd"},
		{LMRParquet, lmrSQL(spec), "FORMAT parquet, COMPRESSION zstd"},
	}
	for _, o := range outputs {
		final := filepath.Join(dir, o.file)
		tmp := filepath.Join(dir, "."+o.file+".tmp")
		q := "COPY (" + o.query + ") TO " + quoteString(tmp) + " (" + o.format + ")"
		if _, err := conn.ExecContext(ctx, q); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("benchmarks.Generate: %s: %w", o.file, err)
		}
		if err := os.Rename(tmp, final); err != nil {
			return fmt.Errorf("benchmarks.Generate: %w", err)
		}
	}
	return nil
}

// hospitals are the npr hospital domain of the policy.
var hospitals = []string{
	"Helse Bergen", "Helse Stavanger", "Oslo universitetssykehus", "St. Olavs hospital",
	"Universitetssykehuset Nord-Norge", "Sykehuset Innlandet", "Vestre Viken",
	"Sørlandet sykehus", "Akershus universitetssykehus", "Helse Møre og Romsdal",
}

// atcCodes are the lmr drugs; A10BA02 (metformin) is the cohort's.
var atcCodes = []string{
	"A10BA02", "A10BJ02", "A10AE04", "C09AA05", "C09CA01", "C07AB02", "C08CA01", "C10AA05",
	"B01AC06", "B01AF01", "R03AC02", "R03BA02", "N06AB04", "N06AB06", "N02BE01", "J01CA04",
	"J01CE02", "H03AA01", "G03AA07", "M01AE01",
}

// firstCode is the index of E11 among A00…Z99 (letter·100 + number), so
// group 0, the most frequent, is E11 (diabetes, the cohort's diagnosis).
const firstCode = 4*100 + 11

// uniform is a value in [0, 1) from bits of a UBIGINT hash column.
func uniform(h string, shift int) string {
	return fmt.Sprintf("((%s >> %d) %% 1000000)::DOUBLE / 1000000", h, shift)
}

// nprSQL selects spec.Rows npr rows.
func nprSQL(s Spec) string {
	seed := strconv.FormatUint(s.Seed, 10)
	// Group g = floor(G·u^1.5): group 0 most frequent, the last ones
	// rarest, every one present at benchmark sizes.
	group := fmt.Sprintf("least(floor(%d * pow(%s, 1.5))::BIGINT, %d)", s.Groups, uniform("h2", 0), s.Groups-1)
	return fmt.Sprintf(`WITH r AS (
  SELECT i, hash(i, %[1]s::UBIGINT, 1) AS h1, hash(i, %[1]s::UBIGINT, 2) AS h2, hash(i, %[1]s::UBIGINT, 3) AS h3
  FROM range(%[2]d) t(i)
), g AS (
  SELECT *, (%[3]d + %[4]s) %% 2600 AS code, h3 %% 100 AS kind FROM r
)
SELECT
  (h1 %% %[5]d)::BIGINT AS pid,
  DATE '2010-01-01' + ((h1 >> 32) %% 5479)::INTEGER AS contact_date,
  chr(65 + (code // 100)::INTEGER) || lpad((code %% 100)::VARCHAR, 2, '0')
    || CASE WHEN (h2 >> 24) %% 2 = 0 THEN '' ELSE '.' || ((h2 >> 25) %% 10)::VARCHAR END AS icd10,
  CASE WHEN kind < 20 THEN 'inpatient' WHEN kind < 80 THEN 'outpatient' ELSE 'day' END AS contact_type,
  %[6]s[1 + ((h2 >> 40) %% %[7]d)::INTEGER] AS hospital,
  CASE WHEN kind >= 20 THEN 0
       WHEN (h3 >> 8) %% 50 = 0 THEN 60 + (h3 >> 16) %% 120
       ELSE 1 + (h3 >> 16) %% 30 END::DOUBLE AS length_of_stay_days
FROM g`, seed, s.Rows, firstCode, group, s.Persons(), sqlList(hospitals), len(hospitals))
}

// populationSQL selects one population row per person.
func populationSQL(s Spec) string {
	return fmt.Sprintf(`SELECT pid::BIGINT AS pid,
  (1920 + hash(pid, %[1]d::UBIGINT, 4) %% 100)::BIGINT AS birth_year,
  CASE WHEN hash(pid, %[1]d::UBIGINT, 5) %% 2 = 0 THEN 'F' ELSE 'M' END AS sex
FROM range(%[2]d) t(pid)`, s.Seed, s.Persons())
}

// lmrSQL selects Rows/2 dispensings.
func lmrSQL(s Spec) string {
	return fmt.Sprintf(`WITH r AS (
  SELECT hash(i, %[1]d::UBIGINT, 6) AS h1, hash(i, %[1]d::UBIGINT, 7) AS h2 FROM range(%[2]d) t(i)
)
SELECT (h1 %% %[3]d)::BIGINT AS pid,
  DATE '2010-01-01' + ((h1 >> 32) %% 5479)::INTEGER AS dispensed_date,
  %[4]s[1 + (h2 %% %[5]d)::INTEGER] AS atc,
  (1 + (h2 >> 16) %% 400)::DOUBLE AS ddd,
  ['gp', 'specialist', 'hospital', 'dentist'][1 + ((h2 >> 32) %% 4)::INTEGER] AS prescriber_type
FROM r`, s.Seed, max(1, s.Rows/2), s.Persons(), sqlList(atcCodes), len(atcCodes))
}

// sqlList renders a DuckDB list literal of strings.
func sqlList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = quoteString(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// quoteString quotes a SQL string literal.
func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// parquetToCSV writes the Parquet file src as a CSV file with a header
// line at dst (through a temporary file, renamed when complete).
func parquetToCSV(ctx context.Context, src, dst string) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp")
	q := "COPY (SELECT * FROM read_parquet(" + quoteString(src) + ")) TO " + quoteString(tmp) + " (FORMAT csv, HEADER true)"
	if _, err := db.ExecContext(ctx, q); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return os.Rename(tmp, dst)
}
