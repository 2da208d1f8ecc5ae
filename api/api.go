// Package api is statgate's HTTP interface: a chi router, bearer-token
// authentication, request decoding, content negotiation, problem+json
// errors and the OpenAPI document. It holds no privacy logic: it calls the
// engine and renders its answers as JSON, CSV or an Arrow IPC stream.
// The bodies on the wire are the API's own types (types.go), converted from
// the engine's (convert.go), so engine structs can change without changing
// the API.
//
// Routes (see openapi.json for bodies and responses):
//
//	GET  /                            the web console (console.go, files in api/web)
//	GET  /assets/{file}               its CSS and JavaScript
//	GET  /healthz                     200 while the process runs
//	GET  /readyz                      Engine.Ready; 503 while shutting down
//	GET  /v1/openapi.json             this API's OpenAPI 3.1 document
//	GET  /v1/sql/reference            the allowed SQL subset (no token)
//	GET  /v1/datasets[?q=]            data map (no token unless data_map: token)
//	GET  /v1/datasets/{name}          one dataset (likewise)
//	GET  /v1/codelists                code lists and code systems (likewise)
//	GET  /v1/codelists/{name}[?q=]    one, with its codes and their names
//	POST /v1/query                    ad-hoc SQL (bearer token)
//	GET  /v1/me                       the caller's principal, projects and roles
//	GET  /v1/templates                templates the caller may run
//	POST /v1/templates/{name}/run     run a template
//	POST /v1/cohorts/estimate         cohort-size estimate
//	POST /v1/rates                    incidence per person-time
//	POST /v1/survival                 Kaplan–Meier survival curves
//	GET  /v1/projects/{id}/budget     a project's budget
//	GET  /v1/projects/{id}/budget/history[?limit=&before=]  its debits, newest first
//	GET  /v1/audit[?limit=]           audit log (admins)
//
// Prometheus metrics are not on this handler: Handler.Metrics serves
// GET /metrics to operators on a listener of its own (see metrics.go).
//
// The routes that run queries (POST /v1/query, .../run,
// /v1/cohorts/estimate, /v1/rates and /v1/survival) pass execution limits, global and per principal:
// a request over either gets 429 with Retry-After at once (see
// Options.MaxConcurrentQueries).
package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/catalog"
	"github.com/statgate/statgate/engine/epi"
	"github.com/statgate/statgate/engine/result"
)

// Engine is what the API needs from the engine (*engine.Engine implements it).
type Engine interface {
	// Query answers an SQL, template or cohort request with a protected result.
	Query(ctx context.Context, p engine.Principal, r engine.Request) (*result.Result, error)
	// Rates answers a rates request (incidence per person-time).
	Rates(ctx context.Context, p engine.Principal, r engine.RatesRequest) (*epi.RatesResult, error)
	// Survival answers a survival request (Kaplan–Meier curves).
	Survival(ctx context.Context, p engine.Principal, r engine.SurvivalRequest) (*epi.SurvivalResult, error)
	// Datasets returns the data map; q == "" lists all datasets.
	Datasets(q string) []catalog.Dataset
	// Dataset returns one dataset of the data map.
	Dataset(name string) (catalog.Dataset, bool)
	// Templates returns the templates the principal may run.
	Templates(p engine.Principal) []engine.TemplateInfo
	// Budget reports a project's budget to its members.
	Budget(ctx context.Context, p engine.Principal, project string) (*engine.BudgetReport, error)
	// BudgetHistory returns a page of a project's debits to its members.
	BudgetHistory(ctx context.Context, p engine.Principal, project string, before int64, limit int) (*engine.BudgetHistory, error)
	// Audit returns the newest audit entries to admins.
	Audit(ctx context.Context, p engine.Principal, limit int) ([]audit.Entry, error)
	// Ready reports whether the engine can answer queries.
	Ready(ctx context.Context) error
	// Catalogue returns the data map as a DCAT-AP catalogue in JSON-LD
	// (engine/dcat), its IRIs under baseURL.
	Catalogue(baseURL string) map[string]any
}

// DataMapper is what the data map's code list pages need beyond Engine;
// *engine.Engine implements it. An engine without it serves the data map
// to token holders only and lists no code lists.
type DataMapper interface {
	// DataMap is "public" (served without a token) or "token".
	DataMap() string
	// CodeLists returns the code lists and code systems, without codes.
	CodeLists() []catalog.CodeList
	// CodeList returns one, with its codes (those matching q when q != "").
	CodeList(name, q string) (catalog.CodeList, bool)
}

