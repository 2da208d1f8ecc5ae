package engine

// The corpora the engine's tests read (testkit.ReadQueries,
// testkit.ReadBlocks; the format is described in each file's header).
const (
	acceptedCorpus = "../testdata/queries/accepted.txt"
	rejectedCorpus = "../testdata/queries/rejected.txt"
	cohortCorpus   = "../testdata/queries/cohorts.txt"
)
