package benchmarks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/statgate/statgate/api"
	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/result"
	"github.com/statgate/statgate/policies"
)

// The flood measurement: does a light query of one principal keep its
// latency while another principal floods the server with heavy queries?
// Principal FloodPrincipal (A, the benchmark policy's member) runs
// FloodOptions.Flooders clients that post FloodHeavySQL back to back;
// principal LightPrincipal (B) posts FloodLightSQL one at a time, first
// alone, then under the flood. Both talk to the real API on loopback, with
// its execution limits (api.Options.MaxConcurrentQueries and
// MaxQueriesPerPrincipal).

// Principals of the flood measurement.
const (
	FloodPrincipal = Principal
	LightPrincipal = "bench-light"
)

// FloodLightSQL is B's light query: persons by sex, one small table.
const FloodLightSQL = `SELECT sex, count(*) AS persons FROM population GROUP BY 1`

// FloodHeavySQL is A's heavy query: 220 public groups (birth year × sex)
// × 3 quantiles of the length of stay over the npr ⋈ population join:
// DuckDB bounds every person's rows, and the quantile trees' noise is
// drawn per group in Go (about 1 s alone on 1 M npr rows and 2 cores).
const FloodHeavySQL = `SELECT p.birth_year, p.sex, quantile_cont(n.length_of_stay_days, 0.1) AS p10, ` +
	`quantile_cont(n.length_of_stay_days, 0.5) AS p50, quantile_cont(n.length_of_stay_days, 0.9) AS p90 ` +
	`FROM npr n JOIN population p USING (pid) GROUP BY 1, 2`

// FloodOptions configure Flood.
type FloodOptions struct {
	// Data is the prepared registry; Scratch is where the engine's state
	// directory goes (removed afterwards).
	Data    *Data
	Scratch string
	// MemoryLimit and Threads configure DuckDB ("" and 0: its defaults).
	MemoryLimit string
	Threads     int
	// MaxConcurrent and MaxPerPrincipal are the API's execution limits
	// (0: what statgate serve uses, api.DefaultMaxConcurrentQueries of
	// Threads and the API's per-principal default).
	MaxConcurrent, MaxPerPrincipal int
	// Flooders is the number of A's concurrent clients (0: 16).
	Flooders int
	// Light is the number of B's queries in each phase (0: 200), Pause the
	// wait between two of them. They are spread over Rounds rounds of B
	// alone, then B under the flood (0: 5 rounds).
	Light  int
	Pause  time.Duration
	Rounds int
	// RetryAfter makes A's clients wait the Retry-After of a 429 before the
	// next request; false retries at once (the worst case for the server).
	RetryAfter bool
	// QuietCores, when positive, starts each round once other processes
	// use at most this many cores (waiting up to 5 minutes), and discards
	// and repeats a round in which they used more, up to 3 × Rounds
	// attempts (then fewer rounds are kept); 0 keeps every round.
	QuietCores float64
	// HeavyRuns is the number of heavy queries timed alone (0: 3).
	HeavyRuns int
	// Limit bounds each flood phase; B's queries not sent by then are
	// missing from the result (0: 5 minutes).
	Limit time.Duration
	// LightSQL and HeavySQL replace FloodLightSQL and FloodHeavySQL when set.
	LightSQL, HeavySQL string
	// Progress, when not nil, receives a line per phase.
	Progress io.Writer
}

// Latencies are one principal's response times, in seconds, sorted.
type Latencies []float64

// Quantile is the nearest-rank q-quantile (0 when empty).
func (l Latencies) Quantile(q float64) float64 {
	if len(l) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(l)))) - 1
	return l[max(0, min(i, len(l)-1))]
}

// FloodResult is one flood measurement.
type FloodResult struct {
	Options FloodOptions
	// Global and PerPrincipal are the limits the API enforced.
	Global, PerPrincipal int
	// HeavyAlone are the heavy query's times alone (A's only request).
	HeavyAlone Latencies
	// Alone and Flooded are B's times alone and under the flood, of the
	// queries answered 200.
	Alone, Flooded Latencies
	// LightStatuses counts B's responses under the flood by status
	// (-1: transport errors).
	LightStatuses map[int]int
	// HeavyStatuses counts A's responses during the flood by status, those
	// cut off when the flood stopped excepted.
	HeavyStatuses map[int]int
	// FloodSeconds is how long the flood ran.
	FloodSeconds float64
	// OthersCores is the CPU that other processes used during the kept
	// rounds, in cores (-1: unknown): the machine may be shared.
	OthersCores float64
	// Discarded counts the rounds discarded for FloodOptions.QuietCores.
	Discarded int
}

