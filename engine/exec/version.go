package exec

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// # Versions and parts
//
// `statgate load` writes a base file: every dataset as a table, plus the
// load record (loadTable). `statgate deliver` (Deliver) never rewrites it:
// it writes the delivered rows into a part file of their own under
// PartsDir, and a small version file that it renames over ExtractsPath.
// A version file holds no rows: it lists the part files (partsTable), and
// each dataset is a view, the UNION ALL of its parts' tables, so the
// generated plans read a dataset by its name as before. Its other tables
// (versionTable, datasetsTable, deliveriesTable) say which version it is,
// what each dataset holds (row count and row-hash sum, kept so that
// opening a version never scans the rows) and the delivery history.
//
// Opening a version file (Open) attaches its parts read-only before the
// lock-down: external access is on only while the parts are attached, on
// the first connection, and off (and locked) before any query runs, so a
// query can read the attached parts and nothing else on the disk.

// Tables of a version file.
const (
	versionTable    = internalPrefix + "version"
	partsTable      = internalPrefix + "parts"
	datasetsTable   = internalPrefix + "datasets"
	deliveriesTable = internalPrefix + "deliveries"
)

// PartsDir is the directory of a data directory that holds the part
// files of versions written by Deliver.
func PartsDir(dataDir string) string { return filepath.Join(dataDir, "parts") }

// part is one attached part file of a version.
type part struct {
	alias string
	// path is relative to the data directory (the version file's).
	path string
}

// aliasPattern is what a part alias may look like.
var aliasPattern = regexp.MustCompile(`^p[0-9]+$`)

