package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/state"
	"github.com/statgate/statgate/engine/tokens"
)

// ctxKey is the type of the API's context keys.
type ctxKey int

const (
	infoKey ctxKey = iota
)

// reqInfo collects what inner handlers learn about a request for the
// access log and metrics, which run outside them.
type reqInfo struct {
	principal string
	// code is the refusal code, when the engine refused.
	code string
}

// info returns the request's reqInfo (a throwaway one outside observe).
func info(ctx context.Context) *reqInfo {
	if i, ok := ctx.Value(infoKey).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

// principalFrom returns the authenticated principal of the request.
func principalFrom(ctx context.Context) (engine.Principal, bool) {
	name := info(ctx).principal
	return engine.Principal{Name: name}, name != ""
}

// maxRequestIDLen bounds a client-supplied X-Request-Id.
const maxRequestIDLen = 64

// requestID assigns the request id (chi's RequestID: the client's
// X-Request-Id when it is short and plain, a fresh one otherwise) and
// echoes it in the response's X-Request-Id header.
func requestID(next http.Handler) http.Handler {
	inner := middleware.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(middleware.RequestIDHeader, middleware.GetReqID(r.Context()))
		next.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get(middleware.RequestIDHeader); id != "" && !plainID(id) {
			r.Header.Del(middleware.RequestIDHeader)
		}
		inner.ServeHTTP(w, r)
	})
}

// plainID reports whether a client-supplied request id is safe to log and echo.
func plainID(id string) bool {
	if len(id) > maxRequestIDLen {
		return false
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:/", c)
		if !ok {
			return false
		}
	}
	return true
}

// observe writes the access log line and the request metrics. It logs the
// method, path, route, status, duration, request id, principal and refusal
// code; never query strings, bodies or results.
func (h *Handler) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{}
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		h.metrics.inFlight.Inc()
		defer func() {
			h.metrics.inFlight.Dec()
			status := ww.Status()
			if status == 0 {
				status = http.StatusOK
			}
			d := time.Since(start)
			route := routeLabel(r)
			h.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
			h.metrics.duration.WithLabelValues(route, r.Method).Observe(d.Seconds())
			attrs := []any{
				"method", r.Method, "path", r.URL.Path, "route", route, "status", status,
				"duration", d, "bytes", ww.BytesWritten(), "request_id", middleware.GetReqID(r.Context()),
			}
			if ri.principal != "" {
				attrs = append(attrs, "principal", ri.principal)
			}
			if ri.code != "" {
				attrs = append(attrs, "refusal", ri.code)
			}
			h.log.InfoContext(r.Context(), "http request", attrs...)
		}()
		next.ServeHTTP(ww, r.WithContext(context.WithValue(r.Context(), infoKey, ri)))
	})
}

// routeLabel is the matched route pattern, or "unmatched", so metric
// labels stay few whatever paths clients send.
func routeLabel(r *http.Request) string {
	rc := chi.RouteContext(r.Context())
	if rc == nil {
		return "unmatched"
	}
	p := rc.RoutePattern()
	if p == "" || strings.HasSuffix(p, "*") {
		return "unmatched"
	}
	return p
}

// recoverer turns a panic into a logged 500 problem, without the stack in
// the body (the stack goes to the log).
func (h *Handler) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
				panic(rec)
			}
			h.log.ErrorContext(r.Context(), "panic serving request",
				"request_id", middleware.GetReqID(r.Context()), "panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
			if ww, ok := w.(middleware.WrapResponseWriter); ok && ww.Status() != 0 {
				return // the response has begun; nothing sane can be added
			}
			writeProblem(w, toProblem(r.Context(), errors.New("panic")))
		}()
		next.ServeHTTP(w, r)
	})
}

// drainGate answers 503 to new requests once the handler drains, except
// the probes that must keep working during shutdown (the operators'
// metrics handler has no gate).
func (h *Handler) drainGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.Draining() {
			switch r.URL.Path {
			case "/healthz", "/readyz":
			default:
				w.Header().Set("Connection", "close")
				w.Header().Set("Retry-After", "5")
				h.writeError(w, r, errorf(codeShuttingDown,
					"retry; another instance or the restarted server will answer",
					"the server is shutting down and accepts no new requests"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// withTimeout bounds the request through its context.
func (h *Handler) withTimeout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// authenticate resolves "Authorization: Bearer <token>" to the principal.
func (h *Handler) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			h.writeError(w, r, errorf(codeMissingToken,
				`send "Authorization: Bearer <token>"; an operator creates tokens with "statgate token create"`,
				"this endpoint needs a bearer token"))
			return
		}
		name, ok, err := h.auth.Lookup(r.Context(), token)
		if errors.Is(err, tokens.ErrExpired) {
			// Only the holder of a token that was issued can get here, so
			// saying so tells a guesser nothing.
			h.writeError(w, r, errorf(codeTokenExpired,
				`ask the registry's operators for a new token ("statgate token create")`,
				"the bearer token has expired"))
			return
		}
		if err != nil {
			h.writeError(w, r, fmt.Errorf("api: token lookup: %w", state.Unavailable(err)))
			return
		}
		if !ok || name == "" {
			h.writeError(w, r, errorf(codeInvalidToken,
				"ask the registry's operators for a new token",
				"the bearer token is unknown or revoked"))
			return
		}
		info(r.Context()).principal = name
		next.ServeHTTP(w, r)
	})
}

// bearerToken extracts the token of an Authorization header (the scheme
// is case-insensitive, RFC 9110 §11.1).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
