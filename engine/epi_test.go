package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/google/differential-privacy/go/v3/noise"

	"github.com/statgate/statgate/engine/internal/testkit"
	"github.com/statgate/statgate/engine/refusal"
)

// survivalReq is the survival question the tests ask: breast cancer (C50)
// to death, yearly for 5 years, by stage.
func survivalReq() SurvivalRequest {
	return SurvivalRequest{Project: "cancer-survival",
		Index: EventSpec{Dataset: "cancer", Where: "icd10 LIKE 'C50%'"},
		Event: EventSpec{Dataset: "death_causes"},
		End:   "2024-12-31", Horizon: 5, Strata: []string{"stage"}, Epsilon: 1}
}

// plainSurvivalCells computes, with SQL written apart from engine/epi's,
// the persons per stage|interval|outcome of survivalReq, restricted by an
// extra condition on the person c.pid ("" for none).
func plainSurvivalCells(t *testing.T, e *Engine, cohort string) map[string]int64 {
	if cohort == "" {
		cohort = "TRUE"
	}
	return plainCount(t, e, `
WITH first AS (SELECT pid, min(diagnosis_date) AS t0 FROM cancer WHERE icd10 LIKE 'C50%' AND diagnosis_date <= DATE '2024-12-31' GROUP BY pid),
st AS (SELECT c.pid, min(c.stage) AS stage FROM cancer c JOIN first f USING (pid) WHERE c.diagnosis_date = f.t0 AND c.icd10 LIKE 'C50%' GROUP BY c.pid),
d AS (SELECT f.pid, min(x.death_date) AS td FROM first f JOIN death_causes x USING (pid) WHERE x.death_date >= f.t0 GROUP BY f.pid),
p AS (SELECT f.pid, st.stage, d.td IS NOT NULL AND d.td <= DATE '2024-12-31' AS died,
        date_diff('day', f.t0, CASE WHEN d.td <= DATE '2024-12-31' THEN d.td ELSE DATE '2024-12-31' END) AS days
      FROM first f JOIN st USING (pid) LEFT JOIN d USING (pid) WHERE st.stage IS NOT NULL)
SELECT stage || '|' || CASE WHEN days >= 5 * 365.25 THEN '5|beyond'
                            ELSE CAST(CAST(floor(days / 365.25) AS BIGINT) AS VARCHAR) || CASE WHEN died THEN '|event' ELSE '|censored' END END,
       count(*) FROM p AS c WHERE `+cohort+` GROUP BY 1`)
}

// lifeTable is the actuarial Kaplan–Meier of one stage's cells at 1…5.
func lifeTable(cells map[string]int64, stage string) (persons float64, surv []float64) {
	at := func(j int, what string) float64 { return float64(cells[fmt.Sprintf("%s|%d|%s", stage, j, what)]) }
	n := at(5, "beyond")
	risk := make([]float64, 6)
	risk[5] = n
	for j := 4; j >= 0; j-- {
		risk[j] = risk[j+1] + at(j, "event") + at(j, "censored")
	}
	s := 1.0
	for j := 0; j < 5; j++ {
		if ne := risk[j] - at(j, "censored")/2; ne > 0 {
			s *= 1 - at(j, "event")/ne
		}
		surv = append(surv, s)
	}
	return risk[0], surv
}

