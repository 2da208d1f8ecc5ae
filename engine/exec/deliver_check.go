package exec

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/statgate/statgate/policies"
)

// stage reads one delivered file into the table named stage and checks
// it: the columns Load checks, their storage types those of the dataset
// (cols), and every row (rowCheck).
func (d *delivery) stage(ctx context.Context, src, stage string, cols []ColumnInfo) (DatasetLoad, error) {
	start := time.Now()
	fail := func(column, reason string, err error) (DatasetLoad, error) {
		return DatasetLoad{}, &LoadError{Dataset: d.ds.Name, Source: src, Column: column, Reason: reason, Err: err}
	}
	_, format, reason, err := sourceFile(src)
	if reason != "" {
		return fail("", reason, err)
	}
	d.p.printf("deliver %s: reading %s", d.ds.Name, src)
	var lerr *LoadError
	if format == formatParquet {
		lerr = stageParquet(ctx, d.conn, d.ds, src, stage, d.p)
	} else {
		lerr = stageCSV(ctx, d.conn, d.ds, src, stage, d.p)
	}
	if lerr != nil {
		lerr.Dataset, lerr.Source = d.ds.Name, src
		return DatasetLoad{}, lerr
	}
	staged, err := d.stagedColumns(ctx, stage)
	if err != nil {
		return DatasetLoad{}, err
	}
	for _, c := range cols {
		t, ok := staged[c.Name]
		if !ok {
			return fail(c.Name, "missing", nil)
		}
		if t != c.DuckType {
			return fail(c.Name, fmt.Sprintf("read as %s, the dataset holds %s", t, c.DuckType), nil)
		}
	}
	rows, lerr := d.checkRows(ctx, stage, format)
	if lerr != nil {
		lerr.Dataset, lerr.Source = d.ds.Name, src
		return DatasetLoad{}, lerr
	}
	return DatasetLoad{Name: d.ds.Name, Source: src, Format: format, Rows: rows, Elapsed: time.Since(start)}, nil
}

// stagedColumns are a staging table's column types by name.
func (d *delivery) stagedColumns(ctx context.Context, stage string) (map[string]string, error) {
	rows, err := d.conn.QueryContext(ctx, "DESCRIBE "+stage)
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
	out := map[string]string{}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		n, _ := vals[0].(string)
		t, _ := vals[1].(string)
		out[n] = t
	}
	return out, rows.Err()
}

// rowCheck is one condition no delivered row may meet.
type rowCheck struct {
	column, bad, reason string
}

// rowChecks are the conditions a delivered row must not meet: no person
// key, then domainChecks and dateChecks.
func (d *delivery) rowChecks() []rowCheck {
	ds := d.ds
	checks := []rowCheck{{ds.PersonKey, quoteIdent(ds.PersonKey) + " IS NULL", "no person key (NULL)"}}
	checks = append(checks, domainChecks(ds)...)
	return append(checks, dateChecks(ds, d.opts.Through)...)
}

// domainChecks are the conditions no loaded or delivered row may meet: a
// value outside its column's declared public domain, or whose first n
// characters are outside the column's prefix domain for n. Queries drop
// such rows from every group (a key outside its domain forms no group),
// so a file holding them would be answered as if they were not there;
// load and deliver refuse it instead, naming the row.
func domainChecks(ds *policies.Dataset) []rowCheck {
	var checks []rowCheck
	for _, c := range ds.Columns {
		col := quoteIdent(c.Name)
		if c.Domain != nil {
			if bad, ok := outside(col, c.Domain); ok {
				checks = append(checks, rowCheck{c.Name, bad, "a value outside the declared domain" + domainName(c.Domain)})
			}
		}
		for n, dom := range c.PrefixDomains {
			if bad, ok := outside("left("+col+", "+strconv.Itoa(n)+")", dom); ok {
				checks = append(checks, rowCheck{c.Name, bad, fmt.Sprintf("its first %d characters are outside the declared domain%s", n, domainName(dom))})
			}
		}
	}
	return checks
}

// dateChecks are the conditions no loaded or delivered row may meet: a
// date outside its column's public years, or (when through is not zero)
// after the declared end of the period the file covers. Load and Deliver
// both apply them, so that "data up to" never claims a month the yearly
// answers leave out, nor one the rows go past.
func dateChecks(ds *policies.Dataset, through time.Time) []rowCheck {
	var checks []rowCheck
	for _, c := range ds.Columns {
		if c.Type != policies.TypeDate {
			continue
		}
		col := quoteIdent(c.Name)
		if c.Years != nil {
			checks = append(checks, rowCheck{c.Name, fmt.Sprintf("%s IS NOT NULL AND year(%s) NOT BETWEEN %d AND %d", col, col, c.Years[0], c.Years[1]),
				fmt.Sprintf("a date outside the column's public years %d–%d (extend them in the policy to deliver it)", c.Years[0], c.Years[1])})
		}
		if !through.IsZero() {
			checks = append(checks, rowCheck{c.Name, col + " > DATE " + quoteString(through.Format(time.DateOnly)),
				"a date after the declared end " + through.Format(time.DateOnly)})
		}
	}
	return checks
}

// checkThrough refuses a declared period end past the public years of
// one of the dataset's date columns: answers would claim data up to a
// month no yearly answer includes.
func checkThrough(ds *policies.Dataset, through time.Time) error {
	if through.IsZero() {
		return nil
	}
	for _, c := range ds.Columns {
		if c.Type == policies.TypeDate && c.Years != nil && through.Year() > c.Years[1] {
			return fmt.Errorf("%s's declared end %s is after %s.%s's public years %d–%d; extend the column's years in the policy first, so that yearly answers include the new data",
				ds.Name, through.Format(time.DateOnly), ds.Name, c.Name, c.Years[0], c.Years[1])
		}
	}
	return nil
}

