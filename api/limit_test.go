package api

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/result"
)

// running returns the limiter's slots in use in all and by principal.
func (l *limiter) running(principal string) (all, own int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inUse, l.held[principal]
}

func TestLimiter(t *testing.T) {
	// step acquires a slot for who ("-a": gives back a's oldest slot).
	type step struct {
		who  string
		want limitVerdict
	}
	tests := []struct {
		desc                 string
		global, perPrincipal int
		steps                []step
	}{
		{desc: "per-principal before global", global: 4, perPrincipal: 2, steps: []step{
			{"a", granted}, {"a", granted}, {"a", overPrincipal}, {"b", granted}, {"c", granted},
			{"a", overPrincipal}, {"b", overGlobal}, {"d", overGlobal}}},
		{desc: "the last slot is kept for a newcomer", global: 3, perPrincipal: 3, steps: []step{
			{"a", granted}, {"a", granted}, {"a", overReserve}, {"b", granted}, {"b", overGlobal}}},
		{desc: "two slots, two principals", global: 2, perPrincipal: 2, steps: []step{
			{"a", granted}, {"a", overReserve}, {"b", granted}, {"b", overGlobal}, {"c", overGlobal}}},
		{desc: "release frees a slot", global: 2, perPrincipal: 2, steps: []step{
			{"a", granted}, {"b", granted}, {"-a", granted}, {"c", granted}, {"a", overGlobal}}},
		{desc: "release frees the principal's share", global: 8, perPrincipal: 2, steps: []step{
			{"a", granted}, {"a", granted}, {"a", overPrincipal}, {"-a", granted}, {"a", granted}}},
		{desc: "one slot", global: 1, perPrincipal: 2, steps: []step{
			{"a", granted}, {"a", overGlobal}, {"b", overGlobal}, {"-a", granted}, {"b", granted}}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			l := newLimiter(tc.global, tc.perPrincipal)
			releases := map[string][]func(){}
			for i, s := range tc.steps {
				if s.who[0] == '-' {
					who := s.who[1:]
					releases[who][0]()
					releases[who][0]() // a second call is a no-op
					releases[who] = releases[who][1:]
					continue
				}
				rel, v := l.acquire(s.who)
				if v != s.want {
					t.Fatalf("step %d (%s): verdict %d, want %d", i, s.who, v, s.want)
				}
				if (rel != nil) != (v == granted) {
					t.Fatalf("step %d: release %v with verdict %d", i, rel != nil, v)
				}
				if rel != nil {
					releases[s.who] = append(releases[s.who], rel)
				}
			}
			for _, rs := range releases {
				for _, rel := range rs {
					rel()
				}
			}
			if all, _ := l.running(""); all != 0 || len(l.held) != 0 {
				t.Errorf("after releasing everything: %d in use, held %v", all, l.held)
			}
		})
	}
}

// TestLimiterConcurrent hammers one limiter from many goroutines and
// checks that no limit is ever exceeded and every slot comes back.
func TestLimiterConcurrent(t *testing.T) {
	const global, perPrincipal = 5, 2
	l := newLimiter(global, perPrincipal)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		grants int
	)
	for g := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := string(rune('a' + g%4))
			for range 500 {
				rel, v := l.acquire(who)
				if rel == nil {
					continue
				}
				all, own := l.running(who)
				if all > global || own > perPrincipal || v != granted {
					t.Errorf("%s: %d running in all, %d own", who, all, own)
				}
				mu.Lock()
				grants++
				mu.Unlock()
				rel()
			}
		}()
	}
	wg.Wait()
	if all, _ := l.running(""); all != 0 || len(l.held) != 0 {
		t.Errorf("after the run: %d in use, held %v", all, l.held)
	}
	if grants == 0 {
		t.Error("no acquire succeeded")
	}
}

