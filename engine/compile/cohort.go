package compile

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// Cohort limits: enough for real cohort definitions, small enough to plan.
const (
	maxCohortCriteria  = 10
	maxCohortBreakdown = 3
)

// ageBands are the bands of the "age_band" breakdown: age in whole years
// at the persons register's reference year (policies.Dataset.AgeReferenceYear).
var ageBands = []struct {
	label  string
	maxAge int64 // exclusive; 0: open-ended
}{{"0-17", 18}, {"18-39", 40}, {"40-64", 65}, {"65-79", 80}, {"80+", 0}}

// compileCohort compiles a cohort-size estimate into a checked query (see
// cohortQuery), which the engine plans with plan.Bound like any other.
func (c *Compiler) compileCohort(ctx context.Context, proj *policies.Project, r Request) (*Compiled, error) {
	q, notes, err := c.cohortQuery(ctx, proj, r.Cohort)
	if err != nil {
		return nil, err
	}
	return &Compiled{Query: q, Epsilon: r.Epsilon, Notes: notes}, nil
}

// criterion is one checked cohort criterion: its dataset and its row
// condition (the where and the from/to bounds, columns qualified with the
// dataset's name; nil: any row).
type criterion struct {
	ds    *policies.Dataset
	cond  query.Expr
	where query.Expr // the where alone (the washout's rows)
	not   bool       // an exclude criterion
}

// cohortQuery builds the query of a cohort estimate: the persons meeting
// every include criterion and no exclude criterion, counted once each.
//
// Without a breakdown the base table is the first include criterion's
// dataset, filtered by its condition; every other criterion is a
// query.Exists on the person key (Not for excludes). With a breakdown the
// base table is the policy's persons register (role: persons, one row per
// person), every criterion is an Exists, and the keys are the breakdown:
// columns of the register with a public domain, or age_band, a CASE over
// its birth_year_column. Either way each person is in one group, so plan
// gives L0 = 1 and skips the L0 step. Each criterion's where goes through
// the same checker as ad-hoc SQL. The notes say what age_band means when
// it is asked for.
func (c *Compiler) cohortQuery(ctx context.Context, proj *policies.Project, spec *CohortSpec) (*query.Query, []string, error) {
	if len(spec.Include) == 0 {
		return nil, nil, refusal.New(refusal.CohortNeedsInclude, "a cohort needs at least one include criterion",
			`add {"dataset": "npr", "where": "icd10 LIKE 'E11%'"} to include`)
	}
	if len(spec.Include)+len(spec.Exclude) > maxCohortCriteria {
		return nil, nil, refusal.New(refusal.CohortTooManyCriteria, fmt.Sprintf("a cohort may have at most %d criteria", maxCohortCriteria), "")
	}
	if len(spec.Breakdown) > maxCohortBreakdown {
		return nil, nil, refusal.New(refusal.CohortTooManyBreakdowns, fmt.Sprintf("a cohort may be broken down by at most %d keys", maxCohortBreakdown), "")
	}
	cat := query.NewCatalog(c.pol, proj.Datasets)
	set, err := c.checkCriteria(ctx, proj, cat, spec.Include, spec.Exclude)
	if err != nil {
		return nil, nil, err
	}
	crit := set.crit

	q := &query.Query{Aggs: []query.Aggregate{{Kind: query.AggCountDistinct, Name: "persons"}}}
	var where []query.Expr
	var notes []string
	var pop *policies.Dataset
	first := 0 // the criteria from first on are Exists conditions
	if len(spec.Breakdown) == 0 {
		// The base table is the first criterion's rows; a temporal first
		// criterion is an Exists on them as well.
		q.From = []query.TableRef{{Dataset: crit[0].ds.Name, Alias: crit[0].ds.Name}}
		if crit[0].cond != nil {
			where = append(where, crit[0].cond)
		}
		if !set.temporal(0) {
			first = 1
		}
	} else {
		if pop, err = c.personsRegister(proj); err != nil {
			return nil, nil, err
		}
		q.From = []query.TableRef{{Dataset: pop.Name, Alias: pop.Name}}
	}
	base := q.From[0]
	baseDS := c.pol.Datasets[base.Dataset]
	outer := &query.ColumnRef{Table: base.Alias, Dataset: base.Dataset, Column: baseDS.PersonKey, Type: personKeyType}
	for i := first; i < len(crit); i++ {
		alias := fmt.Sprintf("c%d", i-first)
		for alias == base.Alias {
			alias += "_"
		}
		where = append(where, set.exists(i, alias, outer))
	}
	for i, name := range spec.Breakdown {
		key, filter, note, err := breakdownKey(pop, base.Alias, name)
		if err != nil {
			return nil, nil, err
		}
		q.Keys = append(q.Keys, key)
		q.Output = append(q.Output, query.OutputColumn{Name: key.Name, Key: i, Agg: -1})
		if filter != nil {
			where = append(where, filter)
		}
		if note != "" {
			notes = append(notes, note)
		}
	}
	q.Output = append(q.Output, query.OutputColumn{Name: "persons", Key: -1, Agg: 0})
	q.Where = conjunction(where)
	return q, notes, nil
}

// personKeyType is the model type of a person key (an id column) in the
// Exists correlations the cohort builds: the checker gives id columns no
// model type, and the planner only compares them.
const personKeyType = query.TypeUnknown

