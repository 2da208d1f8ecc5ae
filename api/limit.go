package api

import (
	"net/http"
	"runtime"
	"strconv"
	"sync"
)

// DefaultMaxQueriesPerPrincipal is Options.MaxQueriesPerPrincipal's default.
const DefaultMaxQueriesPerPrincipal = 2

// DefaultMaxConcurrentQueries is the global execution limit for a DuckDB
// of threads threads (0: DuckDB's default, all cores, runtime.NumCPU()):
// one query per thread, and at least 2, so that a principal running a
// query (which cannot take the last free slot) never shuts the others out.
func DefaultMaxConcurrentQueries(threads int) int {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	return max(threads, 2)
}

// RetryAfterSeconds is the Retry-After of a 429 from the execution limits:
// queries take seconds, so a second is the earliest a slot is likely free.
const RetryAfterSeconds = 1

// limiter bounds the query executions that run at once: at most global in
// all and at most perPrincipal for any one principal. A principal that
// already runs a query may not take the last free slot: it goes only to a
// principal with none running, so one principal never holds every slot
// and a flood by one or a few principals leaves room for another's query.
// (With global 2 and perPrincipal 2, a lone principal runs one query at
// a time.)
//
// acquire never waits: a request over a limit is refused at once, so
// there is no queue to grow. What it refuses depends only on the number
// of requests in flight, never on data. A limiter is safe for concurrent
// use.
type limiter struct {
	global, perPrincipal int

	mu    sync.Mutex
	inUse int
	held  map[string]int // running queries by principal; absent means 0
}

// newLimiter returns a limiter with global slots of which one principal
// may hold perPrincipal; both must be positive.
func newLimiter(global, perPrincipal int) *limiter {
	return &limiter{global: global, perPrincipal: perPrincipal, held: map[string]int{}}
}

// limitVerdict says whether acquire granted a slot and, if not, which limit refused.
type limitVerdict int

const (
	granted limitVerdict = iota
	// overPrincipal: the principal already runs perPrincipal queries.
	overPrincipal
	// overGlobal: every slot is taken.
	overGlobal
	// overReserve: only the slot kept for principals with no query running is free.
	overReserve
)

// acquire takes a slot for principal unless a limit refuses it. The
// per-principal limit is checked first, so a principal at its own limit
// is told so whatever the server's load. On granted, release gives the
// slot back; it may be called more than once and only the first call counts.
func (l *limiter) acquire(principal string) (release func(), v limitVerdict) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.held[principal]
	switch {
	case n >= l.perPrincipal:
		return nil, overPrincipal
	case l.inUse >= l.global:
		return nil, overGlobal
	case n > 0 && l.inUse >= l.global-1:
		return nil, overReserve
	}
	l.inUse++
	l.held[principal] = n + 1
	var once sync.Once
	return func() { once.Do(func() { l.release(principal) }) }, granted
}

func (l *limiter) release(principal string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inUse--
	if n := l.held[principal] - 1; n > 0 {
		l.held[principal] = n
	} else {
		delete(l.held, principal)
	}
}

// Limits returns the execution limits in force: the queries all
// principals together and one principal may run at once.
func (h *Handler) Limits() (global, perPrincipal int) {
	return h.limit.global, h.limit.perPrincipal
}

// limitQueries applies the execution limits to a route that runs queries.
// It runs after authenticate, so the principal is known, and before the
// handler reads the body or calls the engine: a refused request costs no
// budget. The slot is held until the handler returns (rendering included)
// and released on a panic too. A refusal is a 429 problem with code
// too_many_requests and a Retry-After header.
func (h *Handler) limitQueries(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := principalFrom(r.Context())
		release, v := h.limit.acquire(p.Name)
		if v != granted {
			h.tooManyRequests(w, r, v)
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}

// tooManyRequests writes the 429 for a refusal of the limiter. The detail
// names the limit and its size; it says nothing about other principals'
// queries beyond that the server is busy.
func (h *Handler) tooManyRequests(w http.ResponseWriter, r *http.Request, v limitVerdict) {
	code := codeTooManyRequests
	var e *httpError
	switch v {
	case overPrincipal:
		e = errorf(code,
			"wait for one of your running queries to finish, then send the next",
			"you already run %d queries, the most one principal may run at once (per-principal limit)", h.limit.perPrincipal)
	case overReserve:
		e = errorf(code,
			"wait for your running query to finish, then send the next",
			"the server's last free query slot is kept for principals with no query running, and you already run one (global limit %d)", h.limit.global)
	default:
		e = errorf(code,
			"retry after the seconds in the Retry-After header",
			"the server already runs %d queries, the most it runs at once (global limit)", h.limit.global)
	}
	info(r.Context()).code = e.code
	w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	h.writeError(w, r, e)
}
