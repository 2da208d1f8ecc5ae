// Command state measures statgate's state stores side by side in one run:
// the latency of a budget debit and debits per second from concurrent
// writers, and the API's served throughput (benchmarks/load's ad-hoc SQL,
// next to the same SQL on raw DuckDB) with the state in SQLite and in
// PostgreSQL. It writes its section of benchmarks/RESULTS.md.
//
//	go run -tags duckdb_arrow ./benchmarks/cmd/state --postgres 'postgres://postgres@/postgres?host=/tmp/pg'
//
// The PostgreSQL server is --postgres (default: STATGATE_TEST_POSTGRES);
// every store gets a schema of its own there, dropped afterwards.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/statgate/statgate/benchmarks"
	"github.com/statgate/statgate/benchmarks/internal/cli"
	"github.com/statgate/statgate/benchmarks/load"
	"github.com/statgate/statgate/benchmarks/statebench"
	"github.com/statgate/statgate/benchmarks/utility"
	"github.com/statgate/statgate/engine/state/postgres"
	"github.com/statgate/statgate/engine/state/sqlite"
)

// Markers around this command's section of RESULTS.md.
const (
	sectionBegin = "<!-- state: written by benchmarks/cmd/state -->"
	sectionEnd   = "<!-- /state -->"
)

type options struct {
	pg       string
	debits   int
	writers  int
	persons  int
	clients  []int
	duration time.Duration
	out      string
	args     []string
}

func main() { cli.Main("state", parseFlags, run) }

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("state", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{args: args}
	var clients string
	fs.StringVar(&o.pg, "postgres", os.Getenv("STATGATE_TEST_POSTGRES"), "PostgreSQL server URL (default: STATGATE_TEST_POSTGRES)")
	fs.IntVar(&o.debits, "debits", 500, "debits timed one after another, and again from --writers goroutines")
	fs.IntVar(&o.writers, "writers", 8, "concurrent writers of the throughput run")
	fs.IntVar(&o.persons, "persons", 20000, "synthetic persons of the served extract (cached like the utility benchmark's)")
	fs.StringVar(&clients, "clients", "1,8", "concurrent API clients, comma-separated")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "time each served cell sends requests")
	fs.StringVar(&o.out, "out", "", `results file (default: benchmarks/RESULTS.md; "-": standard output)`)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.pg == "" || !postgres.IsURL(o.pg) {
		return nil, errors.New("--postgres (or STATGATE_TEST_POSTGRES) must be a postgres:// URL")
	}
	for _, f := range strings.Split(clients, ",") {
		n, err := cli.ParseCount(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 256 {
			return nil, fmt.Errorf("--clients %q: want counts from 1 to 256", clients)
		}
		o.clients = append(o.clients, int(n))
	}
	if o.debits < 10 || o.writers < 1 || o.duration <= 0 {
		return nil, errors.New("--debits at least 10, --writers and --duration positive")
	}
	if o.out == "" {
		root, err := cli.RepoRoot("state")
		if err != nil {
			return nil, err
		}
		o.out = filepath.Join(root, "benchmarks", "RESULTS.md")
	}
	return o, nil
}

