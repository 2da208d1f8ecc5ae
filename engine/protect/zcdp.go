package protect

import (
	"fmt"
	"math"
	"slices"

	"github.com/google/differential-privacy/go/v3/noise"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/result"
)

// gaussianSigmaSlack covers the accuracy to which Google's library
// calibrates a Gaussian: noise.SigmaForGaussian returns a σ at most 0.1 %
// above the smallest σ that meets (ε, δ), which scales with the
// sensitivity. Dividing the σ of sensitivity 1 by this before squaring
// bounds the ρ of every Gaussian the library calibrates to that (ε, δ),
// whatever its sensitivity.
const gaussianSigmaSlack = 1.001

// mechanismRho is the ρ (zCDP) of one mechanism calibrated to (eps, delta)
// by Google's library: for a Gaussian Δ₂²/(2σ²), which only depends on σ
// relative to the sensitivity; for pure-ε Laplace ε²/2 (Bun–Steinke 2016,
// Proposition 1.4).
func mechanismRho(mechanism string, eps, delta float64) float64 {
	if mechanism == Gaussian && delta > 0 {
		s := noise.SigmaForGaussian(1, 1, eps, delta) / gaussianSigmaSlack
		return 1 / (2 * s * s)
	}
	return eps * eps / 2
}

// Rho is the query's ρ in zero-concentrated DP: the sum over every
// mechanism it runs of that mechanism's ρ (mechanismRho), each component
// of an aggregate counted apart (avg: a count and a sum; variance and
// stddev: the library's three; quantiles: the tree, a count and a
// histogram; quantiles of one list of values share one tree, charged once
// at the sum of their tree shares), the persons count and the
// contribution profile included.
// Partition selection is (ε, δ)-DP, not Gaussian: it is charged ε²/2 and
// its δ is additive (ZDelta). The query is then ZDelta-approximately
// ρ-zCDP, and the ledger's zCDP account adds up these two amounts.
func (r *Release) Rho() float64 {
	var rho float64
	for i, a := range r.plan.Aggs {
		sh := r.l.aggs[i]
		switch a.Kind {
		case query.AggAvg:
			c, s := halve(sh, 0.5)
			rho += mechanismRho(c.mech, c.eps, c.delta) + mechanismRho(s.mech, s.eps, s.delta)
		case query.AggVariance, query.AggStddev:
			// dpagg divides the share in three: a count, a sum and a sum
			// of squares.
			rho += 3 * mechanismRho(sh.mech, sh.eps/3, sh.delta/3)
		case query.AggQuantile:
			_, rest := halve(sh, quantileTreeShare)
			cnt, hist := halve(rest, 0.5)
			rho += mechanismRho(cnt.mech, cnt.eps, cnt.delta) + mechanismRho(hist.mech, hist.eps, hist.delta)
			if _, shared := treeOf(a); !shared {
				t := r.l.trees[i]
				rho += mechanismRho(t.mech, t.eps, t.delta)
			}
		default:
			rho += mechanismRho(sh.mech, sh.eps, sh.delta)
		}
	}
	// Quantiles of one list of values share one tree built with the sum
	// of their tree shares: one mechanism at that sum.
	for _, t := range treeShares(r.plan, r.l) {
		rho += mechanismRho(t.mech, t.eps, t.delta)
	}
	if r.l.suppress && r.l.personsAgg < 0 {
		rho += mechanismRho(r.l.persons.mech, r.l.persons.eps, r.l.persons.delta)
	}
	if r.l.selects {
		rho += r.l.selection.eps * r.l.selection.eps / 2
	}
	if r.l.estimate {
		// Laplace histograms, each at profileEpsilon, composed in sequence.
		h := float64(r.s.profileHistograms())
		e := r.profileEpsilon()
		rho += h * e * e / 2
	}
	return rho
}

// ZDelta is the δ of the query's zCDP account: partition selection's,
// which ρ does not cover. It is 0 when the query selects no groups.
func (r *Release) ZDelta() float64 {
	if !r.l.selects {
		return 0
	}
	return r.l.selection.delta
}

