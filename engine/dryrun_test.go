package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/statgate/statgate/engine/refusal"
)

// TestDryRunReadsNothing: a dry run answers where every execution fails
// (a query timeout of a nanosecond), so it executes nothing against the
// extracts; it debits nothing and writes no audit entry; its refusals are
// the real request's; and when the budget cannot pay, it says so.
func TestDryRunReadsNothing(t *testing.T) {
	e := openEngine(t, func(o *Options) { o.QueryTimeout = time.Nanosecond })
	ctx := context.Background()
	sql := "SELECT icd10_chapter(icd10) AS chapter, count(*) AS contacts FROM npr GROUP BY 1"
	res, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: sql, Epsilon: 1, DryRun: true})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	d := res.Meta.DryRun
	if d == nil || len(res.Rows) != 0 || len(res.Columns) != 2 || !d.Fits {
		t.Fatalf("dry run result %+v", res)
	}
	if len(d.Cost) != 1 || d.Cost[0].Dataset != "npr" || d.Cost[0].Epsilon != 1 || d.Cost[0].Rho <= 0 {
		t.Errorf("cost %+v", d.Cost)
	}
	if a := d.BudgetAfter[0]; a.RemainingEpsilon >= 10 || a.RemainingEpsilon < 9-1e-9 {
		t.Errorf("budget after %+v, want between 9 and 10 left of 10", a)
	}
	if got := spent(t, e, "diabetes-2026", "npr"); got != 0 {
		t.Errorf("spent %g after a dry run", got)
	}
	if es, err := e.audit.Tail(ctx, 10); err != nil || len(es) != 0 {
		t.Errorf("audit after a dry run: %v, %v; want nothing", es, err)
	}
	// The real request fails at execution: the dry run did not execute.
	if _, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: sql, Epsilon: 1}); !errors.Is(err, ErrInternal) {
		t.Fatalf("real run with a 1ns timeout: %v, want ErrInternal", err)
	}
	// A refused request is refused as a dry run too, before anything.
	if _, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: "SELECT * FROM npr", DryRun: true}); refusal.CodeOf(err) != refusal.SelectStar {
		t.Errorf("dry run of SELECT *: %v, want %s", err, refusal.SelectStar)
	}
	// A question the budget cannot pay: the dry run says so and costs nothing.
	// Spend until a question at ε 2 no longer fits (zCDP accounting pays
	// for more than basic composition would when parts are Gaussian).
	for i := 0; ; i++ {
		res, err = e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: sql, Epsilon: 2, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Meta.DryRun.Fits || i == 500 {
			break
		}
		e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: sql, Epsilon: 2}) // fails after its debit
	}
	before := spent(t, e, "diabetes-2026", "npr")
	res, err = e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: sql, Epsilon: 2, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Meta.DryRun.Fits || !strings.Contains(strings.Join(res.Meta.Notes, " "), "cannot pay") {
		t.Errorf("dry run over the budget: fits %v, notes %v", res.Meta.DryRun.Fits, res.Meta.Notes)
	}
	if got := spent(t, e, "diabetes-2026", "npr"); got != before {
		t.Errorf("spent %g after a dry run, %g before", got, before)
	}
}
