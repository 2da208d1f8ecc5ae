package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// attackSQL is the shape of the oracle attack of issue 11: a key without a
// public domain, so DP partition selection runs, over a filter that an
// attacker narrows to a handful of persons.
const attackSQL = "SELECT substr(n.icd10, 99) AS g, count(DISTINCT pid) AS n FROM npr n JOIN population p USING (pid) WHERE p.municipality = '0301' AND n.icd10 LIKE 'I10%' GROUP BY 1"

// TestTinyEpsilonIsRefusedBeforeTheDebit: ε below the policy's minimum
// (0.01) is refused before anything runs, whatever the data, and costs
// nothing; the policy's minimum itself is accepted.
func TestTinyEpsilonIsRefusedBeforeTheDebit(t *testing.T) {
	e := openEngine(t, nil)
	ctx := context.Background()
	for _, eps := range []float64{5e-324, 1e-300, 1e-30, 1e-15, 1e-9, 0.0099} {
		t.Run(fmt.Sprint(eps), func(t *testing.T) {
			_, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: attackSQL, Epsilon: eps})
			r, ok := refusal.As(err)
			if !ok || r.Code.String() != "epsilon_too_small" || r.Kind() != refusal.KindQuery {
				t.Fatalf("ε %g: %v, want refusal epsilon_too_small", eps, err)
			}
			if a := lastAudit(t, e); a.Outcome != "refused" || a.Epsilon != 0 || a.Delta != 0 {
				t.Errorf("audit %+v", a)
			}
		})
	}
	for _, d := range []string{"npr", "population"} {
		if got := spent(t, e, "diabetes-2026", d); got != 0 {
			t.Errorf("%s: refused requests spent %g", d, got)
		}
	}
	if _, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: attackSQL, Epsilon: 0.01}); err != nil {
		t.Fatalf("ε at the policy minimum: %v", err)
	}
	if got := spent(t, e, "diabetes-2026", "npr"); got != 0.01 {
		t.Errorf("npr spent %g, want 0.01", got)
	}
}

// TestNonFiniteKeysDoNotFailAfterTheDebit: keys that evaluate to ±Inf or
// NaN become NULL in the bounded SQL, so the query is released (and
// audited) instead of failing after the debit.
func TestNonFiniteKeysDoNotFailAfterTheDebit(t *testing.T) {
	e := openEngine(t, nil)
	for _, sql := range []string{
		"SELECT length_of_stay_days / 0 AS k, count(DISTINCT pid) AS n FROM npr GROUP BY 1",
		"SELECT (length_of_stay_days - length_of_stay_days) / 0 AS k, count(*) AS n FROM npr GROUP BY 1",
		"SELECT exp(length_of_stay_days * 1000) AS k, count(*) AS n FROM npr GROUP BY 1",
		"SELECT sex, avg(birth_year / 0) AS m FROM population GROUP BY 1",
	} {
		res, err := e.Query(context.Background(), ingrid, Request{Project: "diabetes-2026", SQL: sql})
		if err != nil {
			if _, ok := refusal.As(err); !ok {
				t.Errorf("%s\nfailed after the debit: %v", sql, err)
			}
			continue
		}
		if _, err := json.Marshal(res); err != nil {
			t.Errorf("%s\nresult does not encode: %v", sql, err)
		}
		for _, row := range res.Rows {
			for _, c := range row.Cells {
				if f, ok := c.Value.(float64); ok && (f != f || f > 1e308 || f < -1e308) {
					t.Errorf("%s\nreleased a non-finite value %v", sql, f)
				}
			}
		}
		if a := lastAudit(t, e); a.Outcome != "released" {
			t.Errorf("%s\naudit %+v", sql, a)
		}
	}
}

// TestExpensiveQueriesAreRefusedBeforeTheDebit: issue 11's flood query
// (tens of thousands of public groups × 10 quantiles) is refused with
// query_too_expensive and costs nothing; a light one on the same keys runs.
func TestExpensiveQueriesAreRefusedBeforeTheDebit(t *testing.T) {
	e := openEngine(t, nil)
	ctx := context.Background()
	heavy := "SELECT municipality, birth_year, sex"
	for i := 1; i <= 10; i++ {
		heavy += fmt.Sprintf(", quantile_cont(birth_year, %g) AS q%d", float64(i)/11, i)
	}
	heavy += " FROM population GROUP BY 1, 2, 3"
	_, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: heavy})
	if r, ok := refusal.As(err); !ok || r.Code.String() != "query_too_expensive" || r.Kind() != refusal.KindQuery {
		t.Fatalf("heavy query: %v, want query_too_expensive", err)
	}
	if got := spent(t, e, "diabetes-2026", "population"); got != 0 {
		t.Errorf("a refused query spent %g", got)
	}
	if _, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: "SELECT municipality, sex, count(*) AS n FROM population GROUP BY 1, 2"}); err != nil {
		t.Errorf("light query on public keys: %v", err)
	}
}

// TestAuditScope is the regression test of issue 18's audit defect: an
// admin of one project reads that project's entries, not the whole log.
func TestAuditScope(t *testing.T) {
	e := openEngine(t, func(o *Options) {
		cs := o.Policy.Projects["cancer-survival"]
		cs.Members = append(cs.Members, policies.Member{Principal: "onco-admin", Role: "admin"})
	})
	ctx := context.Background()
	for _, r := range []Request{
		{Project: "diabetes-2026", SQL: "SELECT sex, count(*) AS n FROM population GROUP BY 1"},
		{Project: "cancer-survival", SQL: "SELECT stage, count(DISTINCT pid) AS n FROM cancer GROUP BY 1"},
		{Project: "diabetes-2026", SQL: "SELECT * FROM npr"},
	} {
		e.Query(ctx, ingrid, r) // released or refused: every request is audited
	}
	scoped, err := e.Audit(ctx, Principal{Name: "onco-admin"}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(scoped) != 1 || scoped[0].Project != "cancer-survival" {
		t.Errorf("onco-admin sees %d entries (%v), want the one of cancer-survival", len(scoped), scoped)
	}
	all, err := e.Audit(ctx, admin, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[1].Project != "diabetes-2026" || all[0].Project != "cancer-survival" {
		t.Errorf("registry-admin's newest two: %+v", all)
	}
	if _, err := e.Audit(ctx, ingrid, 10); refusal.CodeOf(err).String() != "role_not_allowed" {
		t.Errorf("a researcher reads the audit log: %v", err)
	}
}
