package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/statgate/statgate/api"
)

// TestE2EBudgetHistory: every paid request is one debit in the project's
// history (a join over two datasets once, with both), with its cost, kind,
// who asked and its query id; a free repeat and a dry run are not in it;
// pages follow next_before without gaps or repeats; every member may read
// it, a non-member may not, and a bad page is a 400 naming the parameter.
func TestE2EBudgetHistory(t *testing.T) {
	s := startE2E(t, e2eConfig{repeats: true})
	const join = "SELECT p.sex AS sex, count(DISTINCT pid) AS persons FROM npr n JOIN population p USING (pid) GROUP BY 1"
	var ids []string // query ids, oldest first
	ask := func(c call) {
		t.Helper()
		res := decodeResult(t, s.must(t, c, http.StatusOK))
		if !res.Meta.Cached {
			ids = append(ids, res.Meta.QueryID)
		}
	}
	ask(call{method: http.MethodPost, path: "/v1/query", as: researcher, body: queryBody(t, "diabetes-2026", join, 0.3)})
	ask(call{method: http.MethodPost, path: "/v1/query", as: researcher, body: queryBody(t, "diabetes-2026", contactsSQL, 0.2)})
	ask(call{method: http.MethodPost, path: "/v1/templates/prescriptions_by_atc_year/run", as: analyst,
		body: `{"project": "diabetes-2026", "params": {"atc_prefix": "A10B%"}}`})
	// A repeat and a dry run: free, not debits.
	ask(call{method: http.MethodPost, path: "/v1/query", as: researcher, body: queryBody(t, "diabetes-2026", contactsSQL, 0.2)})
	s.must(t, call{method: http.MethodPost, path: "/v1/query?dry_run=true", as: researcher, body: queryBody(t, "diabetes-2026", contactsSQL, 0.4)}, http.StatusOK)
	if len(ids) != 3 {
		t.Fatalf("%d paid requests, want 3 (the repeat should have been free)", len(ids))
	}

	var h api.BudgetHistory
	decodeJSON(t, s.must(t, call{method: http.MethodGet, path: "/v1/projects/diabetes-2026/budget/history", as: analyst}, http.StatusOK), &h)
	if h.Project != "diabetes-2026" || len(h.Debits) != 3 || h.NextBefore != 0 {
		t.Fatalf("history %+v, want the 3 debits and no next page", h)
	}
	want := []struct {
		queryID, principal, kind string
		datasets                 []string
		epsilon                  float64
	}{ // newest first
		{ids[2], analyst, "template", []string{"lmr"}, 0.5},
		{ids[1], researcher, "sql", []string{"npr"}, 0.2},
		{ids[0], researcher, "sql", []string{"npr", "population"}, 0.3},
	}
	for i, w := range want {
		d := h.Debits[i]
		if d.QueryID != w.queryID || d.Principal != w.principal || d.Kind != w.kind || !slices.Equal(d.Datasets, w.datasets) ||
			d.Epsilon != w.epsilon || d.Rho <= 0 || d.Time.IsZero() {
			t.Errorf("debit %d = %+v, want %+v", i, d, w)
		}
		if i > 0 && d.ID >= h.Debits[i-1].ID {
			t.Errorf("debit ids not decreasing: %d after %d", d.ID, h.Debits[i-1].ID)
		}
	}

	// Pages of one: three pages, the same debits in the same order.
	var paged []string
	path := "/v1/projects/diabetes-2026/budget/history?limit=1"
	for range 4 {
		var p api.BudgetHistory
		decodeJSON(t, s.must(t, call{method: http.MethodGet, path: path, as: researcher}, http.StatusOK), &p)
		for _, d := range p.Debits {
			paged = append(paged, d.QueryID)
		}
		if p.NextBefore == 0 {
			break
		}
		path = fmt.Sprintf("/v1/projects/diabetes-2026/budget/history?limit=1&before=%d", p.NextBefore)
	}
	if !slices.Equal(paged, []string{ids[2], ids[1], ids[0]}) {
		t.Errorf("paged history %v, want %v", paged, []string{ids[2], ids[1], ids[0]})
	}

	// The admin (a member) reads it; another project's member does not.
	s.must(t, call{method: http.MethodGet, path: "/v1/projects/diabetes-2026/budget/history", as: admin}, http.StatusOK)
	var other api.BudgetHistory
	decodeJSON(t, s.must(t, call{method: http.MethodGet, path: "/v1/projects/cancer-survival/budget/history", as: admin}, http.StatusOK), &other)
	if len(other.Debits) != 0 {
		t.Errorf("cancer-survival history %+v, want none (the debits were diabetes-2026's)", other)
	}
	if r, _ := s.do(call{method: http.MethodGet, path: "/v1/projects/diabetes-2026/budget/history", as: onco}); r.status != http.StatusForbidden && r.status != http.StatusNotFound {
		t.Errorf("a non-member got %d %s, want 403 or 404", r.status, r.body)
	}
	for _, q := range []string{"limit=0", "limit=501", "limit=x", "before=0", "before=-3"} {
		r := s.must(t, call{method: http.MethodGet, path: "/v1/projects/diabetes-2026/budget/history?" + q, as: researcher}, http.StatusBadRequest)
		if p := problem(t, r); p.Code != "invalid_parameter" || p.Hint == "" {
			t.Errorf("%s: problem %+v", q, p)
		}
	}
}
