package epi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/result"
)

// The intervals of a survival curve and their lengths in days.
const (
	IntervalYear  = "year"
	IntervalMonth = "month"
)

var intervalDays = map[string]float64{IntervalYear: 365.25, IntervalMonth: 365.25 / 12}

// MaxHorizon is the largest horizon, by interval.
var MaxHorizon = map[string]int{IntervalYear: 30, IntervalMonth: 360}

// AgeBands are the bands of a survival stratum "age_band": the age in
// whole years at the index date (its calendar year minus the birth year),
// as the cohort estimate's bands.
var AgeBands = []struct {
	Label  string
	MaxAge int // exclusive; 0: open-ended
}{{"0-17", 18}, {"18-39", 40}, {"40-64", 65}, {"65-79", 80}, {"80+", 0}}

// AgeBandLabels are the labels of AgeBands, in order.
func AgeBandLabels() []string {
	out := make([]string, len(AgeBands))
	for i, b := range AgeBands {
		out[i] = b.Label
	}
	return out
}

// SurvivalQuery is a checked Kaplan–Meier question: time from each
// person's first Index row (dated by Index.Column, on or before End) to
// their first Event row on or after it, censored at End.
type SurvivalQuery struct {
	Index, Event Source
	// Persons is the persons register; it is joined when a stratum comes
	// from it or is "age_band".
	Persons *Persons
	End     Day
	// Interval is IntervalYear or IntervalMonth; Horizon the number of
	// intervals the curve covers.
	Interval string
	Horizon  int
	// Strata are columns of the index row (Column.Table IndexAlias, taken
	// from the person's first index row), of the persons register
	// (PersonsAlias) or "age_band" (AgeBands at the index date).
	Strata []Stratum
	// Cohort is a condition on the person (correlated with
	// BaseAlias.BaseKey); nil: everyone.
	Cohort query.Expr
	// Datasets are the datasets the question reads, for the budget.
	Datasets []string
}

// SurvivalPlan is the SQL of a survival question and its grid.
type SurvivalPlan struct {
	// SQL yields, per stratum and interval, the number of persons whose
	// follow-up ends there with the event (died = true) or censored.
	SQL string
	q   *SurvivalQuery
	// strata are the strata's value lists; cells per stratum are
	// 2·Horizon + 1 (an event or a censoring in each interval, or
	// followed beyond the horizon).
	strata [][]string
}

