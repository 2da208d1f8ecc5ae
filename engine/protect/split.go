package protect

import (
	"fmt"
	"math"
	"slices"

	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/result"
)

// The purposes of the budget shares that are not a released measure.
const (
	// PurposePersons is the distinct-person count that decides minimum
	// cell count suppression when the query releases no count_persons of
	// its own. It is never released.
	PurposePersons = "persons (min_cell_count)"
	// PurposeSelection is DP partition selection of groups whose keys have
	// no public domain.
	PurposeSelection = "partition_selection"
	// PurposeBounds is the noisy contribution profile the engine chooses
	// the query's L0 and L∞ from (Options.EstimateBounds).
	PurposeBounds = "bound_selection"
)

// share is one component's part of the query's (ε, δ), and the noise
// mechanism of that component. A Laplace share may carry δ (a quantile's
// count and histogram are Laplace while its Gaussian tree takes part of
// the aggregate's δ): noiseDelta gives the library 0 for it.
type share struct {
	eps, delta float64
	mech       string
}

// noiseDelta is the δ to pass the noise library: 0 for Laplace.
func (sh share) noiseDelta() float64 {
	if sh.mech == Gaussian {
		return sh.delta
	}
	return 0
}

// groupSet is one grouping set of the plan: the keys it groups by.
type groupSet struct {
	keys []int
	// public is true when every key has a public domain: the set's groups
	// are the cross product of the domains, without selection.
	public bool
	// gid is DuckDB's grouping_id() of the set over all keys: bit
	// (n-1-i) is set when key i is rolled up.
	gid int64
}

// layout is how one query's budget is divided and which steps it pays for.
type layout struct {
	spends []result.Spend
	// aggs holds each aggregate's share, in plan.Aggs order; trees the
	// tree share of each quantile (the sum of the tree parts of the
	// quantiles sharing it, of the tree's mechanism), zero for others.
	aggs  []share
	trees []share
	// suppress is true when MinCellCount > 0. personsAgg is then the index
	// of the count_persons aggregate whose noisy value decides
	// suppression (personsAggregate), or -1 when the separate persons
	// share pays for it.
	suppress   bool
	personsAgg int
	persons    share
	// selects is true when some grouping set needs partition selection.
	selects   bool
	selection share
	// bounds is the profile's share when Options.EstimateBounds is set.
	estimate bool
	bounds   share
	sets     []groupSet
	// mechs is the mechanism of every noisy component.
	mechs *Mechanisms
}