// Mechanism is the noise mechanism the release adds: Laplace, Gaussian,
// or Mixed when Auto chose Laplace for some components and Gaussian for
// others (Mechanisms says which).
func (r *Release) Mechanism() string { return r.l.mechanismOf() }

// Mechanisms is the mechanism of every noisy component of the release,
// chosen before the debit from the plan and the options alone. Passed
// back as Options.Mechanisms it pins them in a later Prepare of the same
// query.
func (r *Release) Mechanisms() *Mechanisms {
	m := *r.l.mechs
	m.Aggs, m.Trees = slices.Clone(m.Aggs), slices.Clone(m.Trees)
	return &m
}

// DryRun returns what Apply would release, without data: the result's
// columns and meta (the split, the mechanism, how groups are chosen, the
// bounds, the suppression rules and the release threshold), no rows, and
// in Meta.DryRun the expected accuracy of every measure and the release
// threshold. The engine adds the costs and the budgets. It draws nothing.
func (r *Release) DryRun() *result.Result {
	p, s, l := r.plan, r.s, r.l
	res := assemble(p, l, s, nil)
	res.Rows = []result.Row{}
	res.Meta.SuppressBelow = r.threshold
	if l.mechs.Deferred {
		// Chosen with the bounds, from the data's noisy profile.
		res.Meta.Mechanism = Auto
		for i := range res.Meta.Split {
			if res.Meta.Split[i].Purpose != PurposeBounds {
				res.Meta.Split[i].Mechanism, res.Meta.Split[i].TreeMechanism = "", ""
			}
		}
	}
	d := &result.DryRun{ReleaseThreshold: r.threshold, BoundsFromData: l.estimate}
	if r.threshold > 0 {
		d.SmallestReleasable = int(math.Ceil(r.threshold))
	}
	// halfWidth is the half-width of the mechanism's (1 − α) interval.
	halfWidth := func(l0 int64, lInf float64, sh share) *float64 {
		ci, err := s.mech(sh.mech).ComputeConfidenceIntervalFloat64(0, l0, lInf, sh.eps, sh.noiseDelta(), s.Alpha)
		if err != nil {
			return nil // unreachable: Prepare built this mechanism
		}
		return &ci.UpperBound
	}
	for i, a := range p.Aggs {
		sh := l.aggs[i]
		e := result.Expected{Measure: a.Name, Aggregate: string(a.Kind), Mechanism: sh.mech}
		if l.mechs.Deferred {
			e.Mechanism = "" // chosen with the bounds, from the data's noisy profile
		}
		switch a.Kind {
		case query.AggCountStar, query.AggCount, query.AggCountDistinct, query.AggSum:
			sd := stdDev(sh.mech, a.L0, a.LInf, sh.eps, sh.delta)
			e.StdDev, e.HalfWidth95 = &sd, halfWidth(a.L0, a.LInf, sh)
			if a.Kind != query.AggSum && s.RoundTo > 1 {
				e.Note = fmt.Sprintf("released counts are rounded to multiples of %d", s.RoundTo)
			}
		case query.AggAvg:
			c, sm := halve(sh, 0.5)
			e.Note = fmt.Sprintf("the mean's noise is about %.3g / n in a group of n values (noise of the sum; the count's noise has sd %.3g), within the bounds [%g, %g]",
				stdDev(sm.mech, a.L0, a.NormLInf, sm.eps, sm.delta), stdDev(c.mech, a.L0, a.LInf, c.eps, c.delta), a.Bounds[0], a.Bounds[1])
		default:
			e.Note = fmt.Sprintf("the accuracy of a %s depends on the group's values; it is reported with each answer, within the bounds [%g, %g]",
				a.Kind, a.Bounds[0], a.Bounds[1])
		}
		d.Measures = append(d.Measures, e)
	}
	res.Meta.DryRun = d
	return res
}
