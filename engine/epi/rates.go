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

// The derived strata of a rates question.
const (
	// StratumAgeBand is the attained age (calendar year − birth year) in
	// the five-year groups of the standard population (0-4 … 95+).
	StratumAgeBand = "age_band"
	// StratumYear is the calendar year of the person-time.
	StratumYear = "year"
)

// daysPerYear converts person-days to person-years.
const daysPerYear = 365.25

// EventsShare is the part of a rates question's ε that goes to the event
// counts when one person can have at most periodYears of person-time; the
// rest goes to person-time. It minimises the noise variance of a rate
// e/t, σ²(e)/e² + σ²(t)/t² with σ(e) ∝ 1/ε_e and σ(t) ∝ periodYears/ε_t,
// at the public incidence PlausibleIncidence (e = r·t):
// ε_e/ε_t = (1/(periodYears·r))^(2/3). Rarer events only make person-time
// matter less. It depends on nothing in the data.
func EventsShare(periodYears float64) float64 {
	return 1 / (1 + math.Pow(periodYears*PlausibleIncidence, 2.0/3))
}

// PlausibleIncidence is the highest incidence per person-year EventsShare
// plans for (1 %: more than the incidence of type 2 diabetes, cancer or
// myocardial infarction in any age group but the oldest).
const PlausibleIncidence = 0.01

// RatesQuery is a checked incidence question. Each person of the persons
// register (meeting Cohort) is at risk from From, or 1 July of the birth
// year if later, until the earliest of the first Event row, death
// (Persons.DeathDate) and To (inclusive); persons whose first event comes
// before that start are prevalent and not followed. Person-time is split
// by calendar year and attained age (year − birth year).
type RatesQuery struct {
	Event    Source
	Persons  Persons
	From, To Day
	// Strata are columns of the persons register (Column.Table
	// PersonsAlias), StratumAgeBand or StratumYear.
	Strata []Stratum
	// Standardise, when set, also releases directly age-standardised
	// rates (ESP 2013) per combination of the other strata.
	Standardise bool
	// Per is the rate's unit of person-years (e.g. 100,000).
	Per float64
	// Cohort restricts who is followed (correlated with the persons
	// register's person key, PersonsAlias.PersonKey).
	Cohort   query.Expr
	Datasets []string
}

// RatesPlan is the SQL of a rates question and its grid.
type RatesPlan struct {
	// SQL yields, per cell, the person-days at risk and the first events.
	SQL string
	q   *RatesQuery
	// dims are the grid's value lists: the column strata, then the years
	// when asked, then the age groups when needed.
	dims              [][]string
	yearDim, groupDim int // -1 when absent
	// periodYears is the longest person-time one person can have.
	periodYears float64
}

