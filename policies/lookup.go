package policies

import (
	"slices"
	"sort"
	"strings"
)

// Dataset returns the dataset with the given name. Names match exactly,
// else ignoring case, as SQL identifiers do (the loader refuses names
// that differ only in case).
func (p *Policy) Dataset(name string) (*Dataset, bool) {
	if ds, ok := p.Datasets[name]; ok {
		return ds, true
	}
	for n, ds := range p.Datasets {
		if strings.EqualFold(n, name) {
			return ds, true
		}
	}
	return nil, false
}

// Column returns the column with the given name, matched exactly, else
// ignoring case.
func (d *Dataset) Column(name string) (*Column, bool) {
	for _, c := range d.Columns {
		if c.Name == name {
			return c, true
		}
	}
	for _, c := range d.Columns {
		if strings.EqualFold(c.Name, name) {
			return c, true
		}
	}
	return nil, false
}

// Member returns the principal's role in the project; ok is false when
// the project does not exist or the principal is not a member.
func (p *Policy) Member(project, principal string) (role string, ok bool) {
	pr, found := p.Projects[project]
	if !found {
		return "", false
	}
	for _, m := range pr.Members {
		if m.Principal == principal {
			return m.Role, true
		}
	}
	return "", false
}

// Allows reports whether the principal's role in the project grants the
// action. Anything unknown (project, member, role) is not allowed.
func (p *Policy) Allows(project, principal string, a Action) bool {
	role, ok := p.Member(project, principal)
	if !ok {
		return false
	}
	r, ok := p.Roles[role]
	return ok && r.Allows(a)
}

// ProjectsOf returns the ids of the projects the principal is a member
// of, sorted.
func (p *Policy) ProjectsOf(principal string) []string {
	var ids []string
	for id := range p.Projects {
		if _, ok := p.Member(id, principal); ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Allows reports whether the role grants the action.
func (r *Role) Allows(a Action) bool { return slices.Contains(r.Actions, a) }

// Size is the number of values in the domain.
func (d *Domain) Size() int {
	if d.Range != nil {
		return d.Range[1] - d.Range[0] + 1
	}
	return len(d.Values)
}
