package api_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/statgate/statgate/api"
)

// scrape serves the handler's operators' metrics on a loopback listener of
// their own, as `statgate serve --metrics-addr` does, and GETs /metrics
// from it.
func (s *e2eServer) scrape(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- api.ServeListener(ctx, ln, s.h.Metrics(), &api.ServeOptions{ShutdownTimeout: 5 * time.Second})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("metrics listener: %v", err)
		}
	}()
	resp, err := s.client.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics on the metrics listener: status %d: %s", resp.StatusCode, b)
	}
	return string(b)
}
