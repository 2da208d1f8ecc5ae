package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestE2EBudgetRunsOutMidSession spends a diabetes-2026 budget of ε 2 on
// npr at ε 0.5 a query: four queries are answered, the fifth is refused
// with 409 and debits nothing, on npr or on any other dataset it reads,
// while datasets with budget left still answer.
func TestE2EBudgetRunsOutMidSession(t *testing.T) {
	s := startE2E(t, e2eConfig{diabetesEpsilon: 2})
	released, refused := 0, 0
	for i := 1; i <= 4; i++ {
		r := s.must(t, call{method: http.MethodPost, path: "/v1/query", as: researcher,
			body: queryBody(t, "diabetes-2026", contactsSQL, 0.5)}, http.StatusOK)
		if res := decodeResult(t, r); res.Meta.Epsilon != 0.5 {
			t.Fatalf("query %d spent ε %g, want 0.5", i, res.Meta.Epsilon)
		}
		released++
	}
	if b := s.budget(t, "diabetes-2026")["npr"]; b.Spent != 2 || b.Remaining != 0 || b.Total != 2 {
		t.Fatalf("npr budget after four queries: %+v", b)
	}

	tests := []struct {
		desc string
		sql  string
		eps  float64
	}{
		{"fifth query", contactsSQL, 0.5},
		{"a smaller ε", contactsSQL, 0.1},
		{"npr joined with population, which has budget left", "SELECT p.sex AS sex, count(DISTINCT pid) AS persons FROM npr n JOIN population p USING (pid) GROUP BY 1", 0.5},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			r := s.must(t, call{method: http.MethodPost, path: "/v1/query", as: researcher,
				body: queryBody(t, "diabetes-2026", tc.sql, tc.eps)}, http.StatusConflict)
			refused++
			p := problem(t, r)
			if p.Title != "Privacy budget exhausted" || p.Hint == "" {
				t.Errorf("problem %+v", p)
			}
		})
	}

	// Budgets are per project × dataset: lmr still answers.
	r := s.must(t, call{method: http.MethodPost, path: "/v1/query", as: researcher,
		body: queryBody(t, "diabetes-2026", "SELECT prescriber_type, count(*) AS n FROM lmr GROUP BY 1", 0.5)}, http.StatusOK)
	decodeResult(t, r)
	released++

	want := map[string]float64{"npr": 2, "lmr": 0.5, "population": 0, "death_causes": 0}
	got := s.budget(t, "diabetes-2026")
	for d, spent := range want {
		if got[d].Spent != spent || got[d].Remaining != 2-spent {
			t.Errorf("%s: %+v, want spent %g and remaining %g", d, got[d], spent, 2-spent)
		}
	}
	if o := s.verifyAudit(t); o["released"] != released || o["refused"] != refused || len(o) != 2 {
		t.Errorf("audit outcomes %v, want %d released and %d refused", o, released, refused)
	}
}

// TestE2EConcurrentClients has 50 clients post 3 queries each at ε 0.1
// against an npr budget of ε 5: exactly 50 of the 150 are answered, the
// rest refused with 409, none fails, and the ledger holds exactly the budget.
// The execution limits are raised so that all 50 run at once (the limits
// themselves are tested in limit_test.go).
func TestE2EConcurrentClients(t *testing.T) {
	const (
		clients   = 50
		perClient = 3
		budget    = 5.0
		eps       = 0.1
		answered  = 50 // budget / eps
	)
	// Basic accounting: the budget is spent in exactly 50 equal steps.
	s := startE2E(t, e2eConfig{diabetesEpsilon: budget, maxQueries: 2 * clients, accounting: "basic"})
	body := queryBody(t, "diabetes-2026", contactsSQL, eps)

	type outcome struct {
		status  int
		queryID string
		err     error
	}
	out := make(chan outcome, clients*perClient)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < perClient; i++ {
				r, err := s.do(call{method: http.MethodPost, path: "/v1/query", as: researcher, body: body})
				o := outcome{status: r.status, err: err}
				if err == nil && r.status == http.StatusOK {
					o.queryID = r.header.Get("Statgate-Query-Id")
				}
				out <- o
			}
		}()
	}
	close(start)
	wg.Wait()
	close(out)

	statuses := map[int]int{}
	ids := map[string]bool{}
	for o := range out {
		if o.err != nil {
			t.Errorf("transport error: %v", o.err)
			continue
		}
		statuses[o.status]++
		if o.status == http.StatusOK {
			if o.queryID == "" || ids[o.queryID] {
				t.Errorf("answered query has id %q (duplicate or missing)", o.queryID)
			}
			ids[o.queryID] = true
		}
	}
	want := map[int]int{http.StatusOK: answered, http.StatusConflict: clients*perClient - answered}
	if fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}

	b := s.budget(t, "diabetes-2026")["npr"]
	if b.Spent != budget || b.Remaining != 0 {
		t.Errorf("npr budget %+v, want exactly %g spent and nothing remaining", b, budget)
	}
	if o := s.verifyAudit(t); o["released"] != answered || o["refused"] != clients*perClient-answered || len(o) != 2 {
		t.Errorf("audit outcomes %v, want %d released and %d refused", o, answered, clients*perClient-answered)
	}
}

// TestE2EFailedExecution makes every execution time out in the engine
// (after the debit): the answer is a 504 problem that says nothing about
// the internal error, the debit is kept and the audit log records the
// failure.
func TestE2EFailedExecution(t *testing.T) {
	s := startE2E(t, e2eConfig{queryTimeout: 1}) // 1ns
	r, err := s.do(call{method: http.MethodPost, path: "/v1/query", as: researcher, body: queryBody(t, "diabetes-2026", contactsSQL, 0.5)})
	if err != nil {
		t.Fatal(err)
	}
	p := problem(t, r)
	if r.status != http.StatusGatewayTimeout || p.Code != "timeout" {
		t.Errorf("status %d, code %q; want 504 timeout", r.status, p.Code)
	}
	for _, internal := range []string{"deadline", "engine", "execute", "duckdb"} {
		if strings.Contains(strings.ToLower(p.Detail+p.Hint), internal) {
			t.Errorf("the problem reveals internal error text (%q): %+v", internal, p)
		}
	}
	if b := s.budget(t, "diabetes-2026")["npr"]; b.Spent != 0.5 {
		t.Errorf("npr spent %g after a failed execution, want the debit of 0.5 kept", b.Spent)
	}
	if o := s.verifyAudit(t); o["failed"] != 1 || len(o) != 1 {
		t.Errorf("audit outcomes %v, want one failed", o)
	}
}