// PlanSurvival generates the SQL of q. It refuses a horizon out of range
// and a grid over MaxCells.
func PlanSurvival(q *SurvivalQuery) (*SurvivalPlan, error) {
	days, ok := intervalDays[q.Interval]
	if !ok {
		return nil, refusal.New(refusal.EpiBadSpec, fmt.Sprintf("interval %q is not year or month", q.Interval), `use "interval": "year" or "month"`)
	}
	if q.Horizon < 1 || q.Horizon > MaxHorizon[q.Interval] {
		return nil, refusal.New(refusal.EpiBadSpec, fmt.Sprintf("horizon %d is outside 1–%d %ss", q.Horizon, MaxHorizon[q.Interval], q.Interval), "")
	}
	p := &SurvivalPlan{q: q}
	for _, s := range q.Strata {
		p.strata = append(p.strata, s.Values)
	}
	if n := gridSize(p.strata); n > MaxCells/(2*q.Horizon+1) {
		return nil, refusal.New(refusal.EpiTooManyCells, fmt.Sprintf("the strata and horizon ask for more than %d cells", MaxCells), "use fewer strata or a shorter horizon")
	}
	ix, ev := q.Index, q.Event
	var b strings.Builder
	// ix: each person's first qualifying index row, and the index-row
	// strata of that row (ties broken by the value, so the row is fixed).
	fmt.Fprintf(&b, "WITH ix AS (\n  SELECT %s AS %s, min(%s) AS t0", col(ix.Alias, ix.PersonKey), BaseKey, col(ix.Alias, ix.Column))
	for i, s := range q.Strata {
		if s.Column != nil && s.Column.Table == IndexAlias {
			k := keySQL(s)
			fmt.Fprintf(&b, ", arg_min(%s, (%s, %s)) AS s%d", k, col(ix.Alias, ix.Column), k, i)
		}
	}
	fmt.Fprintf(&b, "\n  FROM %s AS %s\n  WHERE %s IS NOT NULL AND %s <= %s AND %s\n  GROUP BY 1\n)",
		ident(ix.Dataset), ident(ix.Alias), col(ix.Alias, ix.Column), col(ix.Alias, ix.Column), dateSQL(q.End), filter(ix.Where))
	// ev: the first qualifying event on or after the index date.
	fmt.Fprintf(&b, ",\nev AS (\n  SELECT ix.%s AS %s, min(%s) AS te\n  FROM ix JOIN %s AS %s ON %s = ix.%s\n  WHERE %s >= ix.t0 AND %s\n  GROUP BY 1\n)",
		BaseKey, BaseKey, col(ev.Alias, ev.Column), ident(ev.Dataset), ident(ev.Alias), col(ev.Alias, ev.PersonKey), BaseKey,
		col(ev.Alias, ev.Column), filter(ev.Where))
	// f: one row per person: strata, died by End, days of follow-up.
	var keys, conds []string
	for i, s := range q.Strata {
		var k string
		switch {
		case s.Column != nil && s.Column.Table == IndexAlias:
			k = fmt.Sprintf("%s.s%d", BaseAlias, i)
		case s.Column != nil:
			k = keySQL(s)
		default: // age_band at the index date
			k = ageBandSQL(fmt.Sprintf("(year(%s.t0) - %s)", BaseAlias, col(PersonsAlias, q.Persons.BirthYear)))
		}
		keys = append(keys, fmt.Sprintf("%s AS k%d", k, i))
		conds = append(conds, inDomain(k, s.Values))
	}
	died := fmt.Sprintf("(ev.te IS NOT NULL AND ev.te <= %s)", dateSQL(q.End))
	fmt.Fprintf(&b, ",\nf AS (\n  SELECT %s%s AS died,\n    date_diff('day', %s.t0, CASE WHEN %s THEN ev.te ELSE %s END) AS days\n  FROM ix AS %s LEFT JOIN ev ON ev.%s = %s.%s",
		joinComma(keys), died, BaseAlias, died, dateSQL(q.End), BaseAlias, BaseKey, BaseAlias, BaseKey)
	if q.Persons != nil {
		fmt.Fprintf(&b, "\n    LEFT JOIN %s AS %s ON %s = %s.%s", ident(q.Persons.Dataset), ident(PersonsAlias), col(PersonsAlias, q.Persons.PersonKey), BaseAlias, BaseKey)
	}
	conds = append(conds, filter(q.Cohort))
	fmt.Fprintf(&b, "\n  WHERE %s\n)", strings.Join(conds, " AND "))
	// The grid: interval j < Horizon with the event or censored there, or
	// j = Horizon: followed beyond the horizon (event or not).
	lim := float64(q.Horizon) * days
	var ks []string
	for i := range q.Strata {
		ks = append(ks, fmt.Sprintf("k%d", i))
	}
	fmt.Fprintf(&b, "\nSELECT %sCAST(least(floor(days / %s), %d) AS BIGINT)::VARCHAR AS j,\n  CASE WHEN days >= %s THEN 'beyond' WHEN died THEN 'event' ELSE 'censored' END AS outcome,\n  count(*)::BIGINT AS n\nFROM f\nGROUP BY ALL",
		joinComma(ks), strconv.FormatFloat(days, 'f', -1, 64), q.Horizon, strconv.FormatFloat(lim, 'f', -1, 64))
	p.SQL = b.String()
	return p, nil
}

// joinComma joins items each followed by ", ".
func joinComma(items []string) string {
	var b strings.Builder
	for _, s := range items {
		b.WriteString(s)
		b.WriteString(", ")
	}
	return b.String()
}

