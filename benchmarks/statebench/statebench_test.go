package statebench

import (
	"context"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/state/postgres"
	"github.com/statgate/statgate/engine/state/postgres/pgtest"
	"github.com/statgate/statgate/engine/state/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestMeasureDebits: every debit measured is recorded (the ledger's spent
// is their sum) on both stores, and the table names both.
func TestMeasureDebits(t *testing.T) {
	ctx := context.Background()
	lite, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	url := pgtest.NewSchema(t)
	pg, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	const n, writers = 40, 4
	var ds []*Debits
	for _, c := range []struct {
		name  string
		d     func() (*Debits, error)
		spent func() (float64, error)
	}{
		{"sqlite", func() (*Debits, error) { return MeasureDebits(ctx, "sqlite", lite, n, writers) },
			func() (float64, error) { c, err := lite.Ledger().Spent(ctx, "bench", "npr"); return c.Epsilon(), err }},
		{"postgres", func() (*Debits, error) { return MeasureDebits(ctx, "postgres", pg, n, writers) },
			func() (float64, error) { c, err := pg.Ledger().Spent(ctx, "bench", "npr"); return c.Epsilon(), err }},
	} {
		d, err := c.d()
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Latencies) != n || d.Quantile(0.5) <= 0 || d.PerSecond <= 0 {
			t.Errorf("%s: %d latencies, p50 %g, %g/s", c.name, len(d.Latencies), d.Quantile(0.5), d.PerSecond)
		}
		spent, err := c.spent()
		if err != nil {
			t.Fatal(err)
		}
		if want := 2 * n * 0.001; spent < want-1e-9 || spent > want+1e-9 {
			t.Errorf("%s: spent ε %g after %d debits of 0.001, want %g", c.name, spent, 2*n, want)
		}
		ds = append(ds, d)
	}
	tab := Table(ds)
	if !strings.Contains(tab, "| sqlite |") || !strings.Contains(tab, "| postgres |") || !strings.Contains(tab, "1.00×") {
		t.Errorf("table:\n%s", tab)
	}
}
