// Package load is a closed-loop load generator for statgate's HTTP API:
// c clients (1, 2 and 8 by default) each send a request, read the whole
// response and send the next, for a fixed time, with ad-hoc SQL, template
// runs and cohort estimates, every request a question not asked before
// (so that no cache can answer it). The same questions of each kind run as
// plain SQL on DuckDB with the same number of clients (the raw kinds: raw,
// raw-template, raw-cohort) give the ceiling each kind is compared with in
// the same run. Report renders a run as its
// part of benchmarks/RESULTS.md (see benchmarks.WriteSection).
package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/statgate/statgate/api"
	"github.com/statgate/statgate/benchmarks/internal/cache"
	"github.com/statgate/statgate/benchmarks/internal/host"
	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/state"
	"github.com/statgate/statgate/engine/state/postgres"
	"github.com/statgate/statgate/engine/state/sqlite"
	"github.com/statgate/statgate/policies"
)

// Options configure Run.
type Options struct {
	// Policy is the policy served (its diabetes-2026 project, templates and
	// datasets are used); ExtractsDir holds the loaded extracts.duckdb.
	Policy      *policies.Policy
	ExtractsDir string
	// Scratch is where the engine's state directory goes (removed after).
	Scratch string
	// Clients are the numbers of concurrent clients measured (nil: 1, 2, 8).
	Clients []int
	// Kinds are the kinds measured (nil: Kinds).
	Kinds []Kind
	// Duration is how long each (kind, clients) cell sends requests, after
	// Warmup (0: 10 s and 1 s).
	Duration, Warmup time.Duration
	// Threads and MemoryLimit configure DuckDB (0 and "": its defaults).
	Threads     int
	MemoryLimit string
	// Progress, when not nil, receives a line per cell.
	Progress io.Writer
	// StateURL, when set, keeps the state (ledger, audit log, tokens) in
	// the PostgreSQL database it names (engine/state/postgres; an empty
	// schema of its own, since the run creates tokens) instead of a fresh
	// SQLite file beside the extracts.
	StateURL string
	// Stages profiles the CPU of each engine kind's cell with the most
	// clients and adds it up by pipeline stage (Cell.Stages). Nothing else
	// may profile the process meanwhile.
	Stages bool
}

// Cell is one (kind, clients) measurement.
type Cell struct {
	Kind    Kind
	Clients int
	// Seconds is how long the cell sent requests (warm-up excluded).
	Seconds float64
	// Latencies are the times of the requests answered 200 (raw: run
	// without error), request sent to last byte read, sorted, in seconds.
	Latencies []float64
	// Failed counts the other responses by status (-1: transport or
	// DuckDB errors).
	Failed map[int]int
	// CPUSeconds is the CPU this process (server and clients) used while
	// the cell measured: per answer it is what a request costs, however
	// busy the rest of the machine was.
	CPUSeconds float64
	// LoadBefore and LoadAfter are the 1-minute load averages when the
	// cell started and ended: the machine may be shared.
	LoadBefore, LoadAfter string
	// Stages is where the cell's CPU went, by pipeline stage, when it was
	// profiled (Options.Stages); nil otherwise.
	Stages []Stage
}

// CPUPerAnswer is the process CPU per request answered 200, in seconds.
func (c *Cell) CPUPerAnswer() float64 {
	if len(c.Latencies) == 0 {
		return 0
	}
	return c.CPUSeconds / float64(len(c.Latencies))
}

// QPS is the requests answered 200 per second.
func (c *Cell) QPS() float64 {
	if c.Seconds <= 0 {
		return 0
	}
	return float64(len(c.Latencies)) / c.Seconds
}

// Quantile is the nearest-rank q-quantile of the latencies (0: none).
func (c *Cell) Quantile(q float64) float64 {
	l := c.Latencies
	if len(l) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(l)))) - 1
	return l[max(0, min(i, len(l)-1))]
}

// Result is one run: every cell, in the order measured.
type Result struct {
	Started time.Time
	Elapsed time.Duration
	Cells   []*Cell
	// Global and PerPrincipal are the execution limits the API enforced.
	Global, PerPrincipal int
	Options              Options
}

// Cell returns the cell of a kind and client count, or nil.
func (r *Result) Cell(k Kind, clients int) *Cell {
	for _, c := range r.Cells {
		if c.Kind == k && c.Clients == clients {
			return c
		}
	}
	return nil
}

