package api_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
)

// ratesBody and survivalBody are the console's worked examples.
const (
	ratesBody = `{"project":"diabetes-2026","event":{"dataset":"npr","where":"icd10 LIKE 'E11%'","column":"contact_date"},
		"period":{"from":"2015-01-01","to":"2024-12-31"},"strata":["sex"],"standardise":"esp2013","per":100000,"epsilon":1}`
	survivalBody = `{"project":"cancer-survival","index":{"dataset":"cancer","column":"diagnosis_date","where":"icd10 LIKE 'C50%'"},
		"event":{"dataset":"death_causes","column":"death_date"},"end":"2024-12-31","interval":"year","horizon":5,"epsilon":1}`
)

// epiAnswer is the part of a rates or survival answer the tests read.
type epiAnswer struct {
	Rows   []json.RawMessage `json:"rows"`
	Strata []json.RawMessage `json:"strata"`
	Meta   struct {
		QueryID    string  `json:"query_id"`
		Epsilon    float64 `json:"epsilon"`
		Cached     bool    `json:"cached"`
		CachedFrom string  `json:"cached_from"`
		DryRun     *struct {
			Cost []struct {
				Dataset string  `json:"dataset"`
				Epsilon float64 `json:"epsilon"`
			} `json:"cost"`
			Measures []struct {
				Measure     string   `json:"measure"`
				StdDev      *float64 `json:"stddev"`
				HalfWidth95 *float64 `json:"half_width_95"`
			} `json:"measures"`
			ReleaseThreshold float64 `json:"release_threshold"`
			Fits             bool    `json:"fits"`
			Cached           bool    `json:"cached"`
		} `json:"dry_run"`
	} `json:"meta"`
}

func decodeEpi(t *testing.T, r reply) epiAnswer {
	t.Helper()
	var a epiAnswer
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("%s: %v", r.body, err)
	}
	return a
}

// TestE2EEpiDryRunAndRepeats: over HTTP, ?dry_run=true on /v1/rates and
// /v1/survival previews the cost on every dataset, each histogram's noise
// and the release threshold, with no rows, no budget change and no audit
// entry; the request then pays that; the same request again (its where
// written with other spacing) is a free repeat marked cached, with the
// same numbers; a dry run of it says so; another ε pays again.
func TestE2EEpiDryRunAndRepeats(t *testing.T) {
	s := startE2E(t, e2eConfig{repeats: true})
	respace := strings.NewReplacer("LIKE", "  LIKE  ")
	for _, tc := range []struct {
		name, path, project, body string
		datasets                  []string
		measures                  int
	}{
		{"rates", "/v1/rates", "diabetes-2026", ratesBody, []string{"npr", "population"}, 2},
		{"survival", "/v1/survival", "cancer-survival", survivalBody, []string{"cancer", "death_causes"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ask := func(query, body string) call {
				return call{method: http.MethodPost, path: tc.path + query, as: researcher, body: body}
			}
			before, audit := s.budget(t, tc.project), s.verifyAudit(t)
			r := s.must(t, ask("?dry_run=true", tc.body), http.StatusOK)
			dry := decodeEpi(t, r)
			d := dry.Meta.DryRun
			if d == nil || r.header.Get("Statgate-Dry-Run") != "true" || len(dry.Rows)+len(dry.Strata) != 0 || !d.Fits || d.Cached {
				t.Fatalf("dry run answered %s", r.body)
			}
			if len(d.Cost) != len(tc.datasets) || len(d.Measures) != tc.measures || d.ReleaseThreshold <= 0 {
				t.Errorf("dry run cost %+v measures %+v threshold %g", d.Cost, d.Measures, d.ReleaseThreshold)
			}
			for i, c := range d.Cost {
				if c.Dataset != tc.datasets[i] || c.Epsilon != 1 {
					t.Errorf("cost %+v, want ε 1 on %s", c, tc.datasets[i])
				}
			}
			for _, m := range d.Measures {
				if m.StdDev == nil || *m.StdDev <= 0 || m.HalfWidth95 == nil || *m.HalfWidth95 <= *m.StdDev {
					t.Errorf("measure %+v", m)
				}
			}
			if after := s.budget(t, tc.project); !maps.Equal(after, before) {
				t.Errorf("a dry run changed the budget: %v → %v", before, after)
			}
			if got := s.verifyAudit(t); !maps.Equal(got, audit) {
				t.Errorf("a dry run was audited: %v → %v", audit, got)
			}

			first := decodeEpi(t, s.must(t, ask("", tc.body), http.StatusOK))
			if first.Meta.Epsilon != 1 || first.Meta.Cached || len(first.Rows)+len(first.Strata) == 0 {
				t.Fatalf("first answer meta %+v", first.Meta)
			}
			paid := s.budget(t, tc.project)
			for _, ds := range tc.datasets {
				if got := paid[ds].Spent - before[ds].Spent; got < 1-1e-9 || got > 1+1e-9 {
					t.Errorf("%s: spent %g, the dry run said 1", ds, got)
				}
			}

			r = s.must(t, ask("", respace.Replace(tc.body)), http.StatusOK)
			again := decodeEpi(t, r)
			if !again.Meta.Cached || again.Meta.CachedFrom != first.Meta.QueryID || again.Meta.Epsilon != 0 || r.header.Get("Statgate-Cached") != "true" ||
				again.Meta.QueryID == first.Meta.QueryID {
				t.Errorf("repeat meta %+v (header %q), want cached from %s at ε 0", again.Meta, r.header.Get("Statgate-Cached"), first.Meta.QueryID)
			}
			a, _ := json.Marshal(append(first.Rows, first.Strata...))
			b, _ := json.Marshal(append(again.Rows, again.Strata...))
			if string(a) != string(b) {
				t.Errorf("repeat numbers %s, first %s", b, a)
			}
			if got := s.budget(t, tc.project); !maps.Equal(got, paid) {
				t.Errorf("a repeat changed the budget: %v → %v", paid, got)
			}
			if d := decodeEpi(t, s.must(t, ask("?dry_run=true", tc.body), http.StatusOK)).Meta.DryRun; d == nil || !d.Cached || d.Cost[0].Epsilon != 0 {
				t.Errorf("dry run of a repeat: %+v, want cached at no cost", d)
			}
			other := strings.Replace(tc.body, `"epsilon":1`, `"epsilon":0.5`, 1)
			if o := decodeEpi(t, s.must(t, ask("", other), http.StatusOK)); o.Meta.Cached || o.Meta.Epsilon != 0.5 {
				t.Errorf("ε 0.5: meta %+v, want a new, paid answer", o.Meta)
			}
		})
	}
}
