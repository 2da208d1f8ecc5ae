package benchmarks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/statgate/statgate/api"
	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/policies"
)

// The question every variant asks: per three-character ICD-10 group, the
// distinct persons, the contacts and the mean length of stay.
const (
	// RawSQL is what DuckDB runs in variant A, unbounded.
	RawSQL = `SELECT substr(icd10, 1, 3) AS icd3, count(DISTINCT pid) AS persons, count(*) AS contacts, avg(length_of_stay_days) AS mean_los FROM npr GROUP BY 1`
	// QuerySQL is the researcher's query statgate receives in variants C
	// and D and that B plans; it is RawSQL.
	QuerySQL = RawSQL
)

// CohortRequest is variant K: persons with a diabetes diagnosis in npr and
// a metformin dispensing in lmr, by sex from the population register.
var CohortRequest = engine.CohortSpec{
	Include: []engine.Criterion{
		{Dataset: "npr", Where: "icd10 LIKE 'E11%'"},
		{Dataset: "lmr", Where: "atc = 'A10BA02'"},
	},
	Breakdown: []string{"sex"},
}

// Variant names one measured way of answering the question.
type Variant string

// The variants of the comparison.
const (
	// VariantRaw (A): the plain unbounded query on DuckDB.
	VariantRaw Variant = "A"
	// VariantBounded (B): the contribution-bounded SQL statgate generates,
	// executed and read without noise.
	VariantBounded Variant = "B"
	// VariantEngine (C): Engine.Query — check, plan, debit, execute, protect, audit.
	VariantEngine Variant = "C"
	// VariantHTTP (D): POST /v1/query on loopback, the JSON response decoded.
	VariantHTTP Variant = "D"
	// VariantBeam (E): the same question with privacy-on-beam (peers/beam).
	VariantBeam Variant = "E"
	// VariantCohort (K): CohortRequest through Engine.Query.
	VariantCohort Variant = "K"
)

// Describe says what a variant measures, for tables.
func (v Variant) Describe() string {
	switch v {
	case VariantRaw:
		return "raw DuckDB, unbounded"
	case VariantBounded:
		return "bounded SQL, no noise"
	case VariantEngine:
		return "statgate Engine.Query"
	case VariantHTTP:
		return "statgate over HTTP (loopback)"
	case VariantBeam:
		return "privacy-on-beam, direct runner"
	case VariantCohort:
		return "cohort estimate, 3 registries"
	}
	return "unknown variant"
}

// Outcome is one timed run of a variant.
type Outcome struct {
	// Seconds is the wall time of the question alone (no setup).
	Seconds float64 `json:"seconds"`
	// Groups is the number of output rows (released groups for C, D, E, K).
	Groups int64 `json:"groups"`
}

// Runner answers the question one way. It is not safe for concurrent use.
type Runner interface {
	// Run answers the question once and times it.
	Run(ctx context.Context) (Outcome, error)
	// Close releases what the runner opened.
	Close() error
}

// RunnerOptions configure NewRunner.
type RunnerOptions struct {
	// DataDir is an engine data directory (Data.StateDir): the extracts
	// and, for C, D and K, a state store of their own.
	DataDir string
	// MemoryLimit and Threads configure DuckDB ("" and 0: its defaults).
	MemoryLimit string
	Threads     int
}

// NewRunner opens what variant v needs (A, B, C, D or K; E runs as the
// peer binary, see RunBeam).
func NewRunner(ctx context.Context, v Variant, o *RunnerOptions) (Runner, error) {
	if o == nil || o.DataDir == "" {
		return nil, errors.New("benchmarks.NewRunner: a data directory is required")
	}
	switch v {
	case VariantRaw, VariantBounded:
		return newSQLRunner(ctx, v, o)
	case VariantEngine, VariantCohort:
		e, err := openEngine(ctx, o)
		if err != nil {
			return nil, err
		}
		req := engine.Request{Project: Project, SQL: QuerySQL}
		if v == VariantCohort {
			c := CohortRequest
			req = engine.Request{Project: Project, Cohort: &c}
		}
		return &engineRunner{e: e, req: req}, nil
	case VariantHTTP:
		return newHTTPRunner(ctx, o)
	}
	return nil, fmt.Errorf("benchmarks.NewRunner: unknown variant %q", v)
}

// sqlRunner runs SQL on a locked-down exec.DB, as the engine does, and
// reads every Arrow batch.
type sqlRunner struct {
	db     *exec.DB
	parser *query.Parser
	pol    *policies.Policy
	rows   map[string]int64
	raw    bool
}

func newSQLRunner(ctx context.Context, v Variant, o *RunnerOptions) (*sqlRunner, error) {
	pol, err := Policy()
	if err != nil {
		return nil, err
	}
	db, err := exec.Open(ctx, &exec.Options{Path: exec.ExtractsPath(o.DataDir), ReadOnly: true,
		MemoryLimit: o.MemoryLimit, Threads: o.Threads, QueryTimeout: time.Hour})
	if err != nil {
		return nil, fmt.Errorf("benchmarks.NewRunner: %w", err)
	}
	r := &sqlRunner{db: db, pol: pol, raw: v == VariantRaw}
	if !r.raw {
		if r.rows, err = db.TableRows(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("benchmarks.NewRunner: %w", err)
		}
		if r.parser, err = query.NewParser(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("benchmarks.NewRunner: %w", err)
		}
	}
	return r, nil
}

