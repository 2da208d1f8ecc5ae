// Package benchmarks measures statgate end to end: what contribution
// bounding, noise, the budget debit, the audit log and HTTP cost on top of
// a plain DuckDB query, and how statgate compares with Google's
// privacy-on-beam on Beam's local runner (the peer under peers/beam, its
// own Go module).
//
// The pieces:
//
//   - Generate writes a benchmark registry of an exact number of npr rows
//     (plus population and lmr for the cohort estimate), in DuckDB SQL;
//     Prepare caches it, loaded, under a directory keyed by rows, groups
//     and seed.
//   - The variants (Variant) are the measured questions: A the raw DuckDB
//     query, B the bounded SQL statgate generates without noise, C the
//     whole Engine.Query, D the same over HTTP on loopback, K a cohort
//     estimate across three registries. Each runs in its own child process
//     (see Child) so that its peak memory can be read from the kernel.
//   - Compare alternates the variants (A, B, C, D, K, A, B, …), takes
//     medians, adds the privacy-on-beam peer (E) and load throughput, and
//     WriteResults renders RESULTS.md.
//
// The command is benchmarks/cmd/compare; the Go benchmarks of each
// pipeline stage are in this package's tests (go test -bench .).
package benchmarks
