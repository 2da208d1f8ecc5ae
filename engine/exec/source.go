package exec

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/statgate/statgate/policies"
)

// sourceInfo identifies a source file's version for the load record.
type sourceInfo struct {
	size  int64
	mtime time.Time
}

// Source file formats.
const (
	formatParquet = "parquet"
	formatCSV     = "csv"
)

// formatOf tells the format from the file name: .parquet, or .csv / .csv.gz
// (any compression DuckDB's read_csv recognises by extension).
func formatOf(path string) (string, bool) {
	lower := strings.ToLower(path)
	switch {
	case strings.HasSuffix(lower, ".parquet"):
		return formatParquet, true
	case strings.HasSuffix(lower, ".csv"), strings.HasSuffix(lower, ".csv.gz"), strings.HasSuffix(lower, ".csv.zst"):
		return formatCSV, true
	}
	return "", false
}

// fileColumn is a column of a source file as DuckDB reads it.
type fileColumn struct {
	name, duckType string
}

// sourceFile checks that src is a file statgate reads and returns its
// info and format; reason (with the error behind it, if any) says what is
// wrong with it otherwise.
func sourceFile(src string) (fi fs.FileInfo, format, reason string, err error) {
	fi, err = os.Stat(src)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, "", "file not found", err
	case err != nil:
		return nil, "", firstLine(err), err
	case fi.IsDir():
		return nil, "", "is a directory, not a file", nil
	}
	format, ok := formatOf(src)
	if !ok {
		return nil, "", "unsupported file type (use .parquet, .csv or .csv.gz)", nil
	}
	return fi, format, "", nil
}

// loadDataset reads one dataset's source into its staging table, checking
// it against the policy.
func loadDataset(ctx context.Context, conn *sql.Conn, ds *policies.Dataset, src string, through time.Time, p *progress) (DatasetLoad, sourceInfo, error) {
	start := time.Now()
	fail := func(column, reason string, err error) (DatasetLoad, sourceInfo, error) {
		return DatasetLoad{}, sourceInfo{}, &LoadError{Dataset: ds.Name, Source: src, Column: column, Reason: reason, Err: err}
	}
	fi, format, reason, err := sourceFile(src)
	if reason != "" {
		return fail("", reason, err)
	}
	p.printf("load %s: reading %s", ds.Name, src)

	stage := quoteIdent(stagePrefix + ds.Name)
	if _, err := conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+stage); err != nil {
		return DatasetLoad{}, sourceInfo{}, fmt.Errorf("exec.Load: %w", err)
	}
	var lerr *LoadError
	switch format {
	case formatParquet:
		lerr = stageParquet(ctx, conn, ds, src, stage, p)
	default:
		lerr = stageCSV(ctx, conn, ds, src, stage, p)
	}
	if lerr != nil {
		lerr.Dataset, lerr.Source = ds.Name, src
		return DatasetLoad{}, sourceInfo{}, lerr
	}
	rows, lerr := checkPersons(ctx, conn, ds, stage)
	if lerr == nil {
		if checks := append(domainChecks(ds), dateChecks(ds, through)...); len(checks) > 0 {
			_, lerr = firstBadRow(ctx, conn, stage, format, checks)
		}
	}
	if lerr != nil {
		lerr.Dataset, lerr.Source = ds.Name, src
		return DatasetLoad{}, sourceInfo{}, lerr
	}
	d := DatasetLoad{Name: ds.Name, Source: src, Format: format, Rows: rows, Elapsed: time.Since(start)}
	p.printf("load %s: %d rows in %.1fs", ds.Name, d.Rows, d.Elapsed.Seconds())
	return d, sourceInfo{size: fi.Size(), mtime: fi.ModTime().UTC()}, nil
}

// stageParquet checks a Parquet file's schema against the policy and
// copies the policy's columns into the staging table.
func stageParquet(ctx context.Context, conn *sql.Conn, ds *policies.Dataset, src, stage string, p *progress) *LoadError {
	scan := "read_parquet(" + quoteString(src) + ")"
	cols, err := describe(ctx, conn, scan)
	if err != nil {
		return &LoadError{Reason: "cannot read as Parquet: " + firstLine(err), Err: err}
	}
	var sel []string
	for _, c := range datasetColumns(ds) {
		fc, lerr := findColumn(cols, c.Name)
		if lerr != nil {
			return lerr
		}
		storage, ok := storageType(c.Type, fc.duckType)
		if !ok {
			return &LoadError{Column: c.Name, Reason: fmt.Sprintf("type %s, policy says %s", fc.duckType, c.Type)}
		}
		sel = append(sel, selectColumn(fc, storage, c.Name))
	}
	err = p.during(ds.Name, func() error {
		_, err := conn.ExecContext(ctx, "CREATE TABLE "+stage+" AS SELECT "+strings.Join(sel, ", ")+" FROM "+scan)
		return err
	})
	if err != nil {
		return &LoadError{Reason: "cannot load: " + firstLine(err), Err: err}
	}
	return nil
}

