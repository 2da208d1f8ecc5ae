package engine

import (
	"context"
	"fmt"

	"github.com/statgate/statgate/engine/bounds"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/protect"
	"github.com/statgate/statgate/engine/result"
)

// estimated is a plan re-made with bounds chosen from a noisy profile.
type estimated struct {
	plan    *plan.Plan
	release *protect.Release
	choice  bounds.Choice
}

// estimateBounds runs the plan's contribution profile, noises it with the
// release's bound_selection share and re-plans with the bounds it
// suggests (L0 and L∞ at or under the caps; the request's clamps kept).
// It runs after the debit, and returns nil only for a plan without a
// profile. Its only errors are those of reading the extracts
// (cancellation, I/O); when the noisy profile says nothing, or
// re-planning would not work, the query keeps the plan it was prepared
// with, so no data value can make the query fail here.
func (e *Engine) estimateBounds(ctx context.Context, prep *prepared) (*estimated, error) {
	pr := prep.plan.Profile
	if pr == nil {
		return nil, nil
	}
	rr, err := prep.x.db.QueryArrow(ctx, pr.SQL)
	if err != nil {
		return nil, fmt.Errorf("contribution profile: %w", err)
	}
	defer rr.Release()
	hists, err := protect.ReadProfile(ctx, rr, pr)
	if err != nil {
		return nil, fmt.Errorf("contribution profile: %w", err)
	}
	noisy := prep.release.NoiseProfile(hists)
	if e.noisyProfile != nil {
		noisy = e.noisyProfile(noisy)
	}
	if pr.Sample > 1 {
		// A sampled profile's counts stand for Sample persons each
		// (post-processing of the noisy counts).
		for _, h := range noisy {
			for i := range h {
				h[i] *= float64(pr.Sample)
			}
		}
	}
	clamps := bounds.Clamps(pr, noisy)
	if rb := prep.compiled.Bounds; rb != nil {
		for col, cl := range rb.Clamp {
			if clamps == nil {
				clamps = map[string][2]float64{}
			}
			clamps[col] = cl // the request's own clamp wins
		}
	}
	// Every measure's noise weighs in the choice, a sum's or mean's
	// relative to a typical value under the clamp it will get.
	scales := make([]protect.Scale, len(prep.compiled.Query.Aggs))
	for i, a := range prep.compiled.Query.Aggs {
		name := a.ClampName()
		scales[i] = protect.Scale{Bounds: clamps[name], Typical: bounds.Typical(pr, noisy, name)}
	}
	// The bounds come from the likely reading of the histograms' tails;
	// the intervals are widened by what the cautious reading says they
	// cut, when that is more (protect.Release.NoiseProfile).
	groups, rows := likely(noisy, plan.ProfileGroups), likely(noisy, plan.ProfileRows)
	ch := bounds.Choose(pr, groups, rows, func(l0, lInf int) float64 {
		return prep.release.TypicalSD(l0, lInf, scales)
	})
	if ch.L0 > 0 || ch.LInf > 0 {
		cp, cr := bounds.Cuts(pr, noisy[plan.ProfileGroups], noisy[plan.ProfileRows], ch.L0, ch.LInf)
		ch.CutPairs, ch.CutRows = max(ch.CutPairs, cp), max(ch.CutRows, cr)
	}
	ch.Clamp = clamps
	l0 := ch.L0
	if l0 == 0 {
		l0 = prep.plan.Bounds.MaxGroupsPerPerson
	}
	ch.LValues, ch.CutValues = bounds.ChooseValues(pr, rows, l0, prep.release.ValueSD)
	kept := &estimated{plan: prep.plan, release: prep.release}
	if ch.L0 == 0 && ch.LInf == 0 && ch.LValues == 0 && ch.Clamp == nil {
		return kept, nil // the profile says nothing: the policy's bounds stay
	}
	rb := &plan.RequestBounds{MaxGroupsPerPerson: ch.L0, MaxRowsPerPersonPerGroup: ch.LInf, MaxValuesPerPersonPerGroup: ch.LValues, Clamp: ch.Clamp}
	o := e.planOptions(prep.compiled, prep.x)
	o.Bounds = rb
	p, err := plan.Bound(prep.compiled.Query, e.pol, o)
	if err != nil {
		return kept, nil // cannot happen (the bounds are within the caps); keep the prepared plan
	}
	po := prep.options
	po.Truncation = &protect.Truncation{Pairs: ch.CutPairs, Rows: ch.CutRows}
	// Pinned to the debited release's mechanisms: a Laplace or Gaussian
	// policy's stay; under Auto (Deferred) the release chooses again at
	// these bounds, within the Laplace ρ and every part's δ the debit
	// took before any data were read, so what was charged never depends
	// on the data, and the choice depends only on the noisy profile.
	po.Mechanisms = prep.release.Mechanisms()
	rel, err := protect.Prepare(p, &po)
	if err != nil {
		return kept, nil // as above
	}
	return &estimated{plan: p, release: rel, choice: ch}, nil
}

// likely is the likely reading of a noisy profile's histogram
// (plan.ProfileLikely), or the histogram itself when there is none.
func likely(noisy map[string][]float64, name string) []float64 {
	if h, ok := noisy[plan.ProfileLikely+name]; ok {
		return h
	}
	return noisy[name]
}

// report writes the estimated bounds into the result's metadata.
func (x *estimated) report(m *result.Meta) {
	m.Bounding.Chosen = "estimated"
	m.Bounding.Truncated = &result.Truncated{Pairs: x.choice.CutPairs, Rows: x.choice.CutRows}
	if len(x.choice.Clamp) > 0 {
		m.Notes = append(m.Notes, fmt.Sprintf("the clamps of aggregated columns were narrowed, from the same noisy profile, to where all but %g%% of the persons' smallest and largest values lie plus one bucket of margin (meta.bounding.bounds); values beyond them are clamped", 100*bounds.MaxClampedShare))
	}
	if x.choice.LValues > 0 {
		m.Notes = append(m.Notes, fmt.Sprintf("means, quantiles and spreads take at most %d values per person and group (meta.bounding.max_values_per_person_per_group), a random sample of the person's values, chosen from the same noisy profile to weigh their noise against the %.1f%% of the rows left out; that weighs persons with many rows less, and does not bias those measures down", x.choice.LValues, 100*x.choice.CutValues))
	}
	m.Notes = append(m.Notes, fmt.Sprintf("L0 and L∞ were chosen for this query from a noisy profile of how many groups and rows persons contribute (%g%% of epsilon, listed as %s in split); they are estimated to cut %.1f%% of the person × group pairs and %.1f%% of the rows, and the intervals of counts and sums are widened by that share", 100*protect.BoundsShare, protect.PurposeBounds, 100*x.choice.CutPairs, 100*x.choice.CutRows))
}
