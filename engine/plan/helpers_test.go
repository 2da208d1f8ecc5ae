package plan

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/policies"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// checkGolden compares got, a plan as describe renders it, with
// testdata/name.golden, which -update rewrites first.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("plan differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}

// testPolicy mirrors the datasets of policies/norway-synthetic.yaml (with
// a short municipality list), built by hand so that these tests do not
// depend on the policy loader.
func testPolicy() *policies.Policy {
	letters := func(s string) []string { return strings.Split(s, "") }
	dom := func(v ...string) *policies.Domain { return &policies.Domain{Values: v} }
	years := &[2]int{2010, 2024}
	return &policies.Policy{Datasets: map[string]*policies.Dataset{
		"population": {
			Name: "population", PersonKey: "pid", OneRowPerPerson: true,
			MaxGroupsPerPerson: 1, MaxRowsPerPersonPerGroup: 1,
			Columns: []*policies.Column{
				{Name: "pid", Type: policies.TypeID},
				{Name: "birth_year", Type: policies.TypeInteger, Bounds: &[2]float64{1915, 2024}, Domain: &policies.Domain{Range: &[2]int{1915, 2024}}},
				{Name: "sex", Type: policies.TypeCategory, Domain: dom("M", "F")},
				{Name: "municipality", Type: policies.TypeCode, Domain: &policies.Domain{CodeList: "kommunenummer", Values: []string{"0301", "1103", "4601", "5001", "1804"}}},
				{Name: "death_date", Type: policies.TypeDate, Years: years},
			},
		},
		"npr": {
			Name: "npr", PersonKey: "pid", MaxGroupsPerPerson: 4, MaxRowsPerPersonPerGroup: 10,
			Columns: []*policies.Column{
				{Name: "pid", Type: policies.TypeID},
				{Name: "contact_date", Type: policies.TypeDate, Years: years},
				{Name: "icd10", Type: policies.TypeCode, CodeSystem: "ICD-10", PrefixDomains: map[int]*policies.Domain{1: {CodeList: "icd10_letter", Values: letters("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}}},
				{Name: "contact_type", Type: policies.TypeCategory, Domain: dom("inpatient", "outpatient", "day")},
				{Name: "hospital", Type: policies.TypeCategory, Domain: dom("Helse Bergen", "Helse Stavanger", "Oslo universitetssykehus", "St. Olavs hospital", "Universitetssykehuset Nord-Norge", "Sykehuset Innlandet", "Vestre Viken", "Sørlandet sykehus", "Akershus universitetssykehus", "Helse Møre og Romsdal")},
				{Name: "length_of_stay_days", Type: policies.TypeNumber, Bounds: &[2]float64{0, 90}},
			},
		},
		"lmr": {
			Name: "lmr", PersonKey: "pid", MaxGroupsPerPerson: 4, MaxRowsPerPersonPerGroup: 20,
			Columns: []*policies.Column{
				{Name: "pid", Type: policies.TypeID},
				{Name: "dispensed_date", Type: policies.TypeDate, Years: years},
				{Name: "atc", Type: policies.TypeCode, CodeSystem: "ATC", PrefixDomains: map[int]*policies.Domain{1: {CodeList: "atc_anatomical", Values: letters("ABCDGHJLMNPRSV")}}},
				{Name: "ddd", Type: policies.TypeNumber, Bounds: &[2]float64{0, 365}},
				{Name: "prescriber_type", Type: policies.TypeCategory, Domain: dom("gp", "specialist", "hospital", "dentist")},
			},
		},
		"cancer": {
			Name: "cancer", PersonKey: "pid", MaxGroupsPerPerson: 2, MaxRowsPerPersonPerGroup: 2,
			Columns: []*policies.Column{
				{Name: "pid", Type: policies.TypeID},
				{Name: "diagnosis_date", Type: policies.TypeDate, Years: years},
				{Name: "icd10", Type: policies.TypeCode, CodeSystem: "ICD-10"},
				{Name: "stage", Type: policies.TypeCategory, Domain: dom("I", "II", "III", "IV", "unknown")},
			},
		},
		"death_causes": {
			Name: "death_causes", PersonKey: "pid", OneRowPerPerson: true,
			MaxGroupsPerPerson: 1, MaxRowsPerPersonPerGroup: 1,
			Columns: []*policies.Column{
				{Name: "pid", Type: policies.TypeID},
				{Name: "death_date", Type: policies.TypeDate, Years: years},
				{Name: "underlying_cause", Type: policies.TypeCode, CodeSystem: "ICD-10", PrefixDomains: map[int]*policies.Domain{1: {CodeList: "icd10_letter", Values: letters("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}}},
			},
		},
	}}
}

// physicalTypes are the DuckDB column types the tests create per policy type.
var physicalTypes = map[policies.ColumnType]string{
	policies.TypeID: "BIGINT", policies.TypeDate: "DATE", policies.TypeCode: "VARCHAR",
	policies.TypeCategory: "VARCHAR", policies.TypeString: "VARCHAR",
	policies.TypeInteger: "INTEGER", policies.TypeNumber: "DOUBLE",
}

// createTableSQL is the CREATE TABLE of a policy dataset.
func createTableSQL(ds *policies.Dataset) string {
	cols := make([]string, len(ds.Columns))
	for i, c := range ds.Columns {
		cols[i] = quoteIdent(c.Name) + " " + physicalTypes[c.Type]
	}
	return fmt.Sprintf("CREATE TABLE %s (%s)", quoteIdent(ds.Name), strings.Join(cols, ", "))
}

// openDB opens an in-memory DuckDB with empty tables for every dataset of pol.
func openDB(t testing.TB, pol *policies.Policy) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, ds := range pol.Datasets {
		mustExec(t, db, createTableSQL(ds))
	}
	return db
}

func mustExec(t testing.TB, db *sql.DB, stmt string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), stmt, args...); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// queryRows runs stmt and returns its rows as maps from column name to value.
func queryRows(t testing.TB, db *sql.DB, stmt string) []map[string]any {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), stmt)
	if err != nil {
		t.Fatalf("%v\n%s", err, stmt)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		m := make(map[string]any, len(cols))
		for i, c := range cols {
			m[c] = vals[i]
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Model builders.

func ref(alias, dataset, column string, t query.Type) *query.ColumnRef {
	return &query.ColumnRef{Table: alias, Dataset: dataset, Column: column, Type: t}
}

func lit(v any) *query.Literal {
	t := query.TypeNull
	switch v.(type) {
	case int64:
		t = query.TypeInteger
	case float64:
		t = query.TypeNumber
	case string:
		t = query.TypeString
	case bool:
		t = query.TypeBool
	}
	return &query.Literal{Value: v, Type: t}
}

func dateLit(s string) *query.Literal { return &query.Literal{Value: s, Type: query.TypeDate} }

func call(name string, t query.Type, args ...query.Expr) *query.Func {
	return &query.Func{Name: name, Args: args, Type: t}
}

func cmp(l query.Expr, op string, r query.Expr) *query.Compare {
	return &query.Compare{Op: op, L: l, R: r}
}

func and(args ...query.Expr) *query.Logical { return &query.Logical{Op: "AND", Args: args} }

func from(pairs ...string) []query.TableRef {
	var out []query.TableRef
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, query.TableRef{Dataset: pairs[i], Alias: pairs[i+1]})
	}
	return out
}

func key(name string, e query.Expr) query.GroupKey { return query.GroupKey{Expr: e, Name: name} }

func countStar(name string) query.Aggregate {
	return query.Aggregate{Kind: query.AggCountStar, Name: name}
}

func countPersons(name string) query.Aggregate {
	return query.Aggregate{Kind: query.AggCountDistinct, Name: name}
}

func numAgg(kind query.AggKind, name string, arg query.Expr, lo, hi float64) query.Aggregate {
	a := query.Aggregate{Kind: kind, Name: name, Arg: arg, Bounds: [2]float64{lo, hi}}
	if kind == query.AggQuantile {
		a.P = 0.5
	}
	return a
}

// Column references of the test datasets.
var (
	nprPID     = ref("npr", "npr", "pid", query.TypeInteger)
	nprDate    = ref("npr", "npr", "contact_date", query.TypeDate)
	nprICD     = ref("npr", "npr", "icd10", query.TypeString)
	nprType    = ref("npr", "npr", "contact_type", query.TypeString)
	nprLOS     = ref("npr", "npr", "length_of_stay_days", query.TypeNumber)
	nprHosp    = ref("npr", "npr", "hospital", query.TypeString)
	nprYear    = call("year", query.TypeInteger, nprDate)
	popSex     = ref("population", "population", "sex", query.TypeString)
	popBirth   = ref("population", "population", "birth_year", query.TypeInteger)
	popDeath   = ref("population", "population", "death_date", query.TypeDate)
	lmrDate    = ref("lmr", "lmr", "dispensed_date", query.TypeDate)
	lmrATC     = ref("lmr", "lmr", "atc", query.TypeString)
	lmrDDD     = ref("lmr", "lmr", "ddd", query.TypeNumber)
	lmrPrescr  = ref("lmr", "lmr", "prescriber_type", query.TypeString)
	losBounded = func(kind query.AggKind, name string) query.Aggregate {
		return numAgg(kind, name, nprLOS, 0, 90)
	}
)
