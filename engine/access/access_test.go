package access

import (
	"slices"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// testPolicy is the shipped policy with a second admin who administers
// only cancer-survival.
func testPolicy(t *testing.T) *policies.Policy {
	t.Helper()
	p, err := policies.Load("../../policies/norway-synthetic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cs := p.Projects["cancer-survival"]
	cs.Members = append(cs.Members, policies.Member{Principal: "onco-admin", Role: "admin"})
	return p
}

func TestProjectAndAllow(t *testing.T) {
	c := New(testPolicy(t))
	tests := []struct {
		desc, principal, project string
		action                   policies.Action
		code                     string
		kind                     refusal.Kind
	}{
		{"researcher writes SQL", "ingrid", "diabetes-2026", policies.ActionSQL, "", 0},
		{"analyst may not", "pharma-analyst", "diabetes-2026", policies.ActionSQL, "role_not_allowed", refusal.KindForbidden},
		{"analyst runs templates", "pharma-analyst", "diabetes-2026", policies.ActionTemplates, "", 0},
		{"not a member", "mallory", "diabetes-2026", policies.ActionSQL, "not_a_member", refusal.KindForbidden},
		{"unknown project", "ingrid", "nope", policies.ActionSQL, "unknown_project", refusal.KindNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			proj, err := c.Project(tc.principal, tc.project)
			if err == nil {
				err = c.Allow(tc.principal, proj, tc.action)
			}
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			r, ok := refusal.As(err)
			if !ok || r.Code.String() != tc.code || r.Kind() != tc.kind {
				t.Fatalf("%v, want %s (kind %d)", err, tc.code, tc.kind)
			}
		})
	}
}

func TestDatasetAndTemplate(t *testing.T) {
	pol := testPolicy(t)
	c := New(pol)
	diabetes := pol.Projects["diabetes-2026"]
	if _, err := c.Dataset(diabetes, "npr"); err != nil {
		t.Errorf("npr in diabetes-2026: %v", err)
	}
	for name, code := range map[string]string{"cancer": "dataset_not_in_project", "nope": "unknown_dataset"} {
		if _, err := c.Dataset(diabetes, name); refusal.CodeOf(err).String() != code {
			t.Errorf("%s: %v, want %s", name, err, code)
		}
	}
	if _, err := c.Template(diabetes, "prescriptions_by_atc_year"); err != nil {
		t.Error(err)
	}
	if _, err := c.Template(diabetes, "cancer_incidence_by_site_year"); refusal.CodeOf(err).String() != "template_not_in_project" {
		t.Errorf("%v, want template_not_in_project", err)
	}
	if _, err := c.Template(diabetes, "nope"); refusal.CodeOf(err).String() != "unknown_template" {
		t.Errorf("%v, want unknown_template", err)
	}
	if !c.MayRunTemplate("pharma-analyst", pol.Templates["prescriptions_by_atc_year"]) ||
		c.MayRunTemplate("pharma-analyst", pol.Templates["cancer_incidence_by_site_year"]) {
		t.Error("pharma-analyst may run exactly the diabetes templates")
	}
}

// TestAuditScope is the regression test of issue 18's audit defect: an
// admin of one project sees that project's entries only.
func TestAuditScope(t *testing.T) {
	c := New(testPolicy(t))
	got, err := c.AuditProjects("onco-admin")
	if err != nil || !slices.Equal(got, []string{"cancer-survival"}) {
		t.Errorf("onco-admin: %v %v, want [cancer-survival]", got, err)
	}
	got, err = c.AuditProjects("registry-admin")
	if err != nil || !slices.Equal(got, []string{"cancer-survival", "diabetes-2026"}) {
		t.Errorf("registry-admin: %v %v", got, err)
	}
	_, err = c.AuditProjects("ingrid")
	if r, ok := refusal.As(err); !ok || r.Code.String() != "role_not_allowed" || !strings.Contains(r.Message, "audit") {
		t.Errorf("ingrid: %v, want role_not_allowed", err)
	}
}
