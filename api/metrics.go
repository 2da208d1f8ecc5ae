package api

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the API's Prometheus collectors.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	refusals *prometheus.CounterVec
	epsilon  *prometheus.CounterVec
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
		epsilon: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "statgate_epsilon_spent_total",
			Help: "Privacy budget epsilon debited by the requests this process answered, by project, as their results report it (the budget ledger is authoritative).",
		}, []string{"project"}),
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
