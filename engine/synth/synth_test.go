package synth

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

// The distribution tests share one generated data set.
const (
	testPersons = 20000
	testSeed    = 1
)

var shared struct {
	once sync.Once
	dir  string
	sum  *Summary
	err  error
}

// sharedData generates the shared data set once per test binary run.
func sharedData(t *testing.T) (string, *Summary) {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "synth-test-")
		if shared.err != nil {
			return
		}
		shared.sum, shared.err = Generate(context.Background(), &Options{Persons: testPersons, Seed: testSeed, OutDir: shared.dir})
	})
	if shared.err != nil {
		t.Fatalf("generate shared data: %v", shared.err)
	}
	return shared.dir, shared.sum
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// openViews opens an in-memory DuckDB with one view per generated file in dir.
func openViews(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	for _, name := range Tables() {
		q := "CREATE VIEW " + name + " AS SELECT * FROM read_parquet(" + quote(filepath.Join(dir, name+".parquet")) + ")"
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// hashFiles returns the SHA-256 of every generated file in dir, by table.
func hashFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	for _, name := range Tables() {
		f, err := os.Open(filepath.Join(dir, name+".parquet"))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		sums[name] = hex.EncodeToString(h.Sum(nil))
	}
	return sums
}

func TestGenerateIsDeterministic(t *testing.T) {
	ctx := context.Background()
	gen := func(seed uint64, threads int) map[string]string {
		dir := t.TempDir()
		if _, err := Generate(ctx, &Options{Persons: 5000, Seed: seed, OutDir: dir, Threads: threads}); err != nil {
			t.Fatal(err)
		}
		return hashFiles(t, dir)
	}
	a := gen(3, 1)
	b := gen(3, 2)
	c := gen(4, 2)
	for _, name := range Tables() {
		t.Run(name, func(t *testing.T) {
			if a[name] != b[name] {
				t.Errorf("seed 3 gave different files with 1 and 2 threads: %s vs %s", a[name], b[name])
			}
			if a[name] == c[name] {
				t.Errorf("seeds 3 and 4 gave the same file %s", a[name])
			}
		})
	}
}

func TestGenerateRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		desc string
		opts *Options
	}{
		{"nil options", nil},
		{"no output directory", &Options{Persons: 10}},
		{"blank output directory", &Options{Persons: 10, OutDir: "  "}},
		{"negative persons", &Options{Persons: -1, OutDir: dir}},
		{"too many persons", &Options{Persons: MaxPersons + 1, OutDir: dir}},
		{"negative threads", &Options{Persons: 10, OutDir: dir, Threads: -2}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := Generate(context.Background(), tc.opts)
			if !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("got error %v, want ErrInvalidOptions", err)
			}
		})
	}
}