// Identity is what GET /v1/me needs beyond Engine; *engine.Engine
// implements it. With an engine without it, /v1/me lists no projects.
type Identity interface {
	// Memberships lists the principal's projects and roles.
	Memberships(p engine.Principal) []engine.Membership
}

// Authenticator resolves a bearer token to a principal (state.Tokens, the
// token store, implements it). ok is false for an unknown, revoked or
// expired token; err is tokens.ErrExpired for an expired one (answered 401
// token_expired), and otherwise for failures of the store itself.
type Authenticator interface {
	Lookup(ctx context.Context, token string) (principal string, ok bool, err error)
}

// Defaults of Options.
const (
	DefaultMaxBodyBytes   int64 = 1 << 20
	DefaultRequestTimeout       = 60 * time.Second
)

// Options configure the handler built by New. Engine and Auth are required.
type Options struct {
	// Engine answers the requests.
	Engine Engine
	// Auth resolves bearer tokens.
	Auth Authenticator
	// Logger receives the access log and the errors behind 500 responses
	// (nil: discard).
	Logger *slog.Logger
	// MaxBodyBytes limits request bodies (0: DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// RequestTimeout bounds each request through its context (0: DefaultRequestTimeout).
	RequestTimeout time.Duration
	// MaxConcurrentQueries bounds the query executions (POST /v1/query,
	// /v1/templates/{name}/run and /v1/cohorts/estimate) running at once
	// across all principals (0: DefaultMaxConcurrentQueries(0), one per
	// core and at least 2; statgate serve passes
	// DefaultMaxConcurrentQueries of its --threads). A principal that already
	// runs a query cannot take the last free slot, so one principal never
	// holds them all. Requests over a limit get 429 with Retry-After at
	// once, before the body is read or the engine asked: nothing queues and
	// nothing is debited.
	MaxConcurrentQueries int
	// MaxQueriesPerPrincipal bounds the query executions one principal runs
	// at once (0: DefaultMaxQueriesPerPrincipal). It is checked before the
	// global limit.
	MaxQueriesPerPrincipal int
	// Registry receives the API's metrics and is what Handler.Metrics
	// exposes, so it must also implement prometheus.Gatherer (as
	// *prometheus.Registry does). nil: a new registry with the Go and
	// process collectors.
	Registry prometheus.Registerer
	// BaseURL is the public address the API is reached at, e.g.
	// https://statgate.example.org (scheme and host, optionally a path; no
	// query). The DCAT catalogue's IRIs hang from it, so a shared cache
	// never stores IRIs a request's Host header chose. "" (tests, embedded
	// use): the IRIs follow the request's Host and the catalogue is served
	// with Cache-Control: private. statgate serve defaults it from --addr.
	BaseURL string
}

// Handler is statgate's HTTP handler. It is safe for concurrent use.
type Handler struct {
	baseURL  string // Options.BaseURL without a trailing slash
	eng      Engine
	auth     Authenticator
	log      *slog.Logger
	maxBody  int64
	timeout  time.Duration
	metrics  *metrics
	scrape   http.Handler // the operators' handler (Metrics)
	limit    *limiter
	router   *chi.Mux
	draining atomic.Bool
}

