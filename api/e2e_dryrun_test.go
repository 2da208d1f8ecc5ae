package api_test

import (
	"math"
	"net/http"
	"testing"

	"github.com/statgate/statgate/engine"
)

// TestE2EDryRun: ?dry_run=true on every POST endpoint states the cost per
// dataset (ε, δ, ρ), the expected sd and 95 % half-width of the counts,
// the release threshold and the budget after, in JSON whatever was
// negotiated — and costs nothing: the budget, the audit log and the
// metrics' ε are unchanged. The sd it states is the sd the real answer
// then carries.
func TestE2EDryRun(t *testing.T) {
	s := startE2E(t, e2eConfig{})
	calls := []struct {
		name string
		c    call
	}{
		{"query", call{method: http.MethodPost, path: "/v1/query", as: researcher,
			body: queryBody(t, "diabetes-2026", contactsSQL, 0.5)}},
		{"template", call{method: http.MethodPost, path: "/v1/templates/prescriptions_by_atc_year/run", as: analyst,
			body: `{"project":"diabetes-2026","params":{"atc_prefix":"A10B%"}}`}},
		{"cohort", call{method: http.MethodPost, path: "/v1/cohorts/estimate", as: researcher, body: cohortReq}},
	}
	before := s.budget(t, "diabetes-2026")
	// basic is each dataset's sum of ε debited by this test: basic
	// composition's bound, which the stated (smaller) guarantee never
	// exceeds. Under zCDP the stated spend is the smaller of two bounds,
	// so one answer can move it by more than its ε when the smaller bound
	// changes sides.
	basic := map[string]float64{}
	for ds, a := range before {
		basic[ds] = a.Spent
	}
	auditBefore := s.verifyAudit(t)
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			dry := tc.c
			dry.path += "?dry_run=true"
			dry.header = map[string]string{"Accept": "text/csv, application/json;q=0.1"}
			r := s.must(t, dry, http.StatusOK)
			if r.header.Get("Statgate-Dry-Run") != "true" {
				t.Errorf("Statgate-Dry-Run header %q", r.header.Get("Statgate-Dry-Run"))
			}
			res := decodeResult(t, r)
			d := res.Meta.DryRun
			if d == nil || len(res.Rows) != 0 {
				t.Fatalf("dry run: meta.dry_run %+v, %d rows; want the estimate and no rows", d, len(res.Rows))
			}
			if len(d.Cost) == 0 || len(d.Cost) != len(res.Meta.Datasets) || len(d.BudgetAfter) != len(d.Cost) || !d.Fits {
				t.Fatalf("dry run cost %+v after %+v fits %v, datasets %v", d.Cost, d.BudgetAfter, d.Fits, res.Meta.Datasets)
			}
			for i, c := range d.Cost {
				if c.Epsilon != res.Meta.Epsilon || c.Epsilon <= 0 || c.Rho <= 0 || math.Abs(c.Rho-res.Meta.Rho) > 1e-11 {
					t.Errorf("cost %+v, meta ε %g ρ %g", c, res.Meta.Epsilon, res.Meta.Rho)
				}
				left, total := before[c.Dataset].Remaining, before[c.Dataset].Total
				if a := d.BudgetAfter[i]; a.Dataset != c.Dataset || !(a.RemainingEpsilon < left) || a.RemainingEpsilon < total-basic[c.Dataset]-c.Epsilon-1e-9 {
					t.Errorf("budget after %+v, %g left before (basic sum %g of %g), cost ε %g", a, left, basic[c.Dataset], total, c.Epsilon)
				}
			}
			if d.ReleaseThreshold <= 0 || d.SmallestReleasable != int(math.Ceil(d.ReleaseThreshold)) {
				t.Errorf("release threshold %g, smallest releasable %d", d.ReleaseThreshold, d.SmallestReleasable)
			}
			if len(d.Measures) == 0 {
				t.Fatal("no measures")
			}
			for _, m := range d.Measures {
				if m.StdDev == nil || *m.StdDev <= 0 || m.HalfWidth95 == nil || *m.HalfWidth95 < 1.95**m.StdDev || *m.HalfWidth95 > 2.13**m.StdDev {
					t.Errorf("measure %s: sd %v, half-width %v; want 1.96 sd (Gaussian) to 2.12 sd (Laplace)", m.Measure, m.StdDev, m.HalfWidth95)
				}
			}
			if got := s.budget(t, "diabetes-2026"); !equalAmounts(got, before) {
				t.Errorf("budget after a dry run %v, before %v", got, before)
			}

			// The real answer carries the sd the dry run stated (when the
			// bounds do not come from the data).
			real := decodeResult(t, s.must(t, tc.c, http.StatusOK))
			if d.BoundsFromData {
				t.Logf("%s: bounds chosen from the data; the dry run states the sd at the caps", tc.name)
				real.Rows = nil
			}
			sd := *d.Measures[0].StdDev
			for _, row := range real.Rows {
				for i, c := range row.Cells {
					if real.Columns[i].Name == d.Measures[0].Measure && c.StdDev != 0 && math.Abs(c.StdDev-sd) > 0.01*sd {
						t.Errorf("released sd %g, dry run said %g", c.StdDev, sd)
					}
				}
			}
			before = s.budget(t, "diabetes-2026")
			for i, c := range d.Cost {
				basic[c.Dataset] += c.Epsilon
				if got, want := before[c.Dataset].Remaining, d.BudgetAfter[i].RemainingEpsilon; math.Abs(got-want) > 1e-9 {
					t.Errorf("%s: %g left after the answer, the dry run said %g", c.Dataset, got, want)
				}
			}
		})
	}
	got := s.verifyAudit(t)
	if got["released"] != auditBefore["released"]+len(calls) || got["refused"] != auditBefore["refused"] || got["failed"] != auditBefore["failed"] {
		t.Errorf("audit outcomes %v (before %v): want only the %d real answers added", got, auditBefore, len(calls))
	}

	// A bad value costs nothing and names the parameter.
	bad := calls[0].c
	bad.path += "?dry_run=perhaps"
	if p := problem(t, s.must(t, bad, http.StatusBadRequest)); p.Code != "invalid_parameter" {
		t.Errorf("dry_run=perhaps: %+v", p)
	}
}

func equalAmounts(a, b map[string]engine.Amount) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
