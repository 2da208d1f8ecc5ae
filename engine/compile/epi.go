package compile

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/statgate/statgate/engine/epi"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// EventSpec names a dataset's qualifying rows and the date column that
// dates them: a person's event (or index) is their first such row.
type EventSpec struct {
	Dataset string `json:"dataset"`
	// Where is checked by the same checker as ad-hoc SQL, as a filter on
	// Dataset alone.
	Where string `json:"where,omitempty"`
	// Column is a date column of Dataset; "": its date_column.
	Column string `json:"column,omitempty"`
}

// Period is an inclusive range of ISO dates (YYYY-MM-DD).
type Period struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Criteria restrict who is followed: persons meeting every Include and no
// Exclude criterion (the criteria of a cohort estimate).
type Criteria struct {
	Include []Criterion `json:"include,omitempty"`
	Exclude []Criterion `json:"exclude,omitempty"`
}

// RatesRequest asks for incidence per person-time (see epi.RatesQuery for
// the semantics).
type RatesRequest struct {
	Project string
	Event   EventSpec
	Period  Period
	Cohort  *Criteria
	// Strata: "sex" or another persons-register column with a public
	// domain, "age_band" (attained age, ESP 2013 five-year groups) and
	// "year" (calendar year of the person-time).
	Strata []string
	// Standardise is "" or "esp2013".
	Standardise string
	// Per is the rate's unit in person-years; 0: 100,000.
	Per     float64
	Epsilon float64
	// DryRun asks for the cost and expected accuracy only (as
	// Request.DryRun); Compile ignores it.
	DryRun bool
}

// SurvivalRequest asks for Kaplan–Meier survival after an index event
// (see epi.SurvivalQuery).
type SurvivalRequest struct {
	Project      string
	Index, Event EventSpec
	// End is the end of follow-up (YYYY-MM-DD): censoring date and the
	// last index date.
	End string
	// Interval is "year" (default) or "month"; Horizon the intervals the
	// curve covers (default 5 years or 60 months).
	Interval string
	Horizon  int
	// Strata: columns of the index dataset or the persons register with a
	// public domain, or "age_band" (age at the index date).
	Strata  []string
	Cohort  *Criteria
	Epsilon float64
	// DryRun asks for the cost and expected accuracy only (as
	// Request.DryRun); Compile ignores it.
	DryRun bool
}

// CompiledRates is a rates request compiled.
type CompiledRates struct {
	Query   *epi.RatesQuery
	Project *policies.Project
	Epsilon float64
}

// CompiledSurvival is a survival request compiled.
type CompiledSurvival struct {
	Query   *epi.SurvivalQuery
	Project *policies.Project
	Epsilon float64
}

// maxEpiStrata caps the strata of one rates or survival request.
const maxEpiStrata = 3

