package engine

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/differential-privacy/go/v3/noise"

	"github.com/statgate/statgate/engine/epi"
	"github.com/statgate/statgate/engine/internal/testkit"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/result"
)

// epiRates is the rates question the dry-run and repeat tests ask.
func epiRates() RatesRequest {
	return RatesRequest{Project: "diabetes-2026", Event: EventSpec{Dataset: "npr", Where: "icd10 LIKE 'E11%'"},
		Period: Period{From: "2015-01-01", To: "2024-12-31"}, Strata: []string{"sex"}, Epsilon: 1}
}

// TestEpiDryRunReadsNothing: a rates or survival dry run answers where
// every execution fails (a query timeout of a nanosecond), so it executes
// nothing; it debits nothing and writes no audit entry; its cost is what
// the real request then debits, and its standard deviations are the
// Laplace mechanisms' (√2·sensitivity/ε); refusals are the real ones.
func TestEpiDryRunReadsNothing(t *testing.T) {
	e := openEngine(t, func(o *Options) { o.QueryTimeout = time.Nanosecond })
	ctx := context.Background()
	rates := epiRates()
	rates.DryRun = true
	rr, err := e.Rates(ctx, ingrid, rates)
	if err != nil {
		t.Fatalf("rates dry run: %v", err)
	}
	surv := survivalReq()
	surv.DryRun = true
	sr, err := e.Survival(ctx, ingrid, surv)
	if err != nil {
		t.Fatalf("survival dry run: %v", err)
	}
	if len(rr.Rows) != 0 || len(sr.Strata) != 0 {
		t.Errorf("a dry run released rows %v or strata %v", rr.Rows, sr.Strata)
	}
	// Person-years' sensitivity is the period's length: 3,653 days.
	years := 3653 / 365.25
	share := epi.EventsShare(years)
	checkEpiDryRun(t, rr.Meta, []string{"npr", "population"}, map[string]float64{
		epi.PurposeEvents: math.Sqrt2 / share, epi.PurposePersonYears: math.Sqrt2 * years / (1 - share)})
	checkEpiDryRun(t, sr.Meta, []string{"cancer", "death_causes"}, map[string]float64{epi.PurposeSurvivalCells: math.Sqrt2})
	for _, ds := range []string{"npr", "population", "cancer", "death_causes"} {
		if s := spent(t, e, projectOf(ds), ds); s != 0 {
			t.Errorf("a dry run spent %g on %s", s, ds)
		}
	}
	if es, err := e.audit.Tail(ctx, 10); err != nil || len(es) != 0 {
		t.Errorf("audit after dry runs: %v, %v; want nothing", es, err)
	}
	// The real requests fail at execution (so the dry runs did not
	// execute) after debiting what the dry runs said.
	rates.DryRun, surv.DryRun = false, false
	if _, err := e.Rates(ctx, ingrid, rates); !errors.Is(err, ErrInternal) {
		t.Fatalf("real rates with a 1ns timeout: %v, want ErrInternal", err)
	}
	if _, err := e.Survival(ctx, ingrid, surv); !errors.Is(err, ErrInternal) {
		t.Fatalf("real survival with a 1ns timeout: %v, want ErrInternal", err)
	}
	if s := spent(t, e, "diabetes-2026", "npr"); math.Abs(s-rr.Meta.DryRun.Cost[0].Epsilon) > 1e-12 {
		t.Errorf("rates debited %g, its dry run said %g", s, rr.Meta.DryRun.Cost[0].Epsilon)
	}
	// A refusal is the real request's, as a dry run too.
	bad := epiRates()
	bad.Standardise, bad.DryRun = "who2000", true
	if _, err := e.Rates(ctx, ingrid, bad); refusal.CodeOf(err) != refusal.EpiBadSpec {
		t.Errorf("dry run of a bad standard: %v, want %s", err, refusal.EpiBadSpec)
	}
}

// projectOf is the test project reading ds.
func projectOf(ds string) string {
	if ds == "cancer" || ds == "death_causes" {
		return "cancer-survival"
	}
	return "diabetes-2026"
}

// checkEpiDryRun checks a dry run's meta: the cost of ε 1 (ρ ½ per
// Laplace mechanism at its share) on each dataset, the budgets after it,
// and each histogram's standard deviation and Laplace half-width.
func checkEpiDryRun(t *testing.T, m result.Meta, datasets []string, sd map[string]float64) {
	t.Helper()
	d := m.DryRun
	if d == nil || !d.Fits || d.Cached || len(d.Cost) != len(datasets) || len(d.BudgetAfter) == 0 {
		t.Fatalf("dry run %+v", d)
	}
	for i, c := range d.Cost {
		if c.Dataset != datasets[i] || math.Abs(c.Epsilon-1) > 1e-12 || c.Delta != 0 || c.Rho <= 0 || c.Rho > 0.5 {
			t.Errorf("cost %+v on %s, want ε 1, δ 0, ρ in (0, ½]", c, datasets[i])
		}
	}
	for _, a := range d.BudgetAfter {
		if a.RemainingEpsilon <= 0 {
			t.Errorf("budget after %+v", a)
		}
	}
	if m.Epsilon != 1 || m.Mechanism != epi.Mechanism || d.ReleaseThreshold <= 0 || d.SmallestReleasable != int(math.Ceil(d.ReleaseThreshold)) {
		t.Errorf("meta ε %g, mechanism %q, threshold %g, smallest %d", m.Epsilon, m.Mechanism, d.ReleaseThreshold, d.SmallestReleasable)
	}
	if len(d.Measures) != len(sd) {
		t.Fatalf("measures %+v, want %d", d.Measures, len(sd))
	}
	for _, x := range d.Measures {
		want, ok := sd[x.Measure]
		if !ok || x.StdDev == nil || math.Abs(*x.StdDev-want) > 1e-9*want {
			t.Errorf("measure %+v, want sd %g", x, want)
			continue
		}
		// Laplace: P(|X| > w) = exp(−w·√2/sd) = 5 %.
		if hw := *x.HalfWidth95; math.Abs(math.Exp(-hw*math.Sqrt2/want)-0.05) > 1e-12 {
			t.Errorf("%s: half-width %g is not Laplace's 95 %% for sd %g", x.Measure, hw, want)
		}
	}
}

