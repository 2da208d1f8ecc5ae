// Package testkit holds what the engine's test packages share: the reader
// of the query and cohort corpora (testdata/queries/*.txt), a fake noise
// for exact tests of released values, and the additive relations of a
// table with totals that consistency tests check.
//
// Only _test.go files import it; TestOnlyTestsImport checks that no
// production package does.
package testkit