// Rates checks and authorises a rates request (researchers: the cohorts
// action) and compiles it into an epi.RatesQuery.
func (c *Compiler) Rates(ctx context.Context, principal string, r RatesRequest) (*CompiledRates, error) {
	proj, err := c.epiProject(principal, r.Project, r.Epsilon)
	if err != nil {
		return nil, err
	}
	cat := query.NewCatalog(c.pol, proj.Datasets)
	ev, evDS, err := c.source(ctx, proj, cat, r.Event, epi.EventAlias, "event")
	if err != nil {
		return nil, err
	}
	pop, err := c.epiPersons(proj)
	if err != nil {
		return nil, err
	}
	from, err := epiDate(r.Period.From, "period.from")
	if err != nil {
		return nil, err
	}
	to, err := epiDate(r.Period.To, "period.to")
	if err != nil {
		return nil, err
	}
	if to.Before(from) {
		return nil, refusal.New(refusal.EpiBadSpec, "period.to is before period.from", "")
	}
	var standardise bool
	switch r.Standardise {
	case "":
	case epi.StandardESP2013:
		standardise = true
	default:
		return nil, refusal.New(refusal.EpiBadSpec, fmt.Sprintf("standardise %q is not a known standard population", r.Standardise), `use "standardise": "esp2013" or omit it`)
	}
	per := r.Per
	if per == 0 {
		per = 100000
	}
	if per < 0 || math.IsNaN(per) || math.IsInf(per, 0) {
		return nil, refusal.New(refusal.EpiBadSpec, "per must be a positive number of person-years", `e.g. "per": 100000`)
	}
	if len(r.Strata) > maxEpiStrata {
		return nil, refusal.New(refusal.EpiBadStratum, fmt.Sprintf("at most %d strata", maxEpiStrata), "")
	}
	q := &epi.RatesQuery{Event: ev, From: from, To: to, Standardise: standardise, Per: per,
		Persons: epi.Persons{Dataset: pop.Name, PersonKey: pop.PersonKey, BirthYear: pop.BirthYearColumn, DeathDate: deathColumn(pop)}}
	seen := map[string]bool{}
	for _, name := range r.Strata {
		if seen[name] {
			return nil, refusal.New(refusal.EpiBadStratum, fmt.Sprintf("stratum %q is named twice", name), "")
		}
		seen[name] = true
		switch name {
		case epi.StratumAgeBand, epi.StratumYear:
			q.Strata = append(q.Strata, epi.Stratum{Name: name, Integer: name == epi.StratumYear})
			continue
		}
		s, ok := domainStratum(pop, epi.PersonsAlias, name)
		if !ok {
			return nil, refusal.New(refusal.EpiBadStratum,
				fmt.Sprintf("cannot stratify rates by %q: it must be age_band, year or a %s column with a public domain", name, pop.Name), "e.g. \"strata\": [\"sex\", \"age_band\"]")
		}
		q.Strata = append(q.Strata, s)
	}
	outer := &query.ColumnRef{Table: epi.PersonsAlias, Dataset: pop.Name, Column: pop.PersonKey, Type: personKeyType}
	cohort, cds, err := c.epiCohort(ctx, proj, cat, r.Cohort, outer)
	if err != nil {
		return nil, err
	}
	q.Cohort = cohort
	q.Datasets = datasetList(append([]string{evDS.Name, pop.Name}, cds...))
	return &CompiledRates{Query: q, Project: proj, Epsilon: r.Epsilon}, nil
}

