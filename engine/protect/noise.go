package protect

import (
	"fmt"
	"math"

	"github.com/google/differential-privacy/go/v3/dpagg"
	"github.com/google/differential-privacy/go/v3/noise"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"gonum.org/v1/gonum/stat/distuv"
)

// estimate is one protected measure: the noisy value, the standard
// deviation of its noise and its confidence interval.
type estimate struct {
	value float64
	sd    float64
	ci    [2]float64
	// count is true for count-type measures, which RoundTo rounds.
	count bool
	// unbiased is the value and interval before they were cut at 0
	// (result.Cell.Unbiased); nil when they were not.
	unbiased *estimate
}

// The shape of the quantile tree of dpagg.BoundedQuantiles: the
// library's branching factor (16) and one level fewer than its default
// height (4), so 4096 leaves over the clamp. Every level adds noise to
// the rank the tree walks to, in proportion to the height (the tree's
// sensitivity), so three levels cut that noise by about a third; a leaf
// of 1/4096 of the range (0.02 days of a [0, 90] stay, 0.09 DDD of
// [0, 365]) is well under what the noise moves a quantile, and the
// library interpolates within it.
const (
	treeHeight      = dpagg.DefaultTreeHeight - 1
	branchingFactor = dpagg.DefaultBranchingFactor
)

// stdDev is the standard deviation of the noise the mechanism adds to a
// statistic with sensitivities l0 and lInf at (eps, delta): Laplace √2·b
// with b = l0·lInf/ε; Gaussian the σ the library itself calibrates with
// (noise.SigmaForGaussian, the function noise.Gaussian().AddNoiseFloat64
// calls).
func stdDev(mechanism string, l0 int64, lInf, eps, delta float64) float64 {
	if mechanism == Gaussian {
		return noise.SigmaForGaussian(l0, lInf, eps, delta)
	}
	return math.Sqrt2 * float64(l0) * lInf / eps
}

// normalQuantile is Φ⁻¹(p).
func normalQuantile(p float64) float64 {
	return distuv.UnitNormal.Quantile(p)
}

// addNoise adds the mechanism's noise to x and returns it with its standard
// deviation and (1-alpha) confidence interval
// (noise.ComputeConfidenceIntervalFloat64 of the mechanism). It is the one
// path every noisy number of this package goes through, except those dpagg
// aggregations draw themselves.
func (s *settings) addNoise(x float64, l0 int64, lInf float64, sh share, alpha float64) (estimate, error) {
	v, err := s.sampler(sh.mech).AddNoiseFloat64(x, l0, lInf, sh.eps, sh.noiseDelta())
	if err != nil {
		return estimate{}, fmt.Errorf("adding noise: %w", err)
	}
	ci, err := s.mech(sh.mech).ComputeConfidenceIntervalFloat64(v, l0, lInf, sh.eps, sh.noiseDelta(), alpha)
	if err != nil {
		return estimate{}, fmt.Errorf("confidence interval: %w", err)
	}
	return estimate{
		value: v,
		sd:    stdDev(sh.mech, l0, lInf, sh.eps, sh.delta),
		ci:    [2]float64{ci.LowerBound, ci.UpperBound},
	}, nil
}

// measure protects one aggregate of one group.
func (s *settings) measure(a plan.Agg, sh share, raw *rawAgg) (estimate, error) {
	switch a.Kind {
	case query.AggCountStar, query.AggCount, query.AggCountDistinct:
		return s.count(raw.count, a.L0, a.LInf, sh)
	case query.AggSum:
		e, err := s.addNoise(raw.sum, a.L0, a.LInf, sh, s.Alpha)
		if err != nil {
			return e, err
		}
		// A sum of values in [lo, hi] has the sign the bounds force;
		// clamping is post-processing and keeps the interval's coverage.
		if a.Bounds[0] >= 0 || a.Bounds[1] <= 0 {
			u := e
			e.unbiased = &u
		}
		if a.Bounds[0] >= 0 {
			e.value, e.ci[0], e.ci[1] = math.Max(e.value, 0), math.Max(e.ci[0], 0), math.Max(e.ci[1], 0)
		}
		if a.Bounds[1] <= 0 {
			e.value, e.ci[0], e.ci[1] = math.Min(e.value, 0), math.Min(e.ci[0], 0), math.Min(e.ci[1], 0)
		}
		return e, nil
	case query.AggAvg:
		return s.avg(a, sh, raw)
	case query.AggQuantile:
		// A tree of the quantile's own mechanism; measures passes the
		// layout's tree share instead.
		tree, _ := halve(sh, quantileTreeShare)
		return s.quantile(a, sh, tree, raw.values)
	case query.AggVariance, query.AggStddev:
		return s.variance(a, sh, raw.values)
	}
	return estimate{}, fmt.Errorf("unsupported aggregate kind %q", a.Kind)
}