// PlanRates generates the SQL of q.
func PlanRates(q *RatesQuery) (*RatesPlan, error) {
	if !q.From.Before(q.To) && !q.From.Equal(q.To) {
		return nil, refusal.New(refusal.EpiBadSpec, "period.from is after period.to", "")
	}
	if q.Per <= 0 || math.IsInf(q.Per, 0) || math.IsNaN(q.Per) {
		return nil, refusal.New(refusal.EpiBadSpec, "per must be a positive number of person-years", `e.g. "per": 100000`)
	}
	p := &RatesPlan{q: q, yearDim: -1, groupDim: -1}
	var colStrata []int
	needYear, needGroup := false, q.Standardise
	for i, s := range q.Strata {
		switch {
		case s.Column != nil:
			colStrata = append(colStrata, i)
			p.dims = append(p.dims, s.Values)
		case s.Name == StratumYear:
			needYear = true
		case s.Name == StratumAgeBand:
			needGroup = true
		}
	}
	if needYear {
		p.yearDim = len(p.dims)
		var ys []string
		for y := q.From.Year(); y <= q.To.Year(); y++ {
			ys = append(ys, strconv.Itoa(y))
		}
		p.dims = append(p.dims, ys)
	}
	if needGroup {
		p.groupDim = len(p.dims)
		p.dims = append(p.dims, groupLabels())
	}
	if gridSize(p.dims) > MaxCells {
		return nil, refusal.New(refusal.EpiTooManyCells, fmt.Sprintf("the strata ask for more than %d cells", MaxCells), "use fewer strata or a shorter period")
	}
	end := q.To.AddDate(0, 0, 1) // follow-up ends before this day
	p.periodYears = end.Sub(q.From).Hours() / 24 / daysPerYear
	ev, pe := q.Event, q.Persons
	by := col(PersonsAlias, pe.BirthYear)
	death := "NULL::DATE"
	if pe.DeathDate != "" {
		death = col(PersonsAlias, pe.DeathDate)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "WITH ev AS (\n  SELECT %s AS %s, min(%s) AS te\n  FROM %s AS %s\n  WHERE %s IS NOT NULL AND %s\n  GROUP BY 1\n)",
		col(ev.Alias, ev.PersonKey), BaseKey, col(ev.Alias, ev.Column), ident(ev.Dataset), ident(ev.Alias), col(ev.Alias, ev.Column), filter(ev.Where))
	// b: one row per person of the register: strata, birth year, start,
	// first event, death.
	var keys, conds []string
	for n, i := range colStrata {
		k := keySQL(q.Strata[i])
		keys = append(keys, fmt.Sprintf("%s AS k%d", k, n))
		conds = append(conds, inDomain(k, q.Strata[i].Values))
	}
	fmt.Fprintf(&b, ",\n%s AS (\n  SELECT %s%s AS %s, CAST(%s AS BIGINT) AS byear, ev.te AS te, %s AS td,\n    greatest(%s, make_date(CAST(%s AS BIGINT), 7, 1)) AS t0\n  FROM %s AS %s LEFT JOIN ev ON ev.%s = %s",
		BaseAlias, joinComma(keys), col(PersonsAlias, pe.PersonKey), BaseKey, by, death, dateSQL(q.From), by,
		ident(pe.Dataset), ident(PersonsAlias), BaseKey, col(PersonsAlias, pe.PersonKey))
	conds = append(conds, fmt.Sprintf("%s BETWEEN 1000 AND 3000", by), filter(q.Cohort))
	fmt.Fprintf(&b, "\n  WHERE %s\n)", strings.Join(conds, " AND "))
	// f: the event (first event in the period, not after death) and the
	// end of person-time (exclusive); prevalent persons are dropped.
	stop := fmt.Sprintf("least(%s, coalesce(td + 1, %s))", dateSQL(end), dateSQL(end))
	isEvent := fmt.Sprintf("(te IS NOT NULL AND te >= t0 AND te <= %s AND (td IS NULL OR te <= td))", dateSQL(q.To))
	fmt.Fprintf(&b, ",\nf AS (\n  SELECT *, CASE WHEN ev1 THEN te ELSE %s END AS t1 FROM (SELECT *, %s AS ev1 FROM %s)\n  WHERE te IS NULL OR te >= t0\n)",
		stop, isEvent, BaseAlias)
	// x: one row per person and calendar year at risk.
	b.WriteString(",\nx AS (\n  SELECT *, unnest(range(year(t0), (CASE WHEN ev1 THEN year(t1) ELSE year(t1 - 1) END) + 1)) AS y\n  FROM f WHERE t1 >= t0\n)")
	// The grid.
	var outKeys []string
	for n := range colStrata {
		outKeys = append(outKeys, fmt.Sprintf("k%d", n))
	}
	if needYear {
		outKeys = append(outKeys, "CAST(y AS VARCHAR) AS y")
	}
	if needGroup {
		labels := groupLabels()
		var g strings.Builder
		g.WriteString("CASE")
		for i, l := range labels[:len(labels)-1] {
			fmt.Fprintf(&g, " WHEN y - byear < %d THEN %s", 5*(i+1), quote(l))
		}
		fmt.Fprintf(&g, " ELSE %s END AS g", quote(labels[len(labels)-1]))
		outKeys = append(outKeys, g.String())
	}
	fmt.Fprintf(&b, "\nSELECT %sCAST(sum(greatest(date_diff('day', greatest(t0, make_date(y, 1, 1)), least(t1, make_date(y + 1, 1, 1))), 0)) AS DOUBLE) AS days,\n  CAST(sum(CASE WHEN ev1 AND year(t1) = y THEN 1 ELSE 0 END) AS BIGINT) AS events\nFROM x\nGROUP BY ALL",
		joinComma(outKeys))
	p.SQL = b.String()
	return p, nil
}