// outside is the condition that col (not NULL) lies outside dom.
func outside(col string, dom *policies.Domain) (string, bool) {
	switch {
	case dom.Range != nil:
		return fmt.Sprintf("%s IS NOT NULL AND %s NOT BETWEEN %d AND %d", col, col, dom.Range[0], dom.Range[1]), true
	case len(dom.Values) > 0:
		q := make([]string, len(dom.Values))
		for i, v := range dom.Values {
			q[i] = quoteString(v)
		}
		return col + " IS NOT NULL AND " + col + "::VARCHAR NOT IN (" + strings.Join(q, ", ") + ")", true
	}
	return "", false
}

func domainName(dom *policies.Domain) string {
	if dom.CodeList != "" {
		return " (code list " + dom.CodeList + ")"
	}
	return ""
}

// checkRows counts the staged rows and finds the first that breaks a
// rowCheck, or repeats a person in a one-row-per-person dataset. Rows are
// numbered from 1 in file order (the staging table keeps it).
func (d *delivery) checkRows(ctx context.Context, stage, format string) (int64, *LoadError) {
	rows, lerr := firstBadRow(ctx, d.conn, stage, format, d.rowChecks())
	if lerr != nil {
		return 0, lerr
	}
	if d.ds.OneRowPerPerson {
		pk := quoteIdent(d.ds.PersonKey)
		var dup *int64
		var n int64
		err := d.conn.QueryRowContext(ctx, "SELECT min(rowid), count(*) FROM (SELECT rowid, row_number() OVER (PARTITION BY "+pk+" ORDER BY rowid) AS k FROM "+stage+") WHERE k > 1").Scan(&dup, &n)
		if err != nil {
			return 0, &LoadError{Reason: "cannot check the person key: " + firstLine(err), Err: err}
		}
		if dup != nil {
			return 0, rowError(d.ds.PersonKey, *dup+1, format, fmt.Sprintf("repeats a person of an earlier row (%s in this file), policy says one_row_per_person", count(n, "row", "rows")))
		}
	}
	return rows, nil
}

// firstBadRow counts the rows of a staging table and refuses the first
// (in file order) that meets one of checks, naming its column and how
// many rows of the file meet the same check.
func firstBadRow(ctx context.Context, conn queryer, stage, format string, checks []rowCheck) (int64, *LoadError) {
	sel := []string{"count(*)"}
	for _, c := range checks {
		sel = append(sel, "min(rowid) FILTER (WHERE "+c.bad+")", "count(*) FILTER (WHERE "+c.bad+")")
	}
	vals := make([]any, len(sel))
	var rows int64
	first := make([]*int64, len(checks))
	counts := make([]int64, len(checks))
	vals[0] = &rows
	for i := range checks {
		vals[1+2*i], vals[2+2*i] = &first[i], &counts[i]
	}
	if err := conn.QueryRowContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+stage).Scan(vals...); err != nil {
		return 0, &LoadError{Reason: "cannot check the rows: " + firstLine(err), Err: err}
	}
	best := -1
	for i := range checks {
		if first[i] != nil && (best < 0 || *first[i] < *first[best]) {
			best = i
		}
	}
	if best >= 0 {
		c := checks[best]
		return 0, rowError(c.column, *first[best]+1, format, fmt.Sprintf("%s (%s in this file)", c.reason, count(counts[best], "row", "rows")))
	}
	return rows, nil
}

// checkAcross refuses a one-row-per-person delivery whose files (b after
// a) deliver the same person twice.
func (d *delivery) checkAcross(ctx context.Context, a, aFile, b, bFile string) error {
	if !d.ds.OneRowPerPerson {
		return nil
	}
	pk := quoteIdent(d.ds.PersonKey)
	var dup *int64
	err := d.conn.QueryRowContext(ctx, "SELECT min(b.rowid) FROM "+b+" b SEMI JOIN "+a+" a ON a."+pk+" = b."+pk).Scan(&dup)
	if err != nil {
		return err
	}
	if dup != nil {
		format, _ := formatOf(bFile)
		le := rowError(d.ds.PersonKey, *dup+1, format, "a person "+filepath.Base(aFile)+" delivers too, policy says one_row_per_person")
		le.Dataset, le.Source = d.ds.Name, bFile
		return le
	}
	return nil
}

// rowError is a LoadError at a row of a file (for CSV, also its line).
func rowError(column string, row int64, format, reason string) *LoadError {
	if format == formatCSV {
		reason = fmt.Sprintf("line %d: %s", row+1, reason)
	}
	return &LoadError{Column: column, Row: row, Reason: reason}
}

// lockName is the lock file of a data directory's extracts.
const lockName = ".extracts.lock"

// lockData takes the data directory's extracts lock (blocking), so that
// loads and deliveries of it run one at a time.
func lockData(dataDir string) (func(), error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dataDir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// counterName is the file holding the last version counter written.
const counterName = "extracts.version"

// readCounter returns the last version counter written in dataDir (0
// when none).
func readCounter(dataDir string) (int64, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, counterName))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", counterName, err)
	}
	return n, nil
}

// writeCounter records n as the last version counter of dataDir.
func writeCounter(dataDir string, n int64) error {
	path := filepath.Join(dataDir, counterName)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(n, 10)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
