package sqlite

import (
	"context"
	"fmt"
	"testing"

	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/state/statetest"
)

// TestWritesRunPreparedStatements: the first debit, audit append and
// cache put run their statements unprepared; from then on every statement
// of those writes runs prepared on the writer, and what they wrote is
// what unprepared statements write (the chain verifies, the spending adds
// up, the first answer of a key is kept).
func TestWritesRunPreparedStatements(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), nil)
	c, err := budget.NewCost(0.01, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	round := func(i int) {
		t.Helper()
		sp := budget.Spend{QueryID: fmt.Sprint("q", i), Project: "p", Principal: "ingrid", Kind: "sql", Datasets: []string{"a", "b"}, Cost: c}
		if err := s.Ledger().Debit(ctx, sp, admitAll{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Audit().Append(ctx, statetest.Entry(i)); err != nil {
			t.Fatal(err)
		}
		if err := s.Cache().Put(ctx, "p", "key", fmt.Sprint("q", i), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	round(0)
	first := s.unprepared.Load()
	if first < 10 {
		t.Fatalf("the first round ran %d statements unprepared, want every one of them (a dozen or more)", first)
	}
	for i := 1; i < 20; i++ {
		round(i)
	}
	if n := s.unprepared.Load(); n != first {
		t.Errorf("%d statements ran unprepared after the first round", n-first)
	}
	spent, err := s.Ledger().Spent(ctx, "p", "a")
	if err != nil {
		t.Fatal(err)
	}
	if eps := spent.Epsilon(); eps < 0.2-1e-9 || eps > 0.2+1e-9 {
		t.Errorf("spent ε %g on a, want 20 × 0.01", eps)
	}
	rep, err := s.Audit().Verify(ctx)
	if err != nil || !rep.OK || rep.Entries != 20 {
		t.Errorf("audit chain: %+v, %v; want 20 entries that verify", rep, err)
	}
	body, from, ok, err := s.Cache().Get(ctx, "p", "key")
	if err != nil || !ok || string(body) != "0" || from != "q0" {
		t.Errorf("cache: %q from %s (%v, %v); want the first answer, 0 from q0", body, from, ok, err)
	}
}