// RatesRelease is a rates plan with its mechanisms built, before the debit.
type RatesRelease struct {
	p            *RatesPlan
	o            Options
	events, time *mechanism
}

// The split's names of a rates question's two histograms.
const (
	PurposeEvents      = "events"
	PurposePersonYears = "person_years"
)

// Prepare builds the two mechanisms: EventsShare of ε for the event
// counts (one event per person in all), the rest for person-years (at
// most the period's length per person in all).
func (p *RatesPlan) Prepare(o *Options) (*RatesRelease, error) {
	if o == nil || o.Epsilon <= 0 {
		return nil, errors.New("epi: an epsilon is required")
	}
	ee := o.Epsilon * EventsShare(p.periodYears)
	ev, err := newMechanism(o, ee, 1)
	if err != nil {
		return nil, err
	}
	tm, err := newMechanism(o, o.Epsilon-ee, p.periodYears)
	if err != nil {
		return nil, err
	}
	return &RatesRelease{p: p, o: *o, events: ev, time: tm}, nil
}

// Epsilon is the ε the release spends.
func (r *RatesRelease) Epsilon() float64 { return r.events.eps + r.time.eps }

// Delta is the δ the release spends (0 with Laplace noise).
func (r *RatesRelease) Delta() float64 { return r.events.delta + r.time.delta }

// RatesResult is a released rates answer.
type RatesResult struct {
	Rows []RateRow `json:"rows"`
	// Standardised holds the directly standardised rates per combination
	// of the strata other than age_band, when asked for.
	Standardised []StandardisedRow `json:"standardised,omitempty"`
	Meta         result.Meta       `json:"meta"`
}

// RateRow is one stratum's events, person-years and rate per Per
// person-years.
type RateRow struct {
	Key         map[string]any `json:"key"`
	Events      Estimate       `json:"events"`
	PersonYears Estimate       `json:"person_years"`
	Rate        Estimate       `json:"rate"`
}

// StandardisedRow is one directly standardised rate.
type StandardisedRow struct {
	Key  map[string]any `json:"key"`
	Rate Estimate       `json:"rate"`
}

// noisyCell is one grid cell after noise.
type noisyCell struct {
	events, years float64
}