// split computes the layout of p under validated settings: how the
// query's ε and δ are divided, in the order the shares
// are reported: one share per aggregate (Purpose = the aggregate's name),
// then the distinct-person count used for suppression (PurposePersons)
// unless the query has a count_persons aggregate whose noisy value is
// reused, then partition selection (PurposeSelection) when some grouping
// set groups by a key without a public domain.
//
// ε is divided equally between the shares; the last share absorbs the
// rounding so that the shares add up to Epsilon exactly. δ goes to
// partition selection and, with Gaussian noise, to every measure and to the
// persons count, in equal parts adding up to Delta exactly. When nothing
// needs δ (Laplace noise and public domains only), every δ share is 0 and
// the query spends no δ: the engine debits the sum of the shares.
//
// split refuses with "needs_public_domain" when selection is needed and
// Delta is 0, and with "too_many_groups" when the public domains ask for
// more than MaxGroups rows. It calls nothing random and is safe to call
// before the budget is debited.
func split(p *plan.Plan, s *settings) (*layout, error) {
	if p == nil {
		return nil, fmt.Errorf("plan is nil")
	}
	sets, err := groupSets(p)
	if err != nil {
		return nil, err
	}
	l := &layout{sets: sets, personsAgg: -1, suppress: s.MinCellCount > 0}
	var groups int64
	for _, g := range sets {
		if g.public {
			groups = satAdd(groups, domainProduct(p, g.keys))
			continue
		}
		l.selects = true
		if s.Delta == 0 {
			return nil, needsPublicDomain(p, g.keys)
		}
	}
	if groups > MaxGroups {
		return nil, refusal.New(refusal.TooManyGroups,
			fmt.Sprintf("the public domains of the group keys give more than %d groups, the most one result may hold", MaxGroups),
			"group by fewer or coarser keys (e.g. an ICD-10 chapter instead of a code, or ten-year bands instead of years)")
	}
	if l.suppress {
		l.personsAgg = personsAggregate(p)
	}
	extra := l.suppress && l.personsAgg < 0

	for _, a := range p.Aggs {
		l.spends = append(l.spends, result.Spend{Purpose: a.Name})
	}
	if extra {
		l.spends = append(l.spends, result.Spend{Purpose: PurposePersons})
	}
	if l.selects {
		l.spends = append(l.spends, result.Spend{Purpose: PurposeSelection})
	}
	if len(l.spends) == 0 {
		return nil, fmt.Errorf("the plan releases nothing that needs protection")
	}
	l.estimate = s.EstimateBounds
	if l.estimate {
		l.spends = append(l.spends, result.Spend{Purpose: PurposeBounds})
	}

	// ε: equal shares, after the profile's fixed part.
	n := float64(len(l.spends))
	rest := s.Epsilon
	if l.estimate {
		n--
		rest = s.Epsilon * (1 - BoundsShare)
		l.spends[len(l.spends)-1].Epsilon = s.Epsilon * BoundsShare
	}
	for i := range l.spends[:int(n)] {
		l.spends[i].Epsilon = rest / n
	}
	exactSum(l.spends, len(l.spends)-1, s.Epsilon, func(sp *result.Spend) *float64 { return &sp.Epsilon })

	// δ: equal shares among the components that need it. Under Auto
	// every noisy component is first offered its equal part; those that
	// choose Laplace at it give theirs back, and the δ is divided again
	// among partition selection and the Gaussian ones (more δ only makes
	// a Gaussian better, so no choice changes).
	selIdx, boundsIdx := -1, -1
	if l.selects {
		selIdx = len(p.Aggs)
		if extra {
			selIdx++
		}
	}
	if l.estimate {
		boundsIdx = len(l.spends) - 1
	}
	noisy := func(i int) bool { return i != boundsIdx && i != selIdx }
	l.assignDelta(s.Delta, func(i int) bool { return i == selIdx || (noisy(i) && s.Mechanism != Laplace) })
	l.shares(p, extra)
	mechs, err := l.choose(p, s, extra)
	if err != nil {
		return nil, err
	}
	if mechs.Deferred || (s.Mechanisms != nil && s.Mechanisms.Deferred) {
		// Every component keeps the δ it was offered: the debit (of the
		// deferred release) covers whichever mechanism is chosen later.
		l.setMechanisms(p, mechs)
		return l, nil
	}
	gaussian := func(i int) bool {
		if i >= len(p.Aggs) {
			return extra && i == len(p.Aggs) && mechs.Persons == Gaussian
		}
		return mechs.Aggs[i] == Gaussian || mechs.Trees[i] == Gaussian
	}
	l.assignDelta(s.Delta, func(i int) bool { return i == selIdx || (noisy(i) && gaussian(i)) })
	l.shares(p, extra)
	l.setMechanisms(p, mechs)
	return l, nil
}

// assignDelta divides delta equally among the spends consumer names,
// adding up to delta exactly, and sets the others' δ to 0.
func (l *layout) assignDelta(delta float64, consumer func(int) bool) {
	var consumers []int
	for i := range l.spends {
		l.spends[i].Delta = 0
		if consumer(i) {
			consumers = append(consumers, i)
		}
	}
	if len(consumers) == 0 {
		return
	}
	for _, i := range consumers {
		l.spends[i].Delta = delta / float64(len(consumers))
	}
	exactSum(l.spends, consumers[len(consumers)-1], delta, func(sp *result.Spend) *float64 { return &sp.Delta })
}

// shares copies the spends' amounts into the layout's shares (without
// mechanisms).
func (l *layout) shares(p *plan.Plan, extra bool) {
	l.aggs = l.aggs[:0]
	for i := range p.Aggs {
		l.aggs = append(l.aggs, share{eps: l.spends[i].Epsilon, delta: l.spends[i].Delta})
	}
	next := len(p.Aggs)
	if extra {
		l.persons = share{eps: l.spends[next].Epsilon, delta: l.spends[next].Delta}
		next++
	}
	if l.selects {
		l.selection = share{eps: l.spends[next].Epsilon, delta: l.spends[next].Delta}
		next++
	}
	if l.estimate {
		l.bounds = share{eps: l.spends[next].Epsilon, mech: Laplace}
	}
}