// count is a noisy count: never negative, and so is its interval.
func (s *settings) count(x float64, l0 int64, lInf float64, sh share) (estimate, error) {
	e, err := s.addNoise(x, l0, lInf, sh, s.Alpha)
	if err != nil {
		return e, err
	}
	u := e
	e.unbiased = &u
	e.value, e.ci[0], e.ci[1] = math.Max(e.value, 0), math.Max(e.ci[0], 0), math.Max(e.ci[1], 0)
	e.count = true
	return e, nil
}

// halve splits a share in two parts that add up to it, of the same
// mechanism.
func halve(sh share, frac float64) (share, share) {
	a := share{sh.eps * frac, sh.delta * frac, sh.mech}
	return a, share{sh.eps - a.eps, sh.delta - a.delta, sh.mech}
}

// derivedSD is the standard deviation reported for measures computed from
// several noisy components (avg, quantiles, stddev, variance): the
// half-width of their confidence interval divided by Φ⁻¹(1-α/2), the
// spread a normal estimate with that interval would have.
func (s *settings) derivedSD(ci [2]float64) float64 {
	return (ci[1] - ci[0]) / (2 * normalQuantile(1-s.Alpha/2))
}

// avg is clamp(noisy normalised sum / max(noisy count, 1) + midpoint, lo,
// hi). The aggregate's share is halved between the count (sensitivity
// L0, LInf) and the normalised sum (L0, NormLInf). Its interval combines
// the two components' intervals, each at level √(1-α) (the noises are
// independent, so both hold together with probability 1-α): the smallest
// and largest ratio over the four corners, plus the midpoint, clamped to
// the bounds; its stddev is derivedSD of the unclamped interval.
func (s *settings) avg(a plan.Agg, sh share, raw *rawAgg) (estimate, error) {
	lo, hi := a.Bounds[0], a.Bounds[1]
	mid := lo + (hi-lo)/2
	shCount, shSum := halve(sh, 0.5)
	alpha := 1 - math.Sqrt(1-s.Alpha)
	cnt, err := s.addNoise(raw.count, a.L0, a.LInf, shCount, alpha)
	if err != nil {
		return estimate{}, err
	}
	num, err := s.addNoise(raw.normSum, a.L0, a.NormLInf, shSum, alpha)
	if err != nil {
		return estimate{}, err
	}
	e := estimate{value: clamp(num.value/math.Max(cnt.value, 1)+mid, lo, hi)}
	dLo, dHi := math.Max(cnt.ci[0], 1), math.Max(cnt.ci[1], 1)
	r := []float64{num.ci[0] / dLo, num.ci[0] / dHi, num.ci[1] / dLo, num.ci[1] / dHi}
	e.ci = [2]float64{clamp(minOf(r)+mid, lo, hi), clamp(maxOf(r)+mid, lo, hi)}
	e.ci = widen(e.ci, e.value)
	// The stddev describes the noise, so it comes from the interval before
	// clamping: a group whose every value sits at a bound (day contacts'
	// length of stay, 0) has a clamped interval of width 0, which would
	// say the released mean is exact.
	e.sd = s.derivedSD([2]float64{minOf(r), maxOf(r)})
	return e, nil
}