// Apply reads the executed plan's cells, adds noise to every cell of the
// grid and derives rows, rates and standardised rates.
func (r *RatesRelease) Apply(ctx context.Context, rr array.RecordReader) (*RatesResult, error) {
	p := r.p
	cells := grid(p.dims)
	valid := make(map[string]bool, len(cells))
	for _, c := range cells {
		valid[cellKey(c)] = true
	}
	exact, err := readCells(ctx, rr, len(p.dims), []string{"days", "events"}, func(k string) bool { return valid[k] })
	if err != nil {
		return nil, err
	}
	noisy := make([]noisyCell, len(cells))
	for i, c := range cells {
		var days, events float64
		if v := exact[cellKey(c)]; v != nil {
			days, events = v[0], v[1]
		}
		e, err := r.events.add(events)
		if err != nil {
			return nil, err
		}
		t, err := r.time.add(days / daysPerYear)
		if err != nil {
			return nil, err
		}
		// Unclamped: sums of cells stay unbiased (a cell of no events
		// clamped at 0 would add half its noise's scale to every sum);
		// what is released is clamped at 0.
		noisy[i] = noisyCell{e, t}
	}
	res := &RatesResult{Rows: []RateRow{}}
	// Rows: the user's strata; cells are summed over the dimensions the
	// row does not name.
	rowDims := r.rowDims(false)
	rows, order := r.sumBy(cells, noisy, rowDims)
	thrCell := func(n int) float64 { return threshold(r.o.MinCellCount, r.events.sd*math.Sqrt(float64(n))) }
	for _, k := range order {
		agg := rows[k]
		agg.events, agg.years = math.Max(agg.events, 0), math.Max(agg.years, 0)
		row := RateRow{Key: r.key(agg.values, false)}
		n := float64(agg.n)
		sdE, sdT := r.events.sd*math.Sqrt(n), r.time.sd*math.Sqrt(n)
		row.PersonYears = released(agg.years, sdT, [2]float64{math.Max(agg.years-z95*sdT, 0), agg.years + z95*sdT})
		if agg.events < thrCell(agg.n) {
			row.Events, row.Rate = suppressed(), suppressed()
			res.Meta.SuppressedCells += 2
		} else {
			eci := eventsInterval(agg.events, sdE, 0.05)
			row.Events = released(roundTo(agg.events, r.o.RoundTo), sdE, eci)
			row.Rate = rateEstimate(agg.events, sdE, agg.years, sdT, q(p).Per)
		}
		res.Rows = append(res.Rows, row)
	}
	if q(p).Standardise {
		res.Standardised = r.standardise(cells, noisy)
	}
	sc := res.Meta.SuppressedCells
	res.Meta = r.meta()
	res.Meta.SuppressedCells = sc
	return res, nil
}

// meta is the data-independent metadata of the release's answers.
func (r *RatesRelease) meta() result.Meta {
	p := r.p
	var m result.Meta
	m.Split = []result.Spend{
		{Purpose: PurposeEvents, Epsilon: r.events.eps, Delta: r.events.delta},
		{Purpose: PurposePersonYears, Epsilon: r.time.eps, Delta: r.time.delta},
	}
	m.Mechanism, m.Groups = r.events.name, "public_domain"
	m.Bounding = result.Bounding{MaxGroupsPerPerson: 1, MaxRowsPerPersonPerGroup: 1, L0Step: "one_group_per_person",
		Bounds: map[string][2]float64{PurposePersonYears: {0, p.periodYears}}}
	m.MinCellCount, m.RoundTo = r.o.MinCellCount, r.o.RoundTo
	m.SuppressBelow = threshold(r.o.MinCellCount, r.events.sd)
	m.Notes = []string{
		fmt.Sprintf("the event is each person's first qualifying row; persons whose first event precedes the start of their time at risk are prevalent and not followed; time at risk runs from %s (or 1 July of the birth year, if later) to the first event, death or %s, split by calendar year and attained age (year − birth year)",
			q(p).From.Format("2006-01-02"), q(p).To.Format("2006-01-02")),
		fmt.Sprintf("every cell of the grid (strata × %s) gets noise: events (a person has at most one) with standard deviation %.3g, person-years (at most %.2f per person) with %.3g; rows sum their cells",
			gridNote(p), r.events.sd, p.periodYears, r.time.sd),
		"ci95 of a rate combines the Poisson variation of the events with the noise in events and person-years (each at level √0.95, ratio of the bounds); events are withheld below the release threshold, and so is the rate",
	}
	if q(p).Standardise {
		m.Notes = append(m.Notes,
			"standardised: direct standardisation with the 2013 European Standard Population (Eurostat 2013) over 5-year attained-age groups 0-4 … 90-94, 95+; an age group whose noisy person-years are within 10 standard deviations of 0 is pooled with the next younger groups (the pool's rate for each); ci95 is normal with the Poisson and noise variances")
	}
	return m
}

// q is the plan's query.
func q(p *RatesPlan) *RatesQuery { return p.q }

