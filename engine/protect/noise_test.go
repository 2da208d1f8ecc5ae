package protect

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/google/differential-privacy/go/v3/noise"
	"github.com/statgate/statgate/engine/internal/testkit"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
)

func mustSettings(t testing.TB, o *Options) *settings {
	t.Helper()
	s, err := validate(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStdDev(t *testing.T) {
	tests := []struct {
		desc       string
		mechanism  string
		l0         int64
		lInf       float64
		eps, delta float64
		want       float64
	}{
		{"laplace", Laplace, 2, 3, 0.5, 0, math.Sqrt2 * 12},
		{"laplace unit", Laplace, 1, 1, 1, 0, math.Sqrt2},
		{"gaussian is the library's sigma", Gaussian, 3, 2, 1, 1e-6, noise.SigmaForGaussian(3, 2, 1, 1e-6)},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if got := stdDev(tc.mechanism, tc.l0, tc.lInf, tc.eps, tc.delta); math.Abs(got-tc.want) > 1e-12*tc.want {
				t.Errorf("stdDev = %g, want %g", got, tc.want)
			}
		})
	}
}

// TestNoiseScale draws ≥ 20,000 noisy counts and sums through measure, the
// path Apply uses, and checks the empirical standard deviation against the
// reported one (within 3%) and the 95% intervals' coverage (94–96%).
func TestNoiseScale(t *testing.T) {
	const n = 20000
	tests := []struct {
		desc string
		o    Options
		agg  plan.Agg
		raw  rawAgg
		x    float64
	}{
		{"laplace count", Options{Epsilon: 1}, plan.Agg{Kind: query.AggCountStar, L0: 2, LInf: 3}, rawAgg{count: 5000}, 5000},
		{"gaussian count", Options{Epsilon: 1, Delta: 1e-6, Mechanism: Gaussian}, plan.Agg{Kind: query.AggCount, L0: 3, LInf: 2}, rawAgg{count: 5000}, 5000},
		{"laplace sum", Options{Epsilon: 0.5}, plan.Agg{Kind: query.AggSum, L0: 1, LInf: 90, Bounds: [2]float64{-90, 90}}, rawAgg{sum: 1234.5}, 1234.5},
		{"gaussian sum", Options{Epsilon: 0.8, Delta: 1e-7, Mechanism: Gaussian}, plan.Agg{Kind: query.AggSum, L0: 4, LInf: 10, Bounds: [2]float64{-10, 10}}, rawAgg{sum: -300}, -300},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			s := mustSettings(t, &tc.o)
			sh := share{tc.o.Epsilon, tc.o.Delta, s.Mechanism}
			var sum, sumSq, sd float64
			covered := 0
			for _, e := range draws(t, n, func() (estimate, error) { return s.measure(tc.agg, sh, &tc.raw) }) {
				d := e.value - tc.x
				sum += d
				sumSq += d * d
				if e.ci[0] <= tc.x && tc.x <= e.ci[1] {
					covered++
				}
				sd = e.sd
			}
			mean := sum / n
			emp := math.Sqrt(sumSq/n - mean*mean)
			if math.Abs(emp-sd) > 0.03*sd {
				t.Errorf("empirical sd %g, reported %g (off by %.1f%%)", emp, sd, 100*math.Abs(emp-sd)/sd)
			}
			if cov := float64(covered) / n; cov < 0.94 || cov > 0.96 {
				t.Errorf("95%% intervals cover the true value %.2f%% of the time", 100*cov)
			}
		})
	}
}

// privacyLoss estimates max |log(p1/p2)| over histogram bins of width w
// (edges at origin + k·w) that hold at least minCount outputs of each
// sample.
func privacyLoss(a, b []float64, origin, w float64, minCount int) (loss float64, bins int) {
	hist := func(xs []float64) map[int]int {
		h := map[int]int{}
		for _, x := range xs {
			h[int(math.Floor((x-origin)/w))]++
		}
		return h
	}
	ha, hb := hist(a), hist(b)
	for k, ca := range ha {
		cb := hb[k]
		if ca < minCount || cb < minCount {
			continue
		}
		bins++
		loss = math.Max(loss, math.Abs(math.Log(float64(ca)/float64(len(a)))-math.Log(float64(cb)/float64(len(b)))))
	}
	return loss, bins
}

