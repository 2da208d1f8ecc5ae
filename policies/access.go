package policies

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// actions are the actions a role may grant, in documentation order.
var actions = []Action{ActionTemplates, ActionSQL, ActionCohorts, ActionAudit, ActionTokens}

func actionList() string {
	s := make([]string, len(actions))
	for i, a := range actions {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// roles decodes the roles section.
func (d *decoder) roles(n *yaml.Node) error {
	es, err := d.entries(n, "roles", "role", nameRe, false)
	if err != nil {
		return err
	}
	for _, e := range es {
		path := "roles." + e.name
		f, err := d.fields(e.val, path, "description", "actions")
		if err != nil {
			return err
		}
		if _, err := d.optStr(f["description"], path+".description"); err != nil {
			return err
		}
		if f["actions"] == nil {
			return d.errf(e.key, path+".actions", "missing (known actions: %s)", actionList())
		}
		list, err := d.strList(f["actions"], path+".actions", "actions")
		if err != nil {
			return err
		}
		r := &Role{Name: e.name}
		for i, a := range list {
			if !slices.Contains(actions, Action(a)) {
				return d.errf(f["actions"].Content[i], fmt.Sprintf("%s.actions[%d]", path, i),
					"unknown action %q (known actions: %s)", a, actionList())
			}
			r.Actions = append(r.Actions, Action(a))
		}
		d.p.Roles[e.name] = r
	}
	return nil
}

// projects decodes the projects section; roles and datasets must be decoded first.
func (d *decoder) projects(n *yaml.Node) error {
	es, err := d.entries(n, "projects", "project", nameRe, false)
	if err != nil {
		return err
	}
	for _, e := range es {
		p, err := d.project(e)
		if err != nil {
			return err
		}
		d.p.Projects[e.name] = p
	}
	return nil
}

// project decodes and checks one project.
func (d *decoder) project(e entry) (*Project, error) {
	path := "projects." + e.name
	f, err := d.fields(e.val, path, "title", "datasets", "budget", "project_budget", "members")
	if err != nil {
		return nil, err
	}
	p := &Project{ID: e.name, Title: e.name}
	if f["title"] != nil {
		if p.Title, err = d.str(f["title"], path+".title"); err != nil {
			return nil, err
		}
	}
	if p.Datasets, err = d.datasetRefs(e, f["datasets"], path+".datasets"); err != nil {
		return nil, err
	}
	if f["project_budget"] != nil {
		b, err := d.budget(f["project_budget"], path+".project_budget")
		if err != nil {
			return nil, err
		}
		p.ProjectBudget = &b
	}
	switch {
	case f["budget"] != nil:
		if p.Budget, err = d.budget(f["budget"], path+".budget"); err != nil {
			return nil, err
		}
		p.DatasetBudgets = true
	case p.ProjectBudget == nil:
		return nil, d.errf(e.key, path+".budget", "missing: a project needs a budget per dataset {epsilon: E, delta: D}, a project_budget, or both")
	}
	if p.Members, err = d.members(f["members"], path+".members"); err != nil {
		return nil, err
	}
	return p, nil
}

// datasetRefs decodes a required, non-empty list of declared dataset names.
func (d *decoder) datasetRefs(owner entry, n *yaml.Node, path string) ([]string, error) {
	if n == nil {
		return nil, d.errf(owner.key, path, "missing: list the datasets it reads")
	}
	names, err := d.strList(n, path, "dataset names")
	if err != nil {
		return nil, err
	}
	for i, name := range names {
		if _, ok := d.p.Datasets[name]; !ok {
			return nil, d.errf(n.Content[i], fmt.Sprintf("%s[%d]", path, i), "unknown dataset %q", name)
		}
	}
	return names, nil
}

// budget decodes {epsilon, delta}: ε > 0 required, 0 ≤ δ < 1 (default 0).
func (d *decoder) budget(n *yaml.Node, path string) (Budget, error) {
	f, err := d.fields(n, path, "epsilon", "delta")
	if err != nil {
		return Budget{}, err
	}
	var b Budget
	if f["epsilon"] == nil {
		return b, d.errf(n, path+".epsilon", "missing: the budget's total ε")
	}
	if b.Epsilon, err = d.float(f["epsilon"], path+".epsilon"); err != nil {
		return b, err
	}
	if b.Epsilon <= 0 {
		return b, d.errf(f["epsilon"], path+".epsilon", "must be > 0, not %s", fmtNum(b.Epsilon))
	}
	if f["delta"] != nil {
		if b.Delta, err = d.float(f["delta"], path+".delta"); err != nil {
			return b, err
		}
		if b.Delta < 0 || b.Delta >= 1 {
			return b, d.errf(f["delta"], path+".delta", "must be at least 0 and below 1, not %s", fmtNum(b.Delta))
		}
	}
	return b, nil
}

// members decodes a project's members: a list of {principal, role}, each
// principal once, each role declared.
func (d *decoder) members(n *yaml.Node, path string) ([]Member, error) {
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, d.errf(n, path, "must be a list of {principal: NAME, role: ROLE}, not %s", kindName(n))
	}
	var out []Member
	for i, c := range n.Content {
		c = deref(c)
		mpath := fmt.Sprintf("%s[%d]", path, i)
		f, err := d.fields(c, mpath, "principal", "role", "budget")
		if err != nil {
			return nil, err
		}
		var m Member
		if f["budget"] != nil {
			b, err := d.budget(f["budget"], mpath+".budget")
			if err != nil {
				return nil, err
			}
			m.Budget = &b
		}
		for _, x := range []struct {
			field string
			dst   *string
		}{{"principal", &m.Principal}, {"role", &m.Role}} {
			if f[x.field] == nil {
				return nil, d.errf(c, mpath+"."+x.field, "missing")
			}
			if *x.dst, err = d.str(f[x.field], mpath+"."+x.field); err != nil {
				return nil, err
			}
		}
		if !nameRe.MatchString(m.Principal) {
			return nil, d.errf(f["principal"], mpath+".principal", "%q is not a valid principal name (allowed: %s)", m.Principal, describeRe(nameRe))
		}
		if _, ok := d.p.Roles[m.Role]; !ok {
			return nil, d.errf(f["role"], mpath+".role", "unknown role %q (declare it under roles)", m.Role)
		}
		for _, prev := range out {
			if prev.Principal == m.Principal {
				return nil, d.errf(f["principal"], mpath+".principal", "principal %q is already a member", m.Principal)
			}
		}
		out = append(out, m)
	}
	return out, nil
}
