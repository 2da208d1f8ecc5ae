package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/statgate/statgate/policies"
)

// Fixture data: 100 persons in population (one row each, an unused extra
// column), 300 contacts in npr.
const (
	populationSQL = `SELECT (range + 1)::INTEGER AS pid, (1950 + range % 50)::SMALLINT AS birth_year,
		CASE WHEN range % 2 = 0 THEN 'F' ELSE 'M' END AS sex,
		CASE WHEN range % 10 = 0 THEN DATE '2020-01-01' + range::INTEGER END AS death_date,
		'not in the policy' AS unused
		FROM range(100)`
	nprSQL = `SELECT range % 100 + 1 AS pid, DATE '2015-01-01' + (range % 365)::INTEGER AS contact_date,
		'E1' || (range % 10)::VARCHAR AS icd10, (range % 20)::DECIMAL(5,1) AS length_of_stay_days
		FROM range(300)`
)

// copyTo writes query's result to path in the format its name says.
func copyTo(t *testing.T, query, path string) {
	t.Helper()
	admin(t, copyStmt(query, path))
}

// copyStmt is the COPY statement that writes query's result to path in
// the format its name says.
func copyStmt(query, path string) string {
	opts := "(FORMAT parquet)"
	switch {
	case strings.HasSuffix(path, ".csv.gz"):
		opts = "(HEADER, COMPRESSION gzip)"
	case strings.HasSuffix(path, ".csv"):
		opts = "(HEADER)"
	}
	return "COPY (" + query + ") TO " + quoteString(path) + " " + opts
}

// fixture writes both extracts with extension ext (".parquet", ".csv",
// ".csv.gz") into a new directory and returns it with a policy for them.
func fixture(t *testing.T, ext string) (string, *policies.Policy) {
	t.Helper()
	dir := t.TempDir()
	pol := testPolicy(dir, ext)
	admin(t, copyStmt(populationSQL, pol.Datasets["population"].Source), copyStmt(nprSQL, pol.Datasets["npr"].Source))
	return dir, pol
}

func testPolicy(dir, ext string) *policies.Policy {
	return &policies.Policy{
		Path: filepath.Join(dir, "policy.yaml"),
		Datasets: map[string]*policies.Dataset{
			"population": {
				Name: "population", Source: filepath.Join(dir, "population"+ext),
				PersonKey: "pid", OneRowPerPerson: true,
				Columns: []*policies.Column{
					{Name: "pid", Type: policies.TypeID},
					{Name: "birth_year", Type: policies.TypeInteger},
					{Name: "sex", Type: policies.TypeCategory},
					{Name: "death_date", Type: policies.TypeDate},
				},
			},
			"npr": {
				Name: "npr", Source: filepath.Join(dir, "npr"+ext), PersonKey: "pid",
				Columns: []*policies.Column{
					{Name: "pid", Type: policies.TypeID},
					{Name: "contact_date", Type: policies.TypeDate},
					{Name: "icd10", Type: policies.TypeCode},
					{Name: "length_of_stay_days", Type: policies.TypeNumber},
				},
			},
		},
	}
}