// stageCSV reads a CSV file with the column types the policy declares (a
// value that does not parse is an error, never a silent VARCHAR) into the
// staging table.
func stageCSV(ctx context.Context, conn *sql.Conn, ds *policies.Dataset, src, stage string, p *progress) *LoadError {
	cols, err := describe(ctx, conn, "read_csv("+quoteString(src)+", header = true)")
	if err != nil {
		return &LoadError{Reason: "cannot read as CSV: " + firstLine(err), Err: err}
	}
	// Every column gets a declared type: the policy's, or VARCHAR for the
	// ones dropped, so that nothing depends on the sniffer's sample.
	declared := make(map[string]string, len(cols))
	for _, fc := range cols {
		declared[fc.name] = "VARCHAR"
	}
	var sel []string
	var checks []csvCheck
	for _, c := range datasetColumns(ds) {
		fc, lerr := findColumn(cols, c.Name)
		if lerr != nil {
			return lerr
		}
		t, ok := csvType(c.Type, fc.duckType)
		if !ok {
			return &LoadError{Column: c.Name, Reason: fmt.Sprintf("policy type %q is not known", c.Type)}
		}
		declared[fc.name] = t
		checks = append(checks, csvCheck{file: fc.name, column: c.Name, duckType: t, policy: c.Type})
		sel = append(sel, quoteIdent(fc.name)+" AS "+quoteIdent(c.Name))
	}
	types := make([]string, 0, len(cols))
	for _, fc := range cols {
		types = append(types, quoteString(fc.name)+": "+quoteString(declared[fc.name]))
	}
	scan := "read_csv(" + quoteString(src) + ", header = true, types = {" + strings.Join(types, ", ") + "})"
	err = p.during(ds.Name, func() error {
		_, err := conn.ExecContext(ctx, "CREATE TABLE "+stage+" AS SELECT "+strings.Join(sel, ", ")+" FROM "+scan)
		return err
	})
	if err != nil {
		if lerr := diagnoseCSV(ctx, conn, src, checks); lerr != nil {
			lerr.Err = err
			return lerr
		}
		return &LoadError{Reason: "cannot load: " + firstLine(err), Err: err}
	}
	return nil
}

// csvCheck is one policy column read from a CSV file with a declared type.
type csvCheck struct {
	file, column, duckType string
	policy                 policies.ColumnType
}

// diagnoseCSV finds the first declared column with a value that does not
// parse as its type, reading the file as text. It names the column and
// the line, never the value. nil when it finds none.
func diagnoseCSV(ctx context.Context, conn *sql.Conn, src string, checks []csvCheck) *LoadError {
	const line = "__statgate_line"
	scan := "(SELECT *, row_number() OVER () + 1 AS " + line + " FROM read_csv(" + quoteString(src) + ", header = true, all_varchar = true))"
	for _, c := range checks {
		if c.duckType == "VARCHAR" {
			continue
		}
		bad := quoteIdent(c.file) + " IS NOT NULL AND TRY_CAST(" + quoteIdent(c.file) + " AS " + c.duckType + ") IS NULL"
		var n int64
		var first sql.NullInt64
		err := conn.QueryRowContext(ctx, "SELECT count(*) FILTER (WHERE "+bad+"), min("+line+") FILTER (WHERE "+bad+") FROM "+scan).Scan(&n, &first)
		if err != nil {
			return nil
		}
		if n > 0 {
			return &LoadError{Column: c.column, Reason: fmt.Sprintf("%s not %s (first on line %d), policy says %s",
				count(n, "value is", "values are"), c.duckType, first.Int64, c.policy)}
		}
	}
	return nil
}

