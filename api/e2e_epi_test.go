package api_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"testing"
)

// ratesBody and survivalBody are the console's worked examples.
const (
	ratesBody = `{"project":"diabetes-2026","event":{"dataset":"npr","where":"icd10 LIKE 'E11%'","column":"contact_date"},
		"period":{"from":"2015-01-01","to":"2024-12-31"},"strata":["sex"],"standardise":"esp2013","per":100000,"epsilon":1}`
	survivalBody = `{"project":"cancer-survival","index":{"dataset":"cancer","column":"diagnosis_date","where":"icd10 LIKE 'C50%'"},
		"event":{"dataset":"death_causes","column":"death_date"},"end":"2024-12-31","interval":"year","horizon":5,"epsilon":1}`
)

// TestE2EEpiDryRunRefused: ?dry_run=true on /v1/rates and /v1/survival is
// a 400 dry_run_not_supported with a hint, before anything runs: the
// budget and the audit log are unchanged. Without it, both endpoints
// answer over HTTP and the budget goes down.
func TestE2EEpiDryRunRefused(t *testing.T) {
	s := startE2E(t, e2eConfig{})
	for _, tc := range []struct{ name, path, project, body string }{
		{"rates", "/v1/rates", "diabetes-2026", ratesBody},
		{"survival", "/v1/survival", "cancer-survival", survivalBody},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, audit := s.budget(t, tc.project), s.verifyAudit(t)
			r := s.must(t, call{method: http.MethodPost, path: tc.path + "?dry_run=true", as: researcher, body: tc.body}, http.StatusBadRequest)
			if p := problem(t, r); p.Code != "dry_run_not_supported" || p.Hint == "" {
				t.Errorf("problem %+v, want dry_run_not_supported with a hint", p)
			}
			if after := s.budget(t, tc.project); !maps.Equal(after, before) {
				t.Errorf("a refused dry run changed the budget: %v → %v", before, after)
			}
			if got := s.verifyAudit(t); !maps.Equal(got, audit) {
				t.Errorf("a refused dry run was audited: %v → %v", audit, got)
			}
			ok := s.must(t, call{method: http.MethodPost, path: tc.path, as: researcher, body: tc.body}, http.StatusOK)
			var res struct {
				Meta struct {
					Epsilon float64 `json:"epsilon"`
				} `json:"meta"`
			}
			if err := json.Unmarshal(ok.body, &res); err != nil || res.Meta.Epsilon != 1 {
				t.Fatalf("%s answered %s (%v), want meta.epsilon 1", tc.path, ok.body, err)
			}
			spent := false
			for d, a := range s.budget(t, tc.project) {
				spent = spent || a.Spent > before[d].Spent
			}
			if !spent {
				t.Errorf("%s answered but no budget of %s went down", tc.path, tc.project)
			}
		})
	}
}
