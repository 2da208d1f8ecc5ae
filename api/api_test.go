package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/catalog"
	"github.com/statgate/statgate/engine/epi"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/result"
	"github.com/statgate/statgate/engine/state"
	"github.com/statgate/statgate/engine/tokens"
)

// fakeEngine is an Engine whose answers the tests choose.
type fakeEngine struct {
	mu        sync.Mutex
	queryFn   func(ctx context.Context, p engine.Principal, r engine.Request) (*result.Result, error)
	ratesFn   func(ctx context.Context, p engine.Principal, r engine.RatesRequest) (*epi.RatesResult, error)
	survFn    func(ctx context.Context, p engine.Principal, r engine.SurvivalRequest) (*epi.SurvivalResult, error)
	budgetErr error
	auditErr  error
	readyErr  error
	calls     int
	last      engine.Request
	lastP     engine.Principal
	lastLimit int
}

func (f *fakeEngine) Query(ctx context.Context, p engine.Principal, r engine.Request) (*result.Result, error) {
	f.mu.Lock()
	f.calls++
	f.last, f.lastP = r, p
	fn := f.queryFn
	f.mu.Unlock()
	if fn == nil {
		return sampleResult(), nil
	}
	return fn(ctx, p, r)
}

func (f *fakeEngine) Rates(ctx context.Context, p engine.Principal, r engine.RatesRequest) (*epi.RatesResult, error) {
	f.mu.Lock()
	f.calls++
	fn := f.ratesFn
	f.mu.Unlock()
	if fn == nil {
		return nil, errors.New("fakeEngine: no rates answer")
	}
	return fn(ctx, p, r)
}

func (f *fakeEngine) Survival(ctx context.Context, p engine.Principal, r engine.SurvivalRequest) (*epi.SurvivalResult, error) {
	f.mu.Lock()
	f.calls++
	fn := f.survFn
	f.mu.Unlock()
	if fn == nil {
		return nil, errors.New("fakeEngine: no survival answer")
	}
	return fn(ctx, p, r)
}

func (f *fakeEngine) Datasets(q string) []catalog.Dataset {
	all := []catalog.Dataset{
		{Name: "npr", Title: "Norwegian Patient Registry (synthetic)", PersonKey: "pid"},
		{Name: "lmr", Title: "Prescription registry (synthetic)", PersonKey: "pid"},
	}
	if q == "" {
		return all
	}
	var out []catalog.Dataset
	for _, d := range all {
		if strings.Contains(strings.ToLower(d.Title), strings.ToLower(q)) {
			out = append(out, d)
		}
	}
	return out
}

func (f *fakeEngine) Dataset(name string) (catalog.Dataset, bool) {
	for _, d := range f.Datasets("") {
		if d.Name == name {
			return d, true
		}
	}
	return catalog.Dataset{}, false
}

func (f *fakeEngine) Templates(p engine.Principal) []engine.TemplateInfo {
	if p.Name != "ingrid" {
		return nil
	}
	return []engine.TemplateInfo{{Name: "prescriptions_by_atc_year", Title: "Persons dispensed a drug group, per year",
		Datasets: []string{"lmr"}, Epsilon: 0.5, SQL: "SELECT ..."}}
}

func (f *fakeEngine) Budget(_ context.Context, p engine.Principal, project string) (*engine.BudgetReport, error) {
	if f.budgetErr != nil {
		return nil, f.budgetErr
	}
	return &engine.BudgetReport{Project: project, Datasets: []engine.DatasetBudget{
		{Dataset: "npr", Epsilon: engine.Amount{Total: 10, Spent: 2.5, Remaining: 7.5}},
	}}, nil
}

func (f *fakeEngine) BudgetHistory(_ context.Context, p engine.Principal, project string, before int64, limit int) (*engine.BudgetHistory, error) {
	if f.budgetErr != nil {
		return nil, f.budgetErr
	}
	f.mu.Lock()
	f.lastLimit = limit
	f.mu.Unlock()
	return &engine.BudgetHistory{Project: project}, nil
}

func (f *fakeEngine) Audit(_ context.Context, p engine.Principal, limit int) ([]audit.Entry, error) {
	f.mu.Lock()
	f.lastLimit = limit
	f.mu.Unlock()
	if f.auditErr != nil {
		return nil, f.auditErr
	}
	return []audit.Entry{{Seq: 7, Principal: "ingrid", Project: "diabetes-2026", Outcome: audit.OutcomeReleased}}, nil
}

func (f *fakeEngine) Ready(context.Context) error { return f.readyErr }

func (f *fakeEngine) Catalogue(baseURL string) map[string]any {
	return map[string]any{"@type": "dcat:Catalog", "@id": baseURL + "/v1/catalog.jsonld"}
}