// checkPersons counts the staged rows and checks the person key: never
// NULL, and unique when the dataset is one row per person.
func checkPersons(ctx context.Context, conn *sql.Conn, ds *policies.Dataset, stage string) (int64, *LoadError) {
	pk := quoteIdent(ds.PersonKey)
	distinct := "count(*)"
	if ds.OneRowPerPerson {
		distinct = "count(DISTINCT " + pk + ")"
	}
	var rows, nulls, persons int64
	err := conn.QueryRowContext(ctx, "SELECT count(*), count(*) FILTER (WHERE "+pk+" IS NULL), "+distinct+" FROM "+stage).Scan(&rows, &nulls, &persons)
	if err != nil {
		return 0, &LoadError{Reason: "cannot check the person key: " + firstLine(err), Err: err}
	}
	if nulls > 0 {
		return 0, &LoadError{Column: ds.PersonKey, Reason: count(nulls, "row has", "rows have") + " no person key (NULL)"}
	}
	if ds.OneRowPerPerson && persons != rows {
		return 0, &LoadError{Column: ds.PersonKey, Reason: count(rows-persons, "row repeats", "rows repeat") + " a person, policy says one_row_per_person"}
	}
	return rows, nil
}

// describe returns the columns a table function yields, without reading
// its data.
func describe(ctx context.Context, conn *sql.Conn, scan string) ([]fileColumn, error) {
	rows, err := conn.QueryContext(ctx, "DESCRIBE SELECT * FROM "+scan)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var cols []fileColumn
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		name, _ := vals[0].(string)
		typ, _ := vals[1].(string)
		cols = append(cols, fileColumn{name: name, duckType: typ})
	}
	return cols, rows.Err()
}

// datasetColumns are the columns to load: the policy's, plus the person
// key as an id column should the policy not list it.
func datasetColumns(ds *policies.Dataset) []*policies.Column {
	for _, c := range ds.Columns {
		if c.Name == ds.PersonKey {
			return ds.Columns
		}
	}
	return append([]*policies.Column{{Name: ds.PersonKey, Type: policies.TypeID}}, ds.Columns...)
}

// findColumn finds a policy column among a file's columns: by exact name,
// else by a unique case-insensitive match.
func findColumn(cols []fileColumn, name string) (fileColumn, *LoadError) {
	var folded []fileColumn
	for _, fc := range cols {
		if fc.name == name {
			return fc, nil
		}
		if strings.EqualFold(fc.name, name) {
			folded = append(folded, fc)
		}
	}
	if len(folded) == 1 {
		return folded[0], nil
	}
	have := make([]string, 0, len(cols))
	for _, fc := range cols {
		have = append(have, fc.name)
	}
	const show = 20
	list := strings.Join(have[:min(len(have), show)], ", ")
	if len(have) > show {
		list += fmt.Sprintf(", … (%d in all)", len(have))
	}
	return fileColumn{}, &LoadError{Column: name, Reason: "missing (the file has " + list + ")"}
}

// storageType is the type a column of file type duckType is stored as,
// when that is compatible with the policy type: id as BIGINT or VARCHAR,
// date as DATE, integer as BIGINT, number as DOUBLE, code, category and
// string as VARCHAR.
func storageType(t policies.ColumnType, duckType string) (string, bool) {
	switch t {
	case policies.TypeID:
		if isIntegerType(duckType) {
			return "BIGINT", true
		}
		return "VARCHAR", duckType == "VARCHAR"
	case policies.TypeDate:
		return "DATE", duckType == "DATE"
	case policies.TypeInteger:
		return "BIGINT", isIntegerType(duckType)
	case policies.TypeNumber:
		return "DOUBLE", isNumericType(duckType)
	case policies.TypeCode, policies.TypeCategory, policies.TypeString:
		return "VARCHAR", duckType == "VARCHAR"
	}
	return "", false
}

// csvType is the type a policy column is read as from CSV. An id column
// is BIGINT when DuckDB's sniffer found integers (sniffed), else VARCHAR.
func csvType(t policies.ColumnType, sniffed string) (string, bool) {
	switch t {
	case policies.TypeID:
		if isIntegerType(sniffed) {
			return "BIGINT", true
		}
		return "VARCHAR", true
	case policies.TypeDate:
		return "DATE", true
	case policies.TypeInteger:
		return "BIGINT", true
	case policies.TypeNumber:
		return "DOUBLE", true
	case policies.TypeCode, policies.TypeCategory, policies.TypeString:
		return "VARCHAR", true
	}
	return "", false
}

// selectColumn selects a file column as the policy's name, cast to its
// storage type when it differs.
func selectColumn(fc fileColumn, storage, name string) string {
	expr := quoteIdent(fc.name)
	if fc.duckType != storage {
		expr = "CAST(" + expr + " AS " + storage + ")"
	}
	return expr + " AS " + quoteIdent(name)
}

// count says "1 row has" or "3 rows have".
func count(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