// ageBandSQL renders the AgeBands label of an age expression.
func ageBandSQL(age string) string {
	var b strings.Builder
	b.WriteString("CASE")
	for _, band := range AgeBands {
		if band.MaxAge == 0 {
			fmt.Fprintf(&b, " WHEN %s IS NOT NULL THEN %s", age, quote(band.Label))
			continue
		}
		fmt.Fprintf(&b, " WHEN %s < %d THEN %s", age, band.MaxAge, quote(band.Label))
	}
	b.WriteString(" END")
	return b.String()
}

// SurvivalRelease is a survival plan with its mechanism built, before the
// debit.
type SurvivalRelease struct {
	p    *SurvivalPlan
	o    Options
	mech *mechanism
}

// PurposeSurvivalCells is the split's name for the one histogram of a
// survival question.
const PurposeSurvivalCells = "events and censorings per interval"

// Prepare builds the release's mechanism: the whole ε to the grid, whose cells each person changes by one in total. It refuses
// privacy parameters the noise library refuses.
func (p *SurvivalPlan) Prepare(o *Options) (*SurvivalRelease, error) {
	if o == nil || o.Epsilon <= 0 {
		return nil, errors.New("epi: an epsilon is required")
	}
	m, err := newMechanism(o, o.Epsilon, 1)
	if err != nil {
		return nil, err
	}
	return &SurvivalRelease{p: p, o: *o, mech: m}, nil
}

// Epsilon and Delta are what the release spends.
func (r *SurvivalRelease) Epsilon() float64 { return r.mech.eps }

// Delta is the δ the release spends (0 with Laplace noise).
func (r *SurvivalRelease) Delta() float64 { return r.mech.delta }

// SurvivalResult is a released survival answer.
type SurvivalResult struct {
	Strata []SurvivalStratum `json:"strata"`
	Meta   result.Meta       `json:"meta"`
}

// SurvivalStratum is the curve of one stratum.
type SurvivalStratum struct {
	Key     map[string]any `json:"key"`
	Persons Estimate       `json:"persons"`
	// Points are the curve at the end of each interval 1…Horizon; empty
	// when the stratum is suppressed.
	Points []SurvivalPoint `json:"points"`
	// MedianSurvival is the first time (in intervals, interpolated
	// linearly within an interval) the curve reaches 0.5; nil when it does
	// not within the horizon. Its interval is where the curve's interval
	// reaches 0.5 (an open upper end is nil).
	MedianSurvival *Median `json:"median_survival"`
}

// Median is a median survival time and its 95 % interval.
type Median struct {
	Value float64     `json:"value"`
	CI    [2]*float64 `json:"ci95"`
}

// SurvivalPoint is the curve at one time.
type SurvivalPoint struct {
	// Time is the end of the interval, in intervals (1 = one year or month).
	Time int `json:"time"`
	// Survival is the Kaplan–Meier estimate (life-table form); nil when
	// nobody was at risk in some earlier interval.
	Survival *float64 `json:"survival"`
	// StdDev is the standard deviation of Survival from the noise alone;
	// CI covers the noise and the sampling variation (Greenwood).
	StdDev float64     `json:"stddev"`
	CI     *[2]float64 `json:"ci95"`
	// AtRisk is the noisy number of persons still followed at Time,
	// rounded; nil when below the release threshold.
	AtRisk *float64 `json:"at_risk"`
}