// TestEmpiricalPrivacy runs count and sum on neighbouring datasets — one
// person with maximal contributions (L∞ in each of L0 groups) added — and
// estimates the privacy loss in one group from histograms of the outputs.
// A person affects L0 groups, so the noise of one group is calibrated to
// ε/L0; the estimate must stay within 15% of it. The same test with the
// sensitivity understated three times must see the excess.
func TestEmpiricalPrivacy(t *testing.T) {
	const (
		runs     = 50000
		minCount = 2000
		eps      = 2.0
		l0       = 2
	)
	perGroup := eps / l0
	tests := []struct {
		desc       string
		agg        plan.Agg
		base       rawAgg
		neighbour  rawAgg
		understate bool
	}{
		{"count", plan.Agg{Kind: query.AggCountStar, L0: l0, LInf: 5}, rawAgg{count: 1000}, rawAgg{count: 1005}, false},
		{"sum", plan.Agg{Kind: query.AggSum, L0: l0, LInf: 90, Bounds: [2]float64{0, 90}}, rawAgg{sum: 20000}, rawAgg{sum: 20090}, false},
		{"count, sensitivity understated", plan.Agg{Kind: query.AggCountStar, L0: l0, LInf: 5}, rawAgg{count: 1000}, rawAgg{count: 1005}, true},
	}
	s := mustSettings(t, &Options{Epsilon: eps})
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			lInf := tc.agg.LInf
			a := tc.agg
			if tc.understate {
				a.LInf = lInf / 3
			}
			draw := func(raw rawAgg) []float64 {
				return draws(t, runs, func() (float64, error) {
					e, err := s.measure(a, share{eps, 0, s.Mechanism}, &raw)
					return e.value, err
				})
			}
			origin := tc.base.count + tc.base.sum
			loss, bins := privacyLoss(draw(tc.base), draw(tc.neighbour), origin, lInf/2, minCount)
			if bins < 2 {
				t.Fatalf("only %d bins with %d outputs on both sides", bins, minCount)
			}
			t.Logf("estimated loss %.3f over %d bins (declared %.3f per group)", loss, bins, perGroup)
			if tc.understate {
				if loss <= perGroup*1.15 {
					t.Errorf("understated sensitivity: loss %.3f, want > %.3f", loss, perGroup*1.15)
				}
			} else if loss > perGroup*1.15 {
				t.Errorf("loss %.3f, want ≤ %.3f", loss, perGroup*1.15)
			}
		})
	}
}

