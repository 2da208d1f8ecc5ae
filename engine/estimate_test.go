package engine

import (
	"context"
	"testing"

	"github.com/statgate/statgate/engine/plan"
)

// TestBoundsFromTheLikelyReadingWidenedByTheCautious: the engine chooses
// L∞ from the likely reading of the rows histogram and widens the
// intervals by what the cautious reading says that bound cuts. The noisy
// profile is replaced by one whose readings disagree: the likely says
// every person has one row, the cautious that half have a great many.
func TestBoundsFromTheLikelyReadingWidenedByTheCautious(t *testing.T) {
	e := openEngine(t, nil)
	swapped := 0
	e.noisyProfile = func(noisy map[string][]float64) map[string][]float64 {
		rows, likely := noisy[plan.ProfileRows], noisy[plan.ProfileLikely+plan.ProfileRows]
		if len(rows) < 2 || len(likely) != len(rows) {
			return noisy
		}
		swapped++
		const persons = 2000
		clear(rows)
		clear(likely)
		likely[0] = persons
		rows[0], rows[len(rows)-1] = persons/2, persons/2
		return noisy
	}
	res, err := e.Query(context.Background(), ingrid, Request{Project: "diabetes-2026",
		SQL: "SELECT contact_type, count(*) AS contacts FROM npr GROUP BY 1"})
	if err != nil {
		t.Fatal(err)
	}
	if swapped != 1 {
		t.Fatalf("the profile was replaced %d times, want once: the query has no rows histogram", swapped)
	}
	b := res.Meta.Bounding
	if b.Chosen != "estimated" || b.Truncated == nil {
		t.Fatalf("bounding %+v: not estimated from the profile", b)
	}
	if b.MaxRowsPerPersonPerGroup != 1 {
		t.Errorf("L∞ %d, want 1: the likely reading, where everyone has one row, chooses", b.MaxRowsPerPersonPerGroup)
	}
	if b.Truncated.Rows < 0.5 {
		t.Errorf("the rows cut is reported as %.3f, want the cautious reading's (half the persons with the most rows): the intervals are not widened by it", b.Truncated.Rows)
	}
}