// quantileTreeShare is the part of a quantile's share that the quantile
// tree gets; the rest pays, in equal halves, for a noisy count of the
// values and a noisy three-bin histogram, both used only for the
// confidence interval.
const quantileTreeShare = 0.75

// quantileRankSlack widens the bracket a quantile's interval is checked on,
// in ranks, for the bias of the tree's pruning of small nodes
// (dpagg.BoundedQuantiles ignores nodes below 0.75% of their siblings).
const quantileRankSlack = 0.02

// quantile is dpagg.BoundedQuantiles over the group's clamped values.
//
// Its interval is a bracket [a, b] read off the same noisy tree
// (Result may be asked for other ranks at no further privacy cost), a
// little wider than the tree's noise and pruning can move the rank p, and
// then verified on the data with a noisy histogram of three bins: values
// below a, between a and b, above b. One person changes the bins by at
// most MaxContributionsPerPartition in all, so the histogram costs what
// one count costs. When every bin's interval holds (level (1-α)^(1/3)
// each, all three with probability 1-α), the worst case over the bins
// says whether fewer than p(n-1) values lie below a (then the exact
// quantile_cont of the values is at least a) and whether at least
// p(n-1)+2 lie at or below b (then it is at most b). An end that cannot be
// verified falls back to the bound lo or hi, so the interval holds with
// probability at least 1-α whatever the data; the bracket's width (from a
// noisy count of the values) only decides how often an end is verified.
//
// sh is the quantile's share, shTree its tree's (the tree part of sh with
// the tree's mechanism, or the sum of such parts for a shared tree).
func (s *settings) quantile(a plan.Agg, sh, shTree share, values []float64) (estimate, error) {
	bq, err := s.quantileTree(a, shTree, values)
	if err != nil {
		return estimate{}, err
	}
	return s.quantileOn(bq, shTree, a, sh, values)
}

// quantileTree is the noisy tree of dpagg.BoundedQuantiles over a group's
// values at share shTree.
func (s *settings) quantileTree(a plan.Agg, shTree share, values []float64) (*dpagg.BoundedQuantiles, error) {
	bq, err := dpagg.NewBoundedQuantiles(&dpagg.BoundedQuantilesOptions{
		Epsilon: shTree.eps, Delta: shTree.noiseDelta(),
		MaxPartitionsContributed:     a.L0,
		MaxContributionsPerPartition: a.MaxContributionsPerPartition,
		Lower:                        a.Bounds[0], Upper: a.Bounds[1],
		TreeHeight: treeHeight, BranchingFactor: branchingFactor,
		Noise: s.sampler(shTree.mech),
	})
	if err != nil {
		return nil, fmt.Errorf("quantile: %w", err)
	}
	for _, v := range values {
		if err := bq.Add(v); err != nil {
			return nil, fmt.Errorf("quantile: %w", err)
		}
	}
	return bq, nil
}

