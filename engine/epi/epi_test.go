package epi

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestESP2013(t *testing.T) {
	g := ESP2013()
	if len(g) != 20 {
		t.Fatalf("%d age groups, want 20 (0-4 … 90-94, 95+)", len(g))
	}
	var sum float64
	for i, a := range g {
		sum += a.Weight
		if a.From != 5*i || (i < 19 && a.To != 5*i+4) || (i == 19 && a.To != -1) {
			t.Errorf("group %d: %+v", i, a)
		}
	}
	if sum != 100000 {
		t.Errorf("weights add up to %v, want 100,000", sum)
	}
	if g[0].Weight != 5000 || g[9].Weight != 7000 || g[19].Weight != 200 || g[18].Weight != 800 {
		t.Errorf("weights %v differ from Eurostat's table", g)
	}
}

// TestCurveIsMonotone feeds the curve noisy cells of every sign and
// size: survival never rises, stays in [0, 1], and so do its intervals.
func TestCurveIsMonotone(t *testing.T) {
	r := &SurvivalRelease{p: &SurvivalPlan{q: &SurvivalQuery{Horizon: 6}}, o: Options{MinCellCount: 5, RoundTo: 5}}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 2000; trial++ {
		cells := make([]float64, 13)
		for i := range cells {
			cells[i] = math.Max(rng.NormFloat64()*5+float64(rng.IntN(40)), 0)
		}
		st := r.curve(map[string]any{}, cells, 1.4)
		if st.Persons.Suppressed {
			continue
		}
		prev := 1.0
		for _, p := range st.Points {
			if p.Survival == nil {
				continue
			}
			s := *p.Survival
			if s > prev+1e-12 || s < 0 || s > 1 {
				t.Fatalf("trial %d: survival %v after %v (cells %v)", trial, s, prev, cells)
			}
			if p.CI[0] < 0 || p.CI[1] > 1 || p.CI[0] > s || p.CI[1] < s {
				t.Fatalf("trial %d: interval %v around %v", trial, *p.CI, s)
			}
			if p.AtRisk != nil && math.Mod(*p.AtRisk, 5) != 0 {
				t.Fatalf("at_risk %v not rounded to 5", *p.AtRisk)
			}
			prev = s
		}
	}
}

func TestCurveWithoutNoise(t *testing.T) {
	// 100 persons: 10 die in interval 0, 20 are censored in interval 1,
	// 70 are followed beyond the horizon of 2.
	r := &SurvivalRelease{p: &SurvivalPlan{q: &SurvivalQuery{Horizon: 2}}}
	st := r.curve(map[string]any{}, []float64{10, 0, 0, 20, 70}, 1e-9)
	if got := *st.Persons.Value; got != 100 {
		t.Fatalf("persons %v", got)
	}
	if s := *st.Points[0].Survival; math.Abs(s-0.9) > 1e-12 {
		t.Errorf("S(1) = %v, want 0.9", s)
	}
	if s := *st.Points[1].Survival; math.Abs(s-0.9) > 1e-12 {
		t.Errorf("S(2) = %v, want 0.9 (only censorings)", s)
	}
	if a := *st.Points[0].AtRisk; a != 90 {
		t.Errorf("at risk at 1: %v, want 90", a)
	}
	if st.MedianSurvival != nil {
		t.Errorf("median %+v, want none above 0.5", st.MedianSurvival)
	}
	// Half die in interval 1 of 2: the median is inside it.
	st = r.curve(map[string]any{}, []float64{0, 0, 50, 0, 50}, 1e-9)
	if m := st.MedianSurvival; m == nil || math.Abs(m.Value-2) > 1e-9 {
		t.Errorf("median %+v, want 2 (the curve reaches 0.5 at the end of interval 2)", m)
	}
}

func TestStandardisedRateOfEqualRates(t *testing.T) {
	// When every age group has the same rate, the standardised rate is it.
	p := &RatesPlan{q: &RatesQuery{Per: 1000, Standardise: true}, yearDim: -1, groupDim: 0, dims: [][]string{groupLabels()}, periodYears: 1}
	r := &RatesRelease{p: p, events: &mechanism{sd: 1e-9}, time: &mechanism{sd: 1e-9}}
	cells := grid(p.dims)
	noisy := make([]noisyCell, len(cells))
	for i := range noisy {
		years := float64(1000 * (i + 1))
		noisy[i] = noisyCell{events: years * 0.002, years: years}
	}
	rows := r.standardise(cells, noisy)
	if len(rows) != 1 || math.Abs(*rows[0].Rate.Value-2) > 1e-9 {
		t.Fatalf("standardised %+v, want 2 per 1000", rows)
	}
}
