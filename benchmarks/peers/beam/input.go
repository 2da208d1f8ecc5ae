package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// Column names the peer looks for in the CSV header (case-insensitive).
const (
	colPID    = "pid"
	colICD3   = "icd3"
	colICD10  = "icd10"
	colLOS    = "length_of_stay_days"
	icd3Chars = 3
)

// rowsIn counts the data rows parsed from the input.
var rowsIn = beam.NewCounter(metricsNamespace, "rows_in")

// layout says where the columns the pipeline needs are in a CSV line.
type layout struct {
	// Header is the header line as read, so the parser can skip it.
	Header string
	// Columns is the number of fields in a line.
	Columns int
	// PID, Key and LOS are zero-based field indexes.
	PID, Key, LOS int
	// KeyIsICD10 is true when the key column holds full ICD-10 codes and
	// the group is their first three characters (substr(icd10, 1, 3)).
	KeyIsICD10 bool
}

// readLayout reads the header line of the CSV file at path and finds the
// columns pid, length_of_stay_days and either icd3 or icd10. Other
// columns are allowed and ignored.
func readLayout(ctx context.Context, path string) (layout, error) {
	if err := ctx.Err(); err != nil {
		return layout{}, fmt.Errorf("readLayout: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return layout{}, fmt.Errorf("readLayout: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return layout{}, fmt.Errorf("readLayout: %s: %w", path, err)
		}
		return layout{}, fmt.Errorf("readLayout: %s: empty file, want a CSV header line", path)
	}
	l, err := parseHeader(sc.Text())
	if err != nil {
		return layout{}, fmt.Errorf("readLayout: %s: %w", path, err)
	}
	return l, nil
}

// parseHeader builds a layout from a CSV header line.
func parseHeader(line string) (layout, error) {
	line = strings.TrimRight(line, "\r")
	fields, err := splitCSV(line)
	if err != nil {
		return layout{}, fmt.Errorf("header: %w", err)
	}
	l := layout{Header: line, Columns: len(fields), PID: -1, Key: -1, LOS: -1}
	icd3, icd10 := -1, -1
	for i, f := range fields {
		switch strings.ToLower(strings.TrimSpace(f)) {
		case colPID:
			l.PID = i
		case colICD3:
			icd3 = i
		case colICD10:
			icd10 = i
		case colLOS:
			l.LOS = i
		}
	}
	switch {
	case icd3 >= 0:
		l.Key = icd3
	case icd10 >= 0:
		l.Key, l.KeyIsICD10 = icd10, true
	}
	var missing []string
	if l.PID < 0 {
		missing = append(missing, colPID)
	}
	if l.Key < 0 {
		missing = append(missing, colICD3+" or "+colICD10)
	}
	if l.LOS < 0 {
		missing = append(missing, colLOS)
	}
	if len(missing) > 0 {
		return layout{}, fmt.Errorf("header lacks column(s) %s", strings.Join(missing, ", "))
	}
	return l, nil
}

// splitCSV splits one CSV line. Lines without a double quote (all of a
// DuckDB export of these columns, in practice) take a fast path.
func splitCSV(line string) ([]string, error) {
	if !strings.Contains(line, `"`) {
		return strings.Split(line, ","), nil
	}
	r := csv.NewReader(strings.NewReader(line))
	r.FieldsPerRecord = -1
	fields, err := r.Read()
	if err != nil {
		return nil, err
	}
	return fields, nil
}

// stay is one row's group key and length of stay, the input of the mean.
type stay struct {
	Key string
	LOS float64
}

// errMalformed marks an input line the parser cannot read.
var errMalformed = errors.New("malformed input line")

// parsed is one data line, as the pipeline needs it.
type parsed struct {
	pid    int64
	key    string
	los    float64
	hasLOS bool
}

// parseLine reads one data line with layout l. An empty length of stay
// (DuckDB writes NULL as an empty field) gives hasLOS = false: the row
// counts for persons and rows but not for the mean, as in SQL.
func (l layout) parseLine(line string) (parsed, error) {
	fields, err := splitCSV(line)
	if err != nil {
		return parsed{}, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if len(fields) != l.Columns {
		return parsed{}, fmt.Errorf("%w: %d fields, header has %d", errMalformed, len(fields), l.Columns)
	}
	var p parsed
	p.pid, err = strconv.ParseInt(fields[l.PID], 10, 64)
	if err != nil {
		return parsed{}, fmt.Errorf("%w: column %s is not an integer", errMalformed, colPID)
	}
	p.key = fields[l.Key]
	if l.KeyIsICD10 {
		p.key = firstChars(p.key, icd3Chars)
	}
	if s := fields[l.LOS]; s != "" {
		p.los, err = strconv.ParseFloat(s, 64)
		if err != nil {
			return parsed{}, fmt.Errorf("%w: column %s is not a number", errMalformed, colLOS)
		}
		p.hasLOS = true
	}
	return p, nil
}

// firstChars returns the first n characters of s, like SQL substr(s, 1, n).
func firstChars(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// parseFn turns CSV lines into the two keyed inputs of the pipeline:
// (pid, key) for the person and row counts and (pid, stay) for the mean.
// It skips the header line and empty lines and fails the pipeline on a
// malformed line rather than dropping it silently.
type parseFn struct {
	Layout layout
}

// ProcessElement parses one line.
func (fn *parseFn) ProcessElement(ctx context.Context, line string, emitKey func(int64, string), emitStay func(int64, stay)) error {
	line = strings.TrimRight(line, "\r")
	if line == "" || line == fn.Layout.Header {
		return nil
	}
	p, err := fn.Layout.parseLine(line)
	if err != nil {
		// The line itself is not echoed: it holds a person's data.
		return fmt.Errorf("parseFn: %w", err)
	}
	rowsIn.Inc(ctx, 1)
	emitKey(p.pid, p.key)
	if p.hasLOS {
		emitStay(p.pid, stay{Key: p.key, LOS: p.los})
	}
	return nil
}
