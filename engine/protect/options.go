package protect

import (
	"fmt"

	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// OptionsFor derives a query's Options from the effective policy of the
// datasets it reads: the ε asked for (0: the policy's default) checked
// against the policy's range, the δ, the mechanism and the suppression and
// rounding rules. A template's ε is fixed (pinned): the policy validated
// it when it was loaded. The refusals depend on the request and the
// policy only.
func OptionsFor(eff *policies.Effective, epsilon float64, pinned bool) (*Options, error) {
	r := eff.Epsilon
	if !eff.EpsilonOK() {
		return nil, refusal.New(refusal.EpsilonRangeEmpty,
			fmt.Sprintf("no epsilon is allowed on %v together: the largest minimum is %g, the smallest maximum %g", eff.Datasets, r.Min, r.Max),
			"ask about fewer datasets at once, or ask the registry owner to align their epsilon_per_query")
	}
	eps := epsilon
	switch {
	case pinned:
	case eps == 0:
		eps = r.Default
	case eps > r.Max:
		return nil, refusal.New(refusal.EpsilonTooLarge,
			fmt.Sprintf("epsilon %g is above the maximum %g one query may spend on %v", eps, r.Max, eff.Datasets),
			fmt.Sprintf("ask for epsilon ≤ %g, or omit it to use the default %g", r.Max, r.Default))
	case eps < r.Min:
		return nil, refusal.New(refusal.EpsilonTooSmall,
			fmt.Sprintf("epsilon %g is below the minimum %g one query may spend on %v: at smaller epsilon the answer is noise", eps, r.Min, eff.Datasets),
			fmt.Sprintf("ask for epsilon ≥ %g, or omit it to use the default %g", r.Min, r.Default))
	}
	return &Options{
		Epsilon: eps, Delta: eff.DeltaPerQuery, Mechanism: eff.Noise,
		MinCellCount: eff.MinCellCount, RoundTo: eff.RoundTo,
	}, nil
}
