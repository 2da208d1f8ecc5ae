package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/statgate/statgate/engine/result"
)

// Metrics are for the registry's operators only, so the public handler
// does not serve them: Handler.Metrics is a separate handler for a separate
// listener (`statgate serve --metrics-addr`, loopback by default), which
// Prometheus scrapes. No metric has a project, dataset or principal label:
// refusal codes, route patterns, methods and statuses are the only labels.

// metrics are the API's Prometheus collectors.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	refusals *prometheus.CounterVec
	epsilon  prometheus.Counter
}

// newMetrics registers the collectors with reg. When another handler
// already registered them on reg, it shares them.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "statgate_http_requests_total",
			Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "statgate_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "method"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "statgate_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "statgate_refusals_total",
			Help: "Requests the engine refused, by refusal code.",
		}, []string{"code"}),
		epsilon: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "statgate_epsilon_charged_total",
			Help: "Privacy budget epsilon the ledger charged for the queries this process answered, all projects together " +
				"(a query's epsilon once, however many datasets it read), released or failed after its debit; " +
				"`statgate budget show` is authoritative.",
		}),
	}
	var err error
	m.requests = register(reg, m.requests, &err)
	m.duration = register(reg, m.duration, &err)
	m.inFlight = register(reg, m.inFlight, &err)
	m.refusals = register(reg, m.refusals, &err)
	m.epsilon = register(reg, m.epsilon, &err)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// its name. The first failure is kept in *errp.
func register[C prometheus.Collector](reg prometheus.Registerer, c C, errp *error) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	if *errp == nil {
		*errp = err
	}
	return c
}

// charged counts the ε the ledger charged for a released result: its
// Meta.Epsilon, which is the amount the engine debited.
func (m *metrics) charged(res *result.Result) {
	if res != nil && res.Meta.Epsilon > 0 {
		m.epsilon.Add(res.Meta.Epsilon)
	}
}

// chargedFailed counts the ε the ledger kept for a request that failed
// after its debit.
func (m *metrics) chargedFailed(eps float64) {
	if eps > 0 {
		m.epsilon.Add(eps)
	}
}

// metricsEndpoints are what the operators' handler serves.
var metricsEndpoints = []string{"GET /metrics"}

// Metrics returns the operators' handler: GET /metrics in the Prometheus
// text format (the collectors of Options.Registry), and a problem+json 404
// for any other path. Serve it on a listener the public cannot reach
// (ServeWithMetrics; `statgate serve --metrics-addr`); the handler itself
// asks for no token. It keeps answering while the API drains.
func (h *Handler) Metrics() http.Handler { return h.scrape }

// metricsRoutes builds the operators' router around the Prometheus handler.
// Scrapes are not counted in the request metrics.
func (h *Handler) metricsRoutes(prom http.Handler) http.Handler {
	r := chi.NewRouter()
	r.Use(requestID, h.recoverer, middleware.GetHead)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		e := errorf(codeUnknownEndpoint,
			"this listener serves only GET /metrics", "there is no endpoint at this path")
		e.endpoints = metricsEndpoints
		h.writeError(w, r, e)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodGet)
		h.writeError(w, r, errorf(codeMethodNotAllowed,
			"use GET", "this endpoint does not accept %s", safeMethod(r.Method)))
	})
	r.Method(http.MethodGet, "/metrics", prom)
	return r
}
