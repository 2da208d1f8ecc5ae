package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/statgate/statgate/api"
	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/result"
)

// ledgerOnlySQL is the query ledgerEngine answers with a debit of its own.
const ledgerOnlySQL = "-- the ledger's refusal"

// ledgerEngine answers ledgerOnlySQL with the error of debit, the
// refusal the ledger itself returns, as the engine would when its debit
// fails; other requests go to the engine.
type ledgerEngine struct {
	api.Engine
	debit func(context.Context) error
}

func (e *ledgerEngine) Query(ctx context.Context, p engine.Principal, r engine.Request) (*result.Result, error) {
	if r.SQL == ledgerOnlySQL {
		return nil, fmt.Errorf("engine.Query: %w", e.debit(ctx))
	}
	return e.Engine.Query(ctx, p, r)
}

// TestE2EOneStatusPerCode asks every stage that refuses with the same
// code and checks the code has one status. Regression test for issue 18:
// dataset_not_in_project was 422 from the query checker and cohort
// criteria but 403 from the ledger; unknown_dataset 422 from the checker
// but 404 from GET /v1/datasets/{name}.
func TestE2EOneStatusPerCode(t *testing.T) {
	le := &ledgerEngine{}
	s := startE2E(t, e2eConfig{wrap: func(e api.Engine) api.Engine { le.Engine = e; return le }})
	book, err := budget.NewBook(budget.PolicyLimits(e2ePolicy(t, 0)), budget.Basic{})
	if err != nil {
		t.Fatal(err)
	}
	cost, err := budget.NewCost(0.5, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	le.debit = func(ctx context.Context) error {
		// diabetes-2026 has no budget for cancer.
		return s.store.Ledger().Debit(ctx, budget.Spend{Project: "diabetes-2026", Datasets: []string{"cancer"}, Cost: cost}, book)
	}
	cohort := func(dataset string) string {
		return fmt.Sprintf(`{"project":"diabetes-2026","include":[{"dataset":%q}]}`, dataset)
	}
	// stage is one stage that refuses, and the request it refuses.
	type stage struct {
		name string
		call call
	}
	tests := []struct {
		code       string
		wantStatus int
		stages     []stage
	}{
		{"dataset_not_in_project", http.StatusForbidden, []stage{
			{"query checker", call{method: http.MethodPost, path: "/v1/query", as: researcher, body: queryBody(t, "diabetes-2026", "SELECT count(*) AS n FROM cancer", 0)}},
			{"cohort", call{method: http.MethodPost, path: "/v1/cohorts/estimate", as: researcher, body: cohort("cancer")}},
			{"ledger", call{method: http.MethodPost, path: "/v1/query", as: researcher, body: queryBody(t, "diabetes-2026", ledgerOnlySQL, 0)}},
		}},
		{"unknown_dataset", http.StatusNotFound, []stage{
			{"query checker", call{method: http.MethodPost, path: "/v1/query", as: researcher, body: queryBody(t, "diabetes-2026", "SELECT count(*) AS n FROM kpr", 0)}},
			{"cohort", call{method: http.MethodPost, path: "/v1/cohorts/estimate", as: researcher, body: cohort("kpr")}},
			{"dataset handler", call{method: http.MethodGet, path: "/v1/datasets/kpr", as: researcher}},
		}},
	}
	for _, tc := range tests {
		for _, st := range tc.stages {
			t.Run(tc.code+"/"+st.name, func(t *testing.T) {
				p := problem(t, s.must(t, st.call, tc.wantStatus))
				if p.Code != tc.code {
					t.Errorf("code %q, want %q (%s)", p.Code, tc.code, p.Detail)
				}
			})
		}
	}
	if b := s.budget(t, "diabetes-2026"); b["npr"].Spent != 0 {
		t.Errorf("refused requests spent %+v", b)
	}
}