// Survival checks and authorises a survival request (researchers: the
// cohorts action) and compiles it into an epi.SurvivalQuery.
func (c *Compiler) Survival(ctx context.Context, principal string, r SurvivalRequest) (*CompiledSurvival, error) {
	proj, err := c.epiProject(principal, r.Project, r.Epsilon)
	if err != nil {
		return nil, err
	}
	cat := query.NewCatalog(c.pol, proj.Datasets)
	ix, ixDS, err := c.source(ctx, proj, cat, r.Index, epi.IndexAlias, "index")
	if err != nil {
		return nil, err
	}
	ev, evDS, err := c.source(ctx, proj, cat, r.Event, epi.EventAlias, "event")
	if err != nil {
		return nil, err
	}
	end, err := epiDate(r.End, "end")
	if err != nil {
		return nil, err
	}
	interval := r.Interval
	if interval == "" {
		interval = epi.IntervalYear
	}
	horizon := r.Horizon
	switch {
	case interval != epi.IntervalYear && interval != epi.IntervalMonth:
		return nil, refusal.New(refusal.EpiBadSpec, fmt.Sprintf("interval %q is not year or month", interval), `use "interval": "year" or "month"`)
	case horizon == 0 && interval == epi.IntervalYear:
		horizon = 5
	case horizon == 0:
		horizon = 60
	}
	if horizon < 1 || horizon > epi.MaxHorizon[interval] {
		return nil, refusal.New(refusal.EpiBadSpec, fmt.Sprintf("horizon %d is outside 1–%d %ss", horizon, epi.MaxHorizon[interval], interval), "")
	}
	if len(r.Strata) > maxEpiStrata {
		return nil, refusal.New(refusal.EpiBadStratum, fmt.Sprintf("at most %d strata", maxEpiStrata), "")
	}
	q := &epi.SurvivalQuery{Index: ix, Event: ev, End: end, Interval: interval, Horizon: horizon}
	datasets := []string{ixDS.Name, evDS.Name}
	var pop *policies.Dataset
	needPop := func() error {
		if pop != nil {
			return nil
		}
		var err error
		if pop, err = c.epiPersons(proj); err != nil {
			return err
		}
		q.Persons = &epi.Persons{Dataset: pop.Name, PersonKey: pop.PersonKey, BirthYear: pop.BirthYearColumn}
		datasets = append(datasets, pop.Name)
		return nil
	}
	seen := map[string]bool{}
	for _, name := range r.Strata {
		if seen[name] {
			return nil, refusal.New(refusal.EpiBadStratum, fmt.Sprintf("stratum %q is named twice", name), "")
		}
		seen[name] = true
		if name == "age_band" {
			if err := needPop(); err != nil {
				return nil, err
			}
			q.Strata = append(q.Strata, epi.Stratum{Name: name, Values: epi.AgeBandLabels()})
			continue
		}
		if s, ok := domainStratum(ixDS, epi.IndexAlias, name); ok {
			q.Strata = append(q.Strata, s)
			continue
		}
		if p, ok := c.pol.Persons(); ok {
			if _, has := p.Column(name); has {
				if err := needPop(); err != nil {
					return nil, err
				}
				if s, ok := domainStratum(pop, epi.PersonsAlias, name); ok {
					q.Strata = append(q.Strata, s)
					continue
				}
			}
		}
		return nil, refusal.New(refusal.EpiBadStratum,
			fmt.Sprintf("cannot stratify survival by %q: it must be age_band or a column with a public domain of %s or of the persons register", name, ixDS.Name), "e.g. \"strata\": [\"stage\"]")
	}
	outer := &query.ColumnRef{Table: epi.BaseAlias, Column: epi.BaseKey, Type: personKeyType}
	cohort, cds, err := c.epiCohort(ctx, proj, cat, r.Cohort, outer)
	if err != nil {
		return nil, err
	}
	q.Cohort = cohort
	q.Datasets = datasetList(append(datasets, cds...))
	return &CompiledSurvival{Query: q, Project: proj, Epsilon: r.Epsilon}, nil
}

// epiProject checks the request's project and ε and that the principal
// may ask it (the cohorts action).
func (c *Compiler) epiProject(principal, project string, eps float64) (*policies.Project, error) {
	if project == "" {
		return nil, &refusal.Error{Code: refusal.MissingProject,
			Message: "the request names no project", Hint: "add \"project\": the id of a project you are a member of"}
	}
	if math.IsNaN(eps) || math.IsInf(eps, 0) || eps < 0 {
		return nil, &refusal.Error{Code: refusal.BadEpsilon,
			Message: "epsilon must be a positive number", Hint: "omit epsilon to use the policy's default"}
	}
	proj, err := c.access.Project(principal, project)
	if err != nil {
		return nil, err
	}
	if err := c.access.Allow(principal, proj, policies.ActionCohorts); err != nil {
		return nil, err
	}
	return proj, nil
}

// source checks one event or index specification: a dataset the project
// may read, a date column of it, its where through the checker
// (requalified with alias).
func (c *Compiler) source(ctx context.Context, proj *policies.Project, cat *query.Catalog, s EventSpec, alias, field string) (epi.Source, *policies.Dataset, error) {
	if s.Dataset == "" {
		return epi.Source{}, nil, refusal.New(refusal.EpiBadSpec, field+" names no dataset", fmt.Sprintf(`add "%s": {"dataset": "…", "where": "…"}`, field))
	}
	d, err := c.access.Dataset(proj, s.Dataset)
	if err != nil {
		return epi.Source{}, nil, err
	}
	name := s.Column
	if name == "" {
		name = d.DateColumn
	}
	colm, ok := d.Column(name)
	if name == "" || !ok || colm.Type != policies.TypeDate {
		return epi.Source{}, nil, refusal.New(refusal.EpiBadDateColumn,
			fmt.Sprintf("%s.column %q is not a date column of %s", field, name, d.Name), "name a date column of the dataset in \"column\"")
	}
	src := epi.Source{Dataset: d.Name, PersonKey: d.PersonKey, Column: colm.Name, Alias: alias}
	if strings.TrimSpace(s.Where) != "" {
		w, err := c.parser.CompileWhere(ctx, d.Name, s.Where, cat)
		if err != nil {
			return epi.Source{}, nil, err
		}
		if w != nil {
			src.Where = query.Requalify(w, d.Name, alias)
		}
	}
	return src, d, nil
}

