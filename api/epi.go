package api

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"strconv"

	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/epi"
	"github.com/statgate/statgate/engine/result"
)

// The wire types of POST /v1/rates and POST /v1/survival (see types.go).

// EventSpec names a dataset's qualifying rows and the date column that
// dates them; a person's event (or index) is their first such row.
type EventSpec struct {
	Dataset string `json:"dataset"`
	Where   string `json:"where,omitempty"`
	Column  string `json:"column,omitempty"`
}

// Period is an inclusive range of ISO dates.
type Period struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// CohortCriteria restrict who is followed, as a cohort estimate's criteria.
type CohortCriteria struct {
	Include []Criterion `json:"include,omitempty"`
	Exclude []Criterion `json:"exclude,omitempty"`
}

// RatesBody is the body of POST /v1/rates.
type RatesBody struct {
	Project     string          `json:"project"`
	Event       EventSpec       `json:"event"`
	Period      Period          `json:"period"`
	Cohort      *CohortCriteria `json:"cohort,omitempty"`
	Strata      []string        `json:"strata,omitempty"`
	Standardise string          `json:"standardise,omitempty"`
	Per         float64         `json:"per,omitempty"`
	Epsilon     *float64        `json:"epsilon,omitempty"`
}

// SurvivalBody is the body of POST /v1/survival.
type SurvivalBody struct {
	Project  string          `json:"project"`
	Index    EventSpec       `json:"index"`
	Event    EventSpec       `json:"event"`
	End      string          `json:"end"`
	Interval string          `json:"interval,omitempty"`
	Horizon  int             `json:"horizon,omitempty"`
	Strata   []string        `json:"strata,omitempty"`
	Cohort   *CohortCriteria `json:"cohort,omitempty"`
	Epsilon  *float64        `json:"epsilon,omitempty"`
}

// Estimate is one released number with its noise standard deviation and
// 95 % interval; value and ci95 are null when suppressed.
type Estimate struct {
	Value      *float64    `json:"value"`
	StdDev     float64     `json:"stddev"`
	CI         *[2]float64 `json:"ci95"`
	Suppressed bool        `json:"suppressed,omitempty"`
}

// RatesResult is the body of a rates answer.
type RatesResult struct {
	Rows         []RateRow          `json:"rows"`
	Standardised []StandardisedRate `json:"standardised,omitempty"`
	Meta         Meta               `json:"meta"`
}

// RateRow is one stratum's events, person-years and rate.
type RateRow struct {
	Key         map[string]any `json:"key"`
	Events      Estimate       `json:"events"`
	PersonYears Estimate       `json:"person_years"`
	Rate        Estimate       `json:"rate"`
}

// StandardisedRate is one directly standardised rate.
type StandardisedRate struct {
	Key  map[string]any `json:"key"`
	Rate Estimate       `json:"rate"`
}

// SurvivalResult is the body of a survival answer.
type SurvivalResult struct {
	Strata []SurvivalStratum `json:"strata"`
	Meta   Meta              `json:"meta"`
}

// SurvivalStratum is one stratum's curve.
type SurvivalStratum struct {
	Key            map[string]any  `json:"key"`
	Persons        Estimate        `json:"persons"`
	Points         []SurvivalPoint `json:"points"`
	MedianSurvival *MedianSurvival `json:"median_survival"`
}

// SurvivalPoint is the curve at the end of one interval.
type SurvivalPoint struct {
	Time     int         `json:"time"`
	Survival *float64    `json:"survival"`
	StdDev   float64     `json:"stddev"`
	CI       *[2]float64 `json:"ci95"`
	AtRisk   *float64    `json:"at_risk"`
}

// MedianSurvival is the median survival time (in intervals) and its interval.
type MedianSurvival struct {
	Value float64     `json:"value"`
	CI    [2]*float64 `json:"ci95"`
}

func (s EventSpec) toEngine() engine.EventSpec {
	return engine.EventSpec{Dataset: s.Dataset, Where: s.Where, Column: s.Column}
}

func (c *CohortCriteria) toEngine() *engine.Criteria {
	if c == nil {
		return nil
	}
	return &engine.Criteria{Include: convert(c.Include, Criterion.toEngine), Exclude: convert(c.Exclude, Criterion.toEngine)}
}

// fromEstimate is the wire form of an estimate, rounded for people
// (roundEstimate).
func fromEstimate(e epi.Estimate) Estimate {
	out := Estimate{Value: clonePtr(e.Value), StdDev: e.StdDev, CI: clonePtr(e.CI), Suppressed: e.Suppressed}
	roundEstimate(out.Value, &out.StdDev, out.CI)
	return out
}

func fromRates(r *epi.RatesResult) *RatesResult {
	return &RatesResult{
		Rows: convert(r.Rows, func(x epi.RateRow) RateRow {
			return RateRow{Key: maps.Clone(x.Key), Events: fromEstimate(x.Events), PersonYears: fromEstimate(x.PersonYears), Rate: fromEstimate(x.Rate)}
		}),
		Standardised: convert(r.Standardised, func(x epi.StandardisedRow) StandardisedRate {
			return StandardisedRate{Key: maps.Clone(x.Key), Rate: fromEstimate(x.Rate)}
		}),
		Meta: fromMeta(r.Meta),
	}
}