// quantileOn reads quantile a off the noisy tree bq (built at shTree,
// which may be the tree of several quantiles of the same values) and
// checks its interval with the rest of a's own share sh (the part that
// is not its tree's).
func (s *settings) quantileOn(bq *dpagg.BoundedQuantiles, shTree share, a plan.Agg, sh share, values []float64) (estimate, error) {
	lo, hi := a.Bounds[0], a.Bounds[1]
	mc := float64(a.MaxContributionsPerPartition)
	_, rest := halve(sh, quantileTreeShare)
	shCount, shHist := halve(rest, 0.5)
	q, err := bq.Result(a.P)
	if err != nil {
		return estimate{}, fmt.Errorf("quantile: %w", err)
	}
	e := estimate{value: q, ci: [2]float64{lo, hi}}

	// The bracket: ranks p ± d on the noisy tree.
	n, err := s.addNoise(float64(len(values)), a.L0, mc, shCount, s.Alpha)
	if err != nil {
		return estimate{}, err
	}
	binAlpha := 1 - math.Pow(1-s.Alpha, 1.0/3)
	w, err := s.mech(shHist.mech).ComputeConfidenceIntervalFloat64(0, a.L0, mc, shHist.eps, shHist.noiseDelta(), binAlpha)
	if err != nil {
		return estimate{}, fmt.Errorf("quantile: %w", err)
	}
	hw := w.UpperBound // half-width of every bin's interval
	bLo, bHi := lo, hi
	if n.value >= 1 {
		sigma := stdDev(shTree.mech, treeHeight*a.L0, mc, shTree.eps, shTree.delta)
		// At each level of the tree the rank within the chosen node moves
		// by about σ·√branchingFactor/2 values (relative to n, whatever
		// the node's size); the levels add in quadrature.
		d := (normalQuantile(1-s.Alpha/2)*sigma*math.Sqrt(treeHeight*branchingFactor)/2+2*hw)/n.value + quantileRankSlack
		if a.P-d > 0 {
			if bLo, err = bq.Result(a.P - d); err != nil {
				return estimate{}, fmt.Errorf("quantile: %w", err)
			}
		}
		if a.P+d < 1 {
			if bHi, err = bq.Result(a.P + d); err != nil {
				return estimate{}, fmt.Errorf("quantile: %w", err)
			}
		}
	}

	// The check: a noisy histogram below / within / above the bracket.
	var bins [3]float64
	for _, v := range values {
		switch v = clamp(v, lo, hi); {
		case v < bLo:
			bins[0]++
		case v > bHi:
			bins[2]++
		default:
			bins[1]++
		}
	}
	var low, high [3]float64 // each bin's interval, at least 0
	for i, x := range bins {
		nx, err := s.sampler(shHist.mech).AddNoiseFloat64(x, a.L0, mc, shHist.eps, shHist.noiseDelta())
		if err != nil {
			return estimate{}, fmt.Errorf("quantile: %w", err)
		}
		low[i], high[i] = math.Max(nx-hw, 0), math.Max(nx+hw, 0)
	}
	p := a.P
	// Fewer than p(n-1) values below bLo, in the worst case over the bins.
	if bLo > lo && (1-p)*high[0]-p*(low[1]+low[2]) <= -p {
		e.ci[0] = bLo
	}
	// At least p(n-1)+2 values at or below bHi, in the worst case.
	if bHi < hi && p*high[2]-(1-p)*(low[0]+low[1]) <= -(2-p) {
		e.ci[1] = bHi
	}
	e.ci = widen(e.ci, e.value)
	e.sd = s.derivedSD(e.ci)
	return e, nil
}