func (f *fakeEngine) queryCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// fakeAuth knows two tokens; "broken" makes the store fail.
type fakeAuth struct{}

func (fakeAuth) Lookup(_ context.Context, token string) (string, bool, error) {
	switch token {
	case "tok-ingrid":
		return "ingrid", true, nil
	case "tok-admin":
		return "admin", true, nil
	case "tok-expired":
		return "", false, tokens.ErrExpired
	case "broken":
		return "", false, errors.New("state.db: disk I/O error at /var/lib/statgate")
	}
	return "", false, nil
}

// sampleResult has an integer, a string and a date key, two measures, a
// suppressed cell and a margin row.
func sampleResult() *result.Result {
	ci := func(lo, hi float64) *[2]float64 { return &[2]float64{lo, hi} }
	return &result.Result{
		Columns: []result.Column{
			{Name: "year", Role: result.RoleKey, Type: result.TypeInteger},
			{Name: "sex", Role: result.RoleKey, Type: result.TypeString},
			{Name: "first_contact", Role: result.RoleKey, Type: result.TypeDate},
			{Name: "persons", Role: result.RoleMeasure, Type: result.TypeNumber, Aggregate: "count_persons"},
			{Name: "mean_los", Role: result.RoleMeasure, Type: result.TypeNumber, Aggregate: "avg"},
		},
		Rows: []result.Row{
			{Cells: []result.Cell{{Value: int64(2020)}, {Value: "F"}, {Value: "2020-01-01"},
				{Value: 1250.0, StdDev: 2.8, CI: ci(1244.5, 1255.5)}, {Value: 3.25, StdDev: 0.1, CI: ci(3.05, 3.45)}}},
			{Cells: []result.Cell{{Value: int64(2020)}, {Value: "M"}, {Value: "2020-01-01"},
				{Suppressed: true, Reason: "min_cell_count"}, {Value: 4.5, StdDev: 0.2, CI: ci(4.1, 4.9)}}},
			{Margin: true, Cells: []result.Cell{{Value: nil}, {Value: nil}, {Value: nil},
				{Value: 1260.0, StdDev: 2.8, CI: ci(1254.5, 1265.5)}, {Suppressed: true, Reason: "secondary"}}},
		},
		Meta: result.Meta{QueryID: "q-123", Project: "diabetes-2026", Datasets: []string{"npr"},
			Epsilon: 0.5, Delta: 1e-7, Mechanism: "laplace", Groups: "public_domain", MinCellCount: 5},
	}
}

// testServer is a Handler under test with its registry and log.
type testServer struct {
	h   *Handler
	eng *fakeEngine
	reg *prometheus.Registry
	log *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newTestServer(t *testing.T, eng *fakeEngine, mod func(*Options)) *testServer {
	t.Helper()
	if eng == nil {
		eng = &fakeEngine{}
	}
	ts := &testServer{eng: eng, reg: prometheus.NewRegistry(), log: &syncBuffer{}}
	opts := &Options{
		Engine:   eng,
		Auth:     fakeAuth{},
		Logger:   slog.New(slog.NewJSONHandler(ts.log, nil)),
		Registry: ts.reg,
	}
	if mod != nil {
		mod(opts)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts.h = h
	return ts
}

// req describes a test request.
type req struct {
	method, path, token, body string
	header                    map[string]string
	// unknownLength sends the body without a Content-Length, as chunked uploads do.
	unknownLength bool
}

func (ts *testServer) do(r req) *httptest.ResponseRecorder {
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	if host, ok := r.header["Host"]; ok {
		hr.Host = host // Go keeps the Host header in Request.Host
	}
	if r.unknownLength {
		hr.ContentLength = -1
	}
	w := httptest.NewRecorder()
	ts.h.ServeHTTP(w, hr)
	return w
}

// decodeProblem checks that w is a well-formed problem and returns it.
func decodeProblem(t *testing.T, w *httptest.ResponseRecorder) Problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json; body %s", ct, w.Body)
	}
	var p Problem
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("decode problem: %v", err)
	}
	if p.Status != w.Code {
		t.Errorf("problem status %d, response status %d", p.Status, w.Code)
	}
	if p.Type != ProblemTypeBase+p.Code || p.Code == "" || p.Title == "" || p.Detail == "" {
		t.Errorf("incomplete problem %+v", p)
	}
	if p.RequestID == "" || p.RequestID != w.Header().Get("X-Request-Id") {
		t.Errorf("problem request_id %q, header %q", p.RequestID, w.Header().Get("X-Request-Id"))
	}
	return p
}

