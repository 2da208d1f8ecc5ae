package engine

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// Cohort limits: enough for real cohort definitions, small enough to plan.
const (
	maxCohortCriteria  = 10
	maxCohortBreakdown = 3
)

// ageBands are the bands of the "age_band" breakdown, in years at the end
// of the population register's last year.
var ageBands = []struct {
	label  string
	maxAge int // exclusive; 0: open-ended
}{{"0-17", 18}, {"18-39", 40}, {"40-64", 65}, {"65-79", 80}, {"80+", 0}}

// compileCohort plans a cohort-size estimate: the persons meeting every
// include criterion and no exclude criterion, counted once each (so each
// person is in one group: L0 = L∞ = 1), optionally broken down by
// population columns. Each criterion's where goes through the checker.
func (e *Engine) compileCohort(ctx context.Context, proj *policies.Project, r Request) (*compiled, error) {
	spec := r.Cohort
	c := &compiled{kind: "cohort", epsilon: r.Epsilon}
	if len(spec.Include) == 0 {
		return c, badCohort("cohort_needs_include", "a cohort needs at least one include criterion",
			`add {"dataset": "npr", "where": "icd10 LIKE 'E11%'"} to include`)
	}
	if len(spec.Include)+len(spec.Exclude) > maxCohortCriteria {
		return c, badCohort("cohort_too_many_criteria", fmt.Sprintf("a cohort may have at most %d criteria", maxCohortCriteria), "")
	}
	if len(spec.Breakdown) > maxCohortBreakdown {
		return c, badCohort("cohort_too_many_breakdowns", fmt.Sprintf("a cohort may be broken down by at most %d keys", maxCohortBreakdown), "")
	}
	cat := query.NewCatalog(e.pol, proj.Datasets)
	datasets := []string{}
	var ctes []string
	render := func(prefix string, i int, cr Criterion) (string, error) {
		d, err := e.criterionDataset(proj, cr)
		if err != nil {
			return "", err
		}
		cond := []string{"TRUE"}
		if strings.TrimSpace(cr.Where) != "" {
			w, err := e.parser.CompileWhere(ctx, d.Name, cr.Where, cat)
			if err != nil {
				return "", err
			}
			cond = append(cond, "("+plan.RenderFilter(w)+")")
		}
		dc, err := dateBounds(d, cr)
		if err != nil {
			return "", err
		}
		cond = append(cond, dc...)
		if !slices.Contains(datasets, d.Name) {
			datasets = append(datasets, d.Name)
		}
		name := fmt.Sprintf("%s%d", prefix, i)
		ctes = append(ctes, fmt.Sprintf("%s AS (SELECT DISTINCT %s.%s AS pid FROM %s AS %s WHERE %s AND %s.%s IS NOT NULL)",
			name, qi(d.Name), qi(d.PersonKey), qi(d.Name), qi(d.Name), strings.Join(cond, " AND "), qi(d.Name), qi(d.PersonKey)))
		return name, nil
	}
	var inc, exc []string
	for i, cr := range spec.Include {
		n, err := render("inc", i, cr)
		if err != nil {
			return c, err
		}
		inc = append(inc, n)
	}
	for i, cr := range spec.Exclude {
		n, err := render("exc", i, cr)
		if err != nil {
			return c, err
		}
		exc = append(exc, n)
	}
	p := &plan.Plan{
		Bounds:    plan.Bounds{MaxGroupsPerPerson: 1, MaxRowsPerPersonPerGroup: 1, L0Step: "one_group_per_person"},
		PersonsL0: 1, PersonsLInf: 1,
	}
	from := inc[0]
	var where, keys []string
	for _, n := range inc[1:] {
		where = append(where, fmt.Sprintf("%s.pid IN (SELECT pid FROM %s)", inc[0], n))
	}
	for _, n := range exc {
		where = append(where, fmt.Sprintf("%s.pid NOT IN (SELECT pid FROM %s)", inc[0], n))
	}
	if len(spec.Breakdown) > 0 {
		pop, err := e.populationOf(proj)
		if err != nil {
			return c, err
		}
		if !slices.Contains(datasets, pop.Name) {
			datasets = append(datasets, pop.Name)
		}
		from += fmt.Sprintf(" JOIN %s AS %s ON %s.pid = %s.%s", qi(pop.Name), qi(pop.Name), inc[0], qi(pop.Name), qi(pop.PersonKey))
		for i, b := range spec.Breakdown {
			expr, key, filter, err := breakdownKey(pop, b)
			if err != nil {
				return c, err
			}
			name := fmt.Sprintf("k%d", i)
			keys = append(keys, expr+" AS "+name)
			where = append(where, filter)
			p.Keys = append(p.Keys, key)
			p.Columns = append(p.Columns, plan.Column{Name: name, Role: plan.RoleKey, Index: i})
		}
	}
	p.Columns = append(p.Columns, plan.Column{Name: "persons", Role: plan.RolePersons, Index: 0})
	p.Aggs = []plan.Agg{{Kind: query.AggCountDistinct, Name: "persons", L0: 1, LInf: 1}}
	p.Datasets = datasets
	sel := append(slices.Clone(keys), "count(*)::BIGINT AS persons")
	sqlText := "WITH " + strings.Join(ctes, ", ") + " SELECT " + strings.Join(sel, ", ") + " FROM " + from
	if len(where) > 0 {
		sqlText += " WHERE " + strings.Join(where, " AND ")
	}
	if len(keys) > 0 {
		groups := make([]string, len(keys))
		for i := range keys {
			groups[i] = strconv.Itoa(i + 1)
		}
		sqlText += " GROUP BY " + strings.Join(groups, ", ")
	}
	p.SQL = sqlText
	c.plan = p
	return c, nil
}

