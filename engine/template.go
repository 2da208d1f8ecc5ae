package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/statgate/statgate/policies"
)

// compileTemplate binds one run's parameter values into the template's
// query, which was parsed and checked once when the engine opened
// (engine/template). Unknown, missing and bad parameters are refused
// before any debit; nothing is parsed here.
func (e *Engine) compileTemplate(_ context.Context, proj *policies.Project, r Request) (*compiled, error) {
	decl, err := e.access.Template(proj, r.Template)
	if err != nil {
		return nil, err
	}
	t := e.templates[decl.Name]
	if t == nil {
		return nil, fmt.Errorf("engine: template %q was not compiled at Open", decl.Name)
	}
	run, err := t.Bind(r.Params)
	if err != nil {
		return nil, err
	}
	return &compiled{kind: "template", text: decl.SQL, template: decl.Name, params: r.Params,
		q: run.Query, epsilon: decl.Epsilon, pinnedEp: true}, nil
}

// Templates lists the templates the principal may run in at least one of
// their projects.
func (e *Engine) Templates(p Principal) []TemplateInfo {
	var out []TemplateInfo
	for _, t := range e.pol.Templates {
		if !e.access.MayRunTemplate(p.Name, t) {
			continue
		}
		ti := TemplateInfo{Name: t.Name, Title: t.Title, Description: t.Description,
			Datasets: slices.Clone(t.Datasets), Epsilon: t.Epsilon, SQL: t.SQL}
		for _, n := range t.ParamNames() {
			d := t.Params[n]
			ti.Params = append(ti.Params, ParamInfo{Name: n, Type: string(d.Type), Description: d.Description,
				Pattern: d.Pattern, Min: d.Min, Max: d.Max, Enum: d.Enum, Default: d.Default, Required: d.Default == nil})
		}
		out = append(out, ti)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
