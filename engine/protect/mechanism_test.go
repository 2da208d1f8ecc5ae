package protect

import (
	"math"
	"testing"

	"github.com/google/differential-privacy/go/v3/noise"
	"github.com/statgate/statgate/engine/bounds"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"gonum.org/v1/gonum/stat/distuv"
)

// autoRelease prepares one aggregate, no keys, no suppression, under Auto.
func autoRelease(t *testing.T, a plan.Agg, eps, delta float64) *Release {
	t.Helper()
	r, err := Prepare(testPlan(nil, []plan.Agg{a}, nil), &Options{Epsilon: eps, Delta: delta, Mechanism: Auto})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// moments returns the mean, standard deviation and excess kurtosis of xs.
func moments(xs []float64) (mean, sd, kurt float64) {
	n := float64(len(xs))
	for _, x := range xs {
		mean += x / n
	}
	var m2, m4 float64
	for _, x := range xs {
		d := (x - mean) * (x - mean)
		m2 += d / n
		m4 += d * d / n
	}
	return mean, math.Sqrt(m2), m4/(m2*m2) - 3
}

// TestAutoPicksTheSmallerNoise: under Auto a count is noised with the
// mechanism whose standard deviation at the query's (ε, δ) is smaller —
// Laplace √2·L0·L∞/ε against the library's Gaussian σ for √L0·L∞ —, the
// draws have the stated sd (within 3 %, while the other mechanism's is
// at least 15 % away) and its shape (excess kurtosis 3 for Laplace, 0 for
// Gaussian), and a Laplace choice gives back the δ it does not use.
func TestAutoPicksTheSmallerNoise(t *testing.T) {
	const n = 20000
	tests := []struct {
		desc       string
		agg        plan.Agg
		eps, delta float64
		want       string
	}{
		{"one group per person: Laplace", plan.Agg{Kind: query.AggCountStar, Name: "n", L0: 1, LInf: 3}, 0.5, 1e-7, Laplace},
		{"24 groups per person: Gaussian", plan.Agg{Kind: query.AggCountStar, Name: "n", L0: 24, LInf: 3}, 0.5, 1e-7, Gaussian},
		{"a sum over 20 groups at ε 2: Gaussian", plan.Agg{Kind: query.AggSum, Name: "s", L0: 20, LInf: 90, Bounds: [2]float64{0, 90}}, 2, 1e-6, Gaussian},
		{"6 groups at ε 0.06: Laplace", plan.Agg{Kind: query.AggCountDistinct, Name: "p", L0: 6, LInf: 1}, 0.06, 1e-7, Laplace},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			lap := math.Sqrt2 * float64(tc.agg.L0) * tc.agg.LInf / tc.eps
			gauss := noise.SigmaForGaussian(tc.agg.L0, tc.agg.LInf, tc.eps, tc.delta)
			want, other := math.Min(lap, gauss), math.Max(lap, gauss)
			if (gauss < lap) != (tc.want == Gaussian) || other < 1.15*want {
				t.Fatalf("case does not test what it says: Laplace sd %g, Gaussian %g", lap, gauss)
			}
			r := autoRelease(t, tc.agg, tc.eps, tc.delta)
			if got := r.Mechanisms().Aggs[0]; got != tc.want || r.Mechanism() != tc.want || r.Spends()[0].Mechanism != tc.want {
				t.Fatalf("chose %q (release %q, split %+v), want %q (Laplace sd %g, Gaussian %g)", got, r.Mechanism(), r.Spends(), tc.want, lap, gauss)
			}
			wantDelta := 0.0
			if tc.want == Gaussian {
				wantDelta = tc.delta
			}
			if r.Delta() != wantDelta {
				t.Errorf("δ debited %g, want %g", r.Delta(), wantDelta)
			}
			x := 5000.0
			raw := rawAgg{count: x, sum: x}
			var sd float64
			vals := draws(t, n, func() (float64, error) {
				e, err := r.s.measure(tc.agg, r.l.aggs[0], &raw)
				sd = e.sd
				return e.value, err
			})
			if math.Abs(sd-want) > 1e-9*want {
				t.Errorf("stated sd %g, want the smaller %g", sd, want)
			}
			mean, emp, kurt := moments(vals)
			t.Logf("%s: stated sd %.4g, empirical %.4g (other mechanism %.4g), excess kurtosis %.2f, mean %.1f", tc.want, sd, emp, other, kurt, mean)
			if math.Abs(emp-want) > 0.03*want {
				t.Errorf("empirical sd %g, stated %g", emp, want)
			}
			switch tc.want {
			case Laplace:
				if kurt < 2 || kurt > 4.5 {
					t.Errorf("excess kurtosis %.2f, want about 3 (Laplace)", kurt)
				}
			case Gaussian:
				if math.Abs(kurt) > 0.25 {
					t.Errorf("excess kurtosis %.2f, want about 0 (Gaussian)", kurt)
				}
			}
			if d := r.DryRun().Meta.DryRun.Measures[0]; d.Mechanism != tc.want || d.StdDev == nil || math.Abs(*d.StdDev-want) > 1e-9*want {
				t.Errorf("dry run says %+v, want %s with sd %g", d, tc.want, want)
			}
		})
	}
}