// openExtracts opens dataDir's extracts read-only, as the server does.
func openExtracts(t *testing.T, dataDir string) *DB {
	t.Helper()
	db, err := Open(context.Background(), &Options{Path: ExtractsPath(dataDir), ReadOnly: true})
	if err != nil {
		t.Fatalf("Open extracts: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// fingerprintOf opens dataDir's extracts, fingerprints them and closes them.
func fingerprintOf(t *testing.T, dataDir string) string {
	t.Helper()
	db, err := Open(context.Background(), &Options{Path: ExtractsPath(dataDir), ReadOnly: true})
	if err != nil {
		t.Fatalf("Open extracts: %v", err)
	}
	defer db.Close()
	fp, err := db.Fingerprint(context.Background())
	if err != nil {
		t.Fatalf("Fingerprint: %v", err)
	}
	return fp
}

// queryRow runs a query on db and returns its single row.
func queryRow(t *testing.T, db *DB, query string) []any {
	t.Helper()
	rr, err := db.QueryArrow(context.Background(), query)
	if err != nil {
		t.Fatalf("QueryArrow(%q): %v", query, err)
	}
	_, rows := readAll(t, rr)
	if len(rows) != 1 {
		t.Fatalf("%q gave %d rows, want 1", query, len(rows))
	}
	return rows[0]
}

func TestLoadFormats(t *testing.T) {
	for _, ext := range []string{".parquet", ".csv", ".csv.gz"} {
		t.Run(ext, func(t *testing.T) {
			dir, pol := fixture(t, ext)
			data := filepath.Join(dir, "data")
			rep, err := Load(context.Background(), &LoadOptions{Policy: pol, DataDir: data})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if want := "2 datasets, 400 rows (npr 300, population 100)"; rep.String() != want {
				t.Errorf("report = %q, want %q", rep, want)
			}
			if rep.Path != ExtractsPath(data) {
				t.Errorf("report path = %s, want %s", rep.Path, ExtractsPath(data))
			}
			db := openExtracts(t, data)
			ctx := context.Background()
			rows, err := db.TableRows(ctx)
			if err != nil {
				t.Fatalf("TableRows: %v", err)
			}
			if want := map[string]int64{"npr": 300, "population": 100}; !reflect.DeepEqual(rows, want) {
				t.Errorf("TableRows = %v, want %v", rows, want)
			}
			wantCols := map[string][]ColumnInfo{
				"npr":        {{"pid", "BIGINT"}, {"contact_date", "DATE"}, {"icd10", "VARCHAR"}, {"length_of_stay_days", "DOUBLE"}},
				"population": {{"pid", "BIGINT"}, {"birth_year", "BIGINT"}, {"sex", "VARCHAR"}, {"death_date", "DATE"}},
			}
			for table, want := range wantCols {
				got, err := db.Columns(ctx, table)
				if err != nil {
					t.Fatalf("Columns(%s): %v", table, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("Columns(%s) = %v, want %v", table, got, want)
				}
			}
			got := queryRow(t, db, `SELECT sum(length_of_stay_days), count(DISTINCT pid), min(contact_date),
				count(*) FILTER (WHERE icd10 = 'E13') FROM npr`)
			if want := []any{2850.0, int64(100), "2015-01-01", int64(30)}; !reflect.DeepEqual(got, want) {
				t.Errorf("npr summary = %v, want %v", got, want)
			}
			got = queryRow(t, db, `SELECT count(death_date), sum(birth_year), count(*) FILTER (WHERE sex = 'F') FROM population`)
			if want := []any{int64(10), 197450.0, int64(50)}; !reflect.DeepEqual(got, want) {
				t.Errorf("population summary = %v, want %v", got, want)
			}
		})
	}
}

func TestLoadTwiceSameFingerprint(t *testing.T) {
	dir, pol := fixture(t, ".parquet")
	data := filepath.Join(dir, "data")
	load := func() string {
		t.Helper()
		if _, err := Load(context.Background(), &LoadOptions{Policy: pol, DataDir: data}); err != nil {
			t.Fatalf("Load: %v", err)
		}
		return fingerprintOf(t, data)
	}
	first := load()
	if second := load(); second != first {
		t.Errorf("second load fingerprint %s, want %s", second, first)
	}
	// A changed source changes the fingerprint.
	copyTo(t, strings.Replace(nprSQL, "range % 20", "range % 21", 1), pol.Datasets["npr"].Source)
	if third := load(); third == first {
		t.Error("fingerprint unchanged after the npr source changed")
	}
}

// TestVersionIDIsKeyed checks that the public version name is not the
// fingerprint (an exact function of every row) nor anything computable
// from the rows: two loads of unchanged sources have one fingerprint but
// two IDs (each load draws its own key), and two opens of one file agree.
func TestVersionIDIsKeyed(t *testing.T) {
	dir, pol := fixture(t, ".parquet")
	data := filepath.Join(dir, "data")
	idOf := func() (fp, id string) {
		t.Helper()
		db, err := Open(context.Background(), &Options{Path: ExtractsPath(data), ReadOnly: true})
		if err != nil {
			t.Fatalf("Open extracts: %v", err)
		}
		defer db.Close()
		if fp, err = db.Fingerprint(context.Background()); err != nil {
			t.Fatalf("Fingerprint: %v", err)
		}
		if id, err = db.VersionID(context.Background(), fp); err != nil {
			t.Fatalf("VersionID: %v", err)
		}
		return fp, id
	}
	load := func() {
		t.Helper()
		if _, err := Load(context.Background(), &LoadOptions{Policy: pol, DataDir: data}); err != nil {
			t.Fatalf("Load: %v", err)
		}
	}
	load()
	fp1, id1 := idOf()
	if _, again := idOf(); again != id1 {
		t.Errorf("two opens of one file: IDs %s and %s, want one", id1, again)
	}
	if len(id1) != 32 || strings.Contains(fp1, id1) {
		t.Errorf("ID %q: want 32 hex digits unrelated to the fingerprint %q", id1, fp1)
	}
	load()
	fp2, id2 := idOf()
	if fp2 != fp1 {
		t.Fatalf("unchanged sources: fingerprints %s and %s", fp1, fp2)
	}
	if id2 == id1 {
		t.Errorf("two loads share the ID %s: it is computable from the rows", id1)
	}
}

func TestLoadRecordsSources(t *testing.T) {
	dir, pol := fixture(t, ".parquet")
	data := filepath.Join(dir, "data")
	if _, err := Load(context.Background(), &LoadOptions{Policy: pol, DataDir: data}); err != nil {
		t.Fatalf("Load: %v", err)
	}
	fi, err := os.Stat(pol.Datasets["npr"].Source)
	if err != nil {
		t.Fatal(err)
	}
	db := openExtracts(t, data)
	got := queryRow(t, db, `SELECT source, format, source_size, source_mtime, row_count FROM _statgate_load WHERE dataset = 'npr'`)
	want := []any{pol.Datasets["npr"].Source, "parquet", fi.Size(), fi.ModTime().UTC().Truncate(time.Microsecond), int64(300)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("load record = %v, want %v", got, want)
	}
}

func TestLoadFailureKeepsPrevious(t *testing.T) {
	tests := []struct {
		desc string
		ext  string
		// mutate breaks the fixture after a first, good load.
		mutate func(t *testing.T, pol *policies.Policy)
		// want are substrings of the one-line error (the file path is checked apart).
		want []string
	}{
		{"truncated parquet", ".parquet", func(t *testing.T, pol *policies.Policy) {
			src := pol.Datasets["npr"].Source
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(src, b[:len(b)/2], 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"load npr: ", "cannot read as Parquet"}},
		{"parquet type mismatch", ".parquet", func(t *testing.T, pol *policies.Policy) {
			copyTo(t, strings.Replace(nprSQL, "(range % 20)::DECIMAL(5,1)", "'long'", 1), pol.Datasets["npr"].Source)
		}, []string{"load npr: ", ": column length_of_stay_days: type VARCHAR, policy says number"}},
		{"parquet date as text", ".parquet", func(t *testing.T, pol *policies.Policy) {
			copyTo(t, strings.Replace(nprSQL, "DATE '2015-01-01' + (range % 365)::INTEGER", "'2015-01-01'", 1), pol.Datasets["npr"].Source)
		}, []string{"load npr: ", ": column contact_date: type VARCHAR, policy says date"}},
		{"csv value not a number", ".csv", func(t *testing.T, pol *policies.Policy) {
			copyTo(t, strings.Replace(nprSQL, "(range % 20)::DECIMAL(5,1)",
				"CASE WHEN range = 41 THEN 'long' ELSE (range % 20)::VARCHAR END", 1), pol.Datasets["npr"].Source)
		}, []string{"load npr: ", ": column length_of_stay_days: 1 value is not DOUBLE (first on line 43), policy says number"}},
		{"csv.gz bad date", ".csv.gz", func(t *testing.T, pol *policies.Policy) {
			copyTo(t, strings.Replace(nprSQL, "DATE '2015-01-01' + (range % 365)::INTEGER",
				"CASE WHEN range >= 298 THEN '2015-02-30' ELSE '2015-01-01' END", 1), pol.Datasets["npr"].Source)
		}, []string{"load npr: ", ": column contact_date: 2 values are not DATE (first on line 300), policy says date"}},
		{"missing column", ".parquet", func(t *testing.T, pol *policies.Policy) {
			copyTo(t, "SELECT * EXCLUDE (icd10) FROM ("+nprSQL+")", pol.Datasets["npr"].Source)
		}, []string{"load npr: ", ": column icd10: missing (the file has pid, contact_date, length_of_stay_days)"}},
		{"not one row per person", ".parquet", func(t *testing.T, pol *policies.Policy) {
			copyTo(t, populationSQL+" UNION ALL "+strings.Replace(populationSQL, "range(100)", "range(3)", 1), pol.Datasets["population"].Source)
		}, []string{"load population: ", ": column pid: 3 rows repeat a person, policy says one_row_per_person"}},
		{"null person key", ".csv", func(t *testing.T, pol *policies.Policy) {
			copyTo(t, strings.Replace(nprSQL, "range % 100 + 1 AS pid", "CASE WHEN range > 0 THEN range % 100 + 1 END AS pid", 1), pol.Datasets["npr"].Source)
		}, []string{"load npr: ", ": column pid: 1 row has no person key (NULL)"}},
		{"missing file", ".parquet", func(t *testing.T, pol *policies.Policy) {
			if err := os.Remove(pol.Datasets["npr"].Source); err != nil {
				t.Fatal(err)
			}
		}, []string{"load npr: ", ": file not found"}},
		{"unsupported file type", ".parquet", func(t *testing.T, pol *policies.Policy) {
			pol.Datasets["npr"].Source = strings.TrimSuffix(pol.Datasets["npr"].Source, ".parquet") + ".json"
			if err := os.WriteFile(pol.Datasets["npr"].Source, []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"load npr: ", ": unsupported file type"}},
		{"unknown policy type", ".csv", func(t *testing.T, pol *policies.Policy) {
			pol.Datasets["npr"].Columns[2].Type = "blob"
		}, []string{"load npr: ", ": column icd10: policy type \"blob\" is not known"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel() // mostly waiting on file I/O
			dir, pol := fixture(t, tc.ext)
			data := filepath.Join(dir, "data")
			ctx := context.Background()
			if _, err := Load(ctx, &LoadOptions{Policy: pol, DataDir: data}); err != nil {
				t.Fatalf("first Load: %v", err)
			}
			before := fingerprintOf(t, data)

			tc.mutate(t, pol)
			_, err := Load(ctx, &LoadOptions{Policy: pol, DataDir: data})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			var lerr *LoadError
			if !errors.As(err, &lerr) {
				t.Fatalf("error %v (%T) is not a *LoadError", err, err)
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			for _, w := range append(tc.want, lerr.Source) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if !strings.HasPrefix(msg, "load "+lerr.Dataset+": "+lerr.Source+": ") {
				t.Errorf("error %q does not start with the dataset and file", msg)
			}

			// The previous extracts are untouched and queryable, and no
			// temporary file is left behind.
			if after := fingerprintOf(t, data); after != before {
				t.Errorf("fingerprint changed by a failed load: %s, want %s", after, before)
			}
			db := openExtracts(t, data)
			if got := queryRow(t, db, "SELECT count(*) FROM npr"); got[0] != int64(300) {
				t.Errorf("npr rows after a failed load = %v, want 300", got[0])
			}
			entries, err := os.ReadDir(data)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.Name() != "extracts.duckdb" && e.Name() != lockName && e.Name() != counterName {
					t.Errorf("left behind in the data directory: %s", e.Name())
				}
			}
		})
	}
}

func TestLoadWhileServing(t *testing.T) {
	dir, pol := fixture(t, ".parquet")
	data := filepath.Join(dir, "data")
	ctx := context.Background()
	if _, err := Load(ctx, &LoadOptions{Policy: pol, DataDir: data}); err != nil {
		t.Fatalf("Load: %v", err)
	}
	serving := openExtracts(t, data)

	copyTo(t, strings.Replace(nprSQL, "range(300)", "range(500)", 1), pol.Datasets["npr"].Source)
	if _, err := Load(ctx, &LoadOptions{Policy: pol, DataDir: data}); err != nil {
		t.Fatalf("Load next to an open reader: %v", err)
	}
	// The open DB keeps answering from the extracts it opened.
	if got := queryRow(t, serving, "SELECT count(*) FROM npr"); got[0] != int64(300) {
		t.Errorf("serving DB npr rows = %v, want 300", got[0])
	}
	if err := serving.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Reopening (a server restart) sees the new extracts.
	if got := queryRow(t, openExtracts(t, data), "SELECT count(*) FROM npr"); got[0] != int64(500) {
		t.Errorf("reopened npr rows = %v, want 500", got[0])
	}
}

func TestLoadExtractsDir(t *testing.T) {
	dir, pol := fixture(t, ".csv.gz")
	// The policy's sources name another directory; only the base names count.
	for _, ds := range pol.Datasets {
		ds.Source = filepath.Join("/nonexistent/registries", filepath.Base(ds.Source))
	}
	data := filepath.Join(dir, "data")
	rep, err := Load(context.Background(), &LoadOptions{Policy: pol, DataDir: data, ExtractsDir: dir})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, d := range rep.Datasets {
		if filepath.Dir(d.Source) != dir || d.Format != "csv" {
			t.Errorf("dataset %s read from %s (%s), want %s (csv)", d.Name, d.Source, d.Format, dir)
		}
	}
}

func TestLoadProgress(t *testing.T) {
	dir, pol := fixture(t, ".parquet")
	var out bytes.Buffer
	if _, err := Load(context.Background(), &LoadOptions{Policy: pol, DataDir: filepath.Join(dir, "data"), Progress: &out}); err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, want := range []string{
		"load npr: reading " + pol.Datasets["npr"].Source + "\n",
		"load npr: 300 rows in ",
		"load population: 100 rows in ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress %q lacks %q", out.String(), want)
		}
	}
}

func TestProgressDuring(t *testing.T) {
	defer func(d time.Duration) { progressEvery = d }(progressEvery)
	progressEvery = 5 * time.Millisecond
	var out bytes.Buffer
	p := &progress{w: &out}
	err := p.during("npr", func() error {
		time.Sleep(100 * time.Millisecond)
		return errors.New("boom")
	})
	if err == nil || err.Error() != "boom" {
		t.Errorf("during returned %v, want f's error", err)
	}
	if !strings.Contains(out.String(), "load npr: still reading after ") {
		t.Errorf("no still-reading line in %q", out.String())
	}
	// Nothing is written once during returned.
	n := out.Len()
	time.Sleep(20 * time.Millisecond)
	if out.Len() != n {
		t.Error("progress written after during returned")
	}
}

func TestLoadOptionsRefused(t *testing.T) {
	data := t.TempDir()
	tests := []struct {
		desc    string
		opts    *LoadOptions
		wantErr error
	}{
		{"nil options", nil, nil},
		{"no policy", &LoadOptions{DataDir: data}, nil},
		{"no data directory", &LoadOptions{Policy: testPolicy(data, ".parquet")}, nil},
		{"no datasets", &LoadOptions{Policy: &policies.Policy{Path: "p.yaml"}, DataDir: data}, ErrNoDatasets},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := Load(context.Background(), tc.opts)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error = %v, want %v", err, tc.wantErr)
			}
		})
	}
	if _, err := os.Stat(ExtractsPath(data)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused load wrote %s", ExtractsPath(data))
	}
}

// TestLoadNorwaySyntheticPolicy loads one generated row per dataset of the
// example policy, so the loader agrees with every column type it declares.
func TestLoadNorwaySyntheticPolicy(t *testing.T) {
	pol, err := policies.Load("../../policies/norway-synthetic.yaml")
	if err != nil {
		t.Skipf("policies.Load: %v", err)
	}
	dir := t.TempDir()
	storage := map[policies.ColumnType]string{
		policies.TypeID: "BIGINT", policies.TypeDate: "DATE", policies.TypeInteger: "BIGINT",
		policies.TypeNumber: "DOUBLE", policies.TypeCode: "VARCHAR", policies.TypeCategory: "VARCHAR",
		policies.TypeString: "VARCHAR",
	}
	values := map[policies.ColumnType]string{
		policies.TypeID: "range + 1", policies.TypeDate: "DATE '2020-01-01'", policies.TypeInteger: "2000",
		policies.TypeNumber: "1.5", policies.TypeCode: "'E11'", policies.TypeCategory: "'x'", policies.TypeString: "'x'",
	}
	// A value inside the column's declared domain, when it has one (load
	// refuses any other).
	valueOf := func(c *policies.Column) string {
		switch {
		case c.Domain != nil && c.Domain.Range != nil:
			return fmt.Sprint(c.Domain.Range[0])
		case c.Domain != nil && len(c.Domain.Values) > 0:
			return quoteString(c.Domain.Values[0])
		}
		for _, d := range c.PrefixDomains {
			if len(d.Values) > 0 && len(c.PrefixDomains) == 1 {
				return quoteString(d.Values[0] + "1")
			}
		}
		return values[c.Type]
	}
	for _, ds := range pol.Datasets {
		var cols []string
		for _, c := range ds.Columns {
			cols = append(cols, valueOf(c)+" AS "+quoteIdent(c.Name))
		}
		copyTo(t, "SELECT "+strings.Join(cols, ", ")+" FROM range(3)", filepath.Join(dir, filepath.Base(ds.Source)))
	}
	data := filepath.Join(dir, "data")
	if _, err := Load(context.Background(), &LoadOptions{Policy: pol, DataDir: data, ExtractsDir: dir}); err != nil {
		t.Fatalf("Load: %v", err)
	}
	db := openExtracts(t, data)
	for name, ds := range pol.Datasets {
		got, err := db.Columns(context.Background(), name)
		if err != nil {
			t.Fatalf("Columns(%s): %v", name, err)
		}
		var want []ColumnInfo
		for _, c := range ds.Columns {
			want = append(want, ColumnInfo{c.Name, storage[c.Type]})
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Columns(%s) = %v, want %v", name, got, want)
		}
	}
}

// TestLoadChecksDatesAndRecordsThrough: `statgate load` refuses a date
// outside its column's public years, and with a declared period end
// (LoadOptions.Through) a later date, naming file, row and column; the
// declared end is the version's, so a delivery on top must declare its
// own.
func TestLoadChecksDatesAndRecordsThrough(t *testing.T) {
	dir, pol := fixture(t, ".parquet")
	ctx := context.Background()
	data := filepath.Join(dir, "data")
	for _, c := range pol.Datasets["npr"].Columns {
		if c.Name == "contact_date" {
			c.Years = &[2]int{2016, 2024} // the fixture's contacts are of 2015
		}
	}
	_, err := Load(ctx, &LoadOptions{Policy: pol, DataDir: data})
	var le *LoadError
	if !errors.As(err, &le) || le.Dataset != "npr" || le.Column != "contact_date" || le.Row != 1 || !strings.Contains(le.Reason, "public years 2016–2024") {
		t.Fatalf("a load with dates outside the public years = %v; want npr's contact_date row 1 refused", err)
	}
	if _, err := os.Stat(ExtractsPath(data)); err == nil {
		t.Fatal("the refused load wrote extracts")
	}
	for _, c := range pol.Datasets["npr"].Columns {
		if c.Name == "contact_date" {
			c.Years = &[2]int{2010, 2024}
		}
	}
	// Contacts run from 2015-01-01 for 365 days; row 32 is 2015-02-01.
	_, err = Load(ctx, &LoadOptions{Policy: pol, DataDir: data, Through: map[string]time.Time{"npr": time.Date(2015, 1, 31, 0, 0, 0, 0, time.UTC)}})
	if !errors.As(err, &le) || le.Column != "contact_date" || le.Row != 32 || !strings.Contains(le.Reason, "after the declared end 2015-01-31") {
		t.Fatalf("a load with dates after --through = %v; want contact_date row 32 refused", err)
	}
	if _, err := Load(ctx, &LoadOptions{Policy: pol, DataDir: data, Through: map[string]time.Time{"npr": time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)}}); err == nil || !strings.Contains(err.Error(), "public years 2010–2024") {
		t.Errorf("a load through 2025-01-31 = %v; want refused naming the public years", err)
	}
	if _, err := Load(ctx, &LoadOptions{Policy: pol, DataDir: data, Through: map[string]time.Time{"population": time.Date(2030, 1, 31, 0, 0, 0, 0, time.UTC)}}); err != nil {
		t.Errorf("population has a date column (death_date); --through for it: %v", err)
	}
	end := time.Date(2015, 12, 31, 0, 0, 0, 0, time.UTC)
	if _, err := Load(ctx, &LoadOptions{Policy: pol, DataDir: data, Through: map[string]time.Time{"npr": end}}); err != nil {
		t.Fatal(err)
	}
	db := openExtracts(t, data)
	info, err := db.Version(ctx)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !info.Datasets["npr"].Through.Equal(end) || !info.Datasets["population"].Through.IsZero() {
		t.Errorf("loaded version: npr through %s, population %s; want %s and none", info.Datasets["npr"].Through, info.Datasets["population"].Through, end)
	}
	f := filepath.Join(dir, "npr-more.parquet")
	copyTo(t, `SELECT 1 AS pid, DATE '2015-06-01' AS contact_date, 'E11' AS icd10, 1.0 AS length_of_stay_days`, f)
	if _, err := Deliver(ctx, &DeliverOptions{Policy: pol, DataDir: data, Dataset: "npr", Files: []string{f}}); err == nil || !strings.Contains(err.Error(), "2015-12-31") {
		t.Errorf("a delivery without --through onto a load that declared one = %v; want refused", err)
	}
}

