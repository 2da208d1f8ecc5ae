package benchmarks

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/protect"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/state/sqlite"
	"github.com/statgate/statgate/policies"
)

// benchRows are the registry sizes of BenchmarkStages; the data are
// generated once into .cache (benchmarks/.cache) and reused.
var benchRows = flag.String("bench.rows", "1e6,1e7", "npr rows of BenchmarkStages, comma-separated (e.g. 1e5 for a quick look)")

// BenchmarkStages times each pipeline stage of Engine.Query on the
// benchmark registries, and the whole query:
//
//	check    parse (DuckDB's parser) and check QuerySQL into the model
//	plan     plan.Bound: the contribution-bounded SQL
//	execute  run the bounded SQL and read its Arrow batches
//	protect  Release.Apply on the execute stage's batches (Prepare outside the loop)
//	debit    one budget debit (durable SQLite commit)
//	audit    one audit append (durable SQLite commit)
//	query    Engine.Query: all of the above
//	http     the same through POST /v1/query on loopback
//
// rows/s is npr rows per second of the stage (for execute, protect and
// query); protect and the state-store stages do not depend on the rows.
func BenchmarkStages(b *testing.B) {
	ctx := context.Background()
	pol, err := Policy()
	if err != nil {
		b.Fatal(err)
	}
	parser, err := query.NewParser(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer parser.Close()
	catalog := query.NewCatalog(pol, pol.Projects[Project].Datasets)
	for _, label := range strings.Split(*benchRows, ",") {
		rows, err := parseRows(label)
		if err != nil {
			b.Fatal(err)
		}
		spec := Spec{Rows: rows, Groups: 200, Seed: 1}
		name := fmt.Sprintf("rows=%s,groups=%d", strings.TrimSpace(label), spec.Groups)
		var data *Data
		prepare := func(b *testing.B) *Data {
			if data == nil {
				var err error
				if data, err = Prepare(ctx, ".cache", spec, false, nil); err != nil {
					b.Fatal(err)
				}
			}
			return data
		}
		perRow := func(b *testing.B) {
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		}
		b.Run(name+"/check", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parser.Compile(ctx, QuerySQL, catalog); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/plan", func(b *testing.B) {
			q, err := parser.Compile(ctx, QuerySQL, catalog)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := plan.Bound(q, pol, &plan.Options{TableRows: spec.TableRows()}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/execute", func(b *testing.B) {
			db := openExtracts(b, prepare(b))
			p, err := BoundedSQL(ctx, parser, pol, spec.TableRows())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				rr, err := db.QueryArrow(ctx, p.SQL)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := drain(rr); err != nil {
					b.Fatal(err)
				}
			}
			perRow(b)
		})
		b.Run(name+"/protect", func(b *testing.B) {
			db := openExtracts(b, prepare(b))
			p, err := BoundedSQL(ctx, parser, pol, spec.TableRows())
			if err != nil {
				b.Fatal(err)
			}
			batches := captureIPC(b, db, p.SQL)
			rel, err := protect.Prepare(p, protectOptions(pol))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				rr, err := ipc.NewReader(bytes.NewReader(batches))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := rel.Apply(ctx, rr); err != nil {
					b.Fatal(err)
				}
				rr.Release()
			}
			perRow(b)
		})
		b.Run(name+"/debit", func(b *testing.B) {
			ledger := openState(b).Ledger()
			book, err := budget.NewBook(budget.PolicyLimits(pol), budget.Basic{})
			if err != nil {
				b.Fatal(err)
			}
			cost, err := budget.NewCost(0.5, 1e-7, 0)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if err := ledger.Debit(ctx, budget.Spend{QueryID: fmt.Sprintf("q%d", i), Project: Project, Principal: Principal,
					Datasets: []string{"npr"}, Cost: cost}, book); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/audit", func(b *testing.B) {
			log := openState(b).Audit()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := log.Append(ctx, audit.Entry{QueryID: "q", Principal: Principal, Project: Project, Datasets: []string{"npr"},
					Kind: "sql", Query: QuerySQL, Epsilon: 0.5, Delta: 1e-7, Outcome: "released"}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/query", func(b *testing.B) {
			d := prepare(b)
			dir, err := d.StateDir(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			e, err := openStateEngine(ctx, &engine.Options{Policy: pol, DataDir: dir})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			req := engine.Request{Project: Project, SQL: QuerySQL}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Query(ctx, engine.Principal{Name: Principal}, req); err != nil {
					b.Fatal(err)
				}
			}
			perRow(b)
		})
		b.Run(name+"/http", func(b *testing.B) {
			d := prepare(b)
			dir, err := d.StateDir(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			r, err := newHTTPRunner(ctx, &RunnerOptions{DataDir: dir})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Run(ctx); err != nil {
					b.Fatal(err)
				}
			}
			perRow(b)
		})
	}
}

// parseRows parses "1e6" or "1000000".
func parseRows(s string) (int64, error) {
	var f float64
	if _, err := fmt.Sscan(strings.TrimSpace(s), &f); err != nil || f < 1 {
		return 0, fmt.Errorf("-bench.rows: %q is not a row count", s)
	}
	return int64(f), nil
}

// openExtracts opens the registry's extracts as the engine does.
func openExtracts(b *testing.B, d *Data) *exec.DB {
	b.Helper()
	db, err := exec.Open(context.Background(), &exec.Options{Path: exec.ExtractsPath(d.ExtractsDir()), ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// openState opens a fresh state store.
func openState(b *testing.B) *sqlite.Store {
	b.Helper()
	st, err := sqlite.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// captureIPC runs query once and returns its batches as an Arrow IPC
// stream, which outlives DuckDB's result (native batches do not).
func captureIPC(b *testing.B, db *exec.DB, query string) []byte {
	b.Helper()
	rr, err := db.QueryArrow(context.Background(), query)
	if err != nil {
		b.Fatal(err)
	}
	defer rr.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(rr.Schema()))
	for rr.Next() {
		if err := w.Write(rr.RecordBatch()); err != nil {
			b.Fatal(err)
		}
	}
	if err := rr.Err(); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// protectOptions are the engine's protect options for QuerySQL under pol.
func protectOptions(pol *policies.Policy) *protect.Options {
	ds := pol.Datasets["npr"]
	return &protect.Options{Epsilon: ds.Epsilon.Default, Delta: ds.DeltaPerQuery, Mechanism: ds.Noise,
		MinCellCount: ds.MinCellCount, RoundTo: ds.RoundTo}
}
