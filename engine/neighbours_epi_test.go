package engine

import (
	"context"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/epi"
	"github.com/statgate/statgate/engine/result"
)

// The neighbouring-datasets property for rates and survival: on the base
// and neighbour extracts (neighbourExtracts: the neighbour adds one
// person with a cancer, a death, diagnoses and extreme values), every
// request must give the same status, refusal code, shape (strata, rows,
// keys, points) and data-independent metadata. Which numbers are withheld
// follows noisy values (DP outputs) and may differ.

// epiShape is what must not depend on the neighbour.
type epiShape struct {
	status string
	keys   []map[string]any
	// points is true when every stratum released has one point per
	// interval of the horizon (a withheld one has none: its persons count
	// is a DP output).
	points bool
	std    int
	meta   result.Meta
}

func epiMeta(m result.Meta) result.Meta {
	return result.Meta{Epsilon: m.Epsilon, Delta: m.Delta, Split: m.Split, Mechanism: m.Mechanism, Groups: m.Groups,
		Bounding: m.Bounding, MinCellCount: m.MinCellCount, RoundTo: m.RoundTo, SuppressBelow: m.SuppressBelow, Notes: m.Notes}
}

func survivalShape(res *epi.SurvivalResult, err error, horizon int) epiShape {
	if err != nil {
		return epiShape{status: outcomeOf(neighbourQuery{}, nil, err).status}
	}
	s := epiShape{status: "released", meta: epiMeta(res.Meta), points: true}
	for _, st := range res.Strata {
		s.keys = append(s.keys, st.Key)
		if n := len(st.Points); st.Persons.Suppressed && n != 0 || !st.Persons.Suppressed && n != horizon {
			s.points = false
		}
	}
	return s
}

func ratesShape(res *epi.RatesResult, err error) epiShape {
	if err != nil {
		return epiShape{status: outcomeOf(neighbourQuery{}, nil, err).status}
	}
	s := epiShape{status: "released", meta: epiMeta(res.Meta), std: len(res.Standardised)}
	for _, r := range res.Rows {
		s.keys = append(s.keys, r.Key)
	}
	return s
}