// TestLoadChecksDomains: `statgate load` refuses a value outside its
// column's declared domain, and one whose prefix is outside a prefix
// domain, naming dataset, column and the first such row, as deliveries
// do; nothing is written. Queries would otherwise answer as if those rows
// were not there (a key outside its domain forms no group).
func TestLoadChecksDomains(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		desc   string
		set    func(pol *policies.Policy)
		column string
		row    int64
		reason string
	}{
		{"a value outside the domain", func(pol *policies.Policy) {
			for _, c := range pol.Datasets["population"].Columns {
				if c.Name == "sex" {
					c.Domain = &policies.Domain{Values: []string{"F"}} // row 2 is M
				}
			}
		}, "sex", 2, "outside the declared domain"},
		{"a range", func(pol *policies.Policy) {
			for _, c := range pol.Datasets["population"].Columns {
				if c.Name == "birth_year" {
					c.Domain = &policies.Domain{Range: &[2]int{1950, 1960}} // row 12 is 1961
				}
			}
		}, "birth_year", 12, "outside the declared domain"},
		{"a prefix outside its domain", func(pol *policies.Policy) {
			for _, c := range pol.Datasets["npr"].Columns {
				if c.Name == "icd10" {
					c.PrefixDomains = map[int]*policies.Domain{3: {CodeList: "icd10_e", Values: []string{"E10", "E11", "E12"}}} // row 1 is E10, row 4 E13
				}
			}
		}, "icd10", 4, "first 3 characters are outside the declared domain (code list icd10_e)"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			dir, pol := fixture(t, ".parquet")
			data := filepath.Join(dir, "data")
			if _, err := Load(ctx, &LoadOptions{Policy: pol, DataDir: data}); err != nil {
				t.Fatalf("the fixture as it is: %v", err)
			}
			data = filepath.Join(dir, "data2")
			tc.set(pol)
			_, err := Load(ctx, &LoadOptions{Policy: pol, DataDir: data})
			var le *LoadError
			if !errors.As(err, &le) || le.Column != tc.column || le.Row != tc.row || !strings.Contains(le.Reason, tc.reason) {
				t.Fatalf("Load = %v; want %s row %d refused (%s)", err, tc.column, tc.row, tc.reason)
			}
			if _, err := os.Stat(ExtractsPath(data)); err == nil {
				t.Fatal("the refused load wrote extracts")
			}
		})
	}
}
