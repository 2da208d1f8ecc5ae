package api

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/result"
)

// blockingEngine returns a fakeEngine whose Query signals started, then
// waits for release (or its context) before answering.
func blockingEngine(started chan<- struct{}, release <-chan struct{}) *fakeEngine {
	return &fakeEngine{queryFn: func(ctx context.Context, _ engine.Principal, _ engine.Request) (*result.Result, error) {
		close(started)
		select {
		case <-release:
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return sampleResult(), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
}

// startServer serves ts on a loopback port until the returned cancel is called.
func startServer(t *testing.T, ts *testServer, shutdown time.Duration) (url string, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	ln := listenLoopback(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- ServeListener(ctx, ln, ts.h, &ServeOptions{ShutdownTimeout: shutdown}) }()
	t.Cleanup(cancel)
	return "http://" + ln.Addr().String(), cancel, errc
}

// postQuery posts the sample query in the background and reports the status.
func postQuery(url string) <-chan int {
	out := make(chan int, 1)
	go func() {
		r, err := http.NewRequest(http.MethodPost, url+"/v1/query", strings.NewReader(sampleQuery))
		if err != nil {
			out <- -1
			return
		}
		r.Header.Set("Authorization", "Bearer tok-ingrid")
		r.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			out <- -1
			return
		}
		resp.Body.Close()
		out <- resp.StatusCode
	}()
	return out
}

func TestServeFinishesInFlightRequests(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	ts := newTestServer(t, blockingEngine(started, release), nil)
	url, cancel, done := startServer(t, ts, 10*time.Second)

	status := postQuery(url)
	<-started
	cancel()

	waitDraining(t, ts, url)
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v before the in-flight request finished", err)
	default:
	}
	close(release)
	if got := <-status; got != http.StatusOK {
		t.Errorf("in-flight request: status %d, want 200", got)
	}
	waitReturned(t, "Serve", done)
}

// waitDraining waits up to 5 s for ts's handler to drain and url to stop
// accepting connections, as they do once the server's context ends.
func waitDraining(t *testing.T, ts *testServer, url string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ts.h.Draining() || dialable(url) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts connections (draining %v)", url, ts.h.Draining())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitReturned waits up to 5 s for the serve function named name to
// return on done, and fails t unless it returned nil.
func waitReturned(t *testing.T, name string, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not return", name)
	}
}

func TestServeBoundsTheWait(t *testing.T) {
	started := make(chan struct{})
	ts := newTestServer(t, blockingEngine(started, make(chan struct{})), nil)
	url, cancel, done := startServer(t, ts, 100*time.Millisecond)

	status := postQuery(url)
	<-started
	begin := time.Now()
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "cut off") {
			t.Errorf("Serve: %v; want an error saying requests were cut off", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve waited past its shutdown timeout")
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("shutdown took %s", d)
	}
	<-status
}

func TestServeBadAddress(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	if err := Serve(context.Background(), "127.0.0.1:99999", ts.h, nil); err == nil {
		t.Fatal("Serve on an invalid port returned nil")
	}
}

// listenLoopback listens on a free loopback port.
func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// dialable reports whether a TCP connection to url's host succeeds.
func dialable(url string) bool {
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), 100*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// get GETs url and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestServeWithMetrics(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	ts := newTestServer(t, blockingEngine(started, release), nil)
	ln := listenLoopback(t)
	mln := listenLoopback(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serveBoth(ctx, ln, mln, ts.h, &ServeOptions{ShutdownTimeout: 10 * time.Second}) }()
	apiURL, metricsURL := "http://"+ln.Addr().String(), "http://"+mln.Addr().String()

	if code, body := get(t, apiURL+"/metrics"); code != http.StatusNotFound || strings.Contains(body, "statgate_") {
		t.Errorf("public /metrics: %d %s", code, body)
	}
	if code, body := get(t, metricsURL+"/metrics"); code != http.StatusOK || !strings.Contains(body, "statgate_epsilon_charged_total 0") {
		t.Errorf("operators' /metrics: %d %s", code, body)
	}
	if code, _ := get(t, metricsURL+"/v1/datasets"); code != http.StatusNotFound {
		t.Errorf("the metrics listener serves the API: %d", code)
	}

	// While the API drains a request in flight, the metrics still answer.
	status := postQuery(apiURL)
	<-started
	cancel()
	waitDraining(t, ts, apiURL)
	if code, _ := get(t, metricsURL+"/metrics"); code != http.StatusOK {
		t.Errorf("metrics while draining: %d", code)
	}
	close(release)
	if got := <-status; got != http.StatusOK {
		t.Errorf("in-flight request: status %d", got)
	}
	waitReturned(t, "serveBoth", done)
	if dialable(metricsURL) {
		t.Error("the metrics listener is still open")
	}
}

func TestServeWithMetricsFailures(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	taken := listenLoopback(t)
	defer taken.Close()
	if err := ServeWithMetrics(context.Background(), "127.0.0.1:0", taken.Addr().String(), ts.h, nil); err == nil || !strings.Contains(err.Error(), "metrics") {
		t.Errorf("ServeWithMetrics on a taken metrics port = %v, want a metrics error", err)
	}

	// A metrics server that fails takes the API down with it.
	ln := listenLoopback(t)
	mln := listenLoopback(t)
	done := make(chan error, 1)
	go func() { done <- serveBoth(context.Background(), ln, mln, ts.h, nil) }()
	apiURL := "http://" + ln.Addr().String()
	for deadline := time.Now().Add(5 * time.Second); !dialable(apiURL); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the API never listened")
		}
	}
	mln.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "metrics") {
			t.Errorf("serveBoth after the metrics listener failed = %v, want a metrics error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serveBoth kept serving after its metrics listener failed")
	}
}