func TestNeighbouringDatasetsEpi(t *testing.T) {
	if testing.Short() {
		t.Skip("loads two extracts")
	}
	a, b := neighbourEngines(t)
	ctx := context.Background()
	statuses := map[string]int{}
	rare := &Criteria{Include: []Criterion{{Dataset: "population", Where: "birth_year = 1915 AND sex = 'M' AND municipality = '5524'"}}}
	oldAtDiagnosis := &Criteria{Include: []Criterion{{Dataset: "cancer", Where: "icd10 LIKE 'C%'", AgeAtIndex: []int{100, 110}}}}
	// The neighbour's rare diagnosis, first on 2011-02-07 and every 111
	// days after, its first A10B dispensing on 2012-01-12, its I10 contacts.
	rareTemporal := &Criteria{Include: []Criterion{
		{Dataset: "npr", Where: "icd10 = '" + rareCode + "'", NoneWithinDaysBefore: ptr(365), AgeAtIndex: []int{90, 150}},
		{Dataset: "lmr", Where: "atc LIKE 'A10B%'", After: &RelativeTo{Criterion: 0, WithinDays: ptr(400)}},
		{Dataset: "npr", Where: "icd10 LIKE 'I10%'", Before: &RelativeTo{Criterion: 1}},
	}}
	survivals := []SurvivalRequest{
		survivalReq(),
		{Project: "cancer-survival", Index: EventSpec{Dataset: "cancer"}, Event: EventSpec{Dataset: "death_causes"}, End: "2024-12-31",
			Interval: "month", Horizon: 60, Strata: []string{"stage", "sex"}},
		{Project: "cancer-survival", Index: EventSpec{Dataset: "cancer", Where: "icd10 LIKE 'C50%'"}, Event: EventSpec{Dataset: "death_causes"},
			End: "2024-12-31", Strata: []string{"age_band"}, Cohort: rare, Epsilon: 0.01},
		{Project: "cancer-survival", Index: EventSpec{Dataset: "cancer", Where: "stage = 'IV'"}, Event: EventSpec{Dataset: "death_causes", Where: "underlying_cause LIKE 'C%'"},
			End: "2023-06-30", Horizon: 3, Cohort: rare, Epsilon: 2},
		{Project: "cancer-survival", Index: EventSpec{Dataset: "cancer"}, Event: EventSpec{Dataset: "death_causes"}, End: "2024-12-31", Strata: []string{"icd10"}},
		{Project: "cancer-survival", Index: EventSpec{Dataset: "cancer"}, Event: EventSpec{Dataset: "death_causes"}, End: "2024-12-31", Epsilon: 1e-9},
		// Temporal criteria: the neighbour is 105 at a C50 diagnosis and dies
		// within four years of it.
		{Project: "cancer-survival", Index: EventSpec{Dataset: "cancer", Where: "icd10 LIKE 'C50%'"}, Event: EventSpec{Dataset: "death_causes"},
			End: "2024-12-31", Strata: []string{"stage"}, Cohort: oldAtDiagnosis},
		{Project: "cancer-survival", Index: EventSpec{Dataset: "cancer"}, Event: EventSpec{Dataset: "death_causes"}, End: "2024-12-31",
			Cohort: &Criteria{Include: []Criterion{{Dataset: "cancer", NoneWithinDaysBefore: ptr(3650)}},
				Exclude: []Criterion{{Dataset: "death_causes", After: &RelativeTo{Criterion: 0, WithinDays: ptr(1500)}}}}, Epsilon: 0.5},
	}
	for _, r := range survivals {
		ra, ea := a.Survival(ctx, ingrid, r)
		rb, eb := b.Survival(ctx, ingrid, r)
		h := r.Horizon
		if h == 0 {
			h = 5
		}
		sa, sb := survivalShape(ra, ea, h), survivalShape(rb, eb, h)
		statuses[sa.status]++
		if !reflect.DeepEqual(sa, sb) {
			t.Errorf("survival %+v\nbase:      %+v\nneighbour: %+v", r, sa, sb)
		}
		if sa.status == "failed" {
			t.Errorf("survival %+v failed after the debit", r)
		}
	}
	rates := []RatesRequest{
		{Project: "diabetes-2026", Event: EventSpec{Dataset: "npr", Where: "icd10 LIKE 'E11%'"}, Period: Period{From: "2015-01-01", To: "2024-12-31"},
			Strata: []string{"sex", "age_band"}, Standardise: "esp2013"},
		{Project: "diabetes-2026", Event: EventSpec{Dataset: "npr", Where: "icd10 = 'Q99.8'"}, Period: Period{From: "2010-01-01", To: "2024-12-31"},
			Strata: []string{"year"}, Cohort: rare, Epsilon: 2},
		{Project: "diabetes-2026", Event: EventSpec{Dataset: "lmr", Where: "atc LIKE 'A10B%'"}, Period: Period{From: "2011-01-01", To: "2011-12-31"},
			Strata: []string{"municipality"}, Epsilon: 0.01},
		{Project: "diabetes-2026", Event: EventSpec{Dataset: "npr"}, Period: Period{From: "2015-01-01", To: "2024-12-31"}, Strata: []string{"hospital"}},
		{Project: "diabetes-2026", Event: EventSpec{Dataset: "npr", Where: "icd10 LIKE 'K80%'"}, Period: Period{From: "2011-01-01", To: "2024-12-31"},
			Strata: []string{"sex"}, Cohort: rareTemporal, Epsilon: 2},
		{Project: "diabetes-2026", Event: EventSpec{Dataset: "npr", Where: "icd10 LIKE 'E11%'"}, Period: Period{From: "2015-01-01", To: "2024-12-31"},
			Strata: []string{"age_band"}, Standardise: "esp2013",
			Cohort: &Criteria{Include: []Criterion{{Dataset: "npr", Where: "icd10 LIKE 'I10%'", AgeAtIndex: []int{40, 150}}},
				Exclude: []Criterion{{Dataset: "lmr", Where: "atc LIKE 'A10%'", Before: &RelativeTo{Criterion: 0, WithinDays: ptr(365)}}}}},
	}
	for _, r := range rates {
		ra, ea := a.Rates(ctx, ingrid, r)
		rb, eb := b.Rates(ctx, ingrid, r)
		sa, sb := ratesShape(ra, ea), ratesShape(rb, eb)
		statuses[sa.status]++
		if !reflect.DeepEqual(sa, sb) {
			t.Errorf("rates %+v\nbase:      %+v\nneighbour: %+v", r, sa, sb)
		}
		if sa.status == "failed" {
			t.Errorf("rates %+v failed after the debit", r)
		}
	}
	// Cohort estimates with temporal criteria (the plain ones are in the
	// SQL corpus's shapes): the same status, columns, rows and meta.
	cohorts := []Request{
		{Project: "diabetes-2026", Cohort: &CohortSpec{Include: rareTemporal.Include, Breakdown: []string{"sex"}}},
		{Project: "diabetes-2026", Cohort: &CohortSpec{Include: rareTemporal.Include}, Epsilon: 0.01},
		{Project: "diabetes-2026", Cohort: &CohortSpec{Include: []Criterion{{Dataset: "npr", Where: "icd10 = '" + rareCode + "'"}},
			Exclude: []Criterion{{Dataset: "lmr", After: &RelativeTo{Criterion: 0, WithinDays: ptr(0)}}}, Breakdown: []string{"age_band"}}},
		{Project: "cancer-survival", Cohort: &CohortSpec{Include: oldAtDiagnosis.Include, Breakdown: []string{"sex"}}, Epsilon: 1},
		{Project: "cancer-survival", Cohort: &CohortSpec{Include: []Criterion{{Dataset: "cancer", AgeAtIndex: []int{200, 100}}}}},
	}
	for _, r := range cohorts {
		ra, ea := a.Query(ctx, ingrid, r)
		rb, eb := b.Query(ctx, ingrid, r)
		oa, ob := outcomeOf(neighbourQuery{}, ra, ea), outcomeOf(neighbourQuery{}, rb, eb)
		statuses[oa.status]++
		if !reflect.DeepEqual(oa, ob) {
			t.Errorf("cohort %+v\nbase:      %+v\nneighbour: %+v", r.Cohort, oa, ob)
		}
		if oa.status == "failed" {
			t.Errorf("cohort %+v failed after the debit", r.Cohort)
		}
	}
	t.Logf("statuses %v", statuses)
	if statuses["released"] < 6 {
		t.Errorf("only %d requests released: the test tests little", statuses["released"])
	}
}