// checkCriterion checks one criterion: a dataset the project may read, its
// where through the checker, and its from/to on the dataset's date_column.
func (c *Compiler) checkCriterion(ctx context.Context, proj *policies.Project, cat *query.Catalog, cr Criterion) (criterion, error) {
	d, err := c.access.Dataset(proj, cr.Dataset)
	if err != nil {
		return criterion{}, err
	}
	var conds []query.Expr
	if strings.TrimSpace(cr.Where) != "" {
		w, err := c.parser.CompileWhere(ctx, d.Name, cr.Where, cat)
		if err != nil {
			return criterion{}, err
		}
		if w != nil {
			conds = append(conds, w)
		}
	}
	dc, err := dateBounds(d, cr)
	if err != nil {
		return criterion{}, err
	}
	return criterion{ds: d, cond: conjunction(append(conds, dc...)), where: conjunction(conds)}, nil
}

// conjunction is the AND of conds: nil for none, the condition itself for one.
func conjunction(conds []query.Expr) query.Expr {
	switch len(conds) {
	case 0:
		return nil
	case 1:
		return conds[0]
	}
	return &query.Logical{Op: "AND", Args: conds}
}

// dateBounds turns a criterion's from/to into conditions on the dataset's
// date_column (inclusive), qualified with the dataset's name.
func dateBounds(d *policies.Dataset, cr Criterion) ([]query.Expr, error) {
	if cr.From == "" && cr.To == "" {
		return nil, nil
	}
	if d.DateColumn == "" {
		return nil, refusal.New(refusal.CohortNoDateColumn, fmt.Sprintf("dataset %q has no date column for from/to (the policy names none in date_column)", d.Name), "remove from and to")
	}
	col := &query.ColumnRef{Table: d.Name, Dataset: d.Name, Column: d.DateColumn, Type: query.TypeDate}
	var out []query.Expr
	for _, b := range []struct{ v, op, field string }{{cr.From, ">=", "from"}, {cr.To, "<=", "to"}} {
		if b.v == "" {
			continue
		}
		if _, err := time.Parse("2006-01-02", b.v); err != nil {
			return nil, refusal.New(refusal.CohortBadDate, fmt.Sprintf("%s must be a date written YYYY-MM-DD", b.field), "")
		}
		out = append(out, &query.Compare{Op: b.op, L: col, R: &query.Literal{Value: b.v, Type: query.TypeDate}})
	}
	return out, nil
}

// personsRegister returns the policy's persons register (role: persons),
// which breakdowns are taken from, when the project may read it.
func (c *Compiler) personsRegister(proj *policies.Project) (*policies.Dataset, error) {
	pop, ok := c.pol.Persons()
	if !ok {
		return nil, refusal.New(refusal.CohortNoPopulation,
			"the policy declares no persons register (a one-row-per-person dataset with role: persons) to break cohorts down by",
			"remove breakdown, or ask the registry owner to declare role: persons on the population register")
	}
	if _, err := c.access.Dataset(proj, pop.Name); err != nil {
		return nil, refusal.New(refusal.CohortNoPopulation,
			fmt.Sprintf("project %q does not include the persons register %q that breakdowns are taken from", proj.ID, pop.Name), "remove breakdown")
	}
	return pop, nil
}

// breakdownKey returns the group key of one breakdown, the WHERE condition
// it needs (or nil) and a note for the result (or ""): a column of the
// persons register pop (qualified with alias) with a public domain, or
// "age_band".
func breakdownKey(pop *policies.Dataset, alias, name string) (query.GroupKey, query.Expr, string, error) {
	if name == "age_band" {
		ref, ok := pop.AgeReferenceYear()
		by, found := pop.Column(pop.BirthYearColumn)
		if !ok || !found {
			return query.GroupKey{}, nil, "", refusal.New(refusal.CohortBadBreakdown,
				"age_band needs the persons register "+pop.Name+" to name its birth_year_column and a date_column with years", "")
		}
		birth := &query.ColumnRef{Table: alias, Dataset: pop.Name, Column: by.Name, Type: query.TypeInteger}
		age := &query.Arith{Op: "-", L: &query.Literal{Value: int64(ref), Type: query.TypeInteger}, R: birth, Type: query.TypeInteger}
		band := &query.Case{Type: query.TypeString}
		for _, b := range ageBands {
			label := &query.Literal{Value: b.label, Type: query.TypeString}
			if b.maxAge == 0 {
				band.Else = label
				continue
			}
			band.Whens = append(band.Whens, query.When{
				Cond: &query.Compare{Op: "<", L: age, R: &query.Literal{Value: b.maxAge, Type: query.TypeInteger}},
				Then: label,
			})
		}
		note := fmt.Sprintf("age_band is the age in whole years at the end of the persons register's date range: %d − %s.%s "+
			"(%d is the last year of %s.%s), also for persons who have died; persons without a %s are not counted",
			ref, pop.Name, by.Name, ref, pop.Name, pop.DateColumn, by.Name)
		return query.GroupKey{Name: "age_band", Expr: band}, &query.IsNull{X: birth, Not: true}, note, nil
	}
	col, ok := pop.Column(name)
	if !ok || col.Domain == nil {
		return query.GroupKey{}, nil, "", refusal.New(refusal.CohortBadBreakdown,
			fmt.Sprintf("cannot break down by %q: it must be age_band or a %s column with a public domain", name, pop.Name), "")
	}
	t := query.TypeString
	if col.Type == policies.TypeInteger {
		t = query.TypeInteger
	}
	return query.GroupKey{Name: col.Name, Expr: &query.ColumnRef{Table: alias, Dataset: pop.Name, Column: col.Name, Type: t}}, nil, "", nil
}