// gridNote names the grid's derived dimensions for the notes.
func gridNote(p *RatesPlan) string {
	var parts []string
	if p.yearDim >= 0 {
		parts = append(parts, "calendar years")
	}
	if p.groupDim >= 0 {
		parts = append(parts, "5-year age groups")
	}
	if len(parts) == 0 {
		return "no derived dimension"
	}
	return strings.Join(parts, " × ")
}

// rowDims maps the user's strata to grid dimensions; with skipAge the
// age_band stratum is left out (the standardised rows).
func (r *RatesRelease) rowDims(skipAge bool) []int {
	var out []int
	col := 0
	for _, s := range r.p.q.Strata {
		switch {
		case s.Column != nil:
			out = append(out, col)
			col++
		case s.Name == StratumYear:
			out = append(out, r.p.yearDim)
		case s.Name == StratumAgeBand:
			if !skipAge {
				out = append(out, r.p.groupDim)
			}
		}
	}
	return out
}

// key is the key object of a row whose values follow the strata (without
// age_band when skipAge).
func (r *RatesRelease) key(values []string, skipAge bool) map[string]any {
	out := map[string]any{}
	i := 0
	for _, s := range r.p.q.Strata {
		if skipAge && s.Column == nil && s.Name == StratumAgeBand {
			continue
		}
		v := values[i]
		i++
		if s.Integer || (s.Column == nil && s.Name == StratumYear) {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				out[s.Name] = n
				continue
			}
		}
		out[s.Name] = v
	}
	return out
}

// rowAgg is a sum of noisy cells.
type rowAgg struct {
	values        []string
	events, years float64
	n             int // cells summed
}

// sumBy sums the noisy cells by the values of dims, in grid order.
func (r *RatesRelease) sumBy(cells [][]string, noisy []noisyCell, dims []int) (map[string]*rowAgg, []string) {
	out := map[string]*rowAgg{}
	var order []string
	for i, c := range cells {
		vals := make([]string, len(dims))
		for j, d := range dims {
			vals[j] = c[d]
		}
		k := cellKey(vals)
		a := out[k]
		if a == nil {
			a = &rowAgg{values: vals}
			out[k] = a
			order = append(order, k)
		}
		a.events += noisy[i].events
		a.years += noisy[i].years
		a.n++
	}
	return out, order
}

// eventsInterval is the interval of a noisy event count at level 1−alpha:
// normal, with the Poisson variance and the noise's.
func eventsInterval(e, sd, alpha float64) [2]float64 {
	z := zOf(alpha)
	half := z * math.Sqrt(math.Max(e, 0)+sd*sd)
	return [2]float64{math.Max(e-half, 0), e + half}
}

// zOf is Φ⁻¹(1 − alpha/2).
func zOf(alpha float64) float64 {
	if alpha == 0.05 {
		return z95
	}
	return normalQuantile(1 - alpha/2)
}

// rateEstimate is events/years × per with its interval: the events'
// interval (Poisson and noise) and the person-years' (noise) each at level
// √0.95, combined as the ratio of their bounds.
func rateEstimate(e, sdE, years, sdT, per float64) Estimate {
	if years <= 0 {
		return suppressed()
	}
	alpha := 1 - math.Sqrt(0.95)
	eci := eventsInterval(e, sdE, alpha)
	z := zOf(alpha)
	lo, hi := math.Max(years-z*sdT, 0), years+z*sdT
	rate := e / years * per
	ci := [2]float64{eci[0] / hi * per, math.Inf(1)}
	if lo > 0 {
		ci[1] = eci[1] / lo * per
	}
	if math.IsInf(ci[1], 1) {
		ci[1] = math.MaxFloat64
	}
	// The noise alone, by the delta method.
	sd := math.Abs(rate) * math.Sqrt(sdE*sdE/math.Max(e*e, 1)+sdT*sdT/(years*years))
	return released(rate, sd, ci)
}

// poolYears is the pooling rule of sparse age groups in standardised
// rates: a pool's noisy person-years must exceed this many standard
// deviations of their noise.
const poolYears = 10

