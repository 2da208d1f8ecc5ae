package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestE2EFreeRepeats: asking the identical question again in the same
// project returns the same released numbers, marked cached, at no cost
// (the budget does not move); a dry run of it says it is free; the same
// question in another project, or at another ε, is a new question and
// pays.
func TestE2EFreeRepeats(t *testing.T) {
	s := startE2E(t, e2eConfig{repeats: true})
	const sql = "SELECT sex, count(*) AS persons FROM population GROUP BY 1"
	ask := func(project string, eps float64, query string) call {
		return call{method: http.MethodPost, path: "/v1/query" + query, as: researcher, body: queryBody(t, project, sql, eps)}
	}
	first := decodeResult(t, s.must(t, ask("diabetes-2026", 0.5, ""), http.StatusOK))
	if first.Meta.Cached || first.Meta.Epsilon != 0.5 {
		t.Fatalf("first answer meta %+v", first.Meta)
	}
	paid := s.budget(t, "diabetes-2026")

	r := s.must(t, ask("diabetes-2026", 0.5, ""), http.StatusOK)
	again := decodeResult(t, r)
	if !again.Meta.Cached || again.Meta.CachedFrom != first.Meta.QueryID || again.Meta.Epsilon != 0 || r.header.Get("Statgate-Cached") != "true" {
		t.Errorf("repeat meta cached %v from %q ε %g (header %q); want cached from %s at ε 0",
			again.Meta.Cached, again.Meta.CachedFrom, again.Meta.Epsilon, r.header.Get("Statgate-Cached"), first.Meta.QueryID)
	}
	if again.Meta.QueryID == first.Meta.QueryID || again.Meta.QueryID == "" {
		t.Errorf("repeat query id %q, first %q: want a new id", again.Meta.QueryID, first.Meta.QueryID)
	}
	a, _ := json.Marshal(first.Rows)
	b, _ := json.Marshal(again.Rows)
	if string(a) != string(b) || len(first.Rows) == 0 {
		t.Errorf("repeat rows %s, first %s: want the same numbers", b, a)
	}
	if got := s.budget(t, "diabetes-2026"); !equalAmounts(got, paid) {
		t.Errorf("budget after a repeat %v, before %v", got, paid)
	}
	dry := decodeResult(t, s.must(t, ask("diabetes-2026", 0.5, "?dry_run=true"), http.StatusOK))
	if d := dry.Meta.DryRun; d == nil || !d.Cached || d.Cost[0].Epsilon != 0 || d.Cost[0].Rho != 0 {
		t.Errorf("dry run of a repeat: %+v, want cached at no cost", d)
	}

	// Another ε is another question; so is the same question in another project.
	if other := decodeResult(t, s.must(t, ask("diabetes-2026", 0.4, ""), http.StatusOK)); other.Meta.Cached || other.Meta.Epsilon != 0.4 {
		t.Errorf("ε 0.4: cached %v ε %g, want a new, paid answer", other.Meta.Cached, other.Meta.Epsilon)
	}
	before := s.budget(t, "cancer-survival")
	if other := decodeResult(t, s.must(t, ask("cancer-survival", 0.5, ""), http.StatusOK)); other.Meta.Cached || other.Meta.Epsilon != 0.5 {
		t.Errorf("another project: cached %v ε %g, want a new, paid answer", other.Meta.Cached, other.Meta.Epsilon)
	}
	if after := s.budget(t, "cancer-survival"); after["population"].Spent <= before["population"].Spent {
		t.Errorf("cancer-survival population spent %v then %v: the other project must pay", before["population"], after["population"])
	}
	// The audit log records the repeat as released at ε 0.
	if o := s.verifyAudit(t); o["released"] != 4 {
		t.Errorf("audit outcomes %v, want 4 released (first, repeat, ε 0.4, other project)", o)
	}
}
