package api_test

// Harness of the end-to-end tests: each test starts the real server
// (the SQLite state store and engine.New on a fresh copy of the checked-in
// extract, api.New, api.ServeListener on 127.0.0.1:0) and talks to it with
// net/http only.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statgate/statgate/api"
	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/state/sqlite"
	"github.com/statgate/statgate/policies"
)

// e2ePolicyPath is the shipped policy; its sources are the checked-in
// extract in testdata/registries.
const e2ePolicyPath = "../policies/norway-synthetic.yaml"

// The principals of the shipped policy.
const (
	researcher = "ingrid"         // researcher in diabetes-2026 and cancer-survival
	analyst    = "pharma-analyst" // analyst in diabetes-2026
	onco       = "onco-analyst"   // analyst in cancer-survival
	admin      = "registry-admin" // admin in both projects
)

var (
	// loaded is a data directory with the extract loaded, shared by the
	// tests of this binary; each server copies its extracts.duckdb.
	loadOnce sync.Once
	loaded   string
	loadErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if loaded != "" {
		os.RemoveAll(loaded)
	}
	os.Exit(code)
}

// loadedDir loads the extract once (the first e2e test pays for it).
func loadedDir(t *testing.T) string {
	t.Helper()
	loadOnce.Do(func() {
		dir, err := os.MkdirTemp("", "statgate-e2e-")
		if err != nil {
			loadErr = err
			return
		}
		loaded = dir
		pol, err := policies.Load(e2ePolicyPath)
		if err != nil {
			loadErr = err
			return
		}
		_, loadErr = exec.Load(context.Background(), &exec.LoadOptions{Policy: pol, DataDir: dir})
	})
	if loadErr != nil {
		t.Fatalf("loading the testdata extract: %v", loadErr)
	}
	return loaded
}

