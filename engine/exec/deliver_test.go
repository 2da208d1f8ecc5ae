package exec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/statgate/statgate/policies"
)

// deliverFixture loads the fixture (300 npr contacts, 100 persons) into a
// data directory, with public domains on sex and icd10's first letter.
func deliverFixture(t *testing.T) (dir, data string, pol *policies.Policy) {
	t.Helper()
	dir, pol = fixture(t, ".parquet")
	for _, c := range pol.Datasets["population"].Columns {
		if c.Name == "sex" {
			c.Domain = &policies.Domain{Values: []string{"F", "M"}}
		}
	}
	for _, c := range pol.Datasets["npr"].Columns {
		if c.Name == "icd10" {
			c.PrefixDomains = map[int]*policies.Domain{1: {Values: []string{"E", "I"}, CodeList: "letters"}}
		}
	}
	data = filepath.Join(dir, "data")
	if _, err := Load(context.Background(), &LoadOptions{Policy: pol, DataDir: data}); err != nil {
		t.Fatal(err)
	}
	for _, c := range pol.Datasets["npr"].Columns {
		if c.Name == "contact_date" {
			c.Years = &[2]int{2010, 2026} // deliveries' dates must lie in them
		}
	}
	return dir, data, pol
}

// recomputed fingerprints the extracts by reading every row of every
// dataset (what a base file with those tables would give), to check what
// a version file stores.
func recomputed(t *testing.T, db *DB) string {
	t.Helper()
	ctx := context.Background()
	rows, err := db.TableRows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sums []datasetSum
	for name := range rows {
		cols, err := db.Columns(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		s := datasetSum{name: name, columns: cols}
		if s.rows, s.hashSum, err = tableSum(ctx, db.sql, quoteIdent(name), cols); err != nil {
			t.Fatal(err)
		}
		if s.rows != rows[name] {
			t.Errorf("%s: stored %d rows, the view has %d", name, rows[name], s.rows)
		}
		sums = append(sums, s)
	}
	return sumsFingerprint(sums)
}

// TestDeliverAppendsAndUpserts: an npr delivery adds its rows without
// copying the old ones (a new part beside the base), a population delivery
// replaces the delivered persons' rows and adds the new persons; each is a
// new version, with a counter, a fingerprint that is the recomputed one,
// and the last delivery time and declared period per dataset.
func TestDeliverAppendsAndUpserts(t *testing.T) {
	dir, data, pol := deliverFixture(t)
	ctx := context.Background()
	fp0 := fingerprintOf(t, data)

	npr := filepath.Join(dir, "npr-2026-11.parquet")
	copyTo(t, `SELECT range % 100 + 1 AS pid, DATE '2026-11-01' + (range % 30)::INTEGER AS contact_date,
		'I2' || (range % 10)::VARCHAR AS icd10, 2.5 AS length_of_stay_days FROM range(50)`, npr)
	through := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	rep, err := Deliver(ctx, &DeliverOptions{Policy: pol, DataDir: data, Dataset: "npr", Files: []string{npr}, Through: through, Principal: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mode != ModeAppend || rep.Rows != 50 || rep.Version != 2 {
		t.Fatalf("report %+v, want an append of 50 rows as version 2", rep)
	}
	db := openExtracts(t, data)
	if got := queryRow(t, db, "SELECT count(*), count(*) FILTER (WHERE icd10 LIKE 'I%'), sum(length_of_stay_days) FILTER (WHERE contact_date >= DATE '2026-11-01') FROM npr"); got[0] != int64(350) || got[1] != int64(50) || got[2] != 125.0 {
		t.Fatalf("npr after the delivery: %v, want 350 rows, 50 new with 2.5 days each", got)
	}
	fp1, err := db.Fingerprint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fp1 == fp0 || fp1 != rep.VersionFingerprint || fp1 != recomputed(t, db) {
		t.Fatalf("fingerprint %s: want new (not %s), the report's %s and the recomputed %s", fp1, fp0, rep.VersionFingerprint, recomputed(t, db))
	}
	info, err := db.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Counter != 2 || !info.Datasets["npr"].Through.Equal(through) || !info.Datasets["npr"].LastDelivery.Equal(rep.Delivered.Truncate(time.Microsecond)) {
		t.Errorf("version %+v, want counter 2, npr through %s delivered %s", info, through, rep.Delivered)
	}
	if !info.Datasets["population"].Through.IsZero() || !info.Datasets["population"].LastDelivery.Before(rep.Delivered) {
		t.Errorf("population %+v: should keep its load's time and no declared period", info.Datasets["population"])
	}
	db.Close()

	// Upsert: person 1 moves to another birth year, person 500 is new.
	pop := filepath.Join(dir, "population-update.csv")
	copyTo(t, `SELECT * FROM (VALUES (1, 1999, 'M', NULL::DATE), (500, 2001, 'F', NULL::DATE)) t(pid, birth_year, sex, death_date)`, pop)
	rep, err = Deliver(ctx, &DeliverOptions{Policy: pol, DataDir: data, Dataset: "population", Files: []string{pop}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mode != ModeUpsert || rep.Rows != 2 || rep.Replaced != 1 || rep.Version != 3 {
		t.Fatalf("report %+v, want an upsert of 2 rows, 1 replaced, version 3", rep)
	}
	db = openExtracts(t, data)
	if got := queryRow(t, db, "SELECT count(*), max(birth_year) FILTER (WHERE pid = 1), count(*) FILTER (WHERE pid = 1), count(*) FILTER (WHERE pid = 500) FROM population"); got[0] != int64(101) || got[1] != int64(1999) || got[2] != int64(1) || got[3] != int64(1) {
		t.Fatalf("population after the upsert: %v, want 101 persons, person 1 born 1999 once, person 500 once", got)
	}
	if got := queryRow(t, db, "SELECT count(*) FROM npr"); got[0] != int64(350) {
		t.Errorf("npr after the population delivery: %v rows, want 350", got[0])
	}
	if fp, _ := db.Fingerprint(ctx); fp != recomputed(t, db) || fp != rep.VersionFingerprint {
		t.Errorf("fingerprint %s, want the recomputed %s", fp, recomputed(t, db))
	}
	// The version file is read-only and locked down like a base file.
	for _, q := range []string{"SELECT * FROM read_parquet(" + quoteString(npr) + ")", "ATTACH " + quoteString(filepath.Join(dir, "x.duckdb")) + " AS x", "CREATE TABLE t AS SELECT 1"} {
		if rr, err := db.QueryArrow(ctx, q); err == nil {
			rr.Release()
			t.Errorf("%q ran on a version file", q)
		}
	}
	db.Close()

	// A load after deliveries starts again from the sources.
	if _, err := Load(ctx, &LoadOptions{Policy: pol, DataDir: data}); err != nil {
		t.Fatal(err)
	}
	db = openExtracts(t, data)
	if got := queryRow(t, db, "SELECT count(*) FROM npr"); got[0] != int64(300) {
		t.Errorf("npr after a new load: %v rows, want the sources' 300", got[0])
	}
	if info, _ := db.Version(ctx); info.Counter != 4 {
		t.Errorf("the load made version %d, want 4", info.Counter)
	}
}

// TestDeliverRefusesBadFiles: a bad file is refused with its file, row and
// column, nothing of the delivery stays, and the extracts are as they were.
func TestDeliverRefusesBadFiles(t *testing.T) {
	dir, data, pol := deliverFixture(t)
	ctx := context.Background()
	good := filepath.Join(dir, "good.parquet")
	copyTo(t, `SELECT range + 1 AS pid, DATE '2026-10-01' AS contact_date, 'E11' AS icd10, 1.0 AS length_of_stay_days FROM range(10)`, good)
	tests := []struct {
		name, dataset, query, file string
		through                    time.Time
		column                     string
		row                        int64
		reason                     string
	}{
		{"null person", "npr", `SELECT CASE WHEN range = 6 THEN NULL ELSE range END AS pid, DATE '2026-10-01' AS contact_date, 'E11' AS icd10, 1.0 AS length_of_stay_days FROM range(10)`, "npr-null.parquet", time.Time{}, "pid", 7, "no person key"},
		{"code outside its domain", "npr", `SELECT range AS pid, DATE '2026-10-01' AS contact_date, CASE WHEN range = 3 THEN 'Z99' ELSE 'E11' END AS icd10, 1.0 AS length_of_stay_days FROM range(10)`, "npr-code.csv", time.Time{}, "icd10", 4, "line 5: its first 1 characters are outside the declared domain (code list letters)"},
		{"date after the declared period", "npr", `SELECT range AS pid, DATE '2026-10-01' + range::INTEGER * 10 AS contact_date, 'E11' AS icd10, 1.0 AS length_of_stay_days FROM range(10)`, "npr-late.parquet", time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC), "contact_date", 5, "a date after the declared end 2026-10-31"},
		{"date outside the public years", "npr", `SELECT range AS pid, DATE '2026-12-25' + range::INTEGER * 2 AS contact_date, 'E11' AS icd10, 1.0 AS length_of_stay_days FROM range(10)`, "npr-next-year.parquet", time.Time{}, "contact_date", 5, "outside the column's public years 2010–2026"},
		{"wrong type", "npr", `SELECT range AS pid, DATE '2026-10-01' AS contact_date, 'E11' AS icd10, 'long' AS length_of_stay_days FROM range(10)`, "npr-type.parquet", time.Time{}, "length_of_stay_days", 0, "type VARCHAR"},
		{"missing column", "npr", `SELECT range AS pid, 'E11' AS icd10, 1.0 AS length_of_stay_days FROM range(10)`, "npr-missing.parquet", time.Time{}, "contact_date", 0, "missing"},
		{"category outside its domain", "population", `SELECT range + 1 AS pid, 1980 AS birth_year, CASE WHEN range = 1 THEN 'X' ELSE 'F' END AS sex, NULL::DATE AS death_date FROM range(3)`, "pop-sex.parquet", time.Time{}, "sex", 2, "outside the declared domain"},
		{"a person twice", "population", `SELECT CASE WHEN range = 4 THEN 2 ELSE range + 1 END AS pid, 1980 AS birth_year, 'F' AS sex, NULL::DATE AS death_date FROM range(6)`, "pop-dup.parquet", time.Time{}, "pid", 5, "repeats a person"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := fingerprintOf(t, data)
			partsBefore, _ := os.ReadDir(PartsDir(data))
			f := filepath.Join(dir, tc.file)
			copyTo(t, tc.query, f)
			files := []string{good, f}
			if tc.dataset != "npr" {
				files = []string{f}
			}
			_, err := Deliver(ctx, &DeliverOptions{Policy: pol, DataDir: data, Dataset: tc.dataset, Files: files, Through: tc.through})
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("Deliver = %v, want a *LoadError", err)
			}
			if le.Source != f || le.Column != tc.column || le.Row != tc.row || !strings.Contains(le.Reason, tc.reason) {
				t.Errorf("error %q: file %s column %s row %d; want %s, %s, row %d, %q", err, le.Source, le.Column, le.Row, f, tc.column, tc.row, tc.reason)
			}
			if after := fingerprintOf(t, data); after != before {
				t.Errorf("a refused delivery changed the extracts: %s, want %s", after, before)
			}
			if parts, _ := os.ReadDir(PartsDir(data)); len(parts) != len(partsBefore) {
				t.Errorf("a refused delivery left %d files in parts/, want %d", len(parts), len(partsBefore))
			}
		})
	}
	// The same person in two files of one population delivery.
	a, b := filepath.Join(dir, "pop-a.parquet"), filepath.Join(dir, "pop-b.parquet")
	copyTo(t, `SELECT range + 200 AS pid, 1980 AS birth_year, 'F' AS sex, NULL::DATE AS death_date FROM range(3)`, a)
	copyTo(t, `SELECT range + 202 AS pid, 1980 AS birth_year, 'F' AS sex, NULL::DATE AS death_date FROM range(3)`, b)
	_, err := Deliver(ctx, &DeliverOptions{Policy: pol, DataDir: data, Dataset: "population", Files: []string{a, b}})
	var le *LoadError
	if !errors.As(err, &le) || le.Source != b || le.Row != 1 || !strings.Contains(le.Reason, "pop-a.parquet delivers too") {
		t.Errorf("a person in two files: %v, want %s row 1 naming pop-a.parquet", err, b)
	}
	// A declared end past the public years: answers by year would leave
	// the new data out while saying they hold it.
	if _, err := Deliver(ctx, &DeliverOptions{Policy: pol, DataDir: data, Dataset: "npr", Files: []string{good}, Through: time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)}); err == nil || !strings.Contains(err.Error(), "public years 2010–2026") {
		t.Errorf("a delivery through 2027-01-31 = %v, want refused naming the public years", err)
	}
	if _, err := Deliver(ctx, &DeliverOptions{Policy: pol, DataDir: data, Dataset: "npr", Files: []string{good}}); err != nil {
		t.Errorf("the good file alone: %v", err)
	}
}

// TestDeliveriesKeepDeclaringTheirPeriod: once a dataset's deliveries
// declare the period they cover, each later one must too — else "data up
// to" would stay at the last declared month while later rows arrive. A
// late delivery for an earlier period declares its own end and the
// dataset keeps the latest.
func TestDeliveriesKeepDeclaringTheirPeriod(t *testing.T) {
	dir, data, pol := deliverFixture(t)
	ctx := context.Background()
	nov := filepath.Join(dir, "npr-nov.parquet")
	copyTo(t, `SELECT range + 1 AS pid, DATE '2026-11-03' AS contact_date, 'E11' AS icd10, 1.0 AS length_of_stay_days FROM range(10)`, nov)
	oct := filepath.Join(dir, "npr-oct.parquet")
	copyTo(t, `SELECT range + 1 AS pid, DATE '2026-10-03' AS contact_date, 'E11' AS icd10, 1.0 AS length_of_stay_days FROM range(10)`, oct)
	novEnd, octEnd := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)
	if _, err := Deliver(ctx, &DeliverOptions{Policy: pol, DataDir: data, Dataset: "npr", Files: []string{nov}, Through: novEnd}); err != nil {
		t.Fatal(err)
	}
	before := fingerprintOf(t, data)
	_, err := Deliver(ctx, &DeliverOptions{Policy: pol, DataDir: data, Dataset: "npr", Files: []string{oct}})
	if err == nil || !strings.Contains(err.Error(), "give --through for this one too") || !strings.Contains(err.Error(), "2026-11-30") {
		t.Fatalf("a delivery without --through after a declared one = %v; want refused naming the last declared end", err)
	}
	if after := fingerprintOf(t, data); after != before {
		t.Error("the refused delivery changed the extracts")
	}
	rep, err := Deliver(ctx, &DeliverOptions{Policy: pol, DataDir: data, Dataset: "npr", Files: []string{oct}, Through: octEnd})
	if err != nil {
		t.Fatal(err)
	}
	db := openExtracts(t, data)
	defer db.Close()
	info, err := db.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Counter != rep.Version || !info.Datasets["npr"].Through.Equal(novEnd) {
		t.Errorf("after a late October delivery npr is through %s (version %d); want the latest declared, %s", info.Datasets["npr"].Through, info.Counter, novEnd)
	}
	// population declared nothing: its deliveries need no --through.
	pop := filepath.Join(dir, "pop.parquet")
	copyTo(t, `SELECT 900 AS pid, 1990 AS birth_year, 'F' AS sex, NULL::DATE AS death_date`, pop)
	if _, err := Deliver(ctx, &DeliverOptions{Policy: pol, DataDir: data, Dataset: "population", Files: []string{pop}}); err != nil {
		t.Errorf("a population delivery without --through: %v", err)
	}
}
