package benchmarks

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/statgate/statgate/engine/exec"
)

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		desc    string
		spec    Spec
		wantErr bool
	}{
		{desc: "usual", spec: Spec{Rows: 1_000_000, Groups: 200}},
		{desc: "one row, one group", spec: Spec{Rows: 1, Groups: 1}},
		{desc: "all codes", spec: Spec{Rows: 10, Groups: MaxGroups}},
		{desc: "no rows", spec: Spec{Rows: 0, Groups: 200}, wantErr: true},
		{desc: "no groups", spec: Spec{Rows: 10, Groups: 0}, wantErr: true},
		{desc: "more groups than codes", spec: Spec{Rows: 10, Groups: MaxGroups + 1}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			err := tc.spec.Validate()
			if (err != nil) != tc.wantErr {
				t.Fatalf("Validate() = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrBadSpec) {
				t.Errorf("error %v does not wrap ErrBadSpec", err)
			}
		})
	}
}

func TestSpecPersonsAndKey(t *testing.T) {
	s := Spec{Rows: 10_000_000, Groups: 200, Seed: 3}
	if got := s.Persons(); got != 1_000_000 {
		t.Errorf("Persons() = %d, want 1000000", got)
	}
	if got := (Spec{Rows: 5, Groups: 1}).Persons(); got != 1 {
		t.Errorf("Persons() of 5 rows = %d, want 1", got)
	}
	if got, want := s.Key(), "rows=10000000,groups=200,seed=3"; got != want {
		t.Errorf("Key() = %q, want %q", got, want)
	}
}

// TestGenerate checks the shared registry against its spec and the
// policy's columns.
func TestGenerate(t *testing.T) {
	d := tiny(t)
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	one := func(q string) int64 {
		t.Helper()
		var n int64
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	npr := "read_parquet(" + quoteString(d.Path(NPRParquet)) + ")"
	tests := []struct {
		desc  string
		query string
		want  int64
	}{
		{"npr has exactly the rows asked for", "SELECT count(*) FROM " + npr, tinySpec.Rows},
		{"rows spread over exactly the groups asked for", "SELECT count(DISTINCT substr(icd10, 1, 3)) FROM " + npr, int64(tinySpec.Groups)},
		{"the most frequent group is E11", "SELECT (mode(substr(icd10, 1, 3)) = 'E11')::INT FROM " + npr, 1},
		{"person ids lie in the population", "SELECT count(*) FROM " + npr + " WHERE pid < 0 OR pid >= " + strconv.FormatInt(tinySpec.Persons(), 10), 0},
		{"icd10 codes are well formed", "SELECT count(*) FROM " + npr + ` WHERE NOT regexp_full_match(icd10, '[A-Z][0-9]{2}(\.[0-9])?')`, 0},
		{"some codes carry a subcode", "SELECT (count(*) > 0)::INT FROM " + npr + " WHERE length(icd10) = 5", 1},
		{"only inpatients stay", "SELECT count(*) FROM " + npr + " WHERE contact_type <> 'inpatient' AND length_of_stay_days <> 0", 0},
		{"some stays exceed the policy bound", "SELECT (count(*) > 0)::INT FROM " + npr + " WHERE length_of_stay_days > 90", 1},
		{"contact dates in 2010-2024", "SELECT count(*) FROM " + npr + " WHERE year(contact_date) NOT BETWEEN 2010 AND 2024", 0},
		{"population has one row per person", "SELECT count(DISTINCT pid) FROM read_parquet(" + quoteString(d.Path(PopulationParquet)) + ")", tinySpec.Persons()},
		{"lmr has half as many rows", "SELECT count(*) FROM read_parquet(" + quoteString(d.Path(LMRParquet)) + ")", tinySpec.Rows / 2},
		{"the CSV export has every row", "SELECT count(*) FROM read_csv(" + quoteString(d.Path(NPRCSV)) + ")", tinySpec.Rows},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if got := one(tc.query); got != tc.want {
				t.Errorf("%s = %d, want %d", tc.query, got, tc.want)
			}
		})
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	spec := Spec{Rows: 2000, Groups: 5, Seed: 11}
	digest := func(dir string) string {
		t.Helper()
		if err := Generate(context.Background(), spec, dir); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("duckdb", "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var h string
		q := "SELECT md5(string_agg(pid || icd10 || contact_date || hospital || length_of_stay_days, ',' ORDER BY pid, icd10, contact_date, hospital, length_of_stay_days)) FROM read_parquet(" + quoteString(filepath.Join(dir, NPRParquet)) + ")"
		if err := db.QueryRow(q).Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	a, b := digest(t.TempDir()), digest(t.TempDir())
	if a != b {
		t.Errorf("two generations of %s differ", spec.Key())
	}
	spec.Seed++
	if c := digest(t.TempDir()); c == a {
		t.Errorf("seeds %d and %d gave the same data", spec.Seed-1, spec.Seed)
	}
}

func TestPrepareUsesTheCache(t *testing.T) {
	d := tiny(t)
	before, err := os.Stat(d.Path(NPRParquet))
	if err != nil {
		t.Fatal(err)
	}
	again, err := Prepare(context.Background(), filepath.Dir(d.Dir), tinySpec, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(again.Path(NPRParquet))
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) {
		t.Error("Prepare regenerated a cached registry")
	}
	if again.Generated != d.Generated || again.Generated <= 0 {
		t.Errorf("Generated = %v from the cache, %v when made; want the same, positive", again.Generated, d.Generated)
	}
}

// TestSpecTableRowsMatchTheLoadedData: the sizes the harness plans with
// are those the engine reads from the extracts database.
func TestSpecTableRowsMatchTheLoadedData(t *testing.T) {
	d := tiny(t)
	db, err := exec.Open(context.Background(), &exec.Options{Path: exec.ExtractsPath(d.ExtractsDir()), ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.TableRows(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := tinySpec.TableRows(); !maps.Equal(got, want) {
		t.Errorf("loaded sizes %v, Spec.TableRows %v", got, want)
	}
}