// principal is the i-th client's principal: each client is its own
// researcher of Project, so that the per-principal limit does not decide
// what the clients measure.
func principal(i int) string { return fmt.Sprintf("load-%d", i) }

// withClients returns a copy of pol whose Project has the principals of
// n clients as researchers.
func withClients(pol *policies.Policy, n int) (*policies.Policy, error) {
	pr := pol.Projects[Project]
	if pr == nil {
		return nil, fmt.Errorf("the policy has no project %s", Project)
	}
	var role string
	for _, m := range pr.Members {
		if m.Role == "researcher" {
			role = m.Role
		}
	}
	if role == "" {
		return nil, fmt.Errorf("project %s has no researcher", Project)
	}
	cp := *pol
	cp.Projects = map[string]*policies.Project{}
	for id, p := range pol.Projects {
		cp.Projects[id] = p
	}
	prc := *pr
	prc.Members = slices.Clone(pr.Members)
	for i := range n {
		prc.Members = append(prc.Members, policies.Member{Principal: principal(i), Role: role})
	}
	cp.Projects[Project] = &prc
	return &cp, nil
}

// Run serves the API on loopback over a fresh state directory of
// o.ExtractsDir and measures every (kind, clients) cell. The API's
// execution limits are set to the most clients measured (one principal
// per client), so that no request is refused with 429: the run measures
// throughput, not admission.
func Run(ctx context.Context, o *Options) (*Result, error) {
	if o == nil || o.Policy == nil || o.ExtractsDir == "" {
		return nil, errors.New("load.Run: a policy and an extracts directory are required")
	}
	opt := *o
	if opt.Clients == nil {
		opt.Clients = []int{1, 2, 8}
	}
	if opt.Kinds == nil {
		opt.Kinds = Kinds
	}
	if opt.Duration == 0 {
		opt.Duration = 10 * time.Second
	}
	if opt.Warmup == 0 {
		opt.Warmup = time.Second
	}
	most := slices.Max(opt.Clients)
	pol, err := withClients(opt.Policy, most)
	if err != nil {
		return nil, fmt.Errorf("load.Run: %w", err)
	}
	dir, err := cache.StateDir(opt.Scratch, opt.ExtractsDir)
	if err != nil {
		return nil, fmt.Errorf("load.Run: %w", err)
	}
	defer os.RemoveAll(dir)
	var st state.Store
	if opt.StateURL != "" {
		st, err = postgres.Open(ctx, opt.StateURL)
	} else {
		st, err = sqlite.Open(ctx, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("load.Run: %w", err)
	}
	defer st.Close()
	eng, err := engine.New(ctx, &engine.Options{Policy: pol, DataDir: dir, State: st,
		Threads: opt.Threads, MemoryLimit: opt.MemoryLimit, QueryTimeout: time.Minute})
	if err != nil {
		return nil, fmt.Errorf("load.Run: %w", err)
	}
	defer eng.Close()
	// The raw kinds' DuckDB chooses its threads as the engine's does (one
	// per query on a small registry), so the ceiling is run as the
	// engine runs its own statements.
	raw, err := exec.Open(ctx, &exec.Options{Path: exec.ExtractsPath(dir), ReadOnly: true,
		Threads: opt.Threads, MemoryLimit: opt.MemoryLimit, QueryTimeout: time.Minute,
		SmallTableRows: exec.DefaultSmallTableRows})
	if err != nil {
		return nil, fmt.Errorf("load.Run: raw DuckDB: %w", err)
	}
	defer raw.Close()
	h, err := api.New(&api.Options{Engine: eng, Auth: st.Tokens(), MaxConcurrentQueries: most, MaxQueriesPerPrincipal: most})
	if err != nil {
		return nil, fmt.Errorf("load.Run: %w", err)
	}
	tokens := make([]string, most)
	for i := range most {
		if tokens[i], _, err = st.Tokens().Create(ctx, principal(i), nil); err != nil {
			return nil, fmt.Errorf("load.Run: %w", err)
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("load.Run: %w", err)
	}
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- api.ServeListener(sctx, ln, h, &api.ServeOptions{ShutdownTimeout: time.Minute}) }()
	defer func() { stop(); <-served }()

	res := &Result{Started: time.Now(), Options: opt}
	res.Global, res.PerPrincipal = h.Limits()
	base := "http://" + ln.Addr().String()
	for _, k := range opt.Kinds {
		var next atomic.Int64 // the kind's question counter
		for _, n := range opt.Clients {
			send := senderFor(k, base, tokens, raw)
			c, err := measure(ctx, k, n, &opt, &next, send, opt.Stages && !k.IsRaw() && n == most)
			if err != nil {
				return nil, fmt.Errorf("load.Run: %s with %d clients: %w", k, n, err)
			}
			res.Cells = append(res.Cells, c)
			if opt.Progress != nil {
				fmt.Fprintf(opt.Progress, "%-8s %d clients: %6.0f q/s, p50 %.1f ms, p99 %.1f ms, max %.1f ms, CPU %.2f ms/answer, failed %v, load %s → %s\n",
					k, n, c.QPS(), 1e3*c.Quantile(0.5), 1e3*c.Quantile(0.99), 1e3*c.Quantile(1), 1e3*c.CPUPerAnswer(), c.Failed, c.LoadBefore, c.LoadAfter)
			}
		}
	}
	res.Elapsed = time.Since(res.Started)
	return res, nil
}

// sender sends question i as client j and returns its status (200 for a
// raw query that ran).
type sender func(ctx context.Context, j, i int) (int, error)

// senderFor returns how a kind's requests are sent: HTTP to base with
// client j's token, or (a raw kind) SQL to raw.
func senderFor(k Kind, base string, tokens []string, raw *exec.DB) sender {
	if k.IsRaw() {
		return func(ctx context.Context, _, i int) (int, error) {
			rr, err := raw.QueryArrow(ctx, question(k, i).sql)
			if err != nil {
				return -1, err
			}
			defer rr.Release()
			for rr.Next() {
				_ = rr.RecordBatch() // every batch is read, as the engine reads them
			}
			if err := rr.Err(); err != nil {
				return -1, err
			}
			return http.StatusOK, nil
		}
	}
	clients := make([]*http.Client, len(tokens))
	for j := range clients {
		clients[j] = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
	}
	return func(ctx context.Context, j, i int) (int, error) {
		q := question(k, i)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+q.path, bytes.NewReader(q.body))
		if err != nil {
			return -1, err
		}
		req.Header.Set("Authorization", "Bearer "+tokens[j])
		req.Header.Set("Content-Type", "application/json")
		resp, err := clients[j].Do(req)
		if err != nil {
			return -1, err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return -1, err
		}
		return resp.StatusCode, nil
	}
}