func TestGenerateCancelledWritesNothing(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	stages := 0
	_, err := Generate(ctx, &Options{Persons: 1000, OutDir: dir, Progress: func(string) {
		if stages++; stages == 3 {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("Generate succeeded after its context was cancelled")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("cancelled run left %d files in %s, want none", len(entries), dir)
	}
}

func TestGenerateSummary(t *testing.T) {
	dir, sum := sharedData(t)
	if sum.Persons != testPersons || sum.Seed != testSeed || sum.Duration <= 0 {
		t.Errorf("summary = %+v, want %d persons, seed %d and a duration", sum, testPersons, testSeed)
	}
	db := openViews(t, dir)
	if got := sum.Rows("population"); got != testPersons {
		t.Errorf("population rows = %d, want %d", got, testPersons)
	}
	for _, ts := range sum.Tables {
		t.Run(ts.Name, func(t *testing.T) {
			var n int64
			if err := db.QueryRow("SELECT count(*) FROM " + ts.Name).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != ts.Rows || n == 0 {
				t.Errorf("file has %d rows, summary says %d", n, ts.Rows)
			}
			fi, err := os.Stat(ts.Path)
			if err != nil || fi.Size() != ts.Bytes {
				t.Errorf("file size %v (err %v), summary says %d", fi, err, ts.Bytes)
			}
		})
	}
}

func TestSchema(t *testing.T) {
	dir, _ := sharedData(t)
	db := openViews(t, dir)
	want := map[string]string{
		"population":   "pid BIGINT, birth_year INTEGER, sex VARCHAR, municipality VARCHAR, death_date DATE",
		"npr":          "pid BIGINT, contact_date DATE, icd10 VARCHAR, contact_type VARCHAR, hospital VARCHAR, length_of_stay_days INTEGER",
		"lmr":          "pid BIGINT, dispensed_date DATE, atc VARCHAR, ddd DOUBLE, prescriber_type VARCHAR",
		"cancer":       "pid BIGINT, diagnosis_date DATE, icd10 VARCHAR, stage VARCHAR",
		"death_causes": "pid BIGINT, death_date DATE, underlying_cause VARCHAR",
	}
	for _, name := range Tables() {
		t.Run(name, func(t *testing.T) {
			rows, err := db.Query("SELECT column_name, column_type FROM (DESCRIBE " + name + ")")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var cols []string
			for rows.Next() {
				var c, typ string
				if err := rows.Scan(&c, &typ); err != nil {
					t.Fatal(err)
				}
				cols = append(cols, c+" "+typ)
			}
			if got := strings.Join(cols, ", "); got != want[name] {
				t.Errorf("columns\n got %s\nwant %s", got, want[name])
			}
		})
	}
}

// TestDistributions checks that the data answer analysts' questions the
// way the model says: each query returns one number that must lie in
// [lo, hi].
func TestDistributions(t *testing.T) {
	dir, _ := sharedData(t)
	db := openViews(t, dir)
	tests := []struct {
		desc   string
		query  string
		lo, hi float64
	}{
		{"about half are women",
			"SELECT avg((sex = 'F')::INT) FROM population", 0.45, 0.55},
		{"birth years within 1915-2024 and fewer old people",
			`SELECT count(*) FILTER (WHERE birth_year NOT BETWEEN 1915 AND 2024)
				+ CASE WHEN count(*) FILTER (WHERE birth_year < 1945) < count(*) FILTER (WHERE birth_year BETWEEN 1975 AND 2004) / 3 THEN 0 ELSE 1 END
			FROM population`, 0, 0},
		{"Oslo is the largest municipality",
			"SELECT (arg_max(municipality, n) = '0301')::INT FROM (SELECT municipality, count(*) n FROM population GROUP BY 1)", 1, 1},
		{"deaths lie in 2010-2024",
			"SELECT count(*) FROM population WHERE death_date NOT BETWEEN DATE '2010-01-01' AND DATE '2024-12-31' OR year(death_date) < birth_year", 0, 0},
		{"the old die more often than the young",
			`SELECT avg((death_date IS NOT NULL)::INT) FILTER (WHERE birth_year < 1940)
				/ avg((death_date IS NOT NULL)::INT) FILTER (WHERE birth_year BETWEEN 1970 AND 1990) FROM population`, 10, 1e9},
		{"C50 breast cancer is almost only women (share of cases)",
			"SELECT avg((p.sex = 'F')::INT) FROM cancer c JOIN population p USING (pid) WHERE c.icd10 = 'C50' HAVING count(*) >= 50", 0.99, 1},
		{"C61 prostate cancer is only men (share of cases)",
			"SELECT avg((p.sex = 'M')::INT) FROM cancer c JOIN population p USING (pid) WHERE c.icd10 = 'C61' HAVING count(*) >= 50", 1, 1},
		{"E11 diabetes is far commoner at 70+ than under 40 (ratio of prevalences)",
			`SELECT avg(e11::INT) FILTER (WHERE 2024 - birth_year >= 70) / avg(e11::INT) FILTER (WHERE 2024 - birth_year < 40)
			FROM (SELECT p.birth_year, p.pid IN (SELECT pid FROM npr WHERE icd10 LIKE 'E11%') AS e11 FROM population p)`, 10, 1e9},
		{"E11 prevalence overall is a few percent",
			"SELECT count(DISTINCT pid) / (SELECT count(*) FROM population) FROM npr WHERE icd10 LIKE 'E11%'", 0.03, 0.08},
		{"J45 asthma prevalence is higher under 20 than at 40-60",
			`SELECT avg(j45::INT) FILTER (WHERE 2024 - birth_year < 20) / avg(j45::INT) FILTER (WHERE 2024 - birth_year BETWEEN 40 AND 60)
			FROM (SELECT p.birth_year, p.pid IN (SELECT pid FROM npr WHERE icd10 LIKE 'J45%') AS j45 FROM population p)`, 1.2, 1e9},
		{"F32 depression is commoner in women",
			`SELECT count(DISTINCT pid) FILTER (WHERE sex = 'F') / count(DISTINCT pid) FILTER (WHERE sex = 'M')
			FROM npr JOIN population USING (pid) WHERE icd10 LIKE 'F32%'`, 1.4, 1e9},
		{"I21 infarction is commoner in men",
			`SELECT count(DISTINCT pid) FILTER (WHERE sex = 'M') / count(DISTINCT pid) FILTER (WHERE sex = 'F')
			FROM npr JOIN population USING (pid) WHERE icd10 LIKE 'I21%'`, 1.2, 1e9},
		{"metformin users mostly have E11 contacts (share of users)",
			`SELECT avg((pid IN (SELECT pid FROM npr WHERE icd10 LIKE 'E11%'))::INT)
			FROM (SELECT DISTINCT pid FROM lmr WHERE atc = 'A10BA02')`, 0.8, 1},
		{"most E11 patients are dispensed A10B drugs",
			`SELECT avg((pid IN (SELECT pid FROM lmr WHERE atc LIKE 'A10B%'))::INT)
			FROM (SELECT DISTINCT pid FROM npr WHERE icd10 LIKE 'E11%')`, 0.7, 1},
		{"chronic users get several dispensings a year (metformin per user-year)",
			`SELECT avg(n) FROM (SELECT pid, year(dispensed_date), count(*) n FROM lmr WHERE atc = 'A10BA02' GROUP BY ALL)`, 2.5, 8},
		{"cancer cases mostly have C-code contacts in npr",
			"SELECT avg((pid IN (SELECT pid FROM npr WHERE icd10 LIKE 'C%'))::INT) FROM cancer", 0.85, 1},
		{"stage IV cancer is followed by death more often than stage I",
			`SELECT avg((p.death_date IS NOT NULL)::INT) FILTER (WHERE c.stage = 'IV') / avg((p.death_date IS NOT NULL)::INT) FILTER (WHERE c.stage = 'I')
			FROM cancer c JOIN population p USING (pid)`, 2, 1e9},
		{"some persons have no contacts",
			"SELECT count(*) / (SELECT count(*) FROM population) FROM population WHERE pid NOT IN (SELECT pid FROM npr)", 0.2, 0.8},
		{"a few heavy users have many contacts",
			"SELECT max(n) FROM (SELECT pid, count(*) n FROM npr GROUP BY 1)", 30, 200},
		{"every npr, lmr, cancer and death_causes pid is in population",
			`SELECT (SELECT count(*) FROM npr WHERE pid NOT IN (SELECT pid FROM population))
				+ (SELECT count(*) FROM lmr WHERE pid NOT IN (SELECT pid FROM population))
				+ (SELECT count(*) FROM cancer WHERE pid NOT IN (SELECT pid FROM population))
				+ (SELECT count(*) FROM death_causes WHERE pid NOT IN (SELECT pid FROM population))`, 0, 0},
		{"death_causes matches population.death_date exactly",
			`SELECT count(*) FROM (SELECT pid, death_date FROM population WHERE death_date IS NOT NULL) p
			FULL JOIN death_causes d USING (pid)
			WHERE p.death_date IS DISTINCT FROM d.death_date`, 0, 0},
		{"death_causes has one row per person",
			"SELECT count(*) - count(DISTINCT pid) FROM death_causes", 0, 0},
		{"no contact, dispensing or diagnosis after death",
			`SELECT (SELECT count(*) FROM npr JOIN population p USING (pid) WHERE contact_date > p.death_date)
				+ (SELECT count(*) FROM lmr JOIN population p USING (pid) WHERE dispensed_date > p.death_date)
				+ (SELECT count(*) FROM cancer JOIN population p USING (pid) WHERE diagnosis_date > p.death_date)`, 0, 0},
		{"no contact, dispensing or diagnosis before birth",
			`SELECT (SELECT count(*) FROM npr JOIN population p USING (pid) WHERE year(contact_date) < p.birth_year)
				+ (SELECT count(*) FROM lmr JOIN population p USING (pid) WHERE year(dispensed_date) < p.birth_year)
				+ (SELECT count(*) FROM cancer JOIN population p USING (pid) WHERE year(diagnosis_date) < p.birth_year)`, 0, 0},
		{"all event dates lie in 2010-2024",
			`SELECT (SELECT count(*) FROM npr WHERE contact_date NOT BETWEEN DATE '2010-01-01' AND DATE '2024-12-31')
				+ (SELECT count(*) FROM lmr WHERE dispensed_date NOT BETWEEN DATE '2010-01-01' AND DATE '2024-12-31')
				+ (SELECT count(*) FROM cancer WHERE diagnosis_date NOT BETWEEN DATE '2010-01-01' AND DATE '2024-12-31')`, 0, 0},
		{"outpatient and day contacts have no length of stay",
			"SELECT count(*) FROM npr WHERE contact_type <> 'inpatient' AND length_of_stay_days <> 0", 0, 0},
		{"inpatient stays last at least a day",
			"SELECT min(length_of_stay_days) FROM npr WHERE contact_type = 'inpatient'", 1, 1},
		{"inpatient stays rarely pass 90 days (share)",
			"SELECT avg((length_of_stay_days > 90)::INT) FROM npr WHERE contact_type = 'inpatient'", 0, 0.005},
		{"ddd is never negative",
			"SELECT count(*) FROM lmr WHERE ddd < 0 OR ddd IS NULL", 0, 0},
		{"ddd is mostly 30-100 (share)",
			"SELECT avg((ddd BETWEEN 30 AND 100)::INT) FROM lmr", 0.5, 1},
		{"ddd above 365 is rare (share)",
			"SELECT avg((ddd > 365)::INT) FROM lmr", 0, 0.005},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			var got sql.NullFloat64
			if err := db.QueryRow(tc.query).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if !got.Valid || got.Float64 < tc.lo || got.Float64 > tc.hi {
				t.Errorf("got %v, want a value in [%g, %g]", got, tc.lo, tc.hi)
			}
		})
	}
}

// TestCodes checks every code column against its format and every
// category column against the domain the policy declares.
func TestCodes(t *testing.T) {
	dir, _ := sharedData(t)
	db := openViews(t, dir)
	domains := policyDomains(t)
	municipalities := map[string]bool{}
	for _, m := range Municipalities {
		municipalities[m.Code] = true
	}
	icd := regexp.MustCompile(`^[A-Z][0-9]{2}(\.[0-9])?$`)
	tests := []struct {
		desc, table, column string
		ok                  func(string) bool
	}{
		{"sex", "population", "sex", in(domains["population.sex"])},
		{"municipality in the code list", "population", "municipality", func(s string) bool { return municipalities[s] }},
		{"npr icd10 is three characters and an optional subcode", "npr", "icd10", icd.MatchString},
		{"contact type", "npr", "contact_type", in(domains["npr.contact_type"])},
		{"hospital", "npr", "hospital", in(domains["npr.hospital"])},
		{"atc is a seven-character ATC code", "lmr", "atc", regexp.MustCompile(`^[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}$`).MatchString},
		{"prescriber type", "lmr", "prescriber_type", in(domains["lmr.prescriber_type"])},
		{"cancer icd10 is a three-character C-code", "cancer", "icd10", regexp.MustCompile(`^C[0-9]{2}$`).MatchString},
		{"stage", "cancer", "stage", in(domains["cancer.stage"])},
		{"underlying cause is a three-character ICD-10 code", "death_causes", "underlying_cause", regexp.MustCompile(`^[A-Z][0-9]{2}$`).MatchString},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			rows, err := db.Query("SELECT DISTINCT " + tc.column + " FROM " + tc.table)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				var v sql.NullString
				if err := rows.Scan(&v); err != nil {
					t.Fatal(err)
				}
				if !v.Valid || !tc.ok(v.String) {
					t.Errorf("%s.%s has value %v", tc.table, tc.column, v)
				}
				n++
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Errorf("%s.%s has no values", tc.table, tc.column)
			}
		})
	}
}

