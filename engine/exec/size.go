package exec

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// MemoryLimit returns DuckDB's memory_limit in bytes, as the database
// instance has it (Options.MemoryLimit, or DuckDB's default of 80 % of
// the machine's memory).
// It is read at start-up, so the query timeout (which tests set to a
// nanosecond) does not apply.
func (db *DB) MemoryLimit(ctx context.Context) (int64, error) {
	var s string
	if err := db.sql.QueryRowContext(ctx, "SELECT current_setting('memory_limit')::VARCHAR").Scan(&s); err != nil {
		return 0, fmt.Errorf("exec.MemoryLimit: %w", err)
	}
	n, err := ParseSize(s)
	if err != nil {
		return 0, fmt.Errorf("exec.MemoryLimit: %w", err)
	}
	return n, nil
}

// sizeUnits are the units of ParseSize, lower-cased: DuckDB's decimal
// (KB = 1000) and binary (KiB = 1024) units, as its memory_limit accepts
// and reports them.
var sizeUnits = map[string]float64{
	"": 1, "b": 1, "byte": 1, "bytes": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// ParseSize parses a memory size as DuckDB writes one ("2.5GB", "2.3 GiB",
// "300.0 MiB", "512 bytes") into bytes.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	}
	v, err := strconv.ParseFloat(num, 64)
	mult, ok := sizeUnits[unit]
	if err != nil || !ok || v < 0 {
		return 0, fmt.Errorf("memory size %q is not a number and a unit such as 2.5GB", s)
	}
	return int64(v * mult), nil
}