// Apply reads the executed plan's cells, adds noise to every cell of the
// grid and builds the curves. It cannot fail on a privacy parameter.
func (r *SurvivalRelease) Apply(ctx context.Context, rr array.RecordReader) (*SurvivalResult, error) {
	q, h := r.p.q, r.p.q.Horizon
	cellsOf := func(parts []string) []string {
		var out []string
		for j := 0; j < h; j++ {
			out = append(out, cellKey(append(append([]string{}, parts...), strconv.Itoa(j), "event")),
				cellKey(append(append([]string{}, parts...), strconv.Itoa(j), "censored")))
		}
		return append(out, cellKey(append(append([]string{}, parts...), strconv.Itoa(h), "beyond")))
	}
	strata := grid(r.p.strata)
	valid := map[string]bool{}
	for _, s := range strata {
		for _, c := range cellsOf(s) {
			valid[c] = true
		}
	}
	exact, err := readCells(ctx, rr, len(q.Strata)+2, []string{"n"}, func(k string) bool { return valid[k] })
	if err != nil {
		return nil, err
	}
	res := &SurvivalResult{Strata: []SurvivalStratum{}}
	sd := r.mech.sd
	for _, s := range strata {
		cs := cellsOf(s)
		noisy := make([]float64, len(cs))
		for i, c := range cs {
			var x float64
			if v := exact[c]; v != nil {
				x = v[0]
			}
			if noisy[i], err = r.mech.add(x); err != nil {
				return nil, err
			}
			noisy[i] = math.Max(noisy[i], 0)
		}
		res.Strata = append(res.Strata, r.curve(keyOf(q.Strata, s), noisy, sd))
	}
	res.Meta = r.meta()
	for _, s := range res.Strata {
		for _, p := range s.Points {
			if p.AtRisk == nil {
				res.Meta.SuppressedCells++
			}
		}
	}
	return res, nil
}

// meta is the data-independent metadata of the release's answers.
func (r *SurvivalRelease) meta() result.Meta {
	q, h, sd := r.p.q, r.p.q.Horizon, r.mech.sd
	return result.Meta{
		Split:     []result.Spend{{Purpose: PurposeSurvivalCells, Epsilon: r.mech.eps, Delta: r.mech.delta}},
		Mechanism: r.mech.name, Groups: "public_domain",
		Bounding:     result.Bounding{MaxGroupsPerPerson: 1, MaxRowsPerPersonPerGroup: 1, L0Step: "one_group_per_person"},
		MinCellCount: r.o.MinCellCount, RoundTo: r.o.RoundTo,
		SuppressBelow: threshold(r.o.MinCellCount, sd*math.Sqrt(float64(2*h+1))),
		Notes: []string{
			fmt.Sprintf("each person is in one cell of their stratum's grid: the interval (%s) in which follow-up ends, with the event or censored at %s, or followed beyond the horizon; every cell gets noise of standard deviation %.3g", q.Interval, q.End.Format("2006-01-02"), sd),
			"survival is the life-table (actuarial) Kaplan–Meier estimate from the noisy cells: persons censored in an interval count as at risk for half of it; noisy counts are clamped at 0 and each interval's hazard to [0, 1], so curves are non-increasing in [0, 1]",
			"ci95 of survival combines Greenwood's variance with the noise's (delta method); stddev is the noise's alone",
			"at_risk is the noisy number still followed at each time, rounded; it is withheld below the release threshold",
		},
	}
}

// keyOf is the key object of one stratum combination.
func keyOf(strata []Stratum, values []string) map[string]any {
	k := map[string]any{}
	for i, s := range strata {
		if s.Integer {
			if n, err := strconv.ParseInt(values[i], 10, 64); err == nil {
				k[s.Name] = n
				continue
			}
		}
		k[s.Name] = values[i]
	}
	return k
}