// variance is dpagg.BoundedVariance (or BoundedStandardDeviation) over the
// group's clamped values. The library divides the share in three: a count
// c, a sum s and a sum of squares q of the values minus the midpoint, and
// returns q/c − (s/c)² clamped to [0, (hi-lo)²/4]. The interval takes each
// component's interval at level (1-α)^(1/3) (independent noises: all three
// hold with probability 1-α) and the extreme values of q/c − (s/c)² over
// that box, clamped the same way; for stddev, its square roots.
func (s *settings) variance(a plan.Agg, sh share, values []float64) (estimate, error) {
	lo, hi := a.Bounds[0], a.Bounds[1]
	var (
		bv  *dpagg.BoundedVariance
		res func() (float64, error)
	)
	if a.Kind == query.AggStddev {
		sd, err := dpagg.NewBoundedStandardDeviation(&dpagg.BoundedStandardDeviationOptions{
			Epsilon: sh.eps, Delta: sh.noiseDelta(),
			MaxPartitionsContributed:     a.L0,
			MaxContributionsPerPartition: a.MaxContributionsPerPartition,
			Lower:                        lo, Upper: hi,
			Noise: s.sampler(sh.mech),
		})
		if err != nil {
			return estimate{}, fmt.Errorf("stddev: %w", err)
		}
		bv, res = &sd.Variance, sd.Result
		for _, v := range values {
			if err := sd.Add(v); err != nil {
				return estimate{}, fmt.Errorf("stddev: %w", err)
			}
		}
	} else {
		v, err := dpagg.NewBoundedVariance(&dpagg.BoundedVarianceOptions{
			Epsilon: sh.eps, Delta: sh.noiseDelta(),
			MaxPartitionsContributed:     a.L0,
			MaxContributionsPerPartition: a.MaxContributionsPerPartition,
			Lower:                        lo, Upper: hi,
			Noise: s.sampler(sh.mech),
		})
		if err != nil {
			return estimate{}, fmt.Errorf("variance: %w", err)
		}
		bv, res = v, v.Result
		for _, x := range values {
			if err := v.Add(x); err != nil {
				return estimate{}, fmt.Errorf("variance: %w", err)
			}
		}
	}
	val, err := res()
	if err != nil {
		return estimate{}, fmt.Errorf("%s: %w", a.Kind, err)
	}
	alpha := 1 - math.Pow(1-s.Alpha, 1.0/3)
	c, err := bv.Count.ComputeConfidenceInterval(alpha)
	if err != nil {
		return estimate{}, fmt.Errorf("%s: count interval: %w", a.Kind, err)
	}
	sm, err := bv.NormalizedSum.ComputeConfidenceInterval(alpha)
	if err != nil {
		return estimate{}, fmt.Errorf("%s: sum interval: %w", a.Kind, err)
	}
	sq, err := bv.NormalizedSumOfSquares.ComputeConfidenceInterval(alpha)
	if err != nil {
		return estimate{}, fmt.Errorf("%s: sum of squares interval: %w", a.Kind, err)
	}
	ci := varianceInterval([2]float64{c.LowerBound, c.UpperBound}, [2]float64{sm.LowerBound, sm.UpperBound},
		[2]float64{sq.LowerBound, sq.UpperBound}, (hi-lo)*(hi-lo)/4)
	if a.Kind == query.AggStddev {
		ci = [2]float64{math.Sqrt(ci[0]), math.Sqrt(ci[1])}
	}
	e := estimate{value: val, ci: widen(ci, val)}
	e.sd = s.derivedSD(e.ci)
	return e, nil
}

// varianceInterval bounds q/c − (s/c)² for c in cnt (at least 1), s in
// sum and q in sq (at least 0), clamped to [0, maxVar].
func varianceInterval(cnt, sum, sq [2]float64, maxVar float64) [2]float64 {
	cLo, cHi := math.Max(cnt[0], 1), math.Max(cnt[1], 1)
	qLo, qHi := math.Max(sq[0], 0), math.Max(sq[1], 0)
	m := []float64{sum[0] / cLo, sum[0] / cHi, sum[1] / cLo, sum[1] / cHi}
	mLo, mHi := minOf(m), maxOf(m)
	m2Hi := math.Max(mLo*mLo, mHi*mHi)
	m2Lo := math.Min(mLo*mLo, mHi*mHi)
	if mLo <= 0 && mHi >= 0 {
		m2Lo = 0
	}
	return [2]float64{
		clamp(qLo/cHi-m2Hi, 0, maxVar),
		clamp(qHi/cLo-m2Lo, 0, maxVar),
	}
}

// widen extends ci to contain v.
func widen(ci [2]float64, v float64) [2]float64 {
	return [2]float64{math.Min(ci[0], v), math.Max(ci[1], v)}
}

func clamp(x, lo, hi float64) float64 {
	return math.Min(math.Max(x, lo), hi)
}

func minOf(xs []float64) float64 {
	m := math.Inf(1)
	for _, x := range xs {
		m = math.Min(m, x)
	}
	return m
}

func maxOf(xs []float64) float64 {
	m := math.Inf(-1)
	for _, x := range xs {
		m = math.Max(m, x)
	}
	return m
}

// roundCount rounds a released count to the nearest multiple of to, and
// its interval outward to multiples of to (so it still holds the true
// count). The standard deviation stays that of the noise: rounding adds at
// most to/2.
func roundCount(e *estimate, to int) {
	if !e.count || to <= 1 {
		return
	}
	r := float64(to)
	e.value = math.Round(e.value/r) * r
	e.ci = [2]float64{math.Floor(e.ci[0]/r) * r, math.Ceil(e.ci[1]/r) * r}
}