func TestSurvivalMatchesPlainLifeTable(t *testing.T) {
	e := openEngine(t, func(o *Options) { o.Noise = testkit.FakeNoise{Noise: noise.Laplace()} })
	ctx := context.Background()
	for _, tc := range []struct {
		desc   string
		cohort *Criteria
		plain  string
	}{
		{desc: "everyone"},
		{desc: "cohort: women",
			cohort: &Criteria{Include: []Criterion{{Dataset: "population", Where: "sex = 'F'"}}},
			plain:  "EXISTS (SELECT 1 FROM population q WHERE q.pid = c.pid AND q.sex = 'F')"},
		{desc: "temporal cohort: aged under 75 at the first C50 diagnosis",
			cohort: &Criteria{Include: []Criterion{{Dataset: "cancer", Where: "icd10 LIKE 'C50%'", AgeAtIndex: []int{0, 74}}}},
			plain: `EXISTS (SELECT 1 FROM (SELECT pid, min(diagnosis_date) AS d FROM cancer WHERE icd10 LIKE 'C50%' GROUP BY pid) f
			        JOIN population q ON q.pid = f.pid WHERE f.pid = c.pid AND year(f.d) - q.birth_year <= 74)`},
		{desc: "temporal cohort: no other cancer in the five years before",
			cohort: &Criteria{Include: []Criterion{{Dataset: "cancer", Where: "icd10 LIKE 'C50%'"}},
				Exclude: []Criterion{{Dataset: "cancer", Where: "icd10 NOT LIKE 'C50%'", Before: &RelativeTo{Criterion: 0, WithinDays: ptr(1826)}}}},
			plain: `NOT EXISTS (SELECT 1 FROM (SELECT pid, min(diagnosis_date) AS d FROM cancer WHERE icd10 LIKE 'C50%' GROUP BY pid) f
			        JOIN cancer o ON o.pid = f.pid WHERE f.pid = c.pid AND o.icd10 NOT LIKE 'C50%' AND o.diagnosis_date <= f.d AND o.diagnosis_date >= f.d - 1826)`},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			req := survivalReq()
			req.Cohort = tc.cohort
			res, err := e.Survival(ctx, ingrid, req)
			if err != nil {
				t.Fatal(err)
			}
			cells := plainSurvivalCells(t, e, tc.plain)
			if len(res.Strata) != 5 {
				t.Fatalf("want the 5 stages of the public domain, got %d strata", len(res.Strata))
			}
			checked := 0
			for _, st := range res.Strata {
				stage := st.Key["stage"].(string)
				persons, surv := lifeTable(cells, stage)
				// Without noise a stratum is withheld exactly when its
				// persons are under the release threshold.
				if st.Persons.Suppressed != (persons < res.Meta.SuppressBelow) {
					t.Errorf("stage %s: %v persons, threshold %v, suppressed %v", stage, persons, res.Meta.SuppressBelow, st.Persons.Suppressed)
				}
				if st.Persons.Suppressed {
					if len(st.Points) != 0 {
						t.Errorf("stage %s suppressed with points %+v", stage, st.Points)
					}
					continue
				}
				if got := *st.Persons.Value; math.Abs(got-persons) > 2.5 {
					t.Errorf("stage %s: persons %v, plain %v", stage, got, persons)
				}
				for i, p := range st.Points {
					if p.Time != i+1 || p.Survival == nil {
						t.Fatalf("stage %s point %d: %+v", stage, i, p)
					}
					if math.Abs(*p.Survival-surv[i]) > 1e-9 {
						t.Errorf("stage %s t=%d: survival %v, plain %v", stage, p.Time, *p.Survival, surv[i])
					}
					if p.CI[0] > *p.Survival || p.CI[1] < *p.Survival || p.CI[0] < 0 || p.CI[1] > 1 {
						t.Errorf("stage %s t=%d: interval %v around %v", stage, p.Time, *p.CI, *p.Survival)
					}
					checked++
				}
			}
			if checked < 10 {
				t.Fatalf("only %d points compared", checked)
			}
		})
	}
}

