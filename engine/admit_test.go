package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/statgate/statgate/engine/admit"
)

// TestAdmissionWaitsBeforeTheDebit: a plan that does not fit in DuckDB's
// memory limit beside the plans running waits for them before anything
// is debited; one that gives up waiting has spent nothing and is no
// internal error; once there is room it runs and pays.
func TestAdmissionWaitsBeforeTheDebit(t *testing.T) {
	e := openEngine(t, nil)
	if e.gate.Capacity() <= 0 {
		t.Fatalf("gate capacity %d: the engine did not read DuckDB's memory limit", e.gate.Capacity())
	}
	// A capacity the test extract's npr outweighs, held by a "running" plan.
	const capacity = 1000
	e.gate = admit.New(capacity)
	x, release, err := e.acquire()
	if err != nil {
		t.Fatal(err)
	}
	if w := e.gate.Weight(admit.Estimate(x.sizes["npr"])); w != capacity {
		release()
		t.Fatalf("npr's plan weighs %d, want the whole capacity %d", w, capacity)
	}
	release()
	running, err := e.gate.Acquire(context.Background(), capacity)
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Project: "diabetes-2026", SQL: "SELECT contact_type, count(*) AS n FROM npr GROUP BY 1"}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = e.Query(ctx, ingrid, req)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrInternal) || ChargedEpsilon(err) != 0 {
		t.Fatalf("a request waiting past its deadline: %v (charged %g), want DeadlineExceeded before any debit", err, ChargedEpsilon(err))
	}
	if got := spent(t, e, "diabetes-2026", "npr"); got != 0 {
		t.Errorf("a request that never ran spent %g", got)
	}
	if a := lastAudit(t, e); a.Outcome != "failed" || a.Epsilon != 0 {
		t.Errorf("audit = %+v, want failed with nothing charged", a)
	}
	// It runs once the running plan is done.
	answered := make(chan error, 1)
	go func() {
		_, err := e.Query(context.Background(), ingrid, req)
		answered <- err
	}()
	select {
	case err := <-answered:
		t.Fatalf("answered while the memory was taken: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	running()
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	if got := spent(t, e, "diabetes-2026", "npr"); got <= 0 {
		t.Errorf("the admitted request spent %g", got)
	}
}