// draws calls f n times on all CPUs (the library's secure noise takes tens
// of microseconds a draw) and returns the results.
func draws[T any](t testing.TB, n int, f func() (T, error)) []T {
	t.Helper()
	out := make([]T, n)
	workers := runtime.GOMAXPROCS(0)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				v, err := f()
				if err != nil {
					errs[w] = err
					return
				}
				out[i] = v
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestMeasureExact(t *testing.T) {
	values := []float64{-5, 0, 1, 2, 2, 3, 10, 120} // clamped to [0, 100]: 0 0 1 2 2 3 10 100
	clamped := []float64{0, 0, 1, 2, 2, 3, 10, 100}
	var mean, m2 float64
	for _, v := range clamped {
		mean += v / 8
	}
	for _, v := range clamped {
		m2 += (v - mean) * (v - mean) / 8
	}
	bounds := [2]float64{0, 100}
	tests := []struct {
		desc  string
		agg   plan.Agg
		raw   rawAgg
		shift float64
		want  float64
		tol   float64
		count bool
	}{
		{"count", plan.Agg{Kind: query.AggCount, L0: 1, LInf: 1}, rawAgg{count: 7}, 0, 7, 0, true},
		{"negative count clamps to 0", plan.Agg{Kind: query.AggCountStar, L0: 1, LInf: 1}, rawAgg{count: 2}, -10, 0, 0, true},
		{"sum of non-negative values clamps to 0", plan.Agg{Kind: query.AggSum, L0: 1, LInf: 100, Bounds: bounds}, rawAgg{sum: 30}, -50, 0, 0, false},
		{"sum of mixed values keeps its sign", plan.Agg{Kind: query.AggSum, L0: 1, LInf: 100, Bounds: [2]float64{-100, 100}}, rawAgg{sum: 30}, -50, -20, 0, false},
		{"avg", plan.Agg{Kind: query.AggAvg, L0: 1, LInf: 1, NormLInf: 50, Bounds: bounds}, rawAgg{count: 8, normSum: 118 - 8*50}, 0, 118.0 / 8, 1e-12, false},
		{"avg clamps to the bounds", plan.Agg{Kind: query.AggAvg, L0: 1, LInf: 1, NormLInf: 50, Bounds: bounds}, rawAgg{count: 1, normSum: 5000}, 0, 100, 0, false},
		{"variance", plan.Agg{Kind: query.AggVariance, L0: 1, MaxContributionsPerPartition: 1, Bounds: bounds}, rawAgg{values: values}, 0, m2, 1e-9, false},
		{"stddev", plan.Agg{Kind: query.AggStddev, L0: 1, MaxContributionsPerPartition: 1, Bounds: bounds}, rawAgg{values: values}, 0, math.Sqrt(m2), 1e-9, false},
		// The tree interpolates inside a leaf of width 100/16³.
		{"median", plan.Agg{Kind: query.AggQuantile, P: 0.5, L0: 1, MaxContributionsPerPartition: 1, Bounds: bounds}, rawAgg{values: values}, 0, 2, 100.0 / 4096, false},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			s := mustSettings(t, &Options{Epsilon: 1, Noise: testkit.FakeNoise{Noise: noise.Laplace(), Shift: tc.shift}})
			e, err := s.measure(tc.agg, share{1, 0, s.Mechanism}, &tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(e.value-tc.want) > tc.tol {
				t.Errorf("value %g, want %g", e.value, tc.want)
			}
			if e.count != tc.count {
				t.Errorf("count-type = %v, want %v", e.count, tc.count)
			}
			if !(e.ci[0] <= e.value && e.value <= e.ci[1]) || e.sd < 0 {
				t.Errorf("interval %v and sd %g do not describe value %g", e.ci, e.sd, e.value)
			}
			if tc.agg.Kind == query.AggCountStar && e.ci[0] < 0 {
				t.Errorf("count interval %v goes below 0", e.ci)
			}
		})
	}
}