func TestErrorStatuses(t *testing.T) {
	refuse := func(code refusal.Code) func(context.Context, engine.Principal, engine.Request) (*result.Result, error) {
		return func(context.Context, engine.Principal, engine.Request) (*result.Result, error) {
			return nil, fmt.Errorf("engine.Query: %w", refusal.New(code, "not allowed here", "do this instead"))
		}
	}
	const q = `{"project":"diabetes-2026","sql":"SELECT count(*) FROM npr"}`
	tests := []struct {
		desc       string
		eng        *fakeEngine
		opts       func(*Options)
		req        req
		wantStatus int
		wantCode   string
		// wantInDetail must appear in the detail; wantNotInBody must not appear anywhere.
		wantInDetail  string
		wantNotInBody string
		wantHeader    [2]string
		wantNoQuery   bool
	}{
		{desc: "missing token", req: req{method: "GET", path: "/v1/datasets"},
			wantStatus: 401, wantCode: "missing_token", wantHeader: [2]string{"WWW-Authenticate", `Bearer realm="statgate"`}},
		{desc: "not a bearer token", req: req{method: "GET", path: "/v1/datasets", header: map[string]string{"Authorization": "Basic aW5ncmlkOng="}},
			wantStatus: 401, wantCode: "missing_token"},
		{desc: "unknown token", req: req{method: "GET", path: "/v1/templates", token: "nope"},
			wantStatus: 401, wantCode: "invalid_token", wantHeader: [2]string{"WWW-Authenticate", `Bearer realm="statgate", error="invalid_token"`}},
		{desc: "expired token", req: req{method: "POST", path: "/v1/query", token: "tok-expired", body: q},
			wantStatus: 401, wantCode: "token_expired", wantInDetail: "expired", wantNoQuery: true,
			wantHeader: [2]string{"WWW-Authenticate", `Bearer realm="statgate", error="invalid_token"`}},
		{desc: "public metrics", req: req{method: "GET", path: "/metrics"},
			wantStatus: 404, wantCode: "unknown_endpoint", wantNotInBody: "GET /metrics"},
		{desc: "public metrics with a token", req: req{method: "GET", path: "/metrics", token: "tok-admin"},
			wantStatus: 404, wantCode: "unknown_endpoint", wantNotInBody: "statgate_"},
		{desc: "token store fails", req: req{method: "POST", path: "/v1/query", token: "broken", body: q},
			wantStatus: 503, wantCode: "state_unavailable", wantNotInBody: "disk", wantNoQuery: true},
		{desc: "state store fails at the debit", eng: &fakeEngine{queryFn: func(context.Context, engine.Principal, engine.Request) (*result.Result, error) {
			return nil, fmt.Errorf("engine.Query: debit: %w", state.Unavailable(errors.New("dial tcp 10.0.0.7:5432: connection refused")))
		}}, req: req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: q},
			wantStatus: 503, wantCode: "state_unavailable", wantNotInBody: "10.0.0.7"},
		{desc: "forbidden budget", eng: &fakeEngine{budgetErr: &refusal.Error{Code: refusal.NotAMember, Message: "ingrid is not a member of this project"}},
			req: req{method: "GET", path: "/v1/projects/other/budget", token: "tok-ingrid"}, wantStatus: 403, wantCode: "not_a_member"},
		{desc: "forbidden audit", eng: &fakeEngine{auditErr: &refusal.Error{Code: refusal.RoleNotAllowed, Message: "no role allows reading the audit log"}},
			req: req{method: "GET", path: "/v1/audit", token: "tok-ingrid"}, wantStatus: 403, wantCode: "role_not_allowed"},
		{desc: "unknown path lists endpoints", req: req{method: "GET", path: "/v1/querys"},
			wantStatus: 404, wantCode: "unknown_endpoint", wantInDetail: "no endpoint"},
		{desc: "unknown dataset", req: req{method: "GET", path: "/v1/datasets/nope", token: "tok-ingrid"},
			wantStatus: 404, wantCode: "unknown_dataset"},
		{desc: "engine not found", eng: &fakeEngine{queryFn: refuse(refusal.UnknownTemplate)},
			req: req{method: "POST", path: "/v1/templates/nope/run", token: "tok-ingrid", body: `{"project":"p"}`}, wantStatus: 404, wantCode: "unknown_template"},
		{desc: "wrong method", req: req{method: "DELETE", path: "/v1/query", token: "tok-ingrid"},
			wantStatus: 405, wantCode: "method_not_allowed", wantHeader: [2]string{"Allow", "POST"}},
		{desc: "wrong method on a GET route", req: req{method: "POST", path: "/v1/datasets"},
			wantStatus: 405, wantCode: "method_not_allowed", wantHeader: [2]string{"Allow", "GET"}},
		{desc: "unacceptable result format", req: req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: q, header: map[string]string{"Accept": "text/html"}},
			wantStatus: 406, wantCode: "not_acceptable", wantNoQuery: true},
		{desc: "unacceptable JSON-only endpoint", req: req{method: "GET", path: "/v1/datasets", token: "tok-ingrid", header: map[string]string{"Accept": "text/csv"}},
			wantStatus: 406, wantCode: "not_acceptable"},
		{desc: "body too large", opts: func(o *Options) { o.MaxBodyBytes = 64 },
			req:        req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: `{"project":"p","sql":"` + strings.Repeat("x", 100) + `"}`},
			wantStatus: 413, wantCode: "body_too_large", wantNoQuery: true},
		{desc: "body too large without content length", opts: func(o *Options) { o.MaxBodyBytes = 64 },
			req:        req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: `{"project":"p","sql":"` + strings.Repeat("x", 100) + `"}`, unknownLength: true},
			wantStatus: 413, wantCode: "body_too_large", wantNoQuery: true},
		{desc: "wrong content type", req: req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: q, header: map[string]string{"Content-Type": "text/plain"}},
			wantStatus: 415, wantCode: "unsupported_media_type", wantNoQuery: true},
		{desc: "unknown field", req: req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: `{"project":"p","sql":"s","epsilom":1}`},
			wantStatus: 400, wantCode: "unknown_field", wantInDetail: `"epsilom"`, wantNoQuery: true},
		{desc: "wrong type of epsilon", req: req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: `{"project":"p","sql":"s","epsilon":"secret-value"}`},
			wantStatus: 400, wantCode: "wrong_type", wantInDetail: `field "epsilon" must be a number, not a string`, wantNotInBody: "secret-value", wantNoQuery: true},
		{desc: "wrong type nested", req: req{method: "POST", path: "/v1/cohorts/estimate", token: "tok-ingrid", body: `{"project":"p","include":[{"dataset":7}]}`},
			wantStatus: 400, wantCode: "wrong_type", wantInDetail: `"include.dataset" must be a string, not a number`, wantNoQuery: true},
		{desc: "malformed JSON", req: req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: `{"project":"p",`},
			wantStatus: 400, wantCode: "malformed_json", wantNoQuery: true},
		{desc: "two JSON objects", req: req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: q + q},
			wantStatus: 400, wantCode: "malformed_json", wantNoQuery: true},
		{desc: "missing sql", req: req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: `{"project":"p"}`},
			wantStatus: 400, wantCode: "missing_field", wantInDetail: `"sql"`, wantNoQuery: true},
		{desc: "negative epsilon", req: req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: `{"project":"p","sql":"s","epsilon":-1}`},
			wantStatus: 400, wantCode: "invalid_epsilon", wantNoQuery: true},
		{desc: "cohort without criteria", req: req{method: "POST", path: "/v1/cohorts/estimate", token: "tok-ingrid", body: `{"project":"p"}`},
			wantStatus: 400, wantCode: "missing_field", wantNoQuery: true},
		{desc: "bad audit limit", req: req{method: "GET", path: "/v1/audit?limit=abc", token: "tok-admin"},
			wantStatus: 400, wantCode: "invalid_parameter"},
		{desc: "engine bad request", eng: &fakeEngine{queryFn: refuse(refusal.BadParameter)},
			req: req{method: "POST", path: "/v1/templates/t/run", token: "tok-ingrid", body: `{"project":"p","params":{"x":1}}`}, wantStatus: 400, wantCode: "bad_parameter"},
		{desc: "query refused", eng: &fakeEngine{queryFn: refuse(refusal.SelectStar)},
			req: req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: q}, wantStatus: 422, wantCode: "select_star", wantInDetail: "not allowed here"},
		{desc: "budget exhausted", eng: &fakeEngine{queryFn: refuse(refusal.BudgetExhausted)},
			req: req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: q}, wantStatus: 409, wantCode: "budget_exhausted"},
		{desc: "internal error hides its text", eng: &fakeEngine{queryFn: func(context.Context, engine.Principal, engine.Request) (*result.Result, error) {
			return nil, errors.New("duckdb: Binder Error: column pid_secret not found")
		}}, req: req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: q}, wantStatus: 500, wantCode: "internal", wantInDetail: "request id", wantNotInBody: "pid_secret"},
		{desc: "panic", eng: &fakeEngine{queryFn: func(context.Context, engine.Principal, engine.Request) (*result.Result, error) {
			panic("index out of range in protect.Apply")
		}}, req: req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: q}, wantStatus: 500, wantCode: "internal", wantNotInBody: "protect.Apply"},
		{desc: "timeout", opts: func(o *Options) { o.RequestTimeout = 20 * time.Millisecond }, eng: &fakeEngine{queryFn: func(ctx context.Context, _ engine.Principal, _ engine.Request) (*result.Result, error) {
			<-ctx.Done()
			return nil, errors.New("duckdb: INTERRUPT")
		}}, req: req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: q}, wantStatus: 504, wantCode: "timeout", wantNotInBody: "INTERRUPT"},
		{desc: "engine not ready", eng: &fakeEngine{readyErr: errors.New("extracts: file locked")},
			req: req{method: "GET", path: "/readyz"}, wantStatus: 503, wantCode: "not_ready", wantNotInBody: "locked"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			ts := newTestServer(t, tc.eng, tc.opts)
			w := ts.do(tc.req)
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", w.Code, tc.wantStatus, w.Body)
			}
			raw := w.Body.String()
			p := decodeProblem(t, w)
			if p.Code != tc.wantCode {
				t.Errorf("code %q, want %q", p.Code, tc.wantCode)
			}
			if !strings.Contains(p.Detail, tc.wantInDetail) {
				t.Errorf("detail %q lacks %q", p.Detail, tc.wantInDetail)
			}
			if tc.wantNotInBody != "" && strings.Contains(raw, tc.wantNotInBody) {
				t.Errorf("body leaks %q: %s", tc.wantNotInBody, raw)
			}
			if strings.Contains(raw, "goroutine") || strings.Contains(raw, ".go:") {
				t.Errorf("body contains a stack trace: %s", raw)
			}
			if tc.wantHeader[0] != "" && w.Header().Get(tc.wantHeader[0]) != tc.wantHeader[1] {
				t.Errorf("header %s = %q, want %q", tc.wantHeader[0], w.Header().Get(tc.wantHeader[0]), tc.wantHeader[1])
			}
			if tc.wantNoQuery && ts.eng.queryCalls() != 0 {
				t.Errorf("engine was asked %d times; the request should have been rejected first", ts.eng.queryCalls())
			}
			if tc.wantStatus == 404 && tc.wantCode == "unknown_endpoint" && len(p.Endpoints) != len(endpoints) {
				t.Errorf("endpoints %v", p.Endpoints)
			}
		})
	}
}

