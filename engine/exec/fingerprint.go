package exec

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// volatileColumns are left out of Fingerprint: they record when, not
// what, was loaded.
var volatileColumns = map[string]map[string]bool{
	loadTable: {"loaded_at": true},
}

// Fingerprint hashes the database's state: every table's name, its
// columns (names and types, in order) and its contents (row count and an
// order-independent sum of DuckDB row hashes), tables in name order. Two
// databases with the same fingerprint hold the same tables with the same
// rows. The load times Load records are left out, so that loading twice
// from unchanged sources gives the same fingerprint. Row hashes are
// DuckDB's own, so compare fingerprints made by the same DuckDB version.
func (db *DB) Fingerprint(ctx context.Context) (string, error) {
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
		fmt.Fprintf(h, "table %q\n", name)
		var exprs []string
		for _, c := range cols {
			if volatileColumns[name][c.Name] {
				continue
			}
			fmt.Fprintf(h, "column %q %s\n", c.Name, c.DuckType)
			exprs = append(exprs, quoteIdent(c.Name))
		}
		sum := "0"
		if len(exprs) > 0 {
			sum = "coalesce(sum(hash(" + strings.Join(exprs, ", ") + ")), 0)"
		}
		var rows int64
		var total string
		err = db.sql.QueryRowContext(ctx, "SELECT count(*), ("+sum+")::VARCHAR FROM "+quoteIdent(name)).Scan(&rows, &total)
		if err != nil {
			return "", fmt.Errorf("exec.Fingerprint: %s: %w", name, err)
		}
		fmt.Fprintf(h, "rows %d %s\n", rows, total)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
