package benchmarks

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFloodTiny runs a small flood on the test registry: B's queries are
// all answered, A's are answered 200 or 429, never 5xx.
func TestFloodTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an engine and a server")
	}
	d := tiny(t)
	res, err := Flood(context.Background(), &FloodOptions{
		Data: d, Scratch: t.TempDir(), Threads: 2, MaxConcurrent: 2,
		Flooders: 4, Light: 10, HeavyRuns: 1, Limit: time.Minute,
		HeavySQL: `SELECT p.sex, quantile_cont(n.length_of_stay_days, 0.5) AS p50 FROM npr n JOIN population p USING (pid) GROUP BY 1`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Global != 2 || res.PerPrincipal != 2 {
		t.Errorf("limits %d / %d, want 2 / 2", res.Global, res.PerPrincipal)
	}
	if len(res.Alone) != 10 || len(res.Flooded) != 10 || res.LightFailures() != 0 {
		t.Errorf("light queries: %d alone, %d under the flood, statuses %v", len(res.Alone), len(res.Flooded), res.LightStatuses)
	}
	for st := range res.HeavyStatuses {
		if st != http.StatusOK && st != http.StatusTooManyRequests {
			t.Errorf("the flooding principal got status %d: %v", st, res.HeavyStatuses)
		}
	}
	md := (&FloodReport{Command: "flood", Spec: d.Spec, Runs: []*FloodResult{res}}).Markdown()
	if !strings.HasPrefix(md, FloodBegin) || !strings.Contains(md, "| 2 / 2 |") || !strings.HasSuffix(md, FloodEnd+"\n") {
		t.Errorf("report:\n%s", md)
	}
}

func TestWriteFloodSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "RESULTS.md")
	rep := func(cmd string) *FloodReport { return &FloodReport{Command: cmd} }
	if err := os.WriteFile(path, []byte("# results\n\ntext\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"first", "second"} {
		if err := WriteFloodSection(path, rep(cmd)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	if want := "# results\n\ntext\n\n" + rep("second").Markdown(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// Text after the section stays.
	if err := os.WriteFile(path, []byte("a\n"+rep("old").Markdown()+"b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFloodSection(path, rep("new")); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	if want := "a\n" + rep("new").Markdown() + "b\n"; string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
}

func TestLatenciesQuantile(t *testing.T) {
	l := Latencies{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		q    float64
		want float64
	}{{0.5, 5}, {0.95, 10}, {0.9, 9}, {0, 1}, {1, 10}} {
		if got := l.Quantile(tc.q); got != tc.want {
			t.Errorf("Quantile(%g) = %g, want %g", tc.q, got, tc.want)
		}
	}
	if (Latencies{}).Quantile(0.95) != 0 {
		t.Error("empty latencies")
	}
}