// TestAutoRho: the ρ of an Auto release is the sum of what each chosen
// mechanism spends (ε²/2 for Laplace, 1/(2σ₁²) for Gaussian), also when
// one quantile's tree is Gaussian and its count and histogram Laplace;
// and pinning the mechanisms to another release's keeps its choices and
// its ρ whatever the new bounds.
func TestAutoRho(t *testing.T) {
	gaussRho := func(eps, delta float64) float64 {
		s := noise.SigmaForGaussian(1, 1, eps, delta)
		return 1 / (2 * s * s)
	}
	// A median with 4 groups per person: its tree counts 3·4 = 12 groups
	// (Gaussian), its count and histogram 4 (Laplace).
	med := plan.Agg{Kind: query.AggQuantile, Name: "med", P: 0.5, L0: 4, LInf: 1, MaxContributionsPerPartition: 1, Bounds: [2]float64{0, 90}}
	r := autoRelease(t, med, 1, 1e-7)
	m := r.Mechanisms()
	if m.Aggs[0] != Laplace || m.Trees[0] != Gaussian || r.Mechanism() != Mixed {
		t.Fatalf("median mechanisms %+v (%s), want a Gaussian tree and a Laplace count", m, r.Mechanism())
	}
	sp := r.Spends()[0]
	if sp.Mechanism != Laplace || sp.TreeMechanism != Gaussian || sp.Delta != 1e-7 {
		t.Errorf("split %+v", sp)
	}
	want := gaussRho(0.75, 0.75e-7) + 2*0.125*0.125/2
	if got := r.Rho(); got < want*(1-1e-12) || got > want*1.0021 {
		t.Errorf("ρ %g, want %g", got, want)
	}
	// The same median pinned to all-Laplace choices spends ε²/2 of each part.
	lapOnly := &Mechanisms{Aggs: []string{Laplace}, Trees: []string{Laplace}}
	p := testPlan(nil, []plan.Agg{med}, nil)
	pinned, err := Prepare(p, &Options{Epsilon: 1, Delta: 1e-7, Mechanism: Auto, Mechanisms: lapOnly})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pinned.Rho(), (0.75*0.75+2*0.125*0.125)/2; math.Abs(got-want) > 1e-12 || pinned.Delta() != 0 {
		t.Errorf("pinned Laplace: ρ %g (want %g), δ %g (want 0)", got, want, pinned.Delta())
	}
	// A count chosen Gaussian at 24 groups stays Gaussian when the bounds
	// become 1 group (where Auto alone would pick Laplace).
	wide := autoRelease(t, plan.Agg{Kind: query.AggCountStar, Name: "n", L0: 24, LInf: 3}, 0.5, 1e-7)
	narrow, err := Prepare(testPlan(nil, []plan.Agg{{Kind: query.AggCountStar, Name: "n", L0: 1, LInf: 3}}, nil),
		&Options{Epsilon: 0.5, Delta: 1e-7, Mechanism: Auto, Mechanisms: wide.Mechanisms()})
	if err != nil {
		t.Fatal(err)
	}
	if narrow.Mechanism() != Gaussian || narrow.Rho() != wide.Rho() || narrow.Delta() != wide.Delta() {
		t.Errorf("pinned: %s ρ %g δ %g, want gaussian ρ %g δ %g", narrow.Mechanism(), narrow.Rho(), narrow.Delta(), wide.Rho(), wide.Delta())
	}
	if _, err := Prepare(testPlan(nil, []plan.Agg{med, med}, nil), &Options{Epsilon: 1, Delta: 1e-7, Mechanism: Auto, Mechanisms: lapOnly}); err == nil {
		t.Error("mechanisms pinned for one aggregate accepted for two")
	}
}