func TestRatesMatchPlainCounts(t *testing.T) {
	for _, tc := range []struct {
		desc   string
		cohort *Criteria
		plain  string // a condition on the person p.pid
	}{
		{desc: "everyone", plain: "TRUE"},
		{desc: "temporal cohort: I10 at 40-79, statin within a year after",
			cohort: &Criteria{Include: []Criterion{{Dataset: "npr", Where: "icd10 LIKE 'I10%'", AgeAtIndex: []int{40, 79}},
				{Dataset: "lmr", Where: "atc LIKE 'C10%'", After: &RelativeTo{Criterion: 0, WithinDays: ptr(365)}}}},
			plain: `p.pid IN (SELECT h.pid FROM (SELECT pid, min(contact_date) AS d FROM npr WHERE icd10 LIKE 'I10%' GROUP BY pid) h
			          JOIN population q ON q.pid = h.pid JOIN lmr l ON l.pid = h.pid
			          WHERE year(h.d) - q.birth_year BETWEEN 40 AND 79 AND l.atc LIKE 'C10%' AND l.dispensed_date BETWEEN h.d AND h.d + 365)`},
	} {
		t.Run(tc.desc, func(t *testing.T) { testRatesMatchPlainCounts(t, tc.cohort, tc.plain) })
	}
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// testRatesMatchPlainCounts compares E11 rates by sex and age group in the
// cohort with plain DuckDB's events and person-time of the persons p.pid
// for whom the condition plain holds.
func testRatesMatchPlainCounts(t *testing.T, cohort *Criteria, plain string) {
	e := openEngine(t, func(o *Options) { o.Noise = testkit.FakeNoise{Noise: noise.Laplace()} })
	res, err := e.Rates(context.Background(), ingrid, RatesRequest{Project: "diabetes-2026",
		Event:  EventSpec{Dataset: "npr", Where: "icd10 LIKE 'E11%'"},
		Period: Period{From: "2015-01-01", To: "2024-12-31"}, Strata: []string{"sex", "age_band"},
		Standardise: "esp2013", Epsilon: 1, Cohort: cohort})
	if err != nil {
		t.Fatal(err)
	}
	// Events and person-days per sex without any split by year or age.
	follow := `
WITH ev AS (SELECT pid, min(contact_date) AS te FROM npr WHERE icd10 LIKE 'E11%' GROUP BY pid),
b AS (SELECT p.sex, ev.te, p.death_date AS td, greatest(DATE '2015-01-01', make_date(p.birth_year, 7, 1)) AS t0
      FROM population p LEFT JOIN ev USING (pid) WHERE p.birth_year IS NOT NULL AND ` + plain + `),
f AS (SELECT sex, te IS NOT NULL AND te <= DATE '2024-12-31' AND (td IS NULL OR te <= td) AS event, t0, te, td FROM b WHERE te IS NULL OR te >= t0),
g AS (SELECT sex, event, t0, CASE WHEN event THEN te ELSE least(DATE '2025-01-01', coalesce(td + 1, DATE '2025-01-01')) END AS t1 FROM f)
SELECT sex, MEASURE FROM g WHERE t1 >= t0 GROUP BY 1`
	events := plainCount(t, e, strings.Replace(follow, "MEASURE", "count(*) FILTER (WHERE event)", 1))
	days := plainCount(t, e, strings.Replace(follow, "MEASURE", "sum(date_diff('day', t0, t1))", 1))
	sum := map[string][2]float64{}
	for _, r := range res.Rows {
		if r.PersonYears.Value == nil {
			t.Fatalf("person-years withheld: %+v", r)
		}
		s := sum[r.Key["sex"].(string)]
		s[1] += *r.PersonYears.Value
		if r.Events.Value != nil {
			s[0] += *r.Events.Value
		}
		sum[r.Key["sex"].(string)] = s
	}
	if len(res.Rows) != 2*20 {
		t.Fatalf("want 2 sexes × 20 age groups, got %d rows", len(res.Rows))
	}
	for _, sex := range []string{"F", "M"} {
		wantYears := float64(days[sex]) / 365.25
		if got := sum[sex][1]; math.Abs(got-wantYears) > 1e-6*wantYears {
			t.Errorf("%s: person-years %v, plain %v", sex, got, wantYears)
		}
		// Events are rounded to 5 per age group and withheld in small ones.
		if got, want := sum[sex][0], float64(events[sex]); math.Abs(got-want) > 0.1*want+50 {
			t.Errorf("%s: events %v, plain %v", sex, got, want)
		}
	}
	if len(res.Standardised) != 2 {
		t.Fatalf("want a standardised rate per sex, got %+v", res.Standardised)
	}
	for _, s := range res.Standardised {
		if s.Rate.Value == nil || *s.Rate.Value <= 0 || s.Rate.CI[0] > *s.Rate.Value || s.Rate.CI[1] < *s.Rate.Value {
			t.Errorf("standardised %v: %+v", s.Key, s.Rate)
		}
	}
}

func TestEpiRefusalsDebitNothing(t *testing.T) {
	e := openEngine(t, nil)
	ctx := context.Background()
	surv := func(f func(*SurvivalRequest)) func() error {
		return func() error {
			r := survivalReq()
			f(&r)
			_, err := e.Survival(ctx, ingrid, r)
			return err
		}
	}
	rates := func(f func(*RatesRequest)) func() error {
		return func() error {
			r := RatesRequest{Project: "diabetes-2026", Event: EventSpec{Dataset: "npr", Where: "icd10 LIKE 'E11%'"},
				Period: Period{From: "2015-01-01", To: "2024-12-31"}, Strata: []string{"sex"}}
			f(&r)
			_, err := e.Rates(ctx, ingrid, r)
			return err
		}
	}
	for _, tc := range []struct {
		desc string
		run  func() error
		code refusal.Code
	}{
		{"analyst", func() error { _, err := e.Survival(ctx, Principal{Name: "onco-analyst"}, survivalReq()); return err }, refusal.RoleNotAllowed},
		{"bad interval", surv(func(r *SurvivalRequest) { r.Interval = "week" }), refusal.EpiBadSpec},
		{"horizon too long", surv(func(r *SurvivalRequest) { r.Horizon = 100 }), refusal.EpiBadSpec},
		{"bad end", surv(func(r *SurvivalRequest) { r.End = "31.12.2024" }), refusal.EpiBadSpec},
		{"unknown stratum", surv(func(r *SurvivalRequest) { r.Strata = []string{"icd10"} }), refusal.EpiBadStratum},
		{"person key in where", surv(func(r *SurvivalRequest) { r.Index.Where = "pid = 7" }), refusal.PersonKeyInWhere},
		{"not a date column", surv(func(r *SurvivalRequest) { r.Index.Column = "stage" }), refusal.EpiBadDateColumn},
		{"dataset outside the project", surv(func(r *SurvivalRequest) { r.Event.Dataset = "npr" }), refusal.DatasetNotInProject},
		{"epsilon too large", surv(func(r *SurvivalRequest) { r.Epsilon = 50 }), refusal.EpsilonTooLarge},
		{"unknown standard", rates(func(r *RatesRequest) { r.Standardise = "who2000" }), refusal.EpiBadSpec},
		{"period reversed", rates(func(r *RatesRequest) { r.Period.From = "2025-01-01" }), refusal.EpiBadSpec},
		{"negative per", rates(func(r *RatesRequest) { r.Per = -1 }), refusal.EpiBadSpec},
		{"rates stratum without domain", rates(func(r *RatesRequest) { r.Strata = []string{"death_date"} }), refusal.EpiBadStratum},
		{"subquery in where", rates(func(r *RatesRequest) { r.Event.Where = "icd10 IN (SELECT icd10 FROM npr)" }), refusal.Subquery},
		{"no project", rates(func(r *RatesRequest) { r.Project = "" }), refusal.MissingProject},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			err := tc.run()
			rf, ok := refusal.As(err)
			if !ok || rf.Code != tc.code {
				t.Fatalf("got %v, want refusal %s", err, tc.code)
			}
			for _, p := range []struct{ project, ds string }{{"cancer-survival", "cancer"}, {"diabetes-2026", "npr"}} {
				if s := spent(t, e, p.project, p.ds); s != 0 {
					t.Fatalf("refusal debited %v on %s", s, p.ds)
				}
			}
			if tc.code != refusal.MissingProject {
				if a := lastAudit(t, e); a.Outcome != "refused" || a.Reason != tc.code.String() {
					t.Errorf("audit %+v", a)
				}
			}
		})
	}
}

func TestEpiDebitsAndAudits(t *testing.T) {
	e := openEngine(t, nil)
	res, err := e.Survival(context.Background(), ingrid, survivalReq())
	if err != nil {
		t.Fatal(err)
	}
	if res.Meta.Epsilon != 1 || res.Meta.Mechanism != "laplace" || res.Meta.QueryID == "" {
		t.Errorf("meta %+v", res.Meta)
	}
	for _, ds := range []string{"cancer", "death_causes"} {
		if s := spent(t, e, "cancer-survival", ds); s != 1 {
			t.Errorf("spent %v on %s, want 1", s, ds)
		}
	}
	a := lastAudit(t, e)
	if a.Kind != "survival" || a.Outcome != "released" || a.Epsilon != 1 || a.ResultDigest == "" || a.QueryID != res.Meta.QueryID {
		t.Errorf("audit %+v", a)
	}
}

func TestEpiFailureAfterDebitReleasesNothing(t *testing.T) {
	e := openEngine(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.Survival(ctx, ingrid, survivalReq())
	if !errors.Is(err, ErrInternal) && !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if _, ok := refusal.As(err); ok {
		t.Fatalf("a cancelled run is no refusal: %v", err)
	}
}
