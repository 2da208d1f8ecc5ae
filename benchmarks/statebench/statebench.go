// Package statebench measures the state stores side by side: the latency
// of one budget debit (the durable write every released answer waits
// for) and debits per second from concurrent writers, on the SQLite file
// and on PostgreSQL, in the same run on the same machine. The served
// throughput next to them comes from benchmarks/load run on each backend
// (benchmarks/cmd/state puts both in RESULTS.md).
package statebench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/state"
)

// admitAll admits every debit: the benchmark measures the store, not the
// budget rule.
type admitAll struct{}

func (admitAll) Admit(budget.Spend, map[budget.Account]budget.Standing) error { return nil }

// Debits is one backend's debit measurement.
type Debits struct {
	Backend string
	// Latencies are the sequential debits' times in seconds, sorted.
	Latencies []float64
	// Writers is the number of concurrent writers of the throughput run;
	// PerSecond is the debits per second they recorded together.
	Writers   int
	PerSecond float64
}

// Quantile returns the q-quantile of the sequential latencies (0 when none).
func (d *Debits) Quantile(q float64) float64 {
	if len(d.Latencies) == 0 {
		return 0
	}
	i := int(q * float64(len(d.Latencies)-1))
	return d.Latencies[i]
}

// spend is one debit of a typical two-dataset question.
func spend(i int) (budget.Spend, error) {
	c, err := budget.NewCost(0.001, 1e-9, 0)
	if err != nil {
		return budget.Spend{}, err
	}
	return budget.Spend{QueryID: fmt.Sprintf("q_%d", i), Project: "bench", Principal: "bench",
		Datasets: []string{"npr", "population"}, Cost: c}, nil
}

// MeasureDebits times n sequential debits on st, then n more from writers
// concurrent goroutines.
func MeasureDebits(ctx context.Context, backend string, st state.Store, n, writers int) (*Debits, error) {
	l := st.Ledger()
	d := &Debits{Backend: backend, Writers: writers}
	for i := range n {
		s, err := spend(i)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		if err := l.Debit(ctx, s, admitAll{}); err != nil {
			return nil, fmt.Errorf("statebench: %s: debit: %w", backend, err)
		}
		d.Latencies = append(d.Latencies, time.Since(start).Seconds())
	}
	slices.Sort(d.Latencies)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ferr error
	)
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			for i := w; i < n; i += writers {
				s, err := spend(n + i)
				if err == nil {
					err = l.Debit(ctx, s, admitAll{})
				}
				if err != nil {
					mu.Lock()
					ferr = err
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if ferr != nil {
		return nil, fmt.Errorf("statebench: %s: concurrent debit: %w", backend, ferr)
	}
	d.PerSecond = float64(n) / time.Since(start).Seconds()
	return d, nil
}

// Table renders debit measurements as a Markdown table, each backend's
// p50 also as a ratio to the first's.
func Table(ds []*Debits) string {
	var b strings.Builder
	b.WriteString("| store | debit p50 | p90 | p99 | p50 vs first | debits/s with N writers |\n|---|---:|---:|---:|---:|---:|\n")
	for _, d := range ds {
		ratio := "1.00×"
		if first := ds[0].Quantile(0.5); first > 0 {
			ratio = fmt.Sprintf("%.2f×", d.Quantile(0.5)/first)
		}
		fmt.Fprintf(&b, "| %s | %.2f ms | %.2f ms | %.2f ms | %s | %.0f (N = %d) |\n", d.Backend,
			1e3*d.Quantile(0.5), 1e3*d.Quantile(0.9), 1e3*d.Quantile(0.99), ratio, d.PerSecond, d.Writers)
	}
	return b.String()
}