// measure runs n closed-loop clients of kind k for o.Warmup, then for
// o.Duration (longer when a client has not yet had a request measured),
// and keeps what the second phase measured.
func measure(ctx context.Context, k Kind, n int, o *Options, next *atomic.Int64, send sender, profiled bool) (*Cell, error) {
	c := &Cell{Kind: k, Clients: n, Failed: map[int]int{}}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr error
	)
	start := time.Now()
	warmEnd := start.Add(o.Warmup)
	end := warmEnd.Add(o.Duration)
	for j := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A client ends its cell after o.Duration, but not before one
			// request of its own was measured: on a loaded machine a
			// warm-up request can outlast the whole cell.
			measured := false
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) && measured {
					return
				}
				st, err := send(ctx, j, int(next.Add(1)))
				d := time.Since(t0).Seconds()
				if !t0.After(warmEnd) {
					continue // warm-up
				}
				measured = true
				mu.Lock()
				if st == http.StatusOK && err == nil {
					c.Latencies = append(c.Latencies, d)
				} else {
					c.Failed[st]++
					if firstErr == nil && err != nil {
						firstErr = err
					}
				}
				mu.Unlock()
			}
		}()
	}
	sleepUntil(ctx, warmEnd)
	c.LoadBefore = host.Load()
	var stopProfile func() ([]Stage, error)
	if profiled {
		var err error
		if stopProfile, err = cpuProfile(); err != nil {
			wg.Wait()
			return nil, err
		}
	}
	cpu0 := host.ProcessCPU()
	wg.Wait()
	c.CPUSeconds = (host.ProcessCPU() - cpu0).Seconds()
	if stopProfile != nil {
		var err error
		if c.Stages, err = stopProfile(); err != nil {
			return nil, err
		}
	}
	c.LoadAfter = host.Load()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Requests that started before the end count; the cell lasted until
	// the last of them ended.
	c.Seconds = time.Since(warmEnd).Seconds()
	slices.Sort(c.Latencies)
	if len(c.Latencies) == 0 {
		return nil, fmt.Errorf("no request answered 200 (statuses %v): %v", c.Failed, firstErr)
	}
	return c, nil
}

func sleepUntil(ctx context.Context, t time.Time) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}