// gaussianEpsilon is the exact ε at δ of a Gaussian mechanism whose
// outputs on neighbouring datasets are normal with means mu apart and
// standard deviation sigma (Balle and Wang 2018, Theorem 8:
// δ(ε) = Φ(μ'/2 − ε/μ') − e^ε Φ(−μ'/2 − ε/μ'), μ' = mu/sigma).
func gaussianEpsilon(mu, sigma, delta float64) float64 {
	m := math.Abs(mu) / sigma
	phi := distuv.UnitNormal.CDF
	d := func(eps float64) float64 { return phi(m/2-eps/m) - math.Exp(eps)*phi(-m/2-eps/m) }
	lo, hi := 0.0, 100.0
	for range 200 {
		mid := (lo + hi) / 2
		if d(mid) > delta {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// TestAutoEmpiricalPrivacy runs both branches of Auto on neighbouring
// datasets — one person more, with L∞ rows in each of the L0 groups
// they may reach — and estimates the privacy loss from the outputs.
// Laplace (one group per person): the largest log ratio of the two
// output histograms, within 15 % of ε. Gaussian (16 groups per person):
// the sum of the person's 16 noisy group counts carries everything that
// tells the datasets apart (the shifts are equal); its empirical mean
// shift and sd, put into the exact Gaussian privacy profile, give ε̂ at
// the query's δ, which must be within 5 % above ε and not far below it.
// With the sensitivity understated three times, both estimates exceed ε.
func TestAutoEmpiricalPrivacy(t *testing.T) {
	if testing.Short() {
		t.Skip("statistical")
	}
	const eps = 1.0
	for _, understate := range []bool{false, true} {
		name := map[bool]string{false: "at the declared sensitivity", true: "sensitivity understated"}[understate]
		t.Run("laplace "+name, func(t *testing.T) {
			a := plan.Agg{Kind: query.AggCountStar, Name: "n", L0: 1, LInf: 6}
			r := autoRelease(t, a, eps, 1e-6)
			if r.Mechanism() != Laplace {
				t.Fatalf("chose %s", r.Mechanism())
			}
			used := a
			if understate {
				used.LInf /= 3
			}
			draw := func(x float64) []float64 {
				raw := rawAgg{count: x}
				return draws(t, 50000, func() (float64, error) {
					e, err := r.s.measure(used, r.l.aggs[0], &raw)
					return e.value, err
				})
			}
			loss, bins := privacyLoss(draw(1000), draw(1006), 1000, 3, 2000)
			t.Logf("ε̂ %.3f over %d bins (ε %g)", loss, bins, eps)
			if bins < 2 {
				t.Fatalf("only %d bins", bins)
			}
			if !understate && loss > 1.15*eps || understate && loss <= 1.15*eps {
				t.Errorf("ε̂ %.3f, ε %g (understated: %v)", loss, eps, understate)
			}
		})
		t.Run("gaussian "+name, func(t *testing.T) {
			const l0, lInf, delta, runs = 16, 5.0, 1e-6, 8000
			a := plan.Agg{Kind: query.AggCountStar, Name: "n", L0: l0, LInf: lInf}
			r := autoRelease(t, a, eps, delta)
			if r.Mechanism() != Gaussian {
				t.Fatalf("chose %s", r.Mechanism())
			}
			used := a
			if understate {
				used.LInf /= 3
			}
			sums := func(x float64) []float64 {
				raw := rawAgg{count: x}
				return draws(t, runs, func() (float64, error) {
					var s float64
					for range l0 {
						e, err := r.s.measure(used, r.l.aggs[0], &raw)
						if err != nil {
							return 0, err
						}
						s += e.value
					}
					return s, nil
				})
			}
			ma, sa, ka := moments(sums(1000))
			mb, sb, _ := moments(sums(1000 + lInf))
			got := gaussianEpsilon(l0*lInf, (sa+sb)/2, delta)
			t.Logf("shift %.1f (true %g), sd %.2f / %.2f, excess kurtosis %.2f: ε̂ %.3f at δ %g (ε %g)", mb-ma, l0*lInf, sa, sb, ka, got, delta, eps)
			if math.Abs(ka) > 0.3 {
				t.Errorf("excess kurtosis %.2f: not Gaussian", ka)
			}
			if !understate && (got > 1.05*eps || got < 0.85*eps) || understate && got <= 1.05*eps {
				t.Errorf("ε̂ %.3f, ε %g (understated: %v)", got, eps, understate)
			}
		})
	}
}

// TestAutoDeferredWithEstimatedBounds: when the bounds come from the
// noisy profile, the prepared (debited) release charges every part as
// Laplace and keeps its δ; the release at the chosen bounds then picks
// per part, and never spends more ρ or δ than was debited.
func TestAutoDeferredWithEstimatedBounds(t *testing.T) {
	p := testPlan(nil, []plan.Agg{{Kind: query.AggCountStar, Name: "n", L0: 4, LInf: 3}}, nil)
	o := &Options{Epsilon: 0.5, Delta: 1e-7, Mechanism: Auto, EstimateBounds: true}
	debited, err := Prepare(p, o)
	if err != nil {
		t.Fatal(err)
	}
	m := debited.Mechanisms()
	wantRho := (0.45*0.45 + 2*0.025*0.025) / 2 // the count as Laplace; two profile histograms at ε 0.025
	if !m.Deferred || debited.Mechanism() != Laplace || debited.DryRun().Meta.Mechanism != Auto || math.Abs(debited.Rho()-wantRho) > 1e-12 || debited.Delta() != 1e-7 {
		t.Fatalf("deferred release: %+v %s (dry run %s) ρ %g (want %g) δ %g", m, debited.Mechanism(), debited.DryRun().Meta.Mechanism, debited.Rho(), wantRho, debited.Delta())
	}
	for _, l0 := range []int64{1, 24} {
		chosen := testPlan(nil, []plan.Agg{{Kind: query.AggCountStar, Name: "n", L0: l0, LInf: 3}}, nil)
		po := *o
		po.Mechanisms = m
		r, err := Prepare(chosen, &po)
		if err != nil {
			t.Fatal(err)
		}
		want := Laplace
		if l0 == 24 {
			want = Gaussian
		}
		if r.Mechanism() != want || r.Rho() > debited.Rho() || r.Delta() != debited.Delta() {
			t.Errorf("L0 %d: %s ρ %g δ %g; want %s within the debited ρ %g, δ %g", l0, r.Mechanism(), r.Rho(), r.Delta(), want, debited.Rho(), debited.Delta())
		}
	}
}

// TestTypicalSDModelsTheNoiseUsed: the bound chooser's error model
// (Release.TypicalSD, ValueSD) states the noise of the mechanism each
// measure will have at the bounds it weighs: for a deferred Auto release
// Laplace at small L0 and the smaller Gaussian at large L0 (a Laplace
// policy's stays Laplace), every measure weighed (root mean square, a
// sum relative to its typical value), so that on a profile where persons
// reach many groups the chooser takes a larger L0 with Gaussian noise
// than the Laplace model would.
func TestTypicalSDModelsTheNoiseUsed(t *testing.T) {
	const eps, delta = 0.5, 1e-7
	count := plan.Agg{Kind: query.AggCountStar, Name: "n", L0: 4, LInf: 3}
	prep := func(mech string, aggs ...plan.Agg) *Release {
		t.Helper()
		r, err := Prepare(testPlan(nil, aggs, nil), &Options{Epsilon: eps, Delta: delta, Mechanism: mech, EstimateBounds: true})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	lap := func(l0, lInf, e float64) float64 { return math.Sqrt2 * l0 * lInf / e }
	gauss := func(l0 int64, lInf, e, d float64) float64 { return noise.SigmaForGaussian(l0, lInf, e, d) }
	share := eps * (1 - BoundsShare)
	auto, laplace := prep(Auto, count), prep(Laplace, count)
	if got, want := auto.TypicalSD(1, 3, nil), lap(1, 3, share); math.Abs(got-want) > 1e-9*want {
		t.Errorf("auto, L0 1: sd %g, want Laplace's %g", got, want)
	}
	g24 := gauss(24, 3, share, delta)
	if g24 >= lap(24, 3, share) {
		t.Fatalf("case does not test what it says: Gaussian %g, Laplace %g at L0 24", g24, lap(24, 3, share))
	}
	if got := auto.TypicalSD(24, 3, nil); math.Abs(got-g24) > 1e-9*g24 {
		t.Errorf("auto, L0 24: sd %g, want Gaussian's %g", got, g24)
	}
	if got, want := laplace.TypicalSD(24, 3, nil), lap(24, 3, share); math.Abs(got-want) > 1e-9*want {
		t.Errorf("laplace policy, L0 24: sd %g, want %g", got, want)
	}
	// Every measure: a count and a sum of values in [0, 100] typically 10
	// weigh as the root mean square of the count's noise and the sum's
	// noise over 10, each at half the share.
	sum := plan.Agg{Kind: query.AggSum, Name: "s", L0: 4, LInf: 300, Bounds: [2]float64{0, 100}}
	both := prep(Auto, count, sum)
	half := share / 2
	sc := []Scale{{}, {Typical: 10}}
	for _, l0 := range []int64{1, 24} {
		c := math.Min(lap(float64(l0), 3, half), gauss(l0, 3, half, delta/2))
		s := math.Min(lap(float64(l0), 300, half), gauss(l0, 300, half, delta/2)) / 10
		want := math.Sqrt((c*c + s*s) / 2)
		if got := both.TypicalSD(int(l0), 3, sc); math.Abs(got-want) > 1e-9*want {
			t.Errorf("count and sum, L0 %d: sd %g, want %g", l0, got, want)
		}
	}
	// A mean's values at L0 24: Gaussian too.
	avg := prep(Auto, plan.Agg{Kind: query.AggAvg, Name: "m", L0: 4, LInf: 3, NormLInf: 150, Bounds: [2]float64{0, 100}})
	if got, want := avg.ValueSD(24, 6), gauss(24, 3, share/2, delta/2); math.Abs(got-want) > 1e-9*want {
		t.Errorf("mean's values, L0 24: sd %g, want Gaussian's %g", got, want)
	}
	// Persons in 1–24 of 24 public groups, fewer the more groups (3000/k
	// persons in k groups): Laplace takes L0 20, Gaussian 24 (at 1000/k
	// bounds.MaxBias, 3 %, holds both at 20).
	pr := &plan.Profile{GroupsCap: 24, RowsCap: 1, Groups: 24, Totals: true}
	ge := pr.GroupEdges()
	groups := make([]float64, len(ge))
	for j, e := range ge {
		groups[j] = 3000 / float64(e)
	}
	rows := make([]float64, len(pr.RowEdges()))
	rows[0] = 1
	sdOf := func(r *Release) func(l0, lInf int) float64 {
		return func(l0, lInf int) float64 { return r.TypicalSD(l0, lInf, nil) }
	}
	withLaplace, withAuto := bounds.Choose(pr, groups, rows, sdOf(laplace)), bounds.Choose(pr, groups, rows, sdOf(auto))
	t.Logf("L0 chosen: %d with the Laplace model, %d with the mechanism Auto will use", withLaplace.L0, withAuto.L0)
	if withAuto.L0 <= withLaplace.L0 {
		t.Errorf("L0 %d knowing Gaussian noise grows as √L0, %d with Laplace: want larger", withAuto.L0, withLaplace.L0)
	}
}