// curve builds one stratum's curve from its noisy cells: event and
// censoring counts of each interval, then the persons beyond the horizon.
func (r *SurvivalRelease) curve(key map[string]any, cells []float64, sd float64) SurvivalStratum {
	h := r.p.q.Horizon
	st := SurvivalStratum{Key: key, Points: []SurvivalPoint{}}
	d, c := make([]float64, h), make([]float64, h)
	for j := 0; j < h; j++ {
		d[j], c[j] = cells[2*j], cells[2*j+1]
	}
	beyond := cells[2*h]
	// atRisk[j]: followed at the start of interval j (j = h: beyond).
	atRisk := make([]float64, h+1)
	atRisk[h] = beyond
	for j := h - 1; j >= 0; j-- {
		atRisk[j] = atRisk[j+1] + d[j] + c[j]
	}
	persons := atRisk[0]
	sdPersons := sd * math.Sqrt(float64(2*h+1))
	thr := threshold(r.o.MinCellCount, sdPersons)
	if persons < thr {
		st.Persons = suppressed()
		return st
	}
	st.Persons = released(roundTo(persons, r.o.RoundTo), sdPersons,
		[2]float64{math.Max(persons-z95*sdPersons, 0), persons + z95*sdPersons})
	// Hazards on the actuarial risk set n' = n − c/2.
	surv, logVarNoise, logVarGreenwood := 1.0, 0.0, 0.0
	defined := true
	nEff := make([]float64, h)
	for j := 0; j < h; j++ {
		nEff[j] = atRisk[j] - c[j]/2
	}
	for j := 0; j < h; j++ {
		var q float64
		if nEff[j] > 0 {
			q = math.Min(d[j]/nEff[j], 1)
		} else {
			defined = false
		}
		surv *= 1 - q
		if defined {
			alive := math.Max(nEff[j]-d[j], 0.5)
			logVarGreenwood += d[j] / (nEff[j] * alive)
		}
		logVarNoise = noiseLogVar(d, nEff, atRisk, j) * sd * sd
		p := SurvivalPoint{Time: j + 1}
		if defined {
			s := surv
			se := s * math.Sqrt(logVarGreenwood+logVarNoise)
			p.Survival = &s
			p.StdDev = s * math.Sqrt(logVarNoise)
			p.CI = &[2]float64{clamp01(s - z95*se), clamp01(s + z95*se)}
		}
		// At risk at time j+1: the cells of the intervals after j.
		sdAt := sd * math.Sqrt(float64(2*(h-j-1)+1))
		if n := atRisk[j+1]; n >= threshold(r.o.MinCellCount, sdAt) {
			v := roundTo(n, r.o.RoundTo)
			p.AtRisk = &v
		}
		st.Points = append(st.Points, p)
	}
	st.MedianSurvival = median(st.Points)
	return st
}

// noiseLogVar is the variance of log S at the end of interval j per unit
// of cell noise variance (the delta method over every noisy cell: each
// interval's event and censoring counts and the persons beyond the
// horizon, which all enter the risk sets).
func noiseLogVar(d, nEff, atRisk []float64, j int) float64 {
	h := len(d)
	// grad[x] for x = d_m (2m), c_m (2m+1), beyond (2h).
	grad := make([]float64, 2*h+1)
	for k := 0; k <= j; k++ {
		n := nEff[k]
		if n <= 0 {
			continue
		}
		alive := math.Max(n-d[k], 0.5)
		both := 1/alive - 1/n // a count in every later cell raises n' and n'−d alike
		grad[2*h] += both
		for m := k + 1; m < h; m++ {
			grad[2*m] += both
			grad[2*m+1] += both
		}
		grad[2*k] += -1 / n
		grad[2*k+1] += both / 2
	}
	var v float64
	for _, g := range grad {
		v += g * g
	}
	return v
}

// median is the first time the curve reaches 0.5, interpolated linearly
// within the interval, and the times its interval's bounds reach it.
func median(points []SurvivalPoint) *Median {
	cross := func(at func(SurvivalPoint) (float64, bool)) *float64 {
		prev := 1.0
		for i, p := range points {
			s, ok := at(p)
			if !ok {
				return nil
			}
			if s <= 0.5 {
				t := float64(i)
				if prev > s {
					t += (prev - 0.5) / (prev - s)
				}
				return &t
			}
			prev = s
		}
		return nil
	}
	m := cross(func(p SurvivalPoint) (float64, bool) {
		if p.Survival == nil {
			return 0, false
		}
		return *p.Survival, true
	})
	if m == nil {
		return nil
	}
	lo := cross(func(p SurvivalPoint) (float64, bool) {
		if p.CI == nil {
			return 0, false
		}
		return p.CI[0], true
	})
	hi := cross(func(p SurvivalPoint) (float64, bool) {
		if p.CI == nil {
			return 0, false
		}
		return p.CI[1], true
	})
	return &Median{Value: *m, CI: [2]*float64{lo, hi}}
}

// Rho is the release's zCDP cost: ε²/2 of its Laplace mechanism.
func (r *SurvivalRelease) Rho() float64 { return r.mech.eps * r.mech.eps / 2 }
