// Package access decides who may do what: project membership, the actions
// a member's role grants, which datasets a project may read, and which
// projects' audit entries a principal may see. Every decision reads the
// policy only, never the data, and a denial is a *refusal.Error with a
// stable code. It is the one place these rules live: the engine, the
// template runner and the cohort compiler ask it.
package access

import (
	"fmt"
	"slices"
	"strings"

	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// Control answers access questions for one policy. It is immutable and
// safe for concurrent use.
type Control struct {
	pol *policies.Policy
}

// New returns the access control of pol.
func New(pol *policies.Policy) *Control { return &Control{pol: pol} }

// Project returns the project when principal is a member of it; otherwise
// unknown_project (404) or not_a_member (403).
func (c *Control) Project(principal, id string) (*policies.Project, error) {
	proj, ok := c.pol.Projects[id]
	if !ok {
		return nil, &refusal.Error{Code: refusal.UnknownProject,
			Message: fmt.Sprintf("there is no project %q", id)}
	}
	if _, ok := c.pol.Member(id, principal); !ok {
		return nil, &refusal.Error{Code: refusal.NotAMember,
			Message: fmt.Sprintf("%s is not a member of project %q", principal, id)}
	}
	return proj, nil
}

// Allow refuses (role_not_allowed, 403) an action principal's role in
// proj does not grant.
func (c *Control) Allow(principal string, proj *policies.Project, a policies.Action) error {
	if c.pol.Allows(proj.ID, principal, a) {
		return nil
	}
	role, _ := c.pol.Member(proj.ID, principal)
	return &refusal.Error{Code: refusal.RoleNotAllowed,
		Message: fmt.Sprintf("role %q in project %q does not allow %s", role, proj.ID, a),
		Hint:    "ask the registry owner for a role that allows it, or use an approved template"}
}

// Dataset returns a dataset the project may read; otherwise
// unknown_dataset (404) or dataset_not_in_project (403), with the statuses
// the query checker and the ledger give them.
func (c *Control) Dataset(proj *policies.Project, name string) (*policies.Dataset, error) {
	d, ok := c.pol.Datasets[name]
	if !ok {
		return nil, refusal.New(refusal.UnknownDataset, fmt.Sprintf("there is no dataset %q", name), "GET /v1/datasets lists them")
	}
	if !slices.Contains(proj.Datasets, name) {
		return nil, refusal.New(refusal.DatasetNotInProject,
			fmt.Sprintf("project %q does not include dataset %q", proj.ID, name), "use one of: "+strings.Join(proj.Datasets, ", "))
	}
	return d, nil
}

// Template returns an approved template principal may run in proj:
// unknown_template (404) when there is none of that name,
// template_not_in_project (403) when it reads a dataset proj lacks.
func (c *Control) Template(proj *policies.Project, name string) (*policies.Template, error) {
	t, ok := c.pol.Templates[name]
	if !ok {
		return nil, &refusal.Error{Code: refusal.UnknownTemplate,
			Message: fmt.Sprintf("there is no template %q", name), Hint: "GET /v1/templates lists the templates you may run"}
	}
	for _, d := range t.Datasets {
		if !slices.Contains(proj.Datasets, d) {
			return nil, &refusal.Error{Code: refusal.TemplateNotInProject,
				Message: fmt.Sprintf("template %q reads dataset %q, which project %q does not include", t.Name, d, proj.ID)}
		}
	}
	return t, nil
}

// MayRunTemplate reports whether some project of principal allows
// templates and holds every dataset t reads.
func (c *Control) MayRunTemplate(principal string, t *policies.Template) bool {
	for _, id := range c.pol.ProjectsOf(principal) {
		if !c.pol.Allows(id, principal, policies.ActionTemplates) {
			continue
		}
		proj := c.pol.Projects[id]
		all := true
		for _, d := range t.Datasets {
			all = all && slices.Contains(proj.Datasets, d)
		}
		if all {
			return true
		}
	}
	return false
}

// AuditProjects returns the projects whose audit entries principal may
// read: those where its role allows the audit action, sorted. It refuses
// (role_not_allowed, 403) when there is none. An admin of one project
// sees that project's entries, not the whole log.
func (c *Control) AuditProjects(principal string) ([]string, error) {
	var out []string
	for _, id := range c.pol.ProjectsOf(principal) {
		if c.pol.Allows(id, principal, policies.ActionAudit) {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return nil, &refusal.Error{Code: refusal.RoleNotAllowed,
			Message: principal + " has no role that allows reading the audit log"}
	}
	slices.Sort(out)
	return out, nil
}