// exactSum adjusts the field of spends[last] so that adding the field over
// spends in slice order gives total exactly, as a ledger adding the shares
// would. The adjustment is a few units in the last place.
func exactSum(spends []result.Spend, last int, total float64, field func(*result.Spend) *float64) {
	sum := func() float64 {
		var t float64
		for i := range spends {
			t += *field(&spends[i])
		}
		return t
	}
	x := field(&spends[last])
	for i := 0; i < 256; i++ {
		got := sum()
		if got == total {
			return
		}
		if i == 0 {
			*x += total - got
			continue
		}
		*x = math.Nextafter(*x, math.Copysign(math.Inf(1), total-got))
	}
}

// groupSets returns the plan's grouping sets (one set of all keys for a
// plain GROUP BY, none for a query without keys: one set of no keys).
func groupSets(p *plan.Plan) ([]groupSet, error) {
	n := len(p.Keys)
	raw := p.GroupingSets
	if raw == nil {
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		raw = [][]int{all}
	}
	var sets []groupSet
	seen := map[int64]bool{}
	for _, keys := range raw {
		g := groupSet{keys: slices.Clone(keys), public: true}
		slices.Sort(g.keys)
		in := make([]bool, n)
		for _, k := range g.keys {
			if k < 0 || k >= n || in[k] {
				return nil, fmt.Errorf("grouping set %v: key index %d is out of range or repeated", keys, k)
			}
			in[k] = true
			if p.Keys[k].Domain == nil {
				g.public = false
			}
		}
		for i := range n {
			if !in[i] {
				g.gid |= 1 << (n - 1 - i)
			}
		}
		if seen[g.gid] {
			return nil, fmt.Errorf("grouping set %v is repeated", keys)
		}
		seen[g.gid] = true
		sets = append(sets, g)
	}
	if len(sets) == 0 {
		return nil, fmt.Errorf("plan has an empty list of grouping sets")
	}
	return sets, nil
}

// domainProduct is the number of groups of a public grouping set,
// saturating at MaxGroups+1.
func domainProduct(p *plan.Plan, keys []int) int64 {
	n := int64(1)
	for _, k := range keys {
		n *= int64(len(p.Keys[k].Domain))
		if n > MaxGroups {
			return MaxGroups + 1
		}
	}
	return n
}

func satAdd(a, b int64) int64 {
	if a+b > MaxGroups {
		return MaxGroups + 1
	}
	return a + b
}

// needsPublicDomain is the refusal of a grouping by keys without a public
// domain when the query may spend no δ.
func needsPublicDomain(p *plan.Plan, keys []int) error {
	name := ""
	for _, k := range keys {
		if p.Keys[k].Domain == nil {
			name = p.Keys[k].Name
			break
		}
	}
	return refusal.New(refusal.NeedsPublicDomain,
		fmt.Sprintf("key %q has no public domain, so grouping by it needs DP partition selection, which needs the policy's delta_per_query > 0 (it is 0 for this query)", name),
		"group by keys with a public domain (years, sex, ICD-10 chapters, code lists in the policy), or ask the registry owner to set delta_per_query > 0")
}

// personsAggregate is the index of the first count_persons aggregate of p
// that counts the group's persons (reads the RolePersons column), or -1:
// a count(DISTINCT pid) FILTER (WHERE c) reads a count column of its own
// and counts only the persons with c, so it cannot stand for the persons.
func personsAggregate(p *plan.Plan) int {
	for i, a := range p.Aggs {
		if a.Kind == query.AggCountDistinct && !filteredPersons(p, i) {
			return i
		}
	}
	return -1
}

// filteredPersons reports whether aggregate i is a person count with a
// condition (count(DISTINCT pid) FILTER (WHERE c)): it has a count column
// of its own rather than the plan's persons.
func filteredPersons(p *plan.Plan, i int) bool {
	return p.Aggs[i].Kind == query.AggCountDistinct && slices.ContainsFunc(p.Columns, func(c plan.Column) bool {
		return c.Role == plan.RoleCount && c.Index == i
	})
}