// Ratio is B's p95 under the flood over its p95 alone.
func (r *FloodResult) Ratio() float64 {
	a := r.Alone.Quantile(0.95)
	if a <= 0 {
		return 0
	}
	return r.Flooded.Quantile(0.95) / a
}

// HeavyServerErrors is the number of A's 5xx responses.
func (r *FloodResult) HeavyServerErrors() int {
	n := 0
	for s, c := range r.HeavyStatuses {
		if s >= 500 {
			n += c
		}
	}
	return n
}

// LightFailures is the number of B's responses under the flood other than 200.
func (r *FloodResult) LightFailures() int {
	n := 0
	for s, c := range r.LightStatuses {
		if s != http.StatusOK {
			n += c
		}
	}
	return n
}

// Flood serves the API on a fresh copy of o.Data's engine state and
// measures B's light query alone and under A's flood; see FloodOptions.
func Flood(ctx context.Context, o *FloodOptions) (*FloodResult, error) {
	if o == nil || o.Data == nil {
		return nil, errors.New("benchmarks.Flood: a prepared registry is required")
	}
	opt := *o
	if opt.Flooders == 0 {
		opt.Flooders = 16
	}
	if opt.Light == 0 {
		opt.Light = 200
	}
	if opt.Rounds == 0 {
		opt.Rounds = 5
	}
	if opt.HeavyRuns == 0 {
		opt.HeavyRuns = 3
	}
	if opt.Limit == 0 {
		opt.Limit = 5 * time.Minute
	}
	if opt.LightSQL == "" {
		opt.LightSQL = FloodLightSQL
	}
	if opt.HeavySQL == "" {
		opt.HeavySQL = FloodHeavySQL
	}
	if opt.MaxConcurrent == 0 {
		opt.MaxConcurrent = api.DefaultMaxConcurrentQueries(opt.Threads)
	}
	logf := func(format string, args ...any) {
		if opt.Progress != nil {
			fmt.Fprintf(opt.Progress, format+"\n", args...)
		}
	}
	srv, err := startFloodServer(ctx, &opt)
	if err != nil {
		return nil, fmt.Errorf("benchmarks.Flood: %w", err)
	}
	defer srv.close()
	res := &FloodResult{Options: opt, LightStatuses: map[int]int{}, HeavyStatuses: map[int]int{}}
	res.Global, res.PerPrincipal = srv.h.Limits()
	light := srv.client(LightPrincipal, opt.LightSQL, 1)
	heavy := srv.client(FloodPrincipal, opt.HeavySQL, opt.Flooders)

	// Warm-up, then the heavy query alone.
	for _, c := range []*floodClient{light, heavy} {
		if st, _, err := c.post(ctx); err != nil || st != http.StatusOK {
			return nil, fmt.Errorf("benchmarks.Flood: warm-up as %s: status %d: %v", c.principal, st, err)
		}
	}
	for range opt.HeavyRuns {
		st, d, err := heavy.post(ctx)
		if err != nil || st != http.StatusOK {
			return nil, fmt.Errorf("benchmarks.Flood: heavy query alone: status %d: %v", st, err)
		}
		res.HeavyAlone = append(res.HeavyAlone, d.Seconds())
	}
	slices.Sort(res.HeavyAlone)
	logf("heavy query alone: median %.3fs", res.HeavyAlone.Quantile(0.5))

	// Rounds of B alone, then B under A's flood, so that drift on a
	// shared machine meets both phases alike.
	per := max(1, opt.Light/opt.Rounds)
	res.Options.Light = per * opt.Rounds
	var othersTicks, seconds float64
	defer func() {
		res.OthersCores = -1
		if seconds > 0 {
			res.OthersCores = othersTicks / seconds
		}
	}()
	for kept, attempt := 0, 1; kept < opt.Rounds; attempt++ {
		if attempt > 3*opt.Rounds {
			logf("giving up after %d attempts with %d of %d rounds kept: other processes use more than %.2f cores",
				attempt-1, kept, opt.Rounds, opt.QuietCores)
			break
		}
		if opt.QuietCores > 0 {
			waitQuiet(ctx, opt.QuietCores, 5*time.Minute)
		}
		round := &FloodResult{LightStatuses: map[int]int{}, HeavyStatuses: map[int]int{}}
		cpu0 := sampleCPU()
		if err := floodRound(ctx, &opt, srv, light, heavy, per, round); err != nil {
			return nil, fmt.Errorf("benchmarks.Flood: round %d: %w", attempt, err)
		}
		cpu1 := sampleCPU()
		others := othersCores(cpu0, cpu1)
		if opt.QuietCores > 0 && others > opt.QuietCores {
			res.Discarded++
			logf("round %d: discarded, other processes used %.2f cores", attempt, others)
			continue
		}
		kept++
		if others >= 0 {
			d := cpu1.at.Sub(cpu0.at).Seconds()
			othersTicks, seconds = othersTicks+others*d, seconds+d
		}
		res.merge(round)
		logf("round %d (%d/%d kept): B alone p95 %.4fs, under the flood p95 %.4fs; A %s; other processes %.2f cores",
			attempt, kept, opt.Rounds, round.Alone.Quantile(0.95), round.Flooded.Quantile(0.95), fmtStatuses(round.HeavyStatuses), others)
	}
	return res, nil
}

