package audit

import "time"

// Filter selects entries for a store's List. Zero fields select
// everything.
type Filter struct {
	Principal string
	Project   string
	// Projects, when not empty, selects entries of any of these projects
	// (an admin's audit scope).
	Projects []string
	// Dataset selects entries that read this dataset.
	Dataset string
	Outcome string
	// Since (inclusive) and Until (exclusive) bound the entries' Time.
	Since, Until time.Time
	// AfterSeq selects entries with Seq > AfterSeq (for paging).
	AfterSeq int64
	// Limit caps the number of entries (≤ 0: no cap).
	Limit int
	// Newest takes the last Limit entries that match instead of the first
	// (still returned in Seq order).
	Newest bool
}