// BoundedSQL checks and plans QuerySQL under pol as the engine does (with
// a fresh secret seed) and returns the plan. rows are the datasets' sizes
// (plan.Options.TableRows: on large tables the L0 step runs in person
// buckets); nil plans as if they were unknown.
func BoundedSQL(ctx context.Context, parser *query.Parser, pol *policies.Policy, rows map[string]int64) (*plan.Plan, error) {
	q, err := parser.Compile(ctx, QuerySQL, query.NewCatalog(pol, pol.Projects[Project].Datasets))
	if err != nil {
		return nil, fmt.Errorf("benchmarks.BoundedSQL: %w", err)
	}
	p, err := plan.Bound(q, pol, &plan.Options{TableRows: rows})
	if err != nil {
		return nil, fmt.Errorf("benchmarks.BoundedSQL: %w", err)
	}
	return p, nil
}

func (r *sqlRunner) Run(ctx context.Context) (Outcome, error) {
	text := RawSQL
	if !r.raw {
		// Planning is part of B's cost as it is of C's (it is tiny).
		p, err := BoundedSQL(ctx, r.parser, r.pol, r.rows)
		if err != nil {
			return Outcome{}, err
		}
		text = p.SQL
	}
	start := time.Now()
	rr, err := r.db.QueryArrow(ctx, text)
	if err != nil {
		return Outcome{}, fmt.Errorf("benchmarks: run: %w", err)
	}
	n, err := drain(rr)
	if err != nil {
		return Outcome{}, fmt.Errorf("benchmarks: run: %w", err)
	}
	return Outcome{Seconds: time.Since(start).Seconds(), Groups: n}, nil
}

func (r *sqlRunner) Close() error {
	var errs []error
	if r.parser != nil {
		errs = append(errs, r.parser.Close())
	}
	errs = append(errs, r.db.Close())
	return errors.Join(errs...)
}

// drain reads every batch of rr, releases it and returns the row count.
func drain(rr array.RecordReader) (int64, error) {
	defer rr.Release()
	var n int64
	for rr.Next() {
		n += rr.RecordBatch().NumRows()
	}
	return n, rr.Err()
}

// openEngine opens an engine on the benchmark policy, with its state store.
func openEngine(ctx context.Context, o *RunnerOptions) (*stateEngine, error) {
	pol, err := Policy()
	if err != nil {
		return nil, err
	}
	// NoRepeats: every round asks the same question, which the result
	// cache would otherwise answer without running it.
	e, err := openStateEngine(ctx, &engine.Options{Policy: pol, DataDir: o.DataDir,
		MemoryLimit: o.MemoryLimit, Threads: o.Threads, QueryTimeout: time.Hour, NoRepeats: true})
	if err != nil {
		return nil, fmt.Errorf("benchmarks.NewRunner: %w", err)
	}
	return e, nil
}

// engineRunner sends one request to Engine.Query.
type engineRunner struct {
	e   *stateEngine
	req engine.Request
}

func (r *engineRunner) Run(ctx context.Context) (Outcome, error) {
	start := time.Now()
	res, err := r.e.Query(ctx, engine.Principal{Name: Principal}, r.req)
	if err != nil {
		return Outcome{}, fmt.Errorf("benchmarks: run: %w", err)
	}
	return Outcome{Seconds: time.Since(start).Seconds(), Groups: int64(len(res.Rows))}, nil
}

func (r *engineRunner) Close() error { return r.e.Close() }

// httpRunner serves the API on a loopback port and posts the query to it.
type httpRunner struct {
	e      *stateEngine
	url    string
	token  string
	client *http.Client
	stop   context.CancelFunc
	done   chan error
}

func newHTTPRunner(ctx context.Context, o *RunnerOptions) (*httpRunner, error) {
	e, err := openEngine(ctx, o)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*httpRunner, error) {
		e.Close()
		return nil, fmt.Errorf("benchmarks.NewRunner: %w", err)
	}
	token, _, err := e.state.Tokens().Create(ctx, Principal, nil)
	if err != nil {
		return fail(err)
	}
	h, err := api.New(&api.Options{Engine: e.Engine, Auth: e.state.Tokens(), RequestTimeout: time.Hour})
	if err != nil {
		return fail(err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	r := &httpRunner{e: e, url: "http://" + ln.Addr().String() + "/v1/query", token: token,
		client: &http.Client{}, stop: stop, done: make(chan error, 1)}
	go func() { r.done <- api.ServeListener(sctx, ln, h, nil) }()
	return r, nil
}

func (r *httpRunner) Run(ctx context.Context) (Outcome, error) {
	body, err := json.Marshal(api.QueryBody{Project: Project, SQL: QuerySQL})
	if err != nil {
		return Outcome{}, err
	}
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return Outcome{}, fmt.Errorf("benchmarks: run: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return Outcome{}, fmt.Errorf("benchmarks: run: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return Outcome{}, fmt.Errorf("benchmarks: run: HTTP %s: %s", resp.Status, msg)
	}
	var out struct {
		Rows []json.RawMessage `json:"rows"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return Outcome{}, fmt.Errorf("benchmarks: run: decoding the response: %w", err)
	}
	return Outcome{Seconds: time.Since(start).Seconds(), Groups: int64(len(out.Rows))}, nil
}

func (r *httpRunner) Close() error {
	r.stop()
	err := <-r.done
	r.client.CloseIdleConnections()
	return errors.Join(err, r.e.Close())
}
