package protect

import (
	"fmt"
	"math"
	"slices"

	"github.com/google/differential-privacy/go/v3/dpagg"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/result"
)

// protectRow noises every measure of one group and the person count that
// decides its suppression.
func (s *settings) protectRow(p *plan.Plan, l *layout, g *rawRow) (*outRow, error) {
	meas, err := s.measures(p, l, g.aggs)
	if err != nil {
		return nil, err
	}
	r := &outRow{set: g.set, keys: g.keys, meas: meas}
	switch {
	case !l.suppress:
	case l.personsAgg >= 0:
		r.persons = r.meas[l.personsAgg].value
	default:
		e, err := s.count(float64(g.persons), p.PersonsL0, p.PersonsLInf, l.persons)
		if err != nil {
			return nil, fmt.Errorf("persons count: %w", err)
		}
		r.persons = e.value
	}
	return r, nil
}

// treeKey identifies the quantiles that read one list of values.
type treeKey struct {
	values string
	bounds [2]float64
	l0, mc int64
}

// treeOf is the key of quantile a's tree, or false when a shares none.
func treeOf(a plan.Agg) (treeKey, bool) {
	if a.Kind != query.AggQuantile || a.Values == "" {
		return treeKey{}, false
	}
	return treeKey{a.Values, a.Bounds, a.L0, a.MaxContributionsPerPartition}, true
}

// treeShares sums, per list of values, the tree parts of the shares of
// the quantiles that read it, of the tree's mechanism once the layout's
// mechanisms are chosen.
func treeShares(p *plan.Plan, l *layout) map[treeKey]share {
	out := map[treeKey]share{}
	for i, a := range p.Aggs {
		if k, ok := treeOf(a); ok {
			t, _ := halve(l.aggs[i], quantileTreeShare)
			sum := out[k]
			mech := ""
			if l.mechs != nil {
				mech = l.mechs.Trees[i]
			}
			out[k] = share{sum.eps + t.eps, sum.delta + t.delta, mech}
		}
	}
	return out
}

// measures protects every aggregate of one group. Quantiles of the same
// values (plan.Agg.Values, with equal bounds and contributions) share one
// noisy tree, built with the sum of their tree shares: each rank read off
// it is post-processing, so together they cost what their shares add up
// to, and each walks a tree of that larger ε instead of its own.
func (s *settings) measures(p *plan.Plan, l *layout, raws []rawAgg) ([]estimate, error) {
	out := make([]estimate, len(p.Aggs))
	shares := treeShares(p, l)
	trees := map[treeKey]*dpagg.BoundedQuantiles{}
	for i, a := range p.Aggs {
		var (
			e   estimate
			err error
		)
		if k, ok := treeOf(a); ok {
			bq := trees[k]
			if bq == nil {
				if bq, err = s.quantileTree(a, shares[k], raws[i].values); err != nil {
					return nil, fmt.Errorf("aggregate %q: %w", a.Name, err)
				}
				trees[k] = bq
			}
			e, err = s.quantileOn(bq, shares[k], a, l.aggs[i], raws[i].values)
		} else if a.Kind == query.AggQuantile {
			e, err = s.quantile(a, l.aggs[i], l.trees[i], raws[i].values)
		} else {
			e, err = s.measure(a, l.aggs[i], &raws[i])
		}
		if err != nil {
			return nil, fmt.Errorf("aggregate %q: %w", a.Name, err)
		}
		out[i] = e
	}
	return out, nil
}

