package utility

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" database/sql driver

	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/policies"
)

// Table is an exact answer: column names and rows of plain Go values as
// database/sql returns them from DuckDB.
type Table struct {
	Columns []string
	Rows    [][]any
}

// Exact is a plain, unrestricted in-memory DuckDB holding the generated
// Parquet files as tables named like the datasets: what the released
// numbers are compared with. It is not safe for concurrent use.
type Exact struct {
	db *sql.DB
}

// icd10ChapterMacro defines icd10_chapter(code), statgate's own function,
// for the exact answers: the ICD-10 (WHO 2019) chapter numeral of the
// code's first three characters, NULL for codes in no chapter.
const icd10ChapterMacro = `CREATE MACRO icd10_chapter(code) AS (
  CASE WHEN NOT regexp_full_match(upper(left(code, 3)), '[A-Z][0-9][0-9]') THEN NULL
       WHEN upper(left(code, 3)) BETWEEN 'A00' AND 'B99' THEN 'I'
       WHEN upper(left(code, 3)) BETWEEN 'C00' AND 'D48' THEN 'II'
       WHEN upper(left(code, 3)) BETWEEN 'D50' AND 'D89' THEN 'III'
       WHEN upper(left(code, 3)) BETWEEN 'E00' AND 'E90' THEN 'IV'
       WHEN upper(left(code, 3)) BETWEEN 'F00' AND 'F99' THEN 'V'
       WHEN upper(left(code, 3)) BETWEEN 'G00' AND 'G99' THEN 'VI'
       WHEN upper(left(code, 3)) BETWEEN 'H00' AND 'H59' THEN 'VII'
       WHEN upper(left(code, 3)) BETWEEN 'H60' AND 'H95' THEN 'VIII'
       WHEN upper(left(code, 3)) BETWEEN 'I00' AND 'I99' THEN 'IX'
       WHEN upper(left(code, 3)) BETWEEN 'J00' AND 'J99' THEN 'X'
       WHEN upper(left(code, 3)) BETWEEN 'K00' AND 'K99' THEN 'XI'
       WHEN upper(left(code, 3)) BETWEEN 'L00' AND 'L99' THEN 'XII'
       WHEN upper(left(code, 3)) BETWEEN 'M00' AND 'M99' THEN 'XIII'
       WHEN upper(left(code, 3)) BETWEEN 'N00' AND 'N99' THEN 'XIV'
       WHEN upper(left(code, 3)) BETWEEN 'O00' AND 'O99' THEN 'XV'
       WHEN upper(left(code, 3)) BETWEEN 'P00' AND 'P99' THEN 'XVI'
       WHEN upper(left(code, 3)) BETWEEN 'Q00' AND 'Q99' THEN 'XVII'
       WHEN upper(left(code, 3)) BETWEEN 'R00' AND 'R99' THEN 'XVIII'
       WHEN upper(left(code, 3)) BETWEEN 'S00' AND 'T99' THEN 'XIX'
       WHEN upper(left(code, 3)) BETWEEN 'V00' AND 'Y99' THEN 'XX'
       WHEN upper(left(code, 3)) BETWEEN 'Z00' AND 'Z99' THEN 'XXI'
       WHEN upper(left(code, 3)) BETWEEN 'U00' AND 'U99' THEN 'XXII'
  END)`

// OpenExact loads each of tables from dir/<table>.parquet into a fresh
// in-memory DuckDB.
func OpenExact(ctx context.Context, dir string, tables []string) (*Exact, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("utility.OpenExact: %w", err)
	}
	x := &Exact{db: db}
	stmts := []string{icd10ChapterMacro}
	for _, t := range tables {
		path := filepath.Join(dir, t+".parquet")
		stmts = append(stmts, fmt.Sprintf("CREATE TABLE %s AS SELECT * FROM read_parquet(%s)", quoteIdent(t), quoteString(path)))
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			db.Close()
			return nil, fmt.Errorf("utility.OpenExact: %w", err)
		}
	}
	return x, nil
}

// Close releases the database.
func (x *Exact) Close() error { return x.db.Close() }

