package admit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWeight(t *testing.T) {
	g := New(1600)
	for est, want := range map[int64]int64{0: 0, 99: 0, 100: 100, 800: 800, 1600: 1600, 1 << 40: 1600} {
		if got := g.Weight(est); got != want {
			t.Errorf("Weight(%d) = %d, want %d", est, got, want)
		}
	}
	var none *Gate
	if none.Weight(1<<40) != 0 || New(0).Weight(1<<40) != 0 {
		t.Error("a nil or unlimited gate weighs a plan")
	}
	if Estimate(10_000_000) != 10_000_000*BytesPerRow || Estimate(-1) != 0 {
		t.Error("Estimate is not rows × BytesPerRow")
	}
}

// TestBigPlansTakeTurns: plans whose estimates add up past the capacity
// never run at once, small plans pass while a big one runs, and a plan
// that gives up waiting holds nothing.
func TestBigPlansTakeTurns(t *testing.T) {
	const capacity = 1 << 30
	g := New(capacity)
	ctx := context.Background()
	var running, most atomic.Int64
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			done, err := g.Acquire(ctx, capacity*2/3)
			if err != nil {
				t.Error(err)
				return
			}
			n := running.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(5 * time.Millisecond)
			running.Add(-1)
			done()
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d plans of ⅔ the capacity ran at once, want 1", most.Load())
	}

	done, err := g.Acquire(ctx, capacity)
	if err != nil {
		t.Fatal(err)
	}
	small, err := g.Acquire(ctx, capacity/SmallShare-1)
	if err != nil {
		t.Fatalf("a small plan waited behind a big one: %v", err)
	}
	small()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := g.Acquire(wctx, capacity/2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a plan waiting past its deadline: %v, want DeadlineExceeded", err)
	}
	done()
	// The plan that gave up holds nothing: the whole capacity is free.
	all, err := g.Acquire(ctx, capacity)
	if err != nil {
		t.Fatal(err)
	}
	all()
}