func in(values []string) func(string) bool {
	return func(s string) bool {
		for _, v := range values {
			if v == s {
				return true
			}
		}
		return false
	}
}

// policyDomains reads the enumerated domains of category columns from the
// example policy, keyed "dataset.column".
func policyDomains(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "policies", "norway-synthetic.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Datasets map[string]struct {
			Columns map[string]struct {
				Domain yaml.Node `yaml:"domain"`
			} `yaml:"columns"`
		} `yaml:"datasets"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for ds, d := range doc.Datasets {
		for col, c := range d.Columns {
			var values []string
			if c.Domain.Kind == yaml.SequenceNode && c.Domain.Decode(&values) == nil {
				out[ds+"."+col] = values
			}
		}
	}
	for _, k := range []string{"population.sex", "npr.contact_type", "npr.hospital", "lmr.prescriber_type", "cancer.stage"} {
		if len(out[k]) == 0 {
			t.Fatalf("policy declares no domain for %s", k)
		}
	}
	return out
}

func TestHospitalsMatchPolicy(t *testing.T) {
	want := append([]string(nil), policyDomains(t)["npr.hospital"]...)
	got := append([]string(nil), hospitals...)
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("hospitals = %q, policy domain = %q", got, want)
	}
	for _, m := range Municipalities {
		if !in(hospitals)(homeHospital(m.Code)) {
			t.Errorf("municipality %s is served by unknown hospital %q", m.Code, homeHospital(m.Code))
		}
	}
}

// TestStreamsAreIndependent guards the double hash in the u() macros: with
// a single hash, two streams of the same person are strongly correlated.
func TestStreamsAreIndependent(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range setupSQL(42)[:3] {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		desc, a, b string
	}{
		{"two streams of one person", "u(1, i)", "u(2, i)"},
		{"one stream of neighbouring persons", "u(1, i)", "u(1, i + 1)"},
		{"two rows of one person", "u4(7, i, 3, 0)", "u4(7, i, 3, 1)"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			var corr, mean float64
			q := "SELECT corr(a, b), avg(a) FROM (SELECT " + tc.a + " AS a, " + tc.b + " AS b FROM range(200000) r(i))"
			if err := db.QueryRow(q).Scan(&corr, &mean); err != nil {
				t.Fatal(err)
			}
			// sd of a sample correlation of independent draws ≈ 1/sqrt(n) = 0.0022.
			if corr < -0.012 || corr > 0.012 {
				t.Errorf("correlation %g, want about 0", corr)
			}
			if mean < 0.495 || mean > 0.505 {
				t.Errorf("mean %g, want about 0.5", mean)
			}
		})
	}
}

func TestCumulative(t *testing.T) {
	tests := []struct {
		desc    string
		weights []float64
		want    []float64 // lower ends of the shares
	}{
		{"one value", []float64{2}, []float64{0}},
		{"quarter and three quarters", []float64{1, 3}, []float64{0, 0.25}},
		{"unnormalised", []float64{5, 5, 10}, []float64{0, 0.25, 0.5}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := cumulative(tc.weights)
			if len(got) != len(tc.want) {
				t.Fatalf("cumulative(%v) = %v, want %v", tc.weights, got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("cumulative(%v) = %v, want %v", tc.weights, got, tc.want)
				}
			}
		})
	}
}

func TestCaseChoice(t *testing.T) {
	tests := []struct {
		desc string
		cs   []choice
		want string
	}{
		{"single value needs no CASE", []choice{{"7", 1}}, "7"},
		{"two values", []choice{{"60", 1}, {"90", 3}}, "CASE WHEN x < 0.25::DOUBLE THEN 60 ELSE 90 END"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if got := caseChoice("x", tc.cs); got != tc.want {
				t.Errorf("caseChoice = %q, want %q", got, tc.want)
			}
		})
	}
}