// gatedEngine is a fakeEngine whose queries by principal hold signal
// started and wait for release; other principals are answered at once.
func gatedEngine(hold string, started chan<- struct{}, release <-chan struct{}) *fakeEngine {
	return &fakeEngine{queryFn: func(ctx context.Context, p engine.Principal, _ engine.Request) (*result.Result, error) {
		if p.Name != hold {
			return sampleResult(), nil
		}
		started <- struct{}{}
		select {
		case <-release:
			return sampleResult(), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
}

// TestExecutionLimits holds two queries of ingrid in the engine: her third
// query, template run and cohort get 429 with Retry-After without reaching
// the engine, her non-executing requests and another principal's query
// still succeed, and once hers finish she can query again.
func TestExecutionLimits(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	eng := gatedEngine("ingrid", started, release)
	ts := newTestServer(t, eng, func(o *Options) { o.MaxConcurrentQueries, o.MaxQueriesPerPrincipal = 3, 2 })
	query := req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: sampleQuery}

	held := make(chan int, 2)
	for range 2 {
		go func() { held <- ts.do(query).Code }()
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("a held query did not reach the engine")
		}
	}
	calls := eng.queryCalls()
	for _, r := range []req{
		query,
		{method: "POST", path: "/v1/templates/prescriptions_by_atc_year/run", token: "tok-ingrid", body: `{"project":"diabetes-2026"}`},
		{method: "POST", path: "/v1/cohorts/estimate", token: "tok-ingrid", body: `{"project":"diabetes-2026","include":[{"dataset":"npr","where":"true"}]}`},
	} {
		w := ts.do(r)
		if w.Code != http.StatusTooManyRequests {
			t.Fatalf("%s: status %d, want 429; body %s", r.path, w.Code, w.Body)
		}
		if got := w.Header().Get("Retry-After"); got != "1" {
			t.Errorf("%s: Retry-After %q, want 1", r.path, got)
		}
		if p := decodeProblem(t, w); p.Code != "too_many_requests" || p.Hint == "" {
			t.Errorf("%s: problem %+v", r.path, p)
		}
	}
	if got := eng.queryCalls(); got != calls {
		t.Errorf("refused requests reached the engine: %d calls, want %d", got, calls)
	}
	if w := ts.do(req{method: "GET", path: "/v1/datasets", token: "tok-ingrid"}); w.Code != http.StatusOK {
		t.Errorf("GET /v1/datasets while at the limit: %d, want 200", w.Code)
	}
	if w := ts.do(req{method: "POST", path: "/v1/query", token: "tok-admin", body: sampleQuery}); w.Code != http.StatusOK {
		t.Errorf("another principal's query: %d, want 200; body %s", w.Code, w.Body)
	}
	if !strings.Contains(ts.log.String(), `"refusal":"too_many_requests"`) {
		t.Error("the access log does not name the refusal")
	}

	close(release)
	for range 2 {
		if code := <-held; code != http.StatusOK {
			t.Errorf("held query: %d, want 200", code)
		}
	}
	go func() { <-started }() // the next query of ingrid passes the gate at once
	if w := ts.do(query); w.Code != http.StatusOK {
		t.Errorf("query after the held ones finished: %d, want 200", w.Code)
	}
	if all, _ := ts.h.limit.running(""); all != 0 {
		t.Errorf("%d slots still in use", all)
	}
}

// TestGlobalLimitKeepsASlot: with two slots, one principal gets one and
// the other principal the second.
func TestGlobalLimitKeepsASlot(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	ts := newTestServer(t, gatedEngine("ingrid", started, release), func(o *Options) { o.MaxConcurrentQueries = 2 })
	query := req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: sampleQuery}
	held := make(chan int, 1)
	go func() { held <- ts.do(query).Code }()
	<-started
	w := ts.do(query)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("second query of one principal with 2 slots: %d, want 429 with Retry-After", w.Code)
	}
	if w := ts.do(req{method: "POST", path: "/v1/query", token: "tok-admin", body: sampleQuery}); w.Code != http.StatusOK {
		t.Errorf("another principal's query: %d, want 200", w.Code)
	}
	close(release)
	if code := <-held; code != http.StatusOK {
		t.Errorf("held query: %d", code)
	}
}

// TestLimitReleasedOnPanic: a panic in the engine is a 500 and gives the slot back.
func TestLimitReleasedOnPanic(t *testing.T) {
	eng := &fakeEngine{queryFn: func(context.Context, engine.Principal, engine.Request) (*result.Result, error) {
		panic("engine bug")
	}}
	ts := newTestServer(t, eng, func(o *Options) { o.MaxConcurrentQueries, o.MaxQueriesPerPrincipal = 1, 1 })
	for i := range 3 {
		w := ts.do(req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: sampleQuery})
		if w.Code != http.StatusInternalServerError {
			t.Fatalf("request %d: status %d, want 500 (not 429: the slot must come back)", i, w.Code)
		}
	}
	if all, _ := ts.h.limit.running(""); all != 0 {
		t.Errorf("%d slots in use after panics", all)
	}
}

func TestLimitOptions(t *testing.T) {
	for _, o := range []Options{{MaxConcurrentQueries: -1}, {MaxQueriesPerPrincipal: -1}} {
		o.Engine, o.Auth = &fakeEngine{}, fakeAuth{}
		if _, err := New(&o); err == nil {
			t.Errorf("New accepted %d, %d", o.MaxConcurrentQueries, o.MaxQueriesPerPrincipal)
		}
	}
	h, err := New(&Options{Engine: &fakeEngine{}, Auth: fakeAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	if h.limit.global != max(runtime.NumCPU(), 2) || h.limit.perPrincipal != DefaultMaxQueriesPerPrincipal {
		t.Errorf("defaults: global %d, per principal %d", h.limit.global, h.limit.perPrincipal)
	}
}

func TestDefaultMaxConcurrentQueries(t *testing.T) {
	for _, tc := range []struct{ threads, want int }{
		{threads: 1, want: 2}, {threads: 2, want: 2}, {threads: 8, want: 8}, {threads: 0, want: max(runtime.NumCPU(), 2)},
	} {
		if got := DefaultMaxConcurrentQueries(tc.threads); got != tc.want {
			t.Errorf("DefaultMaxConcurrentQueries(%d) = %d, want %d", tc.threads, got, tc.want)
		}
	}
}
