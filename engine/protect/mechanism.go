package protect

import (
	"fmt"
	"slices"

	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
)

// chooseMechanism is the mechanism Auto gives one noisy component of
// sensitivities l0 (groups a person reaches) and any L∞ at share sh: the
// one whose noise has the smaller standard deviation, each calibrated to
// be (sh.eps, sh.delta)-DP on its own. Laplace's is √2·l0·L∞/ε (the L1
// sensitivity l0·L∞, pure ε); Gaussian's the σ Google's library
// calibrates for the L2 sensitivity √l0·L∞ at (ε, δ) (the analytic
// Gaussian, noise.SigmaForGaussian). L∞ scales both alike, so only l0
// and the share decide: Gaussian wins once l0 exceeds about
// (σ₁·ε)²/2, σ₁ the σ of sensitivity 1, that is for components a person
// reaches in many groups (e.g. l0 ≳ 8 at ε 0.06, δ 1e-7; a quantile's
// tree counts its height times l0). A tie, and a share without δ, is
// Laplace. It reads no data.
func chooseMechanism(l0 int64, sh share) string {
	if !(sh.delta > 0) {
		return Laplace
	}
	l0 = max(l0, 1)
	if stdDev(Gaussian, l0, 1, sh.eps, sh.delta) < stdDev(Laplace, l0, 1, sh.eps, 0) {
		return Gaussian
	}
	return Laplace
}

// deferredChoice is the mechanism the release of a deferred choice
// (Mechanisms.Deferred) gives a component of sensitivity l0 at share sh,
// once the bounds are chosen from the data: Auto's (chooseMechanism),
// except where a Gaussian would spend more ρ than the Laplace noise the
// debit was charged for (never at the δ of a policy). Like
// chooseMechanism it reads no data: l0 comes from bounds chosen from the
// noisy profile, a DP output.
func deferredChoice(l0 int64, sh share) string {
	m := chooseMechanism(l0, sh)
	if m == Gaussian && mechanismRho(Gaussian, sh.eps, sh.delta) > mechanismRho(Laplace, sh.eps, 0) {
		return Laplace
	}
	return m
}

// componentShare is the share of one noise of aggregate a with share sh
// (its components are equal parts): the whole share of a count or sum,
// half of a mean's, a third of a variance's, and for a quantile the share
// of its count (and, equal to it, of its histogram).
func componentShare(a plan.Agg, sh share) share {
	switch a.Kind {
	case query.AggAvg:
		c, _ := halve(sh, 0.5)
		return c
	case query.AggVariance, query.AggStddev:
		return share{sh.eps / 3, sh.delta / 3, sh.mech}
	case query.AggQuantile:
		_, rest := halve(sh, quantileTreeShare)
		c, _ := halve(rest, 0.5)
		return c
	}
	return sh
}

// choose returns the mechanism of every noisy component of the layout's
// query: the pinned Options.Mechanisms, the one mechanism of a Laplace or
// Gaussian query, or under Auto chooseMechanism at each component's
// share (l.aggs, l.persons as assigned so far). An Auto query whose
// bounds come from its noisy profile (Options.EstimateBounds) is
// Deferred: Laplace throughout, charged as such, and the release at the
// bounds chosen from the profile, pinned to it, chooses with
// deferredChoice. extra is true when the query has a persons count of
// its own.
func (l *layout) choose(p *plan.Plan, s *settings, extra bool) (*Mechanisms, error) {
	n := len(p.Aggs)
	if s.Mechanism == Auto && s.EstimateBounds && s.Mechanisms == nil {
		// Chosen once the bounds are known; charged as Laplace until then.
		m := &Mechanisms{Aggs: make([]string, n), Trees: make([]string, n), Deferred: true}
		for i, a := range p.Aggs {
			m.Aggs[i] = Laplace
			if a.Kind == query.AggQuantile {
				m.Trees[i] = Laplace
			}
		}
		if extra {
			m.Persons = Laplace
		}
		return m, nil
	}
	// The release of a deferred choice (pinned to a Deferred debited
	// one) chooses as Auto at its own bounds, within the debited ρ.
	deferred := s.Mechanisms != nil && s.Mechanisms.Deferred
	if pin := s.Mechanisms; pin != nil && !deferred {
		if len(pin.Aggs) != n || len(pin.Trees) != n || (extra && pin.Persons == "") {
			return nil, fmt.Errorf("pinned mechanisms (%d aggregates, %d trees, persons %q) do not fit a plan of %d aggregates (persons count: %v)",
				len(pin.Aggs), len(pin.Trees), pin.Persons, n, extra)
		}
		m := &Mechanisms{Aggs: slices.Clone(pin.Aggs), Trees: slices.Clone(pin.Trees)}
		if extra {
			m.Persons = pin.Persons
		}
		for _, x := range append(slices.Clone(m.Aggs), m.Persons) {
			if x == Gaussian && s.Delta <= 0 {
				return nil, fmt.Errorf("pinned gaussian noise needs delta > 0")
			}
		}
		return m, nil
	}
	m := &Mechanisms{Aggs: make([]string, n), Trees: make([]string, n)}
	var trees map[treeKey]share
	if s.Mechanism == Auto || deferred {
		trees = treeShares(p, l)
	}
	pick := func(l0 int64, sh share) string {
		switch {
		case deferred:
			return deferredChoice(l0, sh)
		case s.Mechanism == Auto:
			return chooseMechanism(l0, sh)
		}
		return s.Mechanism
	}
	for i, a := range p.Aggs {
		m.Aggs[i] = pick(a.L0, componentShare(a, l.aggs[i]))
		if a.Kind != query.AggQuantile {
			continue
		}
		tree, _ := halve(l.aggs[i], quantileTreeShare)
		if k, ok := treeOf(a); ok && trees != nil {
			tree = trees[k]
		}
		m.Trees[i] = pick(treeHeight*a.L0, tree)
	}
	if extra {
		m.Persons = pick(p.PersonsL0, l.persons)
	}
	return m, nil
}

// setMechanisms records m in the layout: on every share, on the tree
// shares it builds, and on the spends the result reports.
func (l *layout) setMechanisms(p *plan.Plan, m *Mechanisms) {
	l.mechs = m
	for i := range l.aggs {
		l.aggs[i].mech = m.Aggs[i]
		l.spends[i].Mechanism = m.Aggs[i]
		l.spends[i].TreeMechanism = m.Trees[i]
	}
	if m.Persons != "" {
		l.persons.mech = m.Persons
		l.spends[len(p.Aggs)].Mechanism = m.Persons
	}
	if l.estimate {
		l.spends[len(l.spends)-1].Mechanism = Laplace
	}
	shared := treeShares(p, l)
	l.trees = make([]share, len(p.Aggs))
	for i, a := range p.Aggs {
		if a.Kind != query.AggQuantile {
			continue
		}
		if k, ok := treeOf(a); ok {
			l.trees[i] = shared[k]
			continue
		}
		l.trees[i], _ = halve(l.aggs[i], quantileTreeShare)
		l.trees[i].mech = m.Trees[i]
	}
}

// mechanismOf is what the query's components add, for result.Meta: the
// one mechanism they all use, or Mixed.
func (l *layout) mechanismOf() string {
	var seen []string
	add := func(m string) {
		if m != "" && !slices.Contains(seen, m) {
			seen = append(seen, m)
		}
	}
	for i := range l.aggs {
		add(l.mechs.Aggs[i])
		add(l.mechs.Trees[i])
	}
	add(l.mechs.Persons)
	switch len(seen) {
	case 0:
		return Laplace
	case 1:
		return seen[0]
	}
	return Mixed
}
