package engine

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/google/differential-privacy/go/v3/noise"

	"github.com/statgate/statgate/engine/protect"
	"github.com/statgate/statgate/engine/result"
)

// splitRho is the ρ a result's split implies: ε²/2 for every Laplace
// part (and partition selection), 1/(2σ²) of the library's σ at
// sensitivity 1 for every Gaussian one (for counts: one noise a part);
// and apart, the ε of the contribution profile, whose h ≥ 2 Laplace
// histograms at ε/h each spend ε²/(2h).
func splitRho(t *testing.T, m result.Meta) (rho, profileEps float64) {
	t.Helper()
	for _, sp := range m.Split {
		if sp.Purpose == protect.PurposeBounds {
			profileEps = sp.Epsilon
			continue
		}
		switch sp.Mechanism {
		case protect.Gaussian:
			s := noise.SigmaForGaussian(1, 1, sp.Epsilon, sp.Delta)
			rho += 1 / (2 * s * s)
		case protect.Laplace, "":
			rho += sp.Epsilon * sp.Epsilon / 2
		default:
			t.Fatalf("part %+v: unknown mechanism", sp)
		}
	}
	return rho, profileEps
}

// TestMechanismChoiceEndToEnd: on npr (policy noise auto, δ 1e-7) a count
// by ICD-10 chapter with L0 fixed at 22 is noised with Gaussian noise
// (smaller at that L0); a distinct-person count of one group with
// Laplace (debiting no δ); the chapter count and a sum by year with
// bounds chosen from the data choose per part at the chosen bounds —
// exactly what a request fixing those bounds gets (its dry run names
// them) — while the debit, made before the data were read, is Laplace's
// ρ with every part's δ, which covers either choice. Each answer's meta
// names the mechanism of every part (as its dry run did, unless the
// bounds and so the mechanisms are chosen from the data), charges what
// the dry run said, and the ledger's ρ grows by exactly the ρ charged.
// Dispensings by year, where most persons reach many years, come out
// Gaussian with bounds from the data.
func TestMechanismChoiceEndToEnd(t *testing.T) {
	e := openEngine(t, nil)
	ctx := context.Background()
	chapterSQL := "SELECT icd10_chapter(icd10) AS chapter, count(*) AS contacts FROM npr GROUP BY 1"
	tests := []struct {
		desc, sql string
		bounds    *Bounds
		want      string // "" where the bounds, and so the mechanisms, come from the data
		reps      int
		// clamp is the column each measure with a clamp aggregates.
		clamp map[string]string
	}{
		{"every chapter, bounds fixed", chapterSQL, &Bounds{MaxGroupsPerPerson: 22, MaxRowsPerPersonPerGroup: 10}, protect.Gaussian, 1, nil},
		{"one group", "SELECT count(DISTINCT pid) AS persons FROM npr WHERE contact_type = 'inpatient'", nil, protect.Laplace, 1, nil},
		{"every chapter, bounds from the data", chapterSQL, nil, "", 3, nil},
		{"dispensings by year, bounds from the data", "SELECT year(dispensed_date) AS year, count(*) AS dispensings FROM lmr GROUP BY 1", nil, "", 3, nil},
		{"sum by year, bounds from the data", "SELECT year(contact_date) AS year, sum(length_of_stay_days) AS days FROM npr GROUP BY 1", nil, "", 3,
			map[string]string{"days": "length_of_stay_days"}},
	}
	gaussians := 0
	for _, tc := range tests {
		for rep := range tc.reps {
			t.Run(tc.desc, func(t *testing.T) {
				ds := "npr"
				if strings.Contains(tc.sql, "lmr") {
					ds = "lmr"
				}
				before, err := e.book.Balance(ctx, e.ledger, "diabetes-2026", ds)
				if err != nil {
					t.Fatal(err)
				}
				// Distinct questions (a repeat would be free).
				req := Request{Project: "diabetes-2026", SQL: tc.sql, Bounds: tc.bounds, Epsilon: 0.5 + float64(rep)/100}
				dry := req
				dry.DryRun = true
				preview, err := e.Query(ctx, ingrid, dry)
				if err != nil {
					t.Fatal(err)
				}
				res, err := e.Query(ctx, ingrid, req)
				if err != nil {
					t.Fatal(err)
				}
				m := res.Meta
				deferred := preview.Meta.DryRun.BoundsFromData
				if deferred != (tc.want == "") {
					t.Fatalf("bounds from the data: %v", deferred)
				}
				want := tc.want
				if deferred {
					// The dry run cannot name the mechanism (it is chosen
					// with the bounds).
					if preview.Meta.Mechanism != protect.Auto || preview.Meta.DryRun.Measures[0].Mechanism != "" {
						t.Errorf("dry run mechanism %q, measures %+v; want auto, unnamed", preview.Meta.Mechanism, preview.Meta.DryRun.Measures)
					}
					if m.Bounding.Chosen != "estimated" {
						t.Fatalf("bounds %+v, want estimated", m.Bounding)
					}
					// What a request fixing the chosen bounds would get at
					// the same shares (it pays no profile).
					fixed := Request{Project: req.Project, SQL: req.SQL, Epsilon: req.Epsilon * (1 - protect.BoundsShare), DryRun: true, Bounds: &Bounds{
						MaxGroupsPerPerson: m.Bounding.MaxGroupsPerPerson, MaxRowsPerPersonPerGroup: m.Bounding.MaxRowsPerPersonPerGroup,
						MaxValuesPerPersonPerGroup: m.Bounding.MaxValuesPerPersonPerGroup}}
					for measure, b := range m.Bounding.Bounds {
						if fixed.Bounds.Clamp == nil {
							fixed.Bounds.Clamp = map[string][2]float64{}
						}
						fixed.Bounds.Clamp[tc.clamp[measure]] = b
					}
					at, err := e.Query(ctx, ingrid, fixed)
					if err != nil {
						t.Fatal(err)
					}
					for i, sp := range m.Split {
						if sp.Purpose != protect.PurposeBounds && sp.Mechanism != at.Meta.Split[i].Mechanism {
							t.Errorf("part %d at bounds %+v from the data: %s; a request fixing them: %s", i, m.Bounding, sp.Mechanism, at.Meta.Split[i].Mechanism)
						}
					}
					want = at.Meta.Mechanism
					if m.Split[0].Mechanism == protect.Gaussian && strings.Contains(tc.sql, "lmr") {
						gaussians++
					}
				} else if preview.Meta.DryRun.Measures[0].Mechanism != want {
					t.Errorf("dry run %+v; want %s", preview.Meta.DryRun.Measures, want)
				}
				if m.Mechanism != want || (!deferred && m.Split[0].Mechanism != want) {
					t.Fatalf("mechanism %q, split %+v; want %s", m.Mechanism, m.Split, want)
				}
				if m.Rho != preview.Meta.Rho || m.Epsilon != preview.Meta.Epsilon || m.Delta != preview.Meta.Delta {
					t.Errorf("charged ε %g δ %g ρ %g, the dry run said ε %g δ %g ρ %g", m.Epsilon, m.Delta, m.Rho, preview.Meta.Epsilon, preview.Meta.Delta, preview.Meta.Rho)
				}
				for i, sp := range m.Split {
					if dry := preview.Meta.Split[i]; sp.Epsilon != dry.Epsilon || sp.Delta != dry.Delta || (!deferred && sp != dry) {
						t.Errorf("part %d: released %+v, dry run said %+v", i, sp, dry)
					}
					// Deferred: every part keeps the δ debited for it.
					if sp.Mechanism == protect.Laplace && sp.Delta != 0 && !deferred {
						t.Errorf("Laplace part %+v spends δ", sp)
					}
				}
				if tc.want == protect.Laplace && (m.Delta != 0 || m.ZDelta != 0) {
					t.Errorf("a Laplace-only answer debits δ %g (zCDP δ %g)", m.Delta, m.ZDelta)
				}
				// The dry run states the sd at the bounds it knows, for
				// every released cell (noise may suppress some).
				if sd := *preview.Meta.DryRun.Measures[0].StdDev; !deferred {
					released := 0
					for _, row := range res.Rows {
						if c := row.Cells[len(res.Columns)-1]; !c.Suppressed {
							released++
							if math.Abs(c.StdDev-sd) > 1e-9*sd {
								t.Errorf("released sd %g, dry run sd %g", c.StdDev, sd)
							}
						}
					}
					if released == 0 {
						t.Errorf("nothing released (%d rows): the dry run's sd is untested", len(res.Rows))
					}
				}
				implied, prof := splitRho(t, m)
				noised := m.Rho - implied
				switch {
				case deferred:
					// Charged as Laplace: Σ ε²/2 of the parts, plus the
					// profile; never less than the mechanisms used imply.
					var lap float64
					for _, sp := range m.Split {
						if sp.Purpose != protect.PurposeBounds {
							lap += sp.Epsilon * sp.Epsilon / 2
						}
					}
					if got := m.Rho - lap; got <= 0 || got > prof*prof/4*(1+1e-9) || m.Rho < implied {
						t.Errorf("deferred: ρ charged %g, Laplace's %g plus at most %g for the profile; the mechanisms used imply %g", m.Rho, lap, prof*prof/4, implied)
					}
				case noised < -1e-15 || noised > 0.0021*implied+prof*prof/4 || (prof > 0 && noised <= 0):
					t.Errorf("meta ρ %g, the parts' mechanisms imply %g plus at most %g for the profile", m.Rho, implied, prof*prof/4)
				}
				after, err := e.book.Balance(ctx, e.ledger, "diabetes-2026", ds)
				if err != nil {
					t.Fatal(err)
				}
				if got := after.SpentRho - before.SpentRho; math.Abs(got-m.Rho) > 1e-11 {
					t.Errorf("ledger ρ grew by %g, the answer spent %g", got, m.Rho)
				}
				if got := after.BasicEpsilon - before.BasicEpsilon; math.Abs(got-m.Epsilon) > 1e-9 {
					t.Errorf("ledger ε grew by %g, the answer's ε %g", got, m.Epsilon)
				}
			})
		}
	}
	// Dispensings by year: most persons reach many years, so the chosen
	// L0 is large and Gaussian noise the smaller.
	if gaussians == 0 {
		t.Errorf("bounds from the data never chose Gaussian noise for dispensings by year")
	}
}
