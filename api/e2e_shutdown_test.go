package api_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/statgate/statgate/api"
	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/result"
)

// holdingEngine passes every call to the real engine, except that once
// armed it holds the next Query until released: a request in flight.
type holdingEngine struct {
	api.Engine
	armed   atomic.Bool
	started chan struct{}
	release chan struct{}
}

func (h *holdingEngine) Query(ctx context.Context, p engine.Principal, r engine.Request) (*result.Result, error) {
	if h.armed.CompareAndSwap(true, false) {
		close(h.started)
		<-h.release
	}
	return h.Engine.Query(ctx, p, r)
}

// TestE2EGracefulShutdown drains the server while a query is in flight:
// /readyz and new requests answer 503 (the probes and the operators'
// metrics keep working), the query in flight is answered in full, and
// once the serve context ends the server stops listening and returns
// cleanly.
func TestE2EGracefulShutdown(t *testing.T) {
	hold := &holdingEngine{started: make(chan struct{}), release: make(chan struct{})}
	s := startE2E(t, e2eConfig{wrap: func(e api.Engine) api.Engine { hold.Engine = e; return hold }})
	s.must(t, call{method: http.MethodGet, path: "/readyz"}, http.StatusOK)

	hold.armed.Store(true)
	inFlight := make(chan reply, 1)
	body := queryBody(t, "diabetes-2026", contactsSQL, 0.5)
	go func() {
		r, err := s.do(call{method: http.MethodPost, path: "/v1/query", as: researcher, body: body})
		if err != nil {
			r.status = -1
		}
		inFlight <- r
	}()
	select {
	case <-hold.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the query never reached the engine")
	}

	s.h.Drain() // what ServeListener does first when its context ends
	tests := []struct {
		desc   string
		c      call
		status int
	}{
		{"readyz", call{method: http.MethodGet, path: "/readyz"}, http.StatusServiceUnavailable},
		{"new query", call{method: http.MethodPost, path: "/v1/query", as: researcher, body: queryBody(t, "diabetes-2026", contactsSQL, 0.5)}, http.StatusServiceUnavailable},
		{"data map", call{method: http.MethodGet, path: "/v1/datasets", as: researcher}, http.StatusServiceUnavailable},
		{"healthz", call{method: http.MethodGet, path: "/healthz"}, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			r := s.must(t, tc.c, tc.status)
			if tc.status != http.StatusServiceUnavailable {
				return
			}
			if p := problem(t, r); p.Code != "shutting_down" {
				t.Errorf("code %q, want shutting_down", p.Code)
			}
			if tc.c.path != "/readyz" && r.header.Get("Retry-After") == "" {
				t.Error("a request refused while draining has no Retry-After")
			}
		})
	}
	t.Run("metrics", func(t *testing.T) { s.scrape(t) })

	s.cancel() // the server closes its listener and waits for the query
	addr := strings.TrimPrefix(s.url, "http://")
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections after its context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-s.stopped:
		t.Fatalf("the server returned (%v) before its request in flight was answered", s.serveErr)
	default:
	}

	close(hold.release)
	r := <-inFlight
	if r.status != http.StatusOK {
		t.Fatalf("the query in flight got status %d: %s", r.status, r.body)
	}
	res := decodeResult(t, r)
	if len(res.Rows) != 3 || res.Meta.Epsilon != 0.5 {
		t.Errorf("the query in flight got %d rows, ε %g", len(res.Rows), res.Meta.Epsilon)
	}
	select {
	case <-s.stopped:
		if s.serveErr != nil {
			t.Errorf("ServeListener: %v", s.serveErr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not return after its last request")
	}
	// Only the query in flight reached the engine.
	if o := s.verifyAudit(t); o["released"] != 1 || len(o) != 1 {
		t.Errorf("audit outcomes %v, want the one query in flight", o)
	}
}
