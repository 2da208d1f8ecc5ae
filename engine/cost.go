package engine

import (
	"fmt"

	"github.com/statgate/statgate/engine/catalog"
	"github.com/statgate/statgate/engine/protect"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// checkCost refuses a query whose estimated work is over the policy's
// limits: the noise draws of its prepared release, and the rows of the
// datasets it reads at their rounded sizes (the data map's). It reads the
// plan's datasets, the release and the policy only.
//
// It lives here because it is the one check that needs both the prepared
// release (engine/protect) and the table sizes the engine opened with;
// neither protect nor plan knows the other's half, and compile runs before
// both exist.
func checkCost(lim policies.Limits, rel *protect.Release, datasets []string, sizes map[string]int64) error {
	if cost := rel.Cost(); lim.MaxQueryCost > 0 && cost > lim.MaxQueryCost {
		return refusal.New(refusal.QueryTooExpensive,
			fmt.Sprintf("protecting this query would take about %d noise draws (its groups times the draws each aggregate needs per group); one query may take at most %d", cost, lim.MaxQueryCost),
			"group by fewer or coarser keys, ask for fewer quantiles, or split the question into several queries")
	}
	var rows int64
	for _, d := range datasets {
		approx, _ := catalog.Approx(sizes[d])
		rows += approx
	}
	if lim.MaxRowsScanned > 0 && rows > lim.MaxRowsScanned {
		return refusal.New(refusal.QueryTooExpensive,
			fmt.Sprintf("this query reads about %d rows of %v; one query may read at most %d", rows, datasets, lim.MaxRowsScanned),
			"ask about fewer datasets at once")
	}
	return nil
}
