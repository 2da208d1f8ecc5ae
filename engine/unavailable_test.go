package engine

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/state"
	"github.com/statgate/statgate/policies"
)

// downStore is a state store whose ledger cannot be reached, as a shared
// PostgreSQL that went away: every debit fails.
type downStore struct{ state.Store }

func (d downStore) Ledger() state.Ledger { return downLedger{d.Store.Ledger()} }

type downLedger struct{ state.Ledger }

func (downLedger) Debit(context.Context, budget.Spend, state.Admitter) error {
	return errors.New("dial tcp 10.0.0.7:5432: connect: connection refused")
}

// TestUnreachableStateFailsClosed: when the ledger cannot record the
// debit, nothing runs and nothing is released, and the error says the
// store (not the request) failed, which the API answers 503.
func TestUnreachableStateFailsClosed(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(exec.ExtractsPath(loadedDir))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exec.ExtractsPath(dir), src, 0o600); err != nil {
		t.Fatal(err)
	}
	pol, err := policies.Load(policyPath)
	if err != nil {
		t.Fatal(err)
	}
	st := openState(t, dir)
	e, err := New(context.Background(), &Options{Policy: pol, DataDir: dir, Threads: 2, State: downStore{st}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	res, err := e.Query(context.Background(), ingrid, Request{Project: "diabetes-2026",
		SQL: "SELECT p.sex AS sex, count(DISTINCT pid) AS persons FROM npr n JOIN population p USING (pid) GROUP BY 1"})
	if res != nil {
		t.Fatalf("released %+v without a durable debit", res)
	}
	if !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("Query = %v, want state.ErrUnavailable", err)
	}
	if got := spent(t, e, "diabetes-2026", "npr"); got != 0 {
		t.Errorf("npr spent %g, want 0", got)
	}
	if a := lastAudit(t, e); a.Outcome != "failed" || a.Epsilon != 0 || a.ResultDigest != "" {
		t.Errorf("audit = %+v, want a failure with nothing debited or released", a)
	}
}