// TestDerivedIntervals checks that the intervals of avg, stddev, variance
// and quantiles, built from several noisy components, cover the true value
// at least about 95% of the time (they are conservative by design), and
// are informative (narrower than the bounds) when groups are large.
func TestDerivedIntervals(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	bounds := [2]float64{0, 100}
	values := make([]float64, 2000)
	for i := range values {
		values[i] = clamp(40+12*rng.NormFloat64(), 0, 100)
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	var mean, m2 float64
	for _, v := range values {
		mean += v / float64(len(values))
	}
	for _, v := range values {
		m2 += (v - mean) * (v - mean) / float64(len(values))
	}
	quantile := func(p float64) float64 {
		h := p * float64(len(sorted)-1)
		lo := int(math.Floor(h))
		return sorted[lo] + (h-float64(lo))*(sorted[min(lo+1, len(sorted)-1)]-sorted[lo])
	}
	raw := rawAgg{count: float64(len(values)), normSum: (mean - 50) * float64(len(values)), values: values}
	tests := []struct {
		desc string
		o    Options
		agg  plan.Agg
		want float64
		runs int
		// maxWidth is a mean width that shows the interval says something.
		maxWidth float64
	}{
		{"avg laplace", Options{Epsilon: 0.5}, plan.Agg{Kind: query.AggAvg, L0: 1, LInf: 1, NormLInf: 50, Bounds: bounds}, mean, 1000, 5},
		{"avg gaussian", Options{Epsilon: 0.5, Delta: 1e-6, Mechanism: Gaussian}, plan.Agg{Kind: query.AggAvg, L0: 1, LInf: 1, NormLInf: 50, Bounds: bounds}, mean, 1000, 10},
		{"variance", Options{Epsilon: 1}, plan.Agg{Kind: query.AggVariance, L0: 1, MaxContributionsPerPartition: 1, Bounds: bounds}, m2, 200, 250},
		{"stddev", Options{Epsilon: 1}, plan.Agg{Kind: query.AggStddev, L0: 1, MaxContributionsPerPartition: 1, Bounds: bounds}, math.Sqrt(m2), 200, 5},
		{"median", Options{Epsilon: 1}, plan.Agg{Kind: query.AggQuantile, P: 0.5, L0: 1, MaxContributionsPerPartition: 1, Bounds: bounds}, quantile(0.5), 200, 10},
		{"median gaussian", Options{Epsilon: 1, Delta: 1e-6, Mechanism: Gaussian}, plan.Agg{Kind: query.AggQuantile, P: 0.5, L0: 1, MaxContributionsPerPartition: 1, Bounds: bounds}, quantile(0.5), 200, 20},
		{"p90", Options{Epsilon: 1}, plan.Agg{Kind: query.AggQuantile, P: 0.9, L0: 1, MaxContributionsPerPartition: 1, Bounds: bounds}, quantile(0.9), 200, 30},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			s := mustSettings(t, &tc.o)
			covered := 0
			var width float64
			for range tc.runs {
				r := raw
				e, err := s.measure(tc.agg, share{tc.o.Epsilon, tc.o.Delta, s.Mechanism}, &r)
				if err != nil {
					t.Fatal(err)
				}
				if e.ci[0] <= tc.want && tc.want <= e.ci[1] {
					covered++
				}
				width += (e.ci[1] - e.ci[0]) / float64(tc.runs)
				if math.Abs(e.sd-(e.ci[1]-e.ci[0])/(2*1.959964)) > 1e-6*e.sd {
					t.Fatalf("sd %g is not the interval's half-width over 1.96", e.sd)
				}
			}
			cov := float64(covered) / float64(tc.runs)
			t.Logf("coverage %.3f, mean width %.3f", cov, width)
			if cov < 0.93 {
				t.Errorf("coverage %.3f, want ≥ 0.95 (conservative)", cov)
			}
			if width > tc.maxWidth {
				t.Errorf("mean width %.2f, want ≤ %g for 2000 values", width, tc.maxWidth)
			}
		})
	}
}

func TestVarianceInterval(t *testing.T) {
	tests := []struct {
		desc          string
		cnt, sum, sq  [2]float64
		maxVar        float64
		wantLo, wantH float64
	}{
		{"exact components", [2]float64{4, 4}, [2]float64{0, 0}, [2]float64{16, 16}, 100, 4, 4},
		{"mean range straddles 0", [2]float64{2, 4}, [2]float64{-4, 4}, [2]float64{8, 16}, 100, 8.0/4 - 4, 8},
		{"clamped to [0, maxVar]", [2]float64{-3, 1}, [2]float64{-1, 1}, [2]float64{-5, 500}, 100, 0, 100},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := varianceInterval(tc.cnt, tc.sum, tc.sq, tc.maxVar)
			want := [2]float64{math.Max(tc.wantLo, 0), tc.wantH}
			if got != want {
				t.Errorf("interval %v, want %v", got, want)
			}
		})
	}
}

