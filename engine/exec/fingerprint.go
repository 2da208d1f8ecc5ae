package exec

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
)

// volatileColumns are left out of Fingerprint: they record when, not
// what, was loaded, or hold the load's secret version key.
var volatileColumns = map[string]map[string]bool{
	loadTable: {"loaded_at": true, "version_key": true, "version": true},
}

// Fingerprint hashes the database's state: every table's name, its
// columns (names and types, in order) and its contents (row count and an
// order-independent sum of DuckDB row hashes), tables in name order. Two
// databases with the same fingerprint hold the same tables with the same
// rows. The load times Load records are left out, so that loading twice
// from unchanged sources gives the same fingerprint. Row hashes are
// DuckDB's own, so compare fingerprints made by the same DuckDB version.
//
// A version file (see version.go) is fingerprinted from what it stores of
// each dataset (its view's columns, the row count and the row-hash sum
// Deliver computed), without reading the rows: the same lines a base file
// with those tables would give, its internal tables left out.
func (db *DB) Fingerprint(ctx context.Context) (string, error) {
	if db.parts {
		sums, err := versionSums(ctx, db.sql)
		if err != nil {
			return "", fmt.Errorf("exec.Fingerprint: %w", err)
		}
		return sumsFingerprint(sums), nil
	}
	names, err := tableNames(ctx, db.sql)
	if err != nil {
		return "", fmt.Errorf("exec.Fingerprint: %w", err)
	}
	h := sha256.New()
	for _, name := range names {
		cols, err := tableColumns(ctx, db.sql, name)
		if err != nil {
			return "", fmt.Errorf("exec.Fingerprint: %s: %w", name, err)
		}
		s := datasetSum{name: name}
		for _, c := range cols {
			if !volatileColumns[name][c.Name] {
				s.columns = append(s.columns, c)
			}
		}
		if s.rows, s.hashSum, err = tableSum(ctx, db.sql, quoteIdent(name), s.columns); err != nil {
			return "", fmt.Errorf("exec.Fingerprint: %s: %w", name, err)
		}
		writeTableSum(h, s)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// tableSum counts a table's rows and sums their DuckDB hashes over cols
// (exactly, as a decimal).
func tableSum(ctx context.Context, q queryer, table string, cols []ColumnInfo) (int64, string, error) {
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = quoteIdent(c.Name)
	}
	sum := "0"
	if len(exprs) > 0 {
		sum = "coalesce(sum(hash(" + strings.Join(exprs, ", ") + ")), 0)"
	}
	var rows int64
	var total string
	err := q.QueryRowContext(ctx, "SELECT count(*), ("+sum+")::VARCHAR FROM "+table).Scan(&rows, &total)
	return rows, total, err
}

// newVersionKey returns a fresh secret for a load's version key: 32
// random bytes, hex-encoded.
func newVersionKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("exec: version key: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// processKey stands in for the version key of an extracts file written
// before Load recorded one: random per process, so replicas of such a
// file name its version differently (a new load mends that).
var processKey = sync.OnceValue(func() string {
	k, err := newVersionKey()
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return k
})

// VersionID returns the public name of the database's version: the first
// 32 hex digits of HMAC-SHA256, keyed with the secret Load wrote into the
// file, of the Fingerprint fp. Answers carry this ID, never the
// fingerprint: the fingerprint is an exact function of every row, so
// anyone who knows every record but one could test the last one against
// it, and a dry run would hand that test out for free. Without the key
// the ID is a pseudo-random label: equal for replicas of one file, new
// for every load, saying nothing about the rows.
func (db *DB) VersionID(ctx context.Context, fp string) (string, error) {
	key, err := db.versionKey(ctx)
	if err != nil {
		return "", fmt.Errorf("exec.VersionID: %w", err)
	}
	if key == "" {
		key = processKey()
	}
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(fp))
	return hex.EncodeToString(m.Sum(nil))[:32], nil
}

// versionKey reads the key Load recorded, or "" for a file without one
// (no load table, or one written before the key existed).
func (db *DB) versionKey(ctx context.Context) (string, error) {
	if db.parts {
		var key string
		err := db.sql.QueryRowContext(ctx, "SELECT version_key FROM "+quoteIdent(versionTable)).Scan(&key)
		return key, err
	}
	var n int
	err := db.sql.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_columns()
		WHERE table_name = $1 AND column_name = 'version_key'`, loadTable).Scan(&n)
	if err != nil || n == 0 {
		return "", err
	}
	var key *string
	if err := db.sql.QueryRowContext(ctx, "SELECT max(version_key) FROM "+quoteIdent(loadTable)).Scan(&key); err != nil {
		return "", err
	}
	if key == nil {
		return "", nil
	}
	return *key, nil
}
