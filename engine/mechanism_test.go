package engine

import (
	"context"
	"math"
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
// (smaller at that L0); the same count with bounds chosen from the data,
// and a distinct-person count of one group, with Laplace (debiting no δ
// for their parts); each answer's meta names the mechanism of every part
// as its dry run did, charges what the dry run said, and the ledger's ρ
// grows by exactly the ρ the parts' mechanisms imply.
func TestMechanismChoiceEndToEnd(t *testing.T) {
	e := openEngine(t, nil)
	ctx := context.Background()
	chapterSQL := "SELECT icd10_chapter(icd10) AS chapter, count(*) AS contacts FROM npr GROUP BY 1"
	tests := []struct {
		desc, sql string
		bounds    *Bounds
		want      string
	}{
		{"every chapter, bounds fixed", chapterSQL, &Bounds{MaxGroupsPerPerson: 22, MaxRowsPerPersonPerGroup: 10}, protect.Gaussian},
		{"every chapter, bounds from the data", chapterSQL + " HAVING count(*) >= 0", nil, protect.Laplace},
		{"one group", "SELECT count(DISTINCT pid) AS persons FROM npr WHERE contact_type = 'inpatient'", nil, protect.Laplace},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			before, err := e.book.Balance(ctx, e.ledger, "diabetes-2026", "npr")
			if err != nil {
				t.Fatal(err)
			}
			req := Request{Project: "diabetes-2026", SQL: tc.sql, Bounds: tc.bounds}
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
			// With bounds from the data (chosen after the debit) Auto is
			// Laplace throughout; with fixed bounds it chooses per part.
			if (tc.bounds == nil) != preview.Meta.DryRun.BoundsFromData && tc.bounds != nil {
				t.Fatalf("bounds from the data: %v", preview.Meta.DryRun.BoundsFromData)
			}
			if m.Mechanism != tc.want || m.Split[0].Mechanism != tc.want || preview.Meta.DryRun.Measures[0].Mechanism != tc.want {
				t.Fatalf("mechanism %q, split %+v, dry run %+v; want %s", m.Mechanism, m.Split, preview.Meta.DryRun.Measures, tc.want)
			}
			if m.Rho != preview.Meta.Rho || m.Epsilon != preview.Meta.Epsilon || m.Delta != preview.Meta.Delta {
				t.Errorf("charged ε %g δ %g ρ %g, the dry run said ε %g δ %g ρ %g", m.Epsilon, m.Delta, m.Rho, preview.Meta.Epsilon, preview.Meta.Delta, preview.Meta.Rho)
			}
			for i, sp := range m.Split {
				if dry := preview.Meta.Split[i]; sp != dry {
					t.Errorf("part %d: released %+v, dry run said %+v", i, sp, dry)
				}
				if sp.Mechanism == protect.Laplace && sp.Delta != 0 {
					t.Errorf("Laplace part %+v spends δ", sp)
				}
			}
			if tc.want == protect.Laplace && (m.Delta != 0 || m.ZDelta != 0) {
				t.Errorf("a Laplace-only answer debits δ %g (zCDP δ %g)", m.Delta, m.ZDelta)
			}
			// The dry run states the sd at the policy's bounds; bounds
			// chosen from the data change L∞, never the mechanism.
			if sd := *preview.Meta.DryRun.Measures[0].StdDev; !preview.Meta.DryRun.BoundsFromData &&
				(len(res.Rows) == 0 || math.Abs(res.Rows[0].Cells[len(res.Columns)-1].StdDev-sd) > 1e-9*sd) {
				t.Errorf("released %+v, dry run sd %g", res.Rows, sd)
			}
			implied, prof := splitRho(t, m)
			if noised := m.Rho - implied; noised < -1e-15 || noised > 0.0021*implied+prof*prof/4 || (prof > 0 && noised <= 0) {
				t.Errorf("meta ρ %g, the parts' mechanisms imply %g plus at most %g for the profile", m.Rho, implied, prof*prof/4)
			}
			after, err := e.book.Balance(ctx, e.ledger, "diabetes-2026", "npr")
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
