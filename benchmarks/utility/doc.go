// Package utility is statgate's utility benchmark: a workload of realistic
// researcher and analyst questions (ad-hoc SQL, approved templates, cohort
// estimates) asked of the engine over a synthetic extract, each released
// number compared with the exact, unbounded answer that a plain,
// unrestricted DuckDB gives over the same Parquet files.
//
// The pieces, in the order a run uses them:
//   - Prepare generates the registries with engine/synth (cached by persons
//     and seed) and loads them with exec.Load under the shipped policy;
//     LoadPolicy raises that policy's project budgets in memory so the
//     workload never runs out.
//   - Workload is the list of Questions; each carries the SQL of its exact
//     answer (cohorts derive theirs from the spec, CohortExactSQL).
//   - Run asks every question Reps times (fresh noise each time) and matches
//     each released table with the exact one (Match).
//   - Summarize turns matched cells into the figures of issue 12 (bias,
//     error, interval coverage, noise-only cells, suppression), and
//     WriteMarkdown renders benchmarks/UTILITY.md.
//
// The command is benchmarks/cmd/utility.
package utility