// schema creates an empty schema on the server and returns the URL that
// selects it, and a function that drops it.
func schema(ctx context.Context, base string) (string, func(), error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	name := "statebench_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, err
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	drop := func() {
		conn.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE")
		conn.Close(context.Background())
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

func run(ctx context.Context, o *options, log io.Writer) error {
	machine := benchmarks.DescribeMachine(ctx)
	scratch, err := os.MkdirTemp("", "statgate-statebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)

	// Debits.
	lite, err := sqlite.Open(ctx, filepath.Join(scratch, "debits"))
	if err != nil {
		return err
	}
	defer lite.Close()
	pgURL, drop, err := schema(ctx, o.pg)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer drop()
	pg, err := postgres.Open(ctx, pgURL)
	if err != nil {
		return err
	}
	defer pg.Close()
	var debits []*statebench.Debits
	d, err := statebench.MeasureDebits(ctx, "SQLite (state.db)", lite, o.debits, o.writers)
	if err != nil {
		return err
	}
	debits = append(debits, d)
	fmt.Fprintf(log, "debits sqlite: p50 %.2f ms, %.0f/s\n", 1e3*d.Quantile(0.5), d.PerSecond)
	if d, err = statebench.MeasureDebits(ctx, "PostgreSQL", pg, o.debits, o.writers); err != nil {
		return err
	}
	debits = append(debits, d)
	fmt.Fprintf(log, "debits postgres: p50 %.2f ms, %.0f/s\n", 1e3*d.Quantile(0.5), d.PerSecond)

	// Served throughput, the same questions on each backend.
	root, err := cli.RepoRoot("state")
	if err != nil {
		return err
	}
	pol, err := utility.LoadPolicy(filepath.Join(root, utility.PolicyPath))
	if err != nil {
		return err
	}
	data, err := utility.Prepare(ctx, &utility.DataOptions{Persons: o.persons, Seed: 1, Policy: pol, Progress: log})
	if err != nil {
		return err
	}
	type served struct {
		name string
		res  *load.Result
	}
	var runs []served
	for _, b := range []string{"SQLite (state.db)", "PostgreSQL"} {
		lo := &load.Options{Policy: pol, ExtractsDir: data.ExtractsDir(), Scratch: scratch,
			Clients: o.clients, Kinds: []load.Kind{load.Raw, load.AdHoc}, Duration: o.duration, Progress: log}
		if b == "PostgreSQL" {
			u, dropServed, err := schema(ctx, o.pg)
			if err != nil {
				return err
			}
			defer dropServed()
			lo.StateURL = u
		}
		res, err := load.Run(ctx, lo)
		if err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
		runs = append(runs, served{b, res})
	}

	var s strings.Builder
	fmt.Fprintf(&s, "%s\n## State stores: SQLite and PostgreSQL (issue 15)\n\n", sectionBegin)
	fmt.Fprintf(&s, "Run %s on %s (%d cores, %s, DuckDB %s, load %s). `%s`\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		machine.CPU, machine.Cores, machine.Go, machine.DuckDB, machine.Load, commandLine(o.args))
	fmt.Fprintf(&s, "**Debit latency** — one durable two-dataset debit (the write every released answer waits for), %d one after another; then %d more from %d concurrent writers. PostgreSQL is a local server on a unix socket (fsync on), so this is its floor: a managed server adds the network round trips (a debit is 3–4 statements and a commit).\n\n", o.debits, o.debits, o.writers)
	s.WriteString(statebench.Table(debits))
	s.WriteString("\n**Served throughput** — `benchmarks/load`'s ad-hoc SQL through the API on loopback (a new question per request, each debited and audited), and the same SQL on raw DuckDB in the same run; only the state store differs.\n\n")
	s.WriteString("| store | clients | raw DuckDB q/s | served q/s | served / raw | p50 | p99 | failed |\n|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range runs {
		raw := map[int]float64{}
		for _, c := range r.res.Cells {
			if c.Kind == load.Raw {
				raw[c.Clients] = c.QPS()
			}
		}
		for _, c := range r.res.Cells {
			if c.Kind != load.AdHoc {
				continue
			}
			ratio := "–"
			if raw[c.Clients] > 0 {
				ratio = fmt.Sprintf("%.2f", c.QPS()/raw[c.Clients])
			}
			failed := "none"
			if len(c.Failed) > 0 {
				failed = fmt.Sprint(c.Failed)
			}
			fmt.Fprintf(&s, "| %s | %d | %.0f | %.0f | %s | %.1f ms | %.1f ms | %s |\n", r.name, c.Clients, raw[c.Clients], c.QPS(), ratio,
				1e3*c.Quantile(0.5), 1e3*c.Quantile(0.99), failed)
		}
	}
	fmt.Fprintf(&s, "\n%s\n", sectionEnd)
	if o.out == "-" {
		_, err := io.WriteString(os.Stdout, s.String())
		return err
	}
	if err := benchmarks.WriteSection(o.out, sectionBegin, sectionEnd, s.String(), false); err != nil {
		return err
	}
	fmt.Fprintf(log, "wrote the state section into %s\n", o.out)
	return nil
}

// commandLine is the command that reproduces this run (without the
// server URL, which is the machine's).
func commandLine(args []string) string {
	parts := []string{"go", "run", "-tags", "duckdb_arrow", "./benchmarks/cmd/state"}
	skip := false
	for _, a := range args {
		switch {
		case skip:
			skip = false
			continue
		case a == "--postgres" || a == "-postgres":
			skip = true
			continue
		case strings.HasPrefix(a, "--postgres=") || strings.HasPrefix(a, "-postgres="):
			continue
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