func TestServerErrorsAreLogged(t *testing.T) {
	eng := &fakeEngine{queryFn: func(context.Context, engine.Principal, engine.Request) (*result.Result, error) {
		panic("boom in protect")
	}}
	ts := newTestServer(t, eng, nil)
	w := ts.do(req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: `{"project":"p","sql":"SELECT 1"}`})
	p := decodeProblem(t, w)
	log := ts.log.String()
	for _, want := range []string{"boom in protect", p.RequestID, `"stack"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestSuccessRoutes(t *testing.T) {
	tests := []struct {
		desc     string
		req      req
		want     string // a fragment of the JSON body
		wantReq  func(r engine.Request) bool
		wantCall bool
	}{
		{desc: "healthz", req: req{method: "GET", path: "/healthz"}, want: `{"status":"ok"}`},
		{desc: "readyz", req: req{method: "GET", path: "/readyz"}, want: `{"status":"ready"}`},
		{desc: "HEAD answered by GET", req: req{method: "HEAD", path: "/readyz"}, want: ``},
		{desc: "datasets", req: req{method: "GET", path: "/v1/datasets", token: "tok-ingrid"}, want: `"name":"lmr"`},
		{desc: "datasets search", req: req{method: "GET", path: "/v1/datasets?q=prescription", token: "tok-ingrid"}, want: `{"datasets":[{"name":"lmr"`},
		{desc: "datasets search without hits", req: req{method: "GET", path: "/v1/datasets?q=zzz", token: "tok-ingrid"}, want: `{"datasets":[]}`},
		{desc: "dataset", req: req{method: "GET", path: "/v1/datasets/npr", token: "tok-ingrid"}, want: `"person_key":"pid"`},
		{desc: "templates of ingrid", req: req{method: "GET", path: "/v1/templates", token: "tok-ingrid"}, want: `"name":"prescriptions_by_atc_year"`},
		{desc: "templates of admin", req: req{method: "GET", path: "/v1/templates", token: "tok-admin"}, want: `{"templates":[]}`},
		{desc: "budget", req: req{method: "GET", path: "/v1/projects/diabetes-2026/budget", token: "tok-ingrid"}, want: `"remaining":7.5`},
		{desc: "audit", req: req{method: "GET", path: "/v1/audit?limit=5", token: "tok-admin"}, want: `{"entries":[{"seq":7`},
		{desc: "query", req: req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: `{"project":"diabetes-2026","sql":"SELECT 1","epsilon":0.25,"totals":true}`},
			want: `"query_id":"q-123"`, wantCall: true, wantReq: func(r engine.Request) bool {
				return r.Project == "diabetes-2026" && r.SQL == "SELECT 1" && r.Epsilon == 0.25 && r.Totals && r.Template == "" && r.Cohort == nil
			}},
		{desc: "template run", req: req{method: "POST", path: "/v1/templates/prescriptions_by_atc_year/run", token: "tok-ingrid", body: `{"project":"diabetes-2026","params":{"atc_prefix":"A10B%","year":2020}}`},
			want: `"columns":`, wantCall: true, wantReq: func(r engine.Request) bool {
				return r.Template == "prescriptions_by_atc_year" && r.Params["atc_prefix"] == "A10B%" && r.Params["year"] == 2020.0 && r.SQL == ""
			}},
		{desc: "cohort", req: req{method: "POST", path: "/v1/cohorts/estimate", token: "tok-ingrid",
			body: `{"project":"diabetes-2026","include":[{"dataset":"npr","where":"icd10 LIKE 'E11%'","from":"2020-01-01"}],"exclude":[{"dataset":"cancer","where":"true"}],"breakdown":["sex"]}`},
			want: `"rows":`, wantCall: true, wantReq: func(r engine.Request) bool {
				c := r.Cohort
				return c != nil && len(c.Include) == 1 && c.Include[0].Dataset == "npr" && c.Include[0].From == "2020-01-01" &&
					len(c.Exclude) == 1 && len(c.Breakdown) == 1 && r.Epsilon == 0
			}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			ts := newTestServer(t, nil, nil)
			w := ts.do(tc.req)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d; body %s", w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != MediaJSON {
				t.Errorf("Content-Type %q", ct)
			}
			if !strings.Contains(w.Body.String(), tc.want) {
				t.Errorf("body lacks %s:\n%s", tc.want, w.Body)
			}
			if got := ts.eng.queryCalls(); (got == 1) != tc.wantCall {
				t.Errorf("engine asked %d times", got)
			}
			if tc.wantCall && ts.eng.lastP.Name != "ingrid" {
				t.Errorf("principal %q, want ingrid", ts.eng.lastP.Name)
			}
			if tc.wantReq != nil && !tc.wantReq(ts.eng.last) {
				t.Errorf("engine got request %+v", ts.eng.last)
			}
		})
	}
}

func TestAuditLimitPassedThrough(t *testing.T) {
	for _, tc := range []struct {
		desc, query string
		want        int
	}{
		{desc: "default", query: "", want: 0},
		{desc: "explicit", query: "?limit=1000", want: 1000},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			ts := newTestServer(t, nil, nil)
			if w := ts.do(req{method: "GET", path: "/v1/audit" + tc.query, token: "tok-admin"}); w.Code != 200 {
				t.Fatalf("status %d", w.Code)
			}
			if ts.eng.lastLimit != tc.want {
				t.Errorf("limit %d, want %d", ts.eng.lastLimit, tc.want)
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	tests := []struct {
		desc   string
		sent   string
		want   string // "" means: a generated id, not the sent one
		status int
	}{
		{desc: "generated", sent: "", status: 200},
		{desc: "client id kept", sent: "abc-123_x.y", want: "abc-123_x.y", status: 200},
		{desc: "unsafe client id replaced", sent: "evil\" id\nnext", status: 200},
		{desc: "long client id replaced", sent: strings.Repeat("a", 65), status: 200},
		{desc: "on errors too", sent: "err-1", want: "err-1", status: 401},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			ts := newTestServer(t, nil, nil)
			path := "/healthz"
			if tc.status == 401 {
				path = "/v1/datasets"
			}
			w := ts.do(req{method: "GET", path: path, header: map[string]string{"X-Request-Id": tc.sent}})
			if w.Code != tc.status {
				t.Fatalf("status %d", w.Code)
			}
			got := w.Header().Get("X-Request-Id")
			switch {
			case got == "":
				t.Fatal("no X-Request-Id header")
			case tc.want != "" && got != tc.want:
				t.Errorf("X-Request-Id %q, want %q", got, tc.want)
			case tc.want == "" && got == tc.sent:
				t.Errorf("X-Request-Id %q echoed the unsafe id", got)
			}
			if !strings.Contains(ts.log.String(), `"request_id":"`+got+`"`) {
				t.Errorf("access log lacks the request id:\n%s", ts.log)
			}
		})
	}
}

func TestAccessLog(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	const secretSQL = "SELECT count(*) FROM npr WHERE icd10 = 'E11.9'"
	w := ts.do(req{method: "POST", path: "/v1/query?trace=secret-param", token: "tok-ingrid",
		body: `{"project":"diabetes-2026","sql":"` + secretSQL + `"}`})
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(ts.log.String())), &line); err != nil {
		t.Fatalf("one JSON log line expected: %v\n%s", err, ts.log)
	}
	want := map[string]any{"msg": "http request", "method": "POST", "path": "/v1/query", "route": "/v1/query",
		"status": 200.0, "principal": "ingrid"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v", k, line[k], v)
		}
	}
	if _, ok := line["duration"]; !ok {
		t.Error("log lacks duration")
	}
	for _, leak := range []string{"E11.9", "secret-param", "1250", "tok-ingrid"} {
		if strings.Contains(ts.log.String(), leak) {
			t.Errorf("log leaks %q:\n%s", leak, ts.log)
		}
	}
}

func TestDrain(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	ts.h.Drain()
	tests := []struct {
		desc   string
		req    req
		status int
	}{
		{desc: "healthz still up", req: req{method: "GET", path: "/healthz"}, status: 200},
		{desc: "readyz down", req: req{method: "GET", path: "/readyz"}, status: 503},
		{desc: "new queries refused", req: req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: `{"project":"p","sql":"s"}`}, status: 503},
		{desc: "data map refused", req: req{method: "GET", path: "/v1/datasets", token: "tok-ingrid"}, status: 503},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			w := ts.do(tc.req)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if tc.status == 503 {
				if p := decodeProblem(t, w); p.Code != "shutting_down" {
					t.Errorf("code %q", p.Code)
				}
			}
		})
	}
	if ts.eng.queryCalls() != 0 {
		t.Error("engine asked while draining")
	}
}

// scrape GETs path from the operators' metrics handler.
func (ts *testServer) scrape(method, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	ts.h.Metrics().ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w
}

func TestMetrics(t *testing.T) {
	eng := &fakeEngine{}
	ts := newTestServer(t, eng, nil)
	q := `{"project":"diabetes-2026","sql":"SELECT 1"}`
	ts.do(req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: q})
	ts.do(req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: q})
	ts.do(req{method: "GET", path: "/v1/datasets/npr", token: "tok-ingrid"})
	ts.do(req{method: "GET", path: "/v1/no/such/path/1"})
	ts.do(req{method: "GET", path: "/v1/no/such/path/2"})
	eng.queryFn = func(context.Context, engine.Principal, engine.Request) (*result.Result, error) {
		return nil, &refusal.Error{Code: refusal.BudgetExhausted, Message: "m"}
	}
	ts.do(req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: q})
	res := sampleResult()
	res.Meta.Project, res.Meta.Epsilon = "cancer-survival", 0.25
	eng.queryFn = func(context.Context, engine.Principal, engine.Request) (*result.Result, error) { return res, nil }
	ts.do(req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: q})

	if w := ts.do(req{method: "GET", path: "/metrics"}); w.Code != http.StatusNotFound {
		t.Errorf("public GET /metrics: status %d, want 404", w.Code)
	}
	w := ts.scrape("GET", "/metrics")
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	body := w.Body.String()
	for _, want := range []string{
		`statgate_http_requests_total{method="POST",route="/v1/query",status="200"} 3`,
		`statgate_http_requests_total{method="POST",route="/v1/query",status="409"} 1`,
		`statgate_http_requests_total{method="GET",route="/v1/datasets/{name}",status="200"} 1`,
		`statgate_http_requests_total{method="GET",route="unmatched",status="404"} 3`,
		`statgate_http_request_duration_seconds_count{method="POST",route="/v1/query"} 4`,
		`statgate_refusals_total{code="budget_exhausted"} 1`,
		// Two answers at 0.5 and one at 0.25, in two projects: one total.
		"\nstatgate_epsilon_charged_total 1.25\n",
		`statgate_http_requests_in_flight 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, leak := range []string{"project=", "principal=", "dataset=", "diabetes-2026", "cancer-survival", "ingrid", "statgate_epsilon_spent_total"} {
		if strings.Contains(body, leak) {
			t.Errorf("metrics contain %q", leak)
		}
	}
}

func TestMetricsHandler(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	ts.h.Drain() // the operators' metrics keep answering while the API drains
	tests := []struct {
		desc     string
		method   string
		path     string
		status   int
		wantCode string
	}{
		{desc: "metrics", method: "GET", path: "/metrics", status: 200},
		{desc: "HEAD metrics", method: "HEAD", path: "/metrics", status: 200},
		{desc: "other path", method: "GET", path: "/v1/datasets", status: 404, wantCode: "unknown_endpoint"},
		{desc: "healthz is not here", method: "GET", path: "/healthz", status: 404, wantCode: "unknown_endpoint"},
		{desc: "wrong method", method: "POST", path: "/metrics", status: 405, wantCode: "method_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			w := ts.scrape(tc.method, tc.path)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.wantCode != "" {
				if p := decodeProblem(t, w); p.Code != tc.wantCode {
					t.Errorf("code %q, want %q", p.Code, tc.wantCode)
				}
			} else if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestNewOptions(t *testing.T) {
	tests := []struct {
		desc    string
		opts    *Options
		wantErr bool
	}{
		{desc: "nil", opts: nil, wantErr: true},
		{desc: "no engine", opts: &Options{Auth: fakeAuth{}}, wantErr: true},
		{desc: "no auth", opts: &Options{Engine: &fakeEngine{}}, wantErr: true},
		{desc: "negative limit", opts: &Options{Engine: &fakeEngine{}, Auth: fakeAuth{}, MaxBodyBytes: -1}, wantErr: true},
		{desc: "registerer that cannot gather", opts: &Options{Engine: &fakeEngine{}, Auth: fakeAuth{}, Registry: registerOnly{prometheus.NewRegistry()}}, wantErr: true},
		{desc: "defaults", opts: &Options{Engine: &fakeEngine{}, Auth: fakeAuth{}}},
		{desc: "base URL", opts: &Options{Engine: &fakeEngine{}, Auth: fakeAuth{}, BaseURL: "https://statgate.example.org/registry/"}},
		{desc: "relative base URL", opts: &Options{Engine: &fakeEngine{}, Auth: fakeAuth{}, BaseURL: "statgate.example.org"}, wantErr: true},
		{desc: "base URL of another scheme", opts: &Options{Engine: &fakeEngine{}, Auth: fakeAuth{}, BaseURL: "ftp://statgate.example.org"}, wantErr: true},
		{desc: "base URL with a query", opts: &Options{Engine: &fakeEngine{}, Auth: fakeAuth{}, BaseURL: "https://statgate.example.org/?x=1"}, wantErr: true},
		{desc: "base URL with user info", opts: &Options{Engine: &fakeEngine{}, Auth: fakeAuth{}, BaseURL: "https://u:p@statgate.example.org"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			h, err := New(tc.opts)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && (h.maxBody != DefaultMaxBodyBytes || h.timeout != DefaultRequestTimeout) {
				t.Errorf("defaults not filled: %d %s", h.maxBody, h.timeout)
			}
		})
	}
}

// registerOnly hides the Gatherer of a registry.
type registerOnly struct{ prometheus.Registerer }

func TestTwoHandlersShareARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	for i := range 2 {
		if _, err := New(&Options{Engine: &fakeEngine{}, Auth: fakeAuth{}, Registry: reg}); err != nil {
			t.Fatalf("handler %d: %v", i, err)
		}
	}
}

// The catalogue's IRIs hang from Options.BaseURL whatever the request's
// Host says; without a base URL they follow the Host and stay out of
// shared caches.
func TestCatalogueBaseURL(t *testing.T) {
	for _, tc := range []struct {
		desc, base, host, wantID, wantCache string
	}{
		{desc: "configured", base: "https://statgate.example.org/", host: "attacker.example",
			wantID: "https://statgate.example.org/v1/catalog.jsonld", wantCache: "public, max-age=300"},
		{desc: "configured with a path", base: "https://example.org/statgate", host: "attacker.example",
			wantID: "https://example.org/statgate/v1/catalog.jsonld", wantCache: "public, max-age=300"},
		{desc: "not configured", host: "stats.local:8080",
			wantID: "http://stats.local:8080/v1/catalog.jsonld", wantCache: "private, max-age=300"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			ts := newTestServer(t, nil, func(o *Options) { o.BaseURL = tc.base })
			w := ts.do(req{method: http.MethodGet, path: "/v1/catalog.jsonld", token: "tok-ingrid", header: map[string]string{"Host": tc.host}})
			var doc struct {
				ID string `json:"@id"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || w.Code != http.StatusOK {
				t.Fatalf("status %d, %v: %s", w.Code, err, w.Body)
			}
			if doc.ID != tc.wantID || w.Header().Get("Cache-Control") != tc.wantCache {
				t.Errorf("@id %q, Cache-Control %q; want %q, %q", doc.ID, w.Header().Get("Cache-Control"), tc.wantID, tc.wantCache)
			}
		})
	}
}