// assemble builds the result from protected rows.
func assemble(p *plan.Plan, l *layout, s *settings, rows []*outRow) *result.Result {
	res := &result.Result{}
	for _, k := range p.Keys {
		res.Columns = append(res.Columns, result.Column{Name: k.Name, Role: result.RoleKey, Type: valueType(k.Type, k.Domain)})
	}
	for _, a := range p.Aggs {
		res.Columns = append(res.Columns, result.Column{Name: a.Name, Role: result.RoleMeasure, Type: result.TypeNumber, Aggregate: string(a.Kind)})
	}
	suppressed := 0
	for _, r := range rows {
		row := result.Row{Margin: len(l.sets[r.set].keys) < len(p.Keys), Cells: make([]result.Cell, 0, len(res.Columns))}
		for _, v := range r.keys {
			row.Cells = append(row.Cells, result.Cell{Value: v})
		}
		for i, e := range r.meas {
			if r.suppressed || r.cellSuppressed[i] {
				reason := r.reason
				if !r.suppressed {
					reason = ReasonMinCellCount
				}
				row.Cells = append(row.Cells, result.Cell{Suppressed: true, Reason: reason})
				suppressed++
				continue
			}
			widenForTruncation(&e, p.Aggs[i].Kind, s.Truncation)
			roundCount(&e, s.RoundTo)
			ci := e.ci
			cell := result.Cell{Value: e.value, StdDev: e.sd, CI: &ci}
			if e.unbiased != nil {
				u := *e.unbiased
				cell.Unbiased = &result.Estimate{Value: u.value, CI: u.ci, Widen: truncationShare(p.Aggs[i].Kind, s.Truncation)}
			}
			row.Cells = append(row.Cells, cell)
		}
		res.Rows = append(res.Rows, row)
	}
	var delta float64
	for _, sp := range l.spends {
		delta += sp.Delta
	}
	bounds := map[string][2]float64{}
	for _, a := range p.Aggs {
		switch a.Kind {
		case query.AggSum, query.AggAvg, query.AggQuantile, query.AggStddev, query.AggVariance:
			bounds[a.Name] = a.Bounds
		}
	}
	if len(bounds) == 0 {
		bounds = nil
	}
	roundTo := s.RoundTo
	if roundTo <= 1 {
		roundTo = 0
	}
	res.Meta = result.Meta{
		Epsilon:   s.Epsilon,
		Delta:     delta,
		Split:     slices.Clone(l.spends),
		Mechanism: l.mechanismOf(),
		Groups:    groupsMode(p, l),
		Bounding: result.Bounding{
			MaxGroupsPerPerson:         p.Bounds.MaxGroupsPerPerson,
			MaxRowsPerPersonPerGroup:   p.Bounds.MaxRowsPerPersonPerGroup,
			MaxValuesPerPersonPerGroup: p.Bounds.MaxValuesPerPersonPerGroup,
			Bounds:                     bounds,
			L0Step:                     p.Bounds.L0Step,
			Chosen:                     p.Bounds.Chosen,
		},
		MinCellCount:    s.MinCellCount,
		RoundTo:         roundTo,
		SuppressedCells: suppressed,
		Notes:           notes(p, l, s),
	}
	return res
}

// widenForTruncation widens the interval of a count or sum away from zero
// by the estimated share of what the bounds cut (pairs for distinct
// persons; pairs and rows for row counts and sums), so that it covers the
// unbounded answer, not only the bounded one: a total of which a share f
// was cut is the bounded total over 1 − f. Other aggregates (means,
// quantiles, spreads) are not biased in one direction by truncation.
func widenForTruncation(e *estimate, kind query.AggKind, t *Truncation) {
	f := truncationShare(kind, t)
	if f == 0 {
		return
	}
	if e.ci[1] > 0 {
		e.ci[1] /= 1 - f
	}
	if e.ci[0] < 0 {
		e.ci[0] /= 1 - f
	}
}

// truncationShare is the share of an aggregate that the contribution
// bounds are estimated to cut (widenForTruncation), 0 to 0.5.
func truncationShare(kind query.AggKind, t *Truncation) float64 {
	if t == nil {
		return 0
	}
	var f float64
	switch kind {
	case query.AggCountDistinct:
		f = t.Pairs
	case query.AggCountStar, query.AggCount, query.AggSum:
		f = t.Pairs + t.Rows
	default:
		return 0
	}
	return math.Min(math.Max(f, 0), 0.5) // past half, the estimate says little
}