// e2ePolicy loads the shipped policy, with the diabetes-2026 budget ε
// replaced when diabetesEpsilon > 0. The text is parsed as if it were the
// shipped file, so its relative sources and code list files resolve.
func e2ePolicy(t *testing.T, diabetesEpsilon float64) *policies.Policy {
	t.Helper()
	src, err := os.ReadFile(e2ePolicyPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	if diabetesEpsilon > 0 {
		const budget = "budget: {epsilon: 10, delta: 1.0e-5}"
		i := strings.Index(text, "\n  diabetes-2026:")
		j := strings.Index(text[max(i, 0):], budget)
		if i < 0 || j < 0 {
			t.Fatalf("%s no longer has %q under diabetes-2026; update the e2e harness", e2ePolicyPath, budget)
		}
		at := i + j
		text = text[:at] + fmt.Sprintf("budget: {epsilon: %g, delta: 1.0e-5}", diabetesEpsilon) + text[at+len(budget):]
	}
	pol, err := policies.Parse([]byte(text), e2ePolicyPath)
	if err != nil {
		t.Fatal(err)
	}
	if diabetesEpsilon > 0 && pol.Projects["diabetes-2026"].Budget.Epsilon != diabetesEpsilon {
		t.Fatalf("policy variant has budget %+v", pol.Projects["diabetes-2026"].Budget)
	}
	return pol
}

// e2eConfig varies a server.
type e2eConfig struct {
	// diabetesEpsilon replaces the diabetes-2026 budget ε (0: the policy's 10).
	diabetesEpsilon float64
	// accounting replaces the policy's accounting ("": the policy's).
	accounting string
	// repeats turns free repeats on (engine.Options.NoRepeats false); the
	// other tests ask one question several times to see it paid each time.
	repeats bool
	// maxBody is api.Options.MaxBodyBytes (0: the default).
	maxBody int64
	// queryTimeout is engine.Options.QueryTimeout (0: the default).
	queryTimeout time.Duration
	// maxQueries is api.Options.MaxConcurrentQueries and
	// MaxQueriesPerPrincipal (0: the defaults).
	maxQueries int
	// wrap, when set, wraps the engine the API calls (to hold a request in flight).
	wrap func(api.Engine) api.Engine
	// policy, when set, changes the loaded policy before the engine opens.
	policy func(*policies.Policy)
}

// e2eServer is a running server and what the test needs to talk to it.
type e2eServer struct {
	url     string
	dir     string
	eng     *engine.Engine
	store   *sqlite.Store
	h       *api.Handler
	client  *http.Client
	tokens  map[string]string // principal → bearer token
	tokenID map[string]string // principal → token id
	cancel  context.CancelFunc
	// stopped is closed when ServeListener has returned serveErr.
	stopped  chan struct{}
	serveErr error
}

// startE2E opens an engine on a fresh copy of the loaded extract, creates
// a token per principal and serves the API on a loopback port until the
// test ends.
func startE2E(t *testing.T, cfg e2eConfig) *e2eServer {
	t.Helper()
	src := loadedDir(t)
	dir := t.TempDir()
	data, err := os.ReadFile(exec.ExtractsPath(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exec.ExtractsPath(dir), data, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	pol := e2ePolicy(t, cfg.diabetesEpsilon)
	if cfg.accounting != "" {
		pol.Accounting = cfg.accounting
	}
	if cfg.policy != nil {
		cfg.policy(pol)
	}
	eng, err := engine.New(ctx, &engine.Options{
		Policy: pol, DataDir: dir, State: store, Threads: 2, QueryTimeout: cfg.queryTimeout, NoRepeats: !cfg.repeats,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })

	s := &e2eServer{dir: dir, eng: eng, store: store, tokens: map[string]string{}, tokenID: map[string]string{}}
	for _, p := range []string{researcher, analyst, onco, admin} {
		tok, info, err := store.Tokens().Create(ctx, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.tokens[p], s.tokenID[p] = tok, info.ID
	}
	var ae api.Engine = eng
	if cfg.wrap != nil {
		ae = cfg.wrap(eng)
	}
	s.h, err = api.New(&api.Options{Engine: ae, Auth: store.Tokens(), MaxBodyBytes: cfg.maxBody,
		MaxConcurrentQueries: cfg.maxQueries, MaxQueriesPerPrincipal: cfg.maxQueries})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	s.url, s.cancel, s.stopped = "http://"+ln.Addr().String(), cancel, make(chan struct{})
	go func() {
		s.serveErr = api.ServeListener(sctx, ln, s.h, &api.ServeOptions{ShutdownTimeout: 10 * time.Second})
		close(s.stopped)
	}()
	s.client = &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.stopped:
			if s.serveErr != nil {
				t.Errorf("server shutdown: %v", s.serveErr)
			}
		case <-time.After(15 * time.Second):
			t.Error("server did not shut down")
		}
		s.client.CloseIdleConnections()
	})
	return s
}

// call is one HTTP request of a test.
type call struct {
	method string
	path   string
	// as is the principal whose token is sent; "" sends none.
	as string
	// body, when not "", is sent with Content-Type application/json unless
	// header sets another.
	body   string
	header map[string]string
}

// reply is a complete response.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// do sends c and reads the whole response. It is safe for concurrent use.
func (s *e2eServer) do(c call) (reply, error) {
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, s.url+c.path, body)
	if err != nil {
		return reply{}, err
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.as != "" {
		tok, ok := s.tokens[c.as]
		if !ok {
			return reply{}, fmt.Errorf("no token for %q", c.as)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// must is do that fails the test on a transport error or another status.
func (s *e2eServer) must(t *testing.T, c call, status int) reply {
	t.Helper()
	r, err := s.do(c)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	if r.status != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", c.method, c.path, r.status, status, r.body)
	}
	return r
}

// mediaType is the response's media type without parameters.
func (r reply) mediaType() string {
	mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	return mt
}

// decodeJSON decodes a JSON response body into v.
func decodeJSON(t *testing.T, r reply, v any) {
	t.Helper()
	if mt := r.mediaType(); mt != api.MediaJSON {
		t.Fatalf("Content-Type %q, want %s; body %s", r.header.Get("Content-Type"), api.MediaJSON, r.body)
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// problem decodes and checks a problem+json body: its status matches the
// response's, it has a code, a detail, the type made from the code, and
// the request id of the X-Request-Id header.
func problem(t *testing.T, r reply) api.Problem {
	t.Helper()
	if mt := r.mediaType(); mt != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json; body %s", r.header.Get("Content-Type"), r.body)
	}
	var p api.Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body %s: %v", r.body, err)
	}
	if p.Status != r.status || p.Code == "" || p.Detail == "" || p.Title == "" || p.Type != api.ProblemTypeBase+p.Code {
		t.Errorf("incomplete problem for status %d: %+v", r.status, p)
	}
	if id := r.header.Get("X-Request-Id"); id == "" || p.RequestID != id {
		t.Errorf("problem request_id %q, X-Request-Id %q", p.RequestID, id)
	}
	return p
}

// budget returns spent ε per dataset of a project, as the budget endpoint reports it.
func (s *e2eServer) budget(t *testing.T, project string) map[string]engine.Amount {
	t.Helper()
	r := s.must(t, call{method: http.MethodGet, path: "/v1/projects/" + project + "/budget", as: researcher}, http.StatusOK)
	var rep engine.BudgetReport
	decodeJSON(t, r, &rep)
	if rep.Project != project {
		t.Fatalf("budget report for %q, want %q", rep.Project, project)
	}
	out := map[string]engine.Amount{}
	for _, d := range rep.Datasets {
		out[d.Dataset] = d.Epsilon
	}
	return out
}

// verifyAudit checks the audit chain through the state store, as
// `statgate audit verify` does from a second process, and returns the
// number of entries per outcome.
func (s *e2eServer) verifyAudit(t *testing.T) map[string]int {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, s.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := st.Audit()
	rep, err := log.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("audit verify: %+v", rep)
	}
	entries, err := log.Tail(ctx, int(rep.Entries)+1)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(entries)) != rep.Entries {
		t.Fatalf("audit tail has %d entries, verify counted %d", len(entries), rep.Entries)
	}
	out := map[string]int{}
	for _, e := range entries {
		out[e.Outcome]++
	}
	return out
}

// near reports whether two budget amounts agree up to float rounding (the
// ledger keeps ε in units of 1e-9).
func near(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}