// readParts returns the parts a database file lists, or none for a base
// file. It reads the file through an in-memory DuckDB instance that
// attaches it read-only, so that the DuckDB instance Open starts next for
// the file's path gets the configuration Open chooses (the driver shares
// one instance per path).
func readParts(ctx context.Context, path string) ([]part, error) {
	connector, err := duckdb.NewConnector(dsn("", map[string]string{
		"autoload_known_extensions":    "false",
		"autoinstall_known_extensions": "false",
		"allow_community_extensions":   "false",
	}), nil)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "ATTACH "+quoteString(path)+" AS peek (READ_ONLY)"); err != nil {
		return nil, err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DETACH peek")
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_tables() WHERE database_name = 'peek' AND schema_name = 'main' AND table_name = $1`, partsTable).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	rows, err := conn.QueryContext(ctx, "SELECT alias, path FROM peek."+quoteIdent(partsTable)+" ORDER BY alias")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var parts []part
	for rows.Next() {
		var p part
		if err := rows.Scan(&p.alias, &p.path); err != nil {
			return nil, err
		}
		if err := p.check(); err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, errors.New("a version file that lists no parts")
	}
	return parts, nil
}

// check refuses a part entry that is not one Deliver writes: an alias
// other than p<n>, or a path outside the parts directory.
func (p part) check() error {
	if !aliasPattern.MatchString(p.alias) {
		return fmt.Errorf("part alias %q is not p<n>", p.alias)
	}
	clean := filepath.Clean(p.path)
	if filepath.IsAbs(clean) || !strings.HasPrefix(clean, "parts"+string(filepath.Separator)) || strings.Contains(clean, "..") {
		return fmt.Errorf("part path %q is not under parts/", p.path)
	}
	return nil
}

// attachParts attaches a version file's parts, read-only, through the
// first connection of its instance (before the lock-down).
func attachParts(ctx context.Context, ex driver.ExecerContext, dir string, parts []part) error {
	for _, p := range parts {
		q := "ATTACH " + quoteString(filepath.Join(dir, p.path)) + " AS " + quoteIdent(p.alias) + " (READ_ONLY)"
		if _, err := ex.ExecContext(ctx, q, nil); err != nil {
			return fmt.Errorf("attach %s: %w", p.path, err)
		}
	}
	return nil
}

// DatasetVersion is what one version says of a dataset.
type DatasetVersion struct {
	// Rows is the exact row count. Never release it.
	Rows int64
	// LastDelivery is when its last load or delivery was written.
	LastDelivery time.Time
	// Through is the last day of the period its deliveries declared they
	// cover (the latest declared); zero when none declared one.
	Through time.Time
	// HashSum is the exact sum of its rows' DuckDB hashes (decimal), as
	// Load or Deliver recorded it; "" when not recorded. Equal Rows and
	// HashSum mean the same rows (what Fingerprint relies on too).
	HashSum string
}

// VersionInfo describes the extracts a DB holds.
type VersionInfo struct {
	// Counter numbers the versions of a data directory: every load and
	// every delivery makes the next (1, 2, …). 0 for a file written
	// before versions were counted.
	Counter int64
	// Created is when the version was written (the load's or the
	// delivery's time).
	Created time.Time
	// Datasets by name.
	Datasets map[string]DatasetVersion
}

// Version reads what the database says of its version: a version file's
// own record, or a base file's load record.
func (db *DB) Version(ctx context.Context) (*VersionInfo, error) {
	info, err := readVersion(ctx, db.sql, "", db.parts)
	if err != nil {
		return nil, fmt.Errorf("exec.Version: %w", err)
	}
	return info, nil
}

// readVersion reads the version of the database in catalog cat ("" for
// the current one); versioned says whether it is a version file.
func readVersion(ctx context.Context, q queryer, cat string, versioned bool) (*VersionInfo, error) {
	prefix := ""
	if cat != "" {
		prefix = quoteIdent(cat) + "."
	}
	info := &VersionInfo{Datasets: map[string]DatasetVersion{}}
	if versioned {
		if err := q.QueryRowContext(ctx, "SELECT counter, created_at FROM "+prefix+quoteIdent(versionTable)).Scan(&info.Counter, &info.Created); err != nil {
			return nil, err
		}
		rows, err := q.QueryContext(ctx, "SELECT dataset, row_count, last_delivery, through, hash_sum FROM "+prefix+quoteIdent(datasetsTable))
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var d DatasetVersion
			var through sql.NullTime
			if err := rows.Scan(&name, &d.Rows, &d.LastDelivery, &through, &d.HashSum); err != nil {
				return nil, err
			}
			d.Through = through.Time
			d.LastDelivery = d.LastDelivery.UTC()
			info.Datasets[name] = d
		}
		info.Created = info.Created.UTC()
		return info, rows.Err()
	}
	cols, err := catalogColumns(ctx, q, cat, loadTable)
	if err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return info, nil // not written by Load
	}
	has := func(name string) bool {
		return slices.ContainsFunc(cols, func(c ColumnInfo) bool { return c.Name == name })
	}
	counter, through, sum := "0", "NULL::DATE", "''"
	if has("version") {
		counter = "coalesce(version, 0)"
	}
	if has("through") {
		through = "through"
	}
	if has("hash_sum") {
		sum = "coalesce(hash_sum, '')"
	}
	rows, err := q.QueryContext(ctx, "SELECT dataset, row_count, loaded_at, "+counter+", "+through+", "+sum+" FROM "+prefix+quoteIdent(loadTable))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var d DatasetVersion
		var n int64
		var th sql.NullTime
		if err := rows.Scan(&name, &d.Rows, &d.LastDelivery, &n, &th, &d.HashSum); err != nil {
			return nil, err
		}
		d.LastDelivery, d.Through = d.LastDelivery.UTC(), th.Time
		info.Datasets[name] = d
		info.Counter = max(info.Counter, n)
		if d.LastDelivery.After(info.Created) {
			info.Created = d.LastDelivery
		}
	}
	return info, rows.Err()
}

// catalogColumns lists the columns of a main-schema table or view of
// catalog cat ("" for the current one), in order.
func catalogColumns(ctx context.Context, q queryer, cat, table string) ([]ColumnInfo, error) {
	db := "current_database()"
	if cat != "" {
		db = quoteString(cat)
	}
	rows, err := q.QueryContext(ctx,
		`SELECT column_name, data_type FROM duckdb_columns()
		 WHERE database_name = `+db+` AND schema_name = 'main' AND table_name = $1
		 ORDER BY column_index`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []ColumnInfo
	for rows.Next() {
		var c ColumnInfo
		if err := rows.Scan(&c.Name, &c.DuckType); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// datasetSum is one dataset's content summary: what Fingerprint hashes.
type datasetSum struct {
	name    string
	columns []ColumnInfo
	rows    int64
	// hashSum is the exact sum of the rows' DuckDB hashes, in decimal.
	hashSum string
}

// sumsFingerprint hashes dataset summaries as Fingerprint hashes tables.
func sumsFingerprint(sums []datasetSum) string {
	slices.SortFunc(sums, func(a, b datasetSum) int { return strings.Compare(a.name, b.name) })
	h := sha256.New()
	for _, s := range sums {
		writeTableSum(h, s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeTableSum writes one table's part of a fingerprint.
func writeTableSum(w io.Writer, s datasetSum) {
	fmt.Fprintf(w, "table %q\n", s.name)
	for _, c := range s.columns {
		fmt.Fprintf(w, "column %q %s\n", c.Name, c.DuckType)
	}
	fmt.Fprintf(w, "rows %d %s\n", s.rows, s.hashSum)
}

// addSums adds decimal hash sums exactly.
func addSums(a, b string) (string, error) {
	x, ok := new(big.Int).SetString(a, 10)
	y, ok2 := new(big.Int).SetString(b, 10)
	if !ok || !ok2 {
		return "", fmt.Errorf("bad hash sum %q or %q", a, b)
	}
	return x.Add(x, y).String(), nil
}

// versionSums reads a version file's dataset summaries (its views'
// columns and the stored counts and sums).
func versionSums(ctx context.Context, q queryer) ([]datasetSum, error) {
	rows, err := q.QueryContext(ctx, "SELECT dataset, row_count, hash_sum FROM "+quoteIdent(datasetsTable)+" ORDER BY dataset")
	if err != nil {
		return nil, err
	}
	var sums []datasetSum
	for rows.Next() {
		var s datasetSum
		if err := rows.Scan(&s.name, &s.rows, &s.hashSum); err != nil {
			rows.Close()
			return nil, err
		}
		sums = append(sums, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range sums {
		if sums[i].columns, err = catalogColumns(ctx, q, "", sums[i].name); err != nil {
			return nil, err
		}
	}
	return sums, nil
}