// merge adds the measurements of round to r.
func (r *FloodResult) merge(round *FloodResult) {
	r.Alone = append(r.Alone, round.Alone...)
	r.Flooded = append(r.Flooded, round.Flooded...)
	slices.Sort(r.Alone)
	slices.Sort(r.Flooded)
	for st, n := range round.LightStatuses {
		r.LightStatuses[st] += n
	}
	for st, n := range round.HeavyStatuses {
		r.HeavyStatuses[st] += n
	}
	r.FloodSeconds += round.FloodSeconds
}

// floodRound measures n light queries alone, then n under the flood, into
// res (kept sorted).
func floodRound(ctx context.Context, opt *FloodOptions, srv *floodServer, light, heavy *floodClient, n int, res *FloodResult) error {
	for range n {
		st, d, err := light.post(ctx)
		if err != nil || st != http.StatusOK {
			return fmt.Errorf("light query alone: status %d: %v", st, err)
		}
		res.Alone = append(res.Alone, d.Seconds())
		sleep(ctx, opt.Pause)
	}
	slices.Sort(res.Alone)

	// The flood starts first and B waits for A's first 429 (A's share is
	// full) or 200, so every light query meets the flood.
	fctx, stopFlood := context.WithTimeout(ctx, opt.Limit)
	defer stopFlood()
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		admitted = make(chan struct{})
		once     sync.Once
	)
	count := func(st int) {
		mu.Lock()
		res.HeavyStatuses[st]++
		mu.Unlock()
	}
	start := time.Now()
	for range opt.Flooders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for fctx.Err() == nil {
				st, _, err := heavy.postNotify(fctx, func() { once.Do(func() { close(admitted) }) })
				switch {
				case fctx.Err() != nil:
					return // cut off by the end of the flood: not counted
				case err != nil:
					count(-1)
				default:
					count(st)
				}
				if st == http.StatusTooManyRequests && opt.RetryAfter {
					sleep(fctx, time.Duration(api.RetryAfterSeconds)*time.Second)
				}
			}
		}()
	}
	select {
	case <-admitted:
	case <-fctx.Done():
	}
	for i := 0; i < n && fctx.Err() == nil; i++ {
		st, d, err := light.post(fctx)
		switch {
		case fctx.Err() != nil:
		case err != nil:
			res.LightStatuses[-1]++
		default:
			res.LightStatuses[st]++
			if st == http.StatusOK {
				res.Flooded = append(res.Flooded, d.Seconds())
			}
		}
		sleep(fctx, opt.Pause)
	}
	stopFlood()
	wg.Wait()
	res.FloodSeconds += time.Since(start).Seconds()
	slices.Sort(res.Flooded)
	// The heavy queries cut off go on in the server until the engine sees
	// the cancellation; the next round starts when the server is idle.
	for srv.eng.running.Load() > 0 {
		sleep(ctx, 10*time.Millisecond)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// floodServer is the API on loopback over an engine of its own.
type floodServer struct {
	e      *stateEngine
	eng    *countingEngine
	h      *api.Handler
	url    string
	tokens map[string]string
	dir    string
	stop   context.CancelFunc
	done   chan error
}

// floodPolicy is the benchmark policy with LightPrincipal as a second
// researcher of the project.
func floodPolicy() (*policies.Policy, error) {
	pol, err := Policy()
	if err != nil {
		return nil, err
	}
	pr := pol.Projects[Project]
	pr.Members = append(pr.Members, policies.Member{Principal: LightPrincipal, Role: pr.Members[0].Role})
	return pol, nil
}

func startFloodServer(ctx context.Context, o *FloodOptions) (*floodServer, error) {
	pol, err := floodPolicy()
	if err != nil {
		return nil, err
	}
	dir, err := o.Data.StateDir(o.Scratch)
	if err != nil {
		return nil, err
	}
	e, err := openStateEngine(ctx, &engine.Options{Policy: pol, DataDir: dir,
		MemoryLimit: o.MemoryLimit, Threads: o.Threads, QueryTimeout: 10 * time.Minute, NoRepeats: true})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &floodServer{e: e, dir: dir, tokens: map[string]string{}, done: make(chan error, 1)}
	fail := func(err error) (*floodServer, error) {
		e.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	for _, p := range []string{FloodPrincipal, LightPrincipal} {
		if s.tokens[p], _, err = e.state.Tokens().Create(ctx, p, nil); err != nil {
			return fail(err)
		}
	}
	s.eng = &countingEngine{Engine: e.Engine}
	s.h, err = api.New(&api.Options{Engine: s.eng, Auth: e.state.Tokens(), RequestTimeout: 10 * time.Minute,
		MaxConcurrentQueries: o.MaxConcurrent, MaxQueriesPerPrincipal: o.MaxPerPrincipal})
	if err != nil {
		return fail(err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	s.url = "http://" + ln.Addr().String() + "/v1/query"
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	go func() { s.done <- api.ServeListener(sctx, ln, s.h, &api.ServeOptions{ShutdownTimeout: time.Minute}) }()
	return s, nil
}

// countingEngine counts the queries running in the engine.
type countingEngine struct {
	*engine.Engine
	running atomic.Int64
}

func (c *countingEngine) Query(ctx context.Context, p engine.Principal, r engine.Request) (*result.Result, error) {
	c.running.Add(1)
	defer c.running.Add(-1)
	return c.Engine.Query(ctx, p, r)
}

func (s *floodServer) close() error {
	s.stop()
	err := <-s.done
	err = errors.Join(err, s.e.Close())
	os.RemoveAll(s.dir)
	return err
}

// floodClient posts one query as one principal over its own connections.
type floodClient struct {
	principal string
	url       string
	token     string
	body      []byte
	client    *http.Client
}

func (s *floodServer) client(principal, sql string, conns int) *floodClient {
	body, _ := json.Marshal(api.QueryBody{Project: Project, SQL: sql}) // strings only
	return &floodClient{principal: principal, url: s.url, token: s.tokens[principal], body: body,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, DisableCompression: true}}}
}

// post sends the query, reads the whole response and returns its status
// and the time to the last byte.
func (c *floodClient) post(ctx context.Context) (int, time.Duration, error) {
	return c.postNotify(ctx, nil)
}

// postNotify is post that calls admitted when the response is a 200 or a
// 429: either a heavy query ran, or the principal's queries fill their
// share, so the flood is under way.
func (c *floodClient) postNotify(ctx context.Context, admitted func()) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(c.body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if admitted != nil && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusTooManyRequests) {
		admitted()
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return resp.StatusCode, 0, err
	}
	return resp.StatusCode, time.Since(start), nil
}

// cpuSample is the machine's busy CPU time and this process's, in clock
// ticks (/proc/stat and /proc/self/stat, Linux; ok is false elsewhere).
type cpuSample struct {
	busy, self int64
	at         time.Time
	ok         bool
}

// clockTicks is USER_HZ, the unit of /proc's CPU times on Linux.
const clockTicks = 100

func sampleCPU() cpuSample {
	s := cpuSample{at: time.Now()}
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(stat), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return s
	}
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return s
		}
		s.busy += n
	}
	self, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return s
	}
	// Fields after the command name (which is in parentheses): state is
	// the 3rd field of the line, utime and stime the 14th and 15th.
	_, rest, ok := strings.Cut(string(self), ") ")
	g := strings.Fields(rest)
	if !ok || len(g) < 13 {
		return s
	}
	for _, v := range g[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return s
		}
		s.self += n
	}
	s.ok = true
	return s
}

// waitQuiet waits until other processes use at most cores CPU over a
// second, or until limit has passed.
func waitQuiet(ctx context.Context, cores float64, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		a := sampleCPU()
		sleep(ctx, time.Second)
		if o := othersCores(a, sampleCPU()); o <= cores {
			return
		}
	}
}

// othersCores is the CPU other processes used between a and b, in cores
// (-1 when unknown).
func othersCores(a, b cpuSample) float64 {
	d := b.at.Sub(a.at).Seconds()
	if !a.ok || !b.ok || d <= 0 {
		return -1
	}
	return max(0, float64((b.busy-a.busy)-(b.self-a.self))/clockTicks/d)
}