// Query runs query and returns its whole answer.
func (x *Exact) Query(ctx context.Context, query string) (*Table, error) {
	rows, err := x.db.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("utility.Exact.Query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("utility.Exact.Query: %w", err)
	}
	t := &Table{Columns: cols}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("utility.Exact.Query: %w", err)
		}
		t.Rows = append(t.Rows, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("utility.Exact.Query: %w", err)
	}
	return t, nil
}

// ExactSQL returns the SQL of q's exact answer: q.Exact, or for a cohort
// CohortExactSQL of its spec.
func ExactSQL(q *Question, pol *policies.Policy) (string, error) {
	if q.Exact != "" || q.Cohort == nil {
		return q.Exact, nil
	}
	return CohortExactSQL(q.Cohort, pol)
}

// CohortExactSQL returns the exact answer of a cohort estimate as plain
// SQL: COUNT(DISTINCT pid) of the persons with a row meeting every include
// criterion and none meeting an exclude criterion (semi-joins on the person
// key), broken down by population columns or age_band (age at the end of
// 2024 in the engine's five bands). Every dataset's person key is pid; a
// criterion's from/to bound the dataset's date_column in pol. The result
// columns are the breakdown names and persons, like the engine's.
func CohortExactSQL(spec *engine.CohortSpec, pol *policies.Policy) (string, error) {
	if len(spec.Include) == 0 {
		return "", fmt.Errorf("utility: a cohort needs an include criterion")
	}
	criterion := func(cr engine.Criterion) (string, error) {
		d, ok := pol.Datasets[cr.Dataset]
		if !ok {
			return "", fmt.Errorf("utility: cohort criterion on unknown dataset %q", cr.Dataset)
		}
		cond := []string{"pid IS NOT NULL"}
		if strings.TrimSpace(cr.Where) != "" {
			cond = append(cond, "("+cr.Where+")")
		}
		if cr.From != "" || cr.To != "" {
			if d.DateColumn == "" {
				return "", fmt.Errorf("utility: dataset %q has no date_column for from/to", cr.Dataset)
			}
			if cr.From != "" {
				cond = append(cond, fmt.Sprintf("%s >= DATE %s", quoteIdent(d.DateColumn), quoteString(cr.From)))
			}
			if cr.To != "" {
				cond = append(cond, fmt.Sprintf("%s <= DATE %s", quoteIdent(d.DateColumn), quoteString(cr.To)))
			}
		}
		return fmt.Sprintf("SELECT pid FROM %s WHERE %s", quoteIdent(cr.Dataset), strings.Join(cond, " AND ")), nil
	}
	var where []string
	for _, cr := range spec.Include {
		s, err := criterion(cr)
		if err != nil {
			return "", err
		}
		where = append(where, "c.pid IN ("+s+")")
	}
	for _, cr := range spec.Exclude {
		s, err := criterion(cr)
		if err != nil {
			return "", err
		}
		where = append(where, "c.pid NOT IN ("+s+")")
	}
	if len(spec.Breakdown) == 0 {
		first, _ := criterion(spec.Include[0])
		return fmt.Sprintf("SELECT count(DISTINCT c.pid) AS persons FROM (%s) c WHERE %s", first, strings.Join(where, " AND ")), nil
	}
	var keys, groups []string
	for i, b := range spec.Breakdown {
		switch {
		case b == "age_band":
			keys = append(keys, ageBand2024("c.birth_year")+" AS age_band")
			where = append(where, "c.birth_year IS NOT NULL")
		case slices.Contains([]string{"sex", "municipality", "birth_year"}, b):
			keys = append(keys, "c."+quoteIdent(b)+" AS "+quoteIdent(b))
			where = append(where, "c."+quoteIdent(b)+" IS NOT NULL")
		default:
			return "", fmt.Errorf("utility: unknown cohort breakdown %q", b)
		}
		groups = append(groups, fmt.Sprint(i+1))
	}
	return fmt.Sprintf("SELECT %s, count(DISTINCT c.pid) AS persons FROM population c WHERE %s GROUP BY %s",
		strings.Join(keys, ", "), strings.Join(where, " AND "), strings.Join(groups, ", ")), nil
}

func quoteIdent(s string) string  { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