// standardise releases directly standardised rates (ESP 2013) per
// combination of the strata other than age_band.
func (r *RatesRelease) standardise(cells [][]string, noisy []noisyCell) []StandardisedRow {
	p := r.p
	dims := r.rowDims(true)
	withGroup := append(append([]int{}, dims...), p.groupDim)
	groups, _ := r.sumBy(cells, noisy, withGroup)
	rows, order := r.sumBy(cells, noisy, dims)
	weights := map[string]float64{}
	var total float64
	for _, g := range esp2013 {
		weights[g.Label] = g.Weight
		total += g.Weight
	}
	out := []StandardisedRow{}
	for _, k := range order {
		row := rows[k]
		var dsr, v, vNoise float64
		// Age groups from the oldest down; a group whose noisy
		// person-years are within poolYears standard deviations of 0 is pooled
		// with the next younger ones until the pool's are not, and every
		// group of a pool takes the pool's rate: a ratio of noisy sparse
		// counts would be biased upwards and dominate the variance. The
		// pool's rate weighs its groups by the inverse of their variance
		// (a group of little person-time carries as much noise in its
		// events as a large one, and little information): the weight of
		// group g is t_g / (σ²(e_g) + r·t_g), at the pool's plain rate r.
		var pool []int
		var members []*rowAgg
		var pe, pt, pn float64
		flush := func(force bool) {
			sdT := r.time.sd * math.Sqrt(pn)
			if len(pool) == 0 || (!force && pt <= poolYears*sdT) || pt <= 0 {
				return
			}
			// The pool's noisy sums are unbiased; its rate is clamped at 0.
			plain := math.Max(pe, 0) / pt
			var num, den float64
			aw := make([]float64, len(members))
			for i, m := range members {
				n := float64(m.n)
				aw[i] = math.Max(m.years, 0) / (n*r.events.sd*r.events.sd + plain*math.Max(m.years, 0))
				num += aw[i] * m.events
				den += aw[i] * m.years
			}
			rate := plain
			if den > 0 {
				rate = math.Max(num, 0) / den
			}
			var w float64
			for _, g := range pool {
				w += weights[esp2013[g].Label] / total
			}
			dsr += w * rate
			// Var(Σ a·e / Σ a·t): Poisson and noise in each group's events
			// and person-years.
			var vp, vn float64
			for i, m := range members {
				n := float64(m.n)
				vn += aw[i] * aw[i] * n * (r.events.sd*r.events.sd + rate*rate*r.time.sd*r.time.sd)
				vp += aw[i] * aw[i] * rate * math.Max(m.years, 0)
			}
			if den > 0 {
				v += w * w * (vp + vn) / (den * den)
				vNoise += w * w * vn / (den * den)
			}
			pool, members, pe, pt, pn = nil, nil, 0, 0, 0
		}
		for g := len(esp2013) - 1; g >= 0; g-- {
			if a := groups[cellKey(append(append([]string{}, row.values...), esp2013[g].Label))]; a != nil {
				pe, pt, pn = pe+a.events, pt+a.years, pn+float64(a.n)
				members = append(members, a)
			}
			pool = append(pool, g)
			flush(false)
		}
		flush(true)
		if len(pool) > 0 && row.years > 0 {
			// The youngest groups never gathered person-time: the crude rate.
			var w float64
			for _, g := range pool {
				w += weights[esp2013[g].Label] / total
			}
			dsr += w * math.Max(row.events, 0) / row.years
		}
		se := math.Sqrt(v) * p.q.Per
		val := dsr * p.q.Per
		out = append(out, StandardisedRow{
			Key:  r.key(row.values, true),
			Rate: released(val, math.Sqrt(vNoise)*p.q.Per, [2]float64{math.Max(val-z95*se, 0), val + z95*se}),
		})
	}
	return out
}

// Rho is the release's zCDP cost: ε²/2 of each of its Laplace mechanisms.
func (r *RatesRelease) Rho() float64 {
	return r.events.eps*r.events.eps/2 + r.time.eps*r.time.eps/2
}