func badCohort(code, msg, hint string) error {
	return &refusal.Error{Kind: refusal.KindBadRequest, Code: code, Message: msg, Hint: hint}
}

// criterionDataset returns the criterion's dataset when the project may read it.
func (e *Engine) criterionDataset(proj *policies.Project, cr Criterion) (*policies.Dataset, error) {
	d, ok := e.pol.Datasets[cr.Dataset]
	if !ok {
		return nil, refusal.New("unknown_dataset", fmt.Sprintf("there is no dataset %q", cr.Dataset), "GET /v1/datasets lists them")
	}
	if !slices.Contains(proj.Datasets, cr.Dataset) {
		return nil, refusal.New("dataset_not_in_project",
			fmt.Sprintf("project %q does not include dataset %q", proj.ID, cr.Dataset), "use one of: "+strings.Join(proj.Datasets, ", "))
	}
	return d, nil
}

// dateBounds turns a criterion's from/to into conditions on the dataset's
// first date column.
func dateBounds(d *policies.Dataset, cr Criterion) ([]string, error) {
	if cr.From == "" && cr.To == "" {
		return nil, nil
	}
	var col *policies.Column
	for _, c := range d.Columns {
		if c.Type == policies.TypeDate {
			col = c
			break
		}
	}
	if col == nil {
		return nil, badCohort("cohort_no_date_column", fmt.Sprintf("dataset %q has no date column for from/to", d.Name), "remove from and to")
	}
	var out []string
	for _, b := range []struct{ v, op, field string }{{cr.From, ">=", "from"}, {cr.To, "<=", "to"}} {
		if b.v == "" {
			continue
		}
		if _, err := time.Parse("2006-01-02", b.v); err != nil {
			return nil, badCohort("cohort_bad_date", fmt.Sprintf("%s must be a date written YYYY-MM-DD", b.field), "")
		}
		out = append(out, fmt.Sprintf("%s.%s %s DATE '%s'", qi(d.Name), qi(col.Name), b.op, b.v))
	}
	return out, nil
}

// populationOf returns the project's one-row-per-person dataset that
// breakdowns are taken from (the one named "population" if there are several).
func (e *Engine) populationOf(proj *policies.Project) (*policies.Dataset, error) {
	var found *policies.Dataset
	for _, name := range proj.Datasets {
		d := e.pol.Datasets[name]
		if d.OneRowPerPerson && (found == nil || d.Name == "population") {
			found = d
		}
	}
	if found == nil {
		return nil, badCohort("cohort_no_population",
			fmt.Sprintf("project %q has no one-row-per-person dataset to break cohorts down by", proj.ID), "remove breakdown")
	}
	return found, nil
}

// breakdownKey returns the SQL, plan key and domain filter of one breakdown:
// a population column with a public domain, or "age_band".
func breakdownKey(pop *policies.Dataset, name string) (string, plan.Key, string, error) {
	if name == "age_band" {
		by, ok := pop.Column("birth_year")
		ref := 0
		for _, c := range pop.Columns {
			if c.Years != nil {
				ref = c.Years[1]
			}
		}
		if !ok || ref == 0 {
			return "", plan.Key{}, "", badCohort("cohort_bad_breakdown", "age_band needs a birth_year column and a dated column in "+pop.Name, "")
		}
		age := fmt.Sprintf("(%d - %s.%s)", ref, qi(pop.Name), qi(by.Name))
		var arms []string
		key := plan.Key{Name: "age_band", Type: query.TypeString}
		for _, b := range ageBands {
			key.Domain = append(key.Domain, b.label)
			if b.maxAge > 0 {
				arms = append(arms, fmt.Sprintf("WHEN %s < %d THEN '%s'", age, b.maxAge, b.label))
			}
		}
		expr := fmt.Sprintf("CASE %s ELSE '%s' END", strings.Join(arms, " "), ageBands[len(ageBands)-1].label)
		return expr, key, fmt.Sprintf("%s.%s IS NOT NULL", qi(pop.Name), qi(by.Name)), nil
	}
	col, ok := pop.Column(name)
	if !ok || col.Domain == nil {
		return "", plan.Key{}, "", badCohort("cohort_bad_breakdown",
			fmt.Sprintf("cannot break down by %q: it must be age_band or a %s column with a public domain", name, pop.Name), "")
	}
	ref := qi(pop.Name) + "." + qi(col.Name)
	expr := ref
	key := plan.Key{Name: col.Name, Type: query.TypeString}
	var filter string
	if col.Domain.Range != nil {
		key.Type = query.TypeInteger
		expr = "CAST(" + ref + " AS BIGINT)"
		for v := col.Domain.Range[0]; v <= col.Domain.Range[1]; v++ {
			key.Domain = append(key.Domain, int64(v))
		}
		filter = fmt.Sprintf("%s BETWEEN %d AND %d", ref, col.Domain.Range[0], col.Domain.Range[1])
	} else {
		quoted := make([]string, len(col.Domain.Values))
		for i, v := range col.Domain.Values {
			key.Domain = append(key.Domain, v)
			quoted[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		}
		filter = fmt.Sprintf("%s IN (%s)", ref, strings.Join(quoted, ", "))
	}
	return expr, key, filter, nil
}

// qi quotes an identifier for DuckDB.
func qi(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