// New builds the handler. It validates opts and fills the documented defaults.
func New(opts *Options) (*Handler, error) {
	if opts == nil || opts.Engine == nil {
		return nil, errors.New("api.New: an engine is required")
	}
	if opts.Auth == nil {
		return nil, errors.New("api.New: an authenticator is required")
	}
	if opts.MaxBodyBytes < 0 || opts.RequestTimeout < 0 {
		return nil, errors.New("api.New: MaxBodyBytes and RequestTimeout must not be negative")
	}
	if opts.MaxConcurrentQueries < 0 || opts.MaxQueriesPerPrincipal < 0 {
		return nil, errors.New("api.New: MaxConcurrentQueries and MaxQueriesPerPrincipal must not be negative")
	}
	base, err := checkBaseURL(opts.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("api.New: %w", err)
	}
	h := &Handler{
		baseURL: base,
		eng:     opts.Engine,
		auth:    opts.Auth,
		log:     opts.Logger,
		maxBody: opts.MaxBodyBytes,
		timeout: opts.RequestTimeout,
	}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if h.maxBody == 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.timeout == 0 {
		h.timeout = DefaultRequestTimeout
	}
	global, perPrincipal := opts.MaxConcurrentQueries, opts.MaxQueriesPerPrincipal
	if global == 0 {
		global = DefaultMaxConcurrentQueries(0)
	}
	if perPrincipal == 0 {
		perPrincipal = DefaultMaxQueriesPerPrincipal
	}
	h.limit = newLimiter(global, perPrincipal)
	reg := opts.Registry
	if reg == nil {
		r := prometheus.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg = r
	}
	gatherer, ok := reg.(prometheus.Gatherer)
	if !ok {
		return nil, errors.New("api.New: Registry must also implement prometheus.Gatherer (e.g. *prometheus.Registry)")
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("api.New: %w", err)
	}
	h.metrics = m
	h.router = h.routes()
	h.scrape = h.metricsRoutes(promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.router.ServeHTTP(w, r)
}

// Drain marks the handler as shutting down: /readyz answers 503 and new
// requests (other than /healthz) get a 503 problem, while
// requests already running finish. Serve calls it when its context ends.
func (h *Handler) Drain() { h.draining.Store(true) }

// Draining reports whether Drain was called.
func (h *Handler) Draining() bool { return h.draining.Load() }

// routes builds the router. The order of middleware matters: the request
// id comes first so every log line and problem carries it; the access log
// and metrics wrap the recoverer so a panic is logged and counted as 500.
// The routes that run queries pass the execution limits (limitQueries)
// after authentication.
// HEAD is answered by the GET routes.
func (h *Handler) routes() *chi.Mux {
	r := chi.NewRouter()
	r.Use(requestID, h.observe, h.recoverer, h.drainGate, h.withTimeout, middleware.GetHead, h.outputParams)
	r.NotFound(h.notFound)
	r.MethodNotAllowed(h.methodNotAllowed(r))

	h.consoleRoutes(r)
	r.Get("/healthz", h.healthz)
	r.Get("/readyz", h.readyz)
	r.Get("/v1/openapi.json", serveOpenAPI)
	r.Get("/v1/sql/reference", h.sqlReference)

	dataMap := func(r chi.Router) {
		r.Get("/v1/catalog.jsonld", h.catalogue)
		r.Get("/v1/datasets", h.listDatasets)
		r.Get("/v1/datasets/{name}", h.getDataset)
		r.Get("/v1/codelists", h.listCodeLists)
		r.Get("/v1/codelists/{name}", h.getCodeList)
	}
	if h.publicDataMap() {
		r.Group(dataMap)
	}
	r.Group(func(r chi.Router) {
		r.Use(h.authenticate)
		if !h.publicDataMap() {
			dataMap(r)
		}
		r.With(h.limitQueries).Post("/v1/query", h.query)
		r.Get("/v1/me", h.me)
		r.Get("/v1/templates", h.listTemplates)
		r.With(h.limitQueries).Post("/v1/templates/{name}/run", h.runTemplate)
		r.With(h.limitQueries).Post("/v1/cohorts/estimate", h.estimateCohort)
		r.With(h.limitQueries).Post("/v1/rates", h.rates)
		r.With(h.limitQueries).Post("/v1/survival", h.survival)
		r.Get("/v1/projects/{id}/budget", h.budget)
		r.Get("/v1/projects/{id}/budget/history", h.budgetHistory)
		r.Get("/v1/audit", h.audit)
	})
	return r
}

// endpoints lists the routes for the 404 problem, so a client sees how to
// fix its request.
var endpoints = []string{
	"GET /v1/catalog.jsonld",
	"GET /v1/datasets[?q=words]",
	"GET /v1/datasets/{name}",
	"GET /v1/codelists",
	"GET /v1/codelists/{name}[?q=words]",
	"POST /v1/query",
	"GET /v1/me",
	"GET /v1/templates",
	"POST /v1/templates/{name}/run",
	"POST /v1/cohorts/estimate",
	"POST /v1/rates",
	"POST /v1/survival",
	"GET /v1/projects/{id}/budget",
	"GET /v1/projects/{id}/budget/history[?limit=n&before=id]",
	"GET /v1/audit[?limit=n]",
	"GET /v1/openapi.json",
	"GET /v1/sql/reference",
	"GET /healthz",
	"GET /readyz",
}