func TestRoundCount(t *testing.T) {
	tests := []struct {
		desc string
		in   estimate
		to   int
		want estimate
	}{
		{"nearest multiple, interval outward", estimate{value: 12.4, ci: [2]float64{3.2, 21.6}, sd: 2, count: true}, 5, estimate{value: 10, ci: [2]float64{0, 25}, sd: 2, count: true}},
		{"halves round away from zero", estimate{value: 7.5, ci: [2]float64{5, 10}, count: true}, 5, estimate{value: 10, ci: [2]float64{5, 10}, count: true}},
		{"not a count", estimate{value: 12.4, ci: [2]float64{3.2, 21.6}}, 5, estimate{value: 12.4, ci: [2]float64{3.2, 21.6}}},
		{"round_to 1", estimate{value: 12.4, ci: [2]float64{3.2, 21.6}, count: true}, 1, estimate{value: 12.4, ci: [2]float64{3.2, 21.6}, count: true}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := tc.in
			roundCount(&got, tc.to)
			if got != tc.want {
				t.Errorf("%+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestQuantilesShareATree: two quantiles of the same values read one tree
// built with both tree shares, so each is about as precise as one quantile
// at twice the ε, and about twice as precise as when each builds its own
// tree (the tree's noise scales with 1/ε). Measured as the spread of the
// released median over many runs on the same values.
func TestQuantilesShareATree(t *testing.T) {
	values := make([]float64, 2000)
	for i := range values {
		values[i] = float64(i%100) + 0.5 // uniform over [0, 100)
	}
	median := func(shared bool) float64 {
		src := ""
		if shared {
			src = "x"
		}
		aggs := []plan.Agg{
			{Kind: query.AggQuantile, Name: "p50", P: 0.5, L0: 1, MaxContributionsPerPartition: 1, Bounds: [2]float64{0, 100}, Values: src},
			{Kind: query.AggQuantile, Name: "p90", P: 0.9, L0: 1, MaxContributionsPerPartition: 1, Bounds: [2]float64{0, 100}, Values: src},
		}
		p := testPlan(nil, aggs, nil)
		s := mustSettings(t, &Options{Epsilon: 0.1})
		l, err := split(p, s)
		if err != nil {
			t.Fatal(err)
		}
		raws := []rawAgg{{values: values}, {values: values}}
		const n = 400
		var sq float64
		for range n {
			m, err := s.measures(p, l, raws)
			if err != nil {
				t.Fatal(err)
			}
			if !(m[0].ci[0] <= m[0].value && m[0].value <= m[0].ci[1]) {
				t.Fatalf("median %g outside its interval %v", m[0].value, m[0].ci)
			}
			sq += (m[0].value - 50) * (m[0].value - 50)
		}
		return math.Sqrt(sq / n)
	}
	own, shared := median(false), median(true)
	t.Logf("RMS error of the median: %.3f with its own tree, %.3f with a shared one", own, shared)
	if r := shared / own; r < 0.3 || r > 0.75 {
		t.Errorf("shared/own RMS error %.2f, want about 0.5 (twice the tree's ε)", r)
	}
}

// TestAvgAtABoundStillStatesItsNoise: a group whose every value sits at
// the lower bound (day contacts' length of stay, 0) releases a mean
// clamped to 0 with an interval clamped to [0, ·]; its stddev must still
// describe the noise (not 0, which would say the mean is exact) and be of
// the scale an interior mean of as many values has.
func TestAvgAtABoundStillStatesItsNoise(t *testing.T) {
	bounds := [2]float64{0, 100}
	agg := plan.Agg{Kind: query.AggAvg, L0: 1, LInf: 1, NormLInf: 50, Bounds: bounds}
	s := mustSettings(t, &Options{Epsilon: 0.5})
	meanSD := func(mean float64) float64 {
		var sum float64
		const runs = 300
		for range runs {
			r := rawAgg{count: 40, normSum: (mean - 50) * 40}
			e, err := s.measure(agg, share{0.5, 0, s.Mechanism}, &r)
			if err != nil {
				t.Fatal(err)
			}
			if e.sd <= 0 {
				t.Fatalf("mean %g released %g with stddev %g, interval %v", mean, e.value, e.sd, e.ci)
			}
			sum += e.sd / runs
		}
		return sum
	}
	atBound, interior := meanSD(0), meanSD(50)
	t.Logf("mean stddev at the bound %.3f, interior %.3f", atBound, interior)
	if atBound < interior/3 || atBound > interior*3 {
		t.Errorf("stddev at the bound %.3f, interior %.3f: not the same scale", atBound, interior)
	}
}