// TestEpiRepeatsAreFree: the same rates or survival question asked again
// in the project — also with its conditions written differently — returns
// the stored answer, marked cached, debiting nothing; a dry run of it says
// it is cached and costs 0; another ε, another criterion or another project
// member's project is a new question.
func TestEpiRepeatsAreFree(t *testing.T) {
	e := openEngine(t, func(o *Options) { o.Noise = testkit.FakeNoise{Noise: noise.Laplace()} })
	ctx := context.Background()
	first, err := e.Rates(ctx, ingrid, epiRates())
	if err != nil {
		t.Fatal(err)
	}
	paid := spent(t, e, "diabetes-2026", "npr")
	if paid != 1 || first.Meta.Cached {
		t.Fatalf("first answer paid %g, cached %v", paid, first.Meta.Cached)
	}
	respaced := epiRates()
	respaced.Event.Where = "icd10   LIKE 'E11%' "
	again, err := e.Rates(ctx, ingrid, respaced)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Meta.Cached || again.Meta.CachedFrom != first.Meta.QueryID || again.Meta.Epsilon != 0 || again.Meta.QueryID == first.Meta.QueryID {
		t.Errorf("repeat meta: cached %v from %q (first %q), ε %g, id %q", again.Meta.Cached, again.Meta.CachedFrom, first.Meta.QueryID, again.Meta.Epsilon, again.Meta.QueryID)
	}
	if len(again.Rows) != len(first.Rows) || *again.Rows[0].Rate.Value != *first.Rows[0].Rate.Value {
		t.Errorf("repeat rows differ from the first answer")
	}
	if s := spent(t, e, "diabetes-2026", "npr"); s != paid {
		t.Errorf("a repeat spent: %g → %g", paid, s)
	}
	if a := lastAudit(t, e); a.Outcome != "released" || a.Epsilon != 0 || a.Kind != "rates" {
		t.Errorf("repeat's audit entry %+v, want a release at ε 0", a)
	}
	dry := epiRates()
	dry.DryRun = true
	if res, err := e.Rates(ctx, ingrid, dry); err != nil || !res.Meta.DryRun.Cached || res.Meta.DryRun.Cost[0].Epsilon != 0 {
		t.Errorf("dry run of a repeat: %+v, %v; want cached at no cost", res.Meta.DryRun, err)
	}
	// New questions pay.
	other := epiRates()
	other.Epsilon = 0.5
	withCohort := epiRates()
	withCohort.Cohort = &Criteria{Include: []Criterion{{Dataset: "npr", Where: "icd10 LIKE 'I10%'", AgeAtIndex: []int{40, 79}}}}
	perThousand := epiRates()
	perThousand.Per = 1000
	for _, r := range []RatesRequest{other, withCohort, perThousand} {
		res, err := e.Rates(ctx, ingrid, r)
		if err != nil || res.Meta.Cached {
			t.Errorf("%+v: cached %v, err %v; want a new answer", r, res != nil && res.Meta.Cached, err)
		}
	}
	if s := spent(t, e, "diabetes-2026", "npr"); math.Abs(s-(paid+0.5+1+1)) > 1e-9 {
		t.Errorf("spent %g, want %g", s, paid+2.5)
	}
	// Survival too.
	s1, err := e.Survival(ctx, ingrid, survivalReq())
	if err != nil {
		t.Fatal(err)
	}
	s2, err := e.Survival(ctx, ingrid, survivalReq())
	if err != nil || !s2.Meta.Cached || s2.Meta.CachedFrom != s1.Meta.QueryID || len(s2.Strata) != len(s1.Strata) {
		t.Errorf("survival repeat: %v, cached %v", err, s2 != nil && s2.Meta.Cached)
	}
	if s := spent(t, e, "cancer-survival", "cancer"); s != 1 {
		t.Errorf("two identical survival questions spent %g, want 1", s)
	}
	// With repeats off, every question pays.
	off := openEngine(t, func(o *Options) { o.NoRepeats = true })
	for range 2 {
		if _, err := off.Survival(ctx, ingrid, survivalReq()); err != nil {
			t.Fatal(err)
		}
	}
	if s := spent(t, off, "cancer-survival", "cancer"); s != 2 {
		t.Errorf("NoRepeats: spent %g, want 2", s)
	}
}