// notes explain to the analyst how the result was protected. They depend
// on the query and the policy only, never on the data.
func notes(p *plan.Plan, l *layout, s *settings) []string {
	var out []string
	has := func(kinds ...query.AggKind) bool {
		return slices.ContainsFunc(p.Aggs, func(a plan.Agg) bool { return slices.Contains(kinds, a.Kind) })
	}
	switch m := l.mechanismOf(); {
	case l.mechs.Deferred || (s.Mechanisms != nil && s.Mechanisms.Deferred):
		out = append(out, fmt.Sprintf("each part listed in split adds the noise (Laplace or Gaussian) that is more accurate at its share of epsilon and delta at the bounds chosen from the data, named in split (here: %s; Laplace where no bounds were chosen); the debit, made before the data were read, is that of Laplace noise (the larger rho) with every part's delta, so either choice fits it and what was charged does not depend on the data; epsilon is divided equally between the parts; intervals are %g%% confidence intervals for the exact value of the bounded data", m, 100*(1-s.Alpha)))
	case s.Mechanism == Auto:
		out = append(out, fmt.Sprintf("each part listed in split adds the noise (Laplace or Gaussian) that is more accurate at its share of epsilon and delta, named in split (here: %s); epsilon is divided equally between the parts; intervals are %g%% confidence intervals for the exact value of the bounded data", m, 100*(1-s.Alpha)))
	default:
		out = append(out, fmt.Sprintf("%s noise; epsilon is divided equally between the parts listed in split; intervals are %g%% confidence intervals for the exact value of the bounded data", m, 100*(1-s.Alpha)))
	}
	switch groupsMode(p, l) {
	case GroupsPublicDomain:
		out = append(out, "every combination of the keys' public domains is listed, empty ones included; values outside a key's domain (NULL too, unless the domain lists it) are not released")
	case GroupsPartitionSelection:
		out = append(out, "groups of keys without a public domain are released only if they pass differentially private partition selection; groups with few persons are left out without a trace")
	}
	if l.suppress {
		if l.personsAgg >= 0 {
			out = append(out, fmt.Sprintf("a row is suppressed when its noisy %s is below the release threshold meta.suppress_below (min_cell_count %d plus a margin for the noise)", p.Aggs[l.personsAgg].Name, s.MinCellCount))
		} else {
			out = append(out, fmt.Sprintf("a row is suppressed when a separate noisy count of its persons (not released) is below the release threshold meta.suppress_below (min_cell_count %d plus a margin for the noise)", s.MinCellCount))
		}
		if len(l.sets) > 1 {
			out = append(out, "secondary suppression withholds further rows so that no suppressed row can be recomputed from totals and released rows")
		}
		for i, a := range p.Aggs {
			if i != l.personsAgg && filteredPersons(p, i) {
				out = append(out, fmt.Sprintf("%s, a count of the persons for whom a condition holds, is withheld when its own noisy value is below its release threshold (min_cell_count %d plus a margin for its noise): the cell alone, or with margins its whole row", a.Name, s.MinCellCount))
			}
		}
	}
	if s.RoundTo > 1 && has(query.AggCount, query.AggCountStar, query.AggCountDistinct) {
		out = append(out, fmt.Sprintf("counts are rounded to multiples of %d and their intervals outward; stddev is that of the noise alone", s.RoundTo))
	}
	if has(query.AggAvg) {
		out = append(out, "avg is a noisy sum over a noisy count, each with half of its epsilon; its interval combines both intervals at their worst corner, clamped to the bounds; its stddev is the interval's half-width over the normal quantile of its level")
	}
	if has(query.AggQuantile) {
		out = append(out, fmt.Sprintf("quantiles use a noisy quantile tree (%g of their epsilon; quantiles of the same column share one tree built with the sum of their tree shares) and a noisy count of values (the rest) that sizes the interval; the interval is a bracket read off the tree and verified on a noisy histogram, or the bounds where it cannot be verified; stddev is the interval's half-width over the normal quantile of its level", quantileTreeShare))
	}
	if has(query.AggStddev, query.AggVariance) {
		out = append(out, "stddev and variance come from a noisy count, sum and sum of squares; the interval is their extremes over the three components' intervals; stddev is the interval's half-width over the normal quantile of its level")
	}
	return out
}