func fromSurvival(r *epi.SurvivalResult) *SurvivalResult {
	return &SurvivalResult{
		Strata: convert(r.Strata, func(s epi.SurvivalStratum) SurvivalStratum {
			out := SurvivalStratum{Key: maps.Clone(s.Key), Persons: fromEstimate(s.Persons),
				Points: convert(s.Points, func(p epi.SurvivalPoint) SurvivalPoint {
					out := SurvivalPoint{Time: p.Time, Survival: clonePtr(p.Survival), StdDev: p.StdDev, CI: clonePtr(p.CI), AtRisk: clonePtr(p.AtRisk)}
					roundEstimate(out.Survival, &out.StdDev, out.CI)
					return out
				})}
			if out.Points == nil {
				out.Points = []SurvivalPoint{}
			}
			if m := s.MedianSurvival; m != nil {
				out.MedianSurvival = &MedianSurvival{Value: m.Value, CI: [2]*float64{clonePtr(m.CI[0]), clonePtr(m.CI[1])}}
			}
			return out
		}),
		Meta: fromMeta(r.Meta),
	}
}

func (h *Handler) rates(w http.ResponseWriter, r *http.Request) {
	var body RatesBody
	serveEpi(h, w, r, &body, func() (float64, error) {
		eps, err := epsilonOf(body.Epsilon)
		if err == nil {
			err = required([2]string{"project", body.Project}, [2]string{"event.dataset", body.Event.Dataset},
				[2]string{"period.from", body.Period.From}, [2]string{"period.to", body.Period.To})
		}
		return eps, err
	}, func(ctx context.Context, p engine.Principal, eps float64, dryRun bool) (*epi.RatesResult, error) {
		return h.eng.Rates(ctx, p, engine.RatesRequest{Project: body.Project, Event: body.Event.toEngine(),
			Period: engine.Period{From: body.Period.From, To: body.Period.To}, Cohort: body.Cohort.toEngine(),
			Strata: body.Strata, Standardise: body.Standardise, Per: body.Per, Epsilon: eps, DryRun: dryRun})
	}, func(res *epi.RatesResult) any { return fromRates(res) })
}

func (h *Handler) survival(w http.ResponseWriter, r *http.Request) {
	var body SurvivalBody
	serveEpi(h, w, r, &body, func() (float64, error) {
		eps, err := epsilonOf(body.Epsilon)
		if err == nil {
			err = required([2]string{"project", body.Project}, [2]string{"index.dataset", body.Index.Dataset},
				[2]string{"event.dataset", body.Event.Dataset}, [2]string{"end", body.End})
		}
		return eps, err
	}, func(ctx context.Context, p engine.Principal, eps float64, dryRun bool) (*epi.SurvivalResult, error) {
		return h.eng.Survival(ctx, p, engine.SurvivalRequest{Project: body.Project, Index: body.Index.toEngine(),
			Event: body.Event.toEngine(), End: body.End, Interval: body.Interval, Horizon: body.Horizon,
			Strata: body.Strata, Cohort: body.Cohort.toEngine(), Epsilon: eps, DryRun: dryRun})
	}, func(res *epi.SurvivalResult) any { return fromSurvival(res) })
}

// epiAnswer is a rates or survival answer.
type epiAnswer interface {
	comparable
	ResultMeta() *result.Meta
}

// serveEpi is the one path of POST /v1/rates and /v1/survival: negotiate
// JSON, decode the body into dst, check it (check returns the ε asked),
// ask the engine (with ?dry_run=true, for the preview only), count what
// was charged and write the wire form of the answer with the result
// headers.
func serveEpi[R epiAnswer](h *Handler, w http.ResponseWriter, r *http.Request, dst any,
	check func() (float64, error), ask func(context.Context, engine.Principal, float64, bool) (R, error), wire func(R) any) {
	if !h.acceptJSON(w, r) {
		return
	}
	if err := decodeJSON(w, r, h.maxBody, dst); err != nil {
		h.writeError(w, r, err)
		return
	}
	eps, err := check()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	dryRun := outputOptionsOf(r).dryRun
	p, _ := principalFrom(r.Context())
	res, err := ask(r.Context(), p, eps, dryRun)
	var none R
	if err == nil && res == none {
		err = errors.New("api: engine returned neither a result nor an error")
	}
	if err != nil {
		h.metrics.chargedFailed(engine.ChargedEpsilon(err))
		h.engineError(w, r, err)
		return
	}
	m := res.ResultMeta()
	if !dryRun && m.Epsilon > 0 {
		h.metrics.epsilon.Add(m.Epsilon)
	}
	hd := w.Header()
	hd.Set("Statgate-Query-Id", m.QueryID)
	hd.Set("Statgate-Epsilon", strconv.FormatFloat(m.Epsilon, 'g', -1, 64))
	hd.Set("Statgate-Delta", strconv.FormatFloat(m.Delta, 'g', -1, 64))
	if dryRun {
		hd.Set("Statgate-Dry-Run", "true")
	}
	if m.Cached {
		hd.Set("Statgate-Cached", "true")
	}
	h.writeJSON(w, r, http.StatusOK, wire(res))
}