// TestTemporalCohortsChangeOnePersonsCells: the protection of rates and
// survival (and engine/epi's empirical-ε tests, which run on cells) rests
// on each person changing the exact cell histogram by at most one event
// and the period's person-years (rates) or one count (survival). With
// temporal cohort criteria the neighbour — who meets them — must still
// change the executed plan's cells by no more than that, and must change
// them (or the test tells nothing).
func TestTemporalCohortsChangeOnePersonsCells(t *testing.T) {
	if testing.Short() {
		t.Skip("loads two extracts")
	}
	a, b := neighbourEngines(t)
	ctx := context.Background()
	rareTemporal := &Criteria{Include: []Criterion{
		{Dataset: "npr", Where: "icd10 = '" + rareCode + "'", NoneWithinDaysBefore: ptr(365), AgeAtIndex: []int{90, 150}},
		{Dataset: "lmr", Where: "atc LIKE 'A10B%'", After: &RelativeTo{Criterion: 0, WithinDays: ptr(400)}},
		{Dataset: "npr", Where: "icd10 LIKE 'I10%'", Before: &RelativeTo{Criterion: 1}},
	}}
	// cells runs sql on e's extracts: the measure columns by the text of
	// every other column.
	cells := func(e *Engine, sql string, measures ...string) map[string][]float64 {
		rr, err := e.current().db.QueryArrow(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		defer rr.Release()
		out := map[string][]float64{}
		for rr.Next() {
			rec := rr.RecordBatch()
			for i := range int(rec.NumRows()) {
				var key []string
				vals := make([]float64, len(measures))
				for c := range int(rec.NumCols()) {
					name, col := rec.ColumnName(c), rec.Column(c)
					if m := slices.Index(measures, name); m >= 0 {
						v, err := strconv.ParseFloat(col.ValueStr(i), 64)
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						vals[m] = v
						continue
					}
					key = append(key, col.ValueStr(i))
				}
				k := strings.Join(key, "|")
				for m := range vals {
					vals[m] += lookup(out[k], m)
				}
				out[k] = vals
			}
		}
		if err := rr.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	l1 := func(x, y map[string][]float64, m int) float64 {
		var d float64
		for k := range x {
			d += math.Abs(lookup(x[k], m) - lookup(y[k], m))
		}
		for k := range y {
			if _, ok := x[k]; !ok {
				d += math.Abs(lookup(y[k], m))
			}
		}
		return d
	}
	rates := RatesRequest{Project: "diabetes-2026", Event: EventSpec{Dataset: "npr", Where: "icd10 LIKE 'K80%'"},
		Period: Period{From: "2011-01-01", To: "2024-12-31"}, Strata: []string{"sex", "age_band", "year"}, Cohort: rareTemporal}
	c, err := a.compiler.Rates(ctx, ingrid.Name, rates)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := epi.PlanRates(c.Query)
	if err != nil {
		t.Fatal(err)
	}
	ra, rb := cells(a, rp.SQL, "days", "events"), cells(b, rp.SQL, "days", "events")
	if d := l1(ra, rb, 1); d != 1 {
		t.Errorf("rates: the neighbour changes the events by %g in all, want 1 (their one K80 event)", d)
	}
	if d := l1(ra, rb, 0); d <= 0 || d > 5114 {
		t.Errorf("rates: the neighbour changes the person-days by %g in all, want some and at most the period's 5,114", d)
	}
	surv := SurvivalRequest{Project: "cancer-survival", Index: EventSpec{Dataset: "cancer"}, Event: EventSpec{Dataset: "death_causes"},
		End: "2024-12-31", Strata: []string{"stage"},
		Cohort: &Criteria{Include: []Criterion{{Dataset: "cancer", Where: "icd10 LIKE 'C%'", AgeAtIndex: []int{100, 110}, NoneWithinDaysBefore: ptr(3650)}},
			Exclude: []Criterion{{Dataset: "death_causes", After: &RelativeTo{Criterion: 0, WithinDays: ptr(30)}}}}}
	sc, err := a.compiler.Survival(ctx, ingrid.Name, surv)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := epi.PlanSurvival(sc.Query)
	if err != nil {
		t.Fatal(err)
	}
	if d := l1(cells(a, sp.SQL, "n"), cells(b, sp.SQL, "n"), 0); d != 1 {
		t.Errorf("survival: the neighbour changes the cells by %g in all, want 1", d)
	}
}

// lookup is v[i], or 0 when v is shorter.
func lookup(v []float64, i int) float64 {
	if i < len(v) {
		return v[i]
	}
	return 0
}
