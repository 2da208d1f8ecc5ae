//go:build !duckdb_arrow

package benchmarks

// nativeArrow reports whether this binary reads DuckDB results through
// DuckDB's native Arrow export (built with -tags duckdb_arrow).
const nativeArrow = false