// epiPersons returns the persons register, which must name its birth year.
func (c *Compiler) epiPersons(proj *policies.Project) (*policies.Dataset, error) {
	pop, ok := c.pol.Persons()
	if !ok || pop.BirthYearColumn == "" {
		return nil, refusal.New(refusal.EpiNoPopulation,
			"the policy declares no persons register with a birth_year_column (role: persons), which rates and age strata need", "")
	}
	if _, err := c.access.Dataset(proj, pop.Name); err != nil {
		return nil, refusal.New(refusal.EpiNoPopulation,
			fmt.Sprintf("project %q does not include the persons register %q", proj.ID, pop.Name), "")
	}
	return pop, nil
}

// deathColumn is the persons register's date of death: its date_column
// when that is a date column (death_date in the shipped policy), else none.
func deathColumn(pop *policies.Dataset) string {
	if col, ok := pop.Column(pop.DateColumn); ok && col.Type == policies.TypeDate {
		return col.Name
	}
	return ""
}

// domainStratum is a stratum from a column of d with a public domain.
func domainStratum(d *policies.Dataset, alias, name string) (epi.Stratum, bool) {
	col, ok := d.Column(name)
	if !ok || col.Domain == nil {
		return epi.Stratum{}, false
	}
	var values []string
	if r := col.Domain.Range; r != nil {
		for v := r[0]; v <= r[1]; v++ {
			values = append(values, strconv.Itoa(v))
		}
	} else {
		values = slices.Clone(col.Domain.Values)
	}
	t := query.TypeString
	if col.Type == policies.TypeInteger {
		t = query.TypeInteger
	}
	return epi.Stratum{Name: col.Name, Values: values, Integer: col.Type == policies.TypeInteger,
		Column: &query.ColumnRef{Table: alias, Dataset: d.Name, Column: col.Name, Type: t}}, true
}

// epiCohort builds the person-level condition of the criteria (an Exists
// per criterion, correlated with the person key outer) and the datasets
// it reads.
func (c *Compiler) epiCohort(ctx context.Context, proj *policies.Project, cat *query.Catalog, cr *Criteria, outer *query.ColumnRef) (query.Expr, []string, error) {
	if cr == nil {
		return nil, nil, nil
	}
	if len(cr.Include)+len(cr.Exclude) > maxCohortCriteria {
		return nil, nil, refusal.New(refusal.CohortTooManyCriteria, fmt.Sprintf("a cohort may have at most %d criteria", maxCohortCriteria), "")
	}
	set, err := c.checkCriteria(ctx, proj, cat, cr.Include, cr.Exclude)
	if err != nil {
		return nil, nil, err
	}
	var conds []query.Expr
	for i := range set.crit {
		conds = append(conds, set.exists(i, fmt.Sprintf("c%d", i), outer))
	}
	return conjunction(conds), set.datasets(), nil
}

// epiDate parses a YYYY-MM-DD date of field.
func epiDate(s, field string) (time.Time, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, refusal.New(refusal.EpiBadSpec, fmt.Sprintf("%s must be a date written YYYY-MM-DD", field), "")
	}
	return t, nil
}

// datasetList is the sorted, distinct list of names.
func datasetList(names []string) []string {
	out := slices.Clone(names)
	slices.Sort(out)
	return slices.Compact(out)
}
