package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/state"
)

// ProblemTypeBase prefixes a problem's code to form its RFC 9457 type URI.
const ProblemTypeBase = "https://statgate.dev/problems/"

// StatusClientClosedRequest is logged and counted when the client went
// away before the answer was ready (nginx's convention; nobody reads the body).
const StatusClientClosedRequest = 499

// Problem is the body of every error response (RFC 9457,
// application/problem+json). Detail never contains data values, SQL values
// or internal error text.
type Problem struct {
	// Type is ProblemTypeBase + Code.
	Type string `json:"type"`
	// Title summarises the kind of problem; it does not vary between occurrences.
	Title  string `json:"title"`
	Status int    `json:"status"`
	// Detail explains this occurrence.
	Detail string `json:"detail"`
	// Code is stable and snake_case: a refusal code from the engine or one of the API's own.
	Code string `json:"code"`
	// Hint says what to do instead, when there is something to suggest.
	Hint string `json:"hint,omitempty"`
	// RequestID matches the X-Request-Id response header and the server log.
	RequestID string `json:"request_id"`
	// Endpoints lists the API's routes when the path was not found.
	Endpoints []string `json:"endpoints,omitempty"`
}

// problemCode is one of the API's own problem codes: a problem the API
// finds with the HTTP request itself (authentication, the path, media
// types, the body's size or JSON) or an outcome around the engine
// (shutdown, timeout, a failure). Each has one status. None is also a
// refusal code (TestProblemCodesApartFromRefusals), so a code names one
// problem, with one status, whichever layer finds it.
type problemCode struct {
	name   string
	status int
}

// problemCodes lists the API's problem codes in declaration order.
var problemCodes []problemCode

// newProblemCode registers an API problem code.
func newProblemCode(name string, status int) problemCode {
	c := problemCode{name: name, status: status}
	problemCodes = append(problemCodes, c)
	return c
}

// The API's problem codes.
var (
	codeMissingToken         = newProblemCode("missing_token", http.StatusUnauthorized)
	codeInvalidToken         = newProblemCode("invalid_token", http.StatusUnauthorized)
	codeTokenExpired         = newProblemCode("token_expired", http.StatusUnauthorized)
	codeUnknownEndpoint      = newProblemCode("unknown_endpoint", http.StatusNotFound)
	codeMethodNotAllowed     = newProblemCode("method_not_allowed", http.StatusMethodNotAllowed)
	codeNotAcceptable        = newProblemCode("not_acceptable", http.StatusNotAcceptable)
	codeUnsupportedMediaType = newProblemCode("unsupported_media_type", http.StatusUnsupportedMediaType)
	codeBodyTooLarge         = newProblemCode("body_too_large", http.StatusRequestEntityTooLarge)
	codeMalformedJSON        = newProblemCode("malformed_json", http.StatusBadRequest)
	codeUnknownField         = newProblemCode("unknown_field", http.StatusBadRequest)
	codeWrongType            = newProblemCode("wrong_type", http.StatusBadRequest)
	codeMissingField         = newProblemCode("missing_field", http.StatusBadRequest)
	codeInvalidEpsilon       = newProblemCode("invalid_epsilon", http.StatusBadRequest)
	codeInvalidParameter     = newProblemCode("invalid_parameter", http.StatusBadRequest)
	codeTooManyRequests      = newProblemCode("too_many_requests", http.StatusTooManyRequests)
	codeShuttingDown         = newProblemCode("shutting_down", http.StatusServiceUnavailable)
	codeNotReady             = newProblemCode("not_ready", http.StatusServiceUnavailable)
	codeStateUnavailable     = newProblemCode("state_unavailable", http.StatusServiceUnavailable)
	codeTimeout              = newProblemCode("timeout", http.StatusGatewayTimeout)
	codeClientClosedRequest  = newProblemCode("client_closed_request", StatusClientClosedRequest)
	codeInternal             = newProblemCode("internal", http.StatusInternalServerError)
)

// httpError is a problem the API itself finds with the HTTP request:
// authentication, media types, the body's size or JSON.
type httpError struct {
	status    int
	code      string
	detail    string
	hint      string
	endpoints []string
}

func (e *httpError) Error() string { return e.code + ": " + e.detail }

// errorf returns an httpError of the given code, with the code's status
// and a formatted detail.
func errorf(code problemCode, hint, format string, args ...any) *httpError {
	return &httpError{status: code.status, code: code.name, hint: hint, detail: fmt.Sprintf(format, args...)}
}

// kindStatus maps a refusal kind to its status and title.
func kindStatus(k refusal.Kind) (int, string) {
	switch k {
	case refusal.KindBadRequest:
		return http.StatusBadRequest, "Bad request"
	case refusal.KindBudget:
		// 409 Conflict: the request conflicts with the state of the
		// privacy budget, which will not change by waiting. 429 would tell
		// clients to retry later, which is rate limiting.
		return http.StatusConflict, "Privacy budget exhausted"
	case refusal.KindForbidden:
		return http.StatusForbidden, "Forbidden"
	case refusal.KindNotFound:
		return http.StatusNotFound, "Not found"
	default:
		return http.StatusUnprocessableEntity, "Request not allowed"
	}
}

// toProblem maps an error to its response: the one place where errors
// become HTTP statuses. Any error that is not a refusal, an httpError, a
// timeout or a cancellation is a 500 whose body says nothing about the error.
func toProblem(ctx context.Context, err error) Problem {
	p := Problem{RequestID: middleware.GetReqID(ctx)}
	var he *httpError
	r, isRefusal := refusal.As(err)
	switch {
	case errors.As(err, &he):
		p.Status, p.Code, p.Detail, p.Hint, p.Endpoints = he.status, he.code, he.detail, he.hint, he.endpoints
		p.Title = http.StatusText(he.status)
	case isRefusal:
		p.Status, p.Title = kindStatus(r.Kind())
		p.Code, p.Detail, p.Hint = r.Code.String(), r.Message, r.Hint
	case errors.Is(err, context.DeadlineExceeded):
		p.Status, p.Title, p.Code = codeTimeout.status, "Timeout", codeTimeout.name
		p.Detail = "the request took longer than the server's time limit and was stopped; nothing was released; if the limit passed after its budget was debited (see the project's budget history), that debit is not refunded, and if it passed while waiting to run, nothing was debited"
		p.Hint = "ask a narrower question (fewer groups, fewer datasets) or try again when the server is less busy"
	case errors.Is(err, context.Canceled):
		p.Status, p.Title, p.Code = codeClientClosedRequest.status, "Client closed request", codeClientClosedRequest.name
		p.Detail = "the client closed the connection before the answer was ready"
	case errors.Is(err, state.ErrUnavailable):
		// Fail closed: without a durable debit and audit entry nothing is released.
		p.Status, p.Title, p.Code = codeStateUnavailable.status, "State store unavailable", codeStateUnavailable.name
		p.Detail = "the state store (budget ledger, audit log, tokens) could not be reached; nothing was released"
		p.Hint = "try again shortly; if it persists, tell the registry's operators (request id " + p.RequestID + ")"
	default:
		p.Status, p.Title, p.Code = codeInternal.status, "Internal server error", codeInternal.name
		p.Detail = "internal error; request id " + p.RequestID
		p.Hint = "report the request id to the registry's operators"
	}
	p.Type = ProblemTypeBase + p.Code
	return p
}

// writeError renders err as problem+json, logs the error behind a 500 or
// 504 (the body never carries it) and counts engine refusals.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := toProblem(r.Context(), err)
	if rf, ok := refusal.As(err); ok {
		h.metrics.refusals.WithLabelValues(rf.Code.String()).Inc()
		info(r.Context()).code = rf.Code.String()
	}
	switch {
	case p.Status == http.StatusInternalServerError || p.Status == http.StatusGatewayTimeout || p.Code == codeStateUnavailable.name:
		h.log.ErrorContext(r.Context(), "request failed",
			"request_id", p.RequestID, "status", p.Status, "error", err.Error())
	case p.Status == StatusClientClosedRequest:
		h.log.InfoContext(r.Context(), "client closed request", "request_id", p.RequestID)
	}
	writeProblem(w, p)
}

// writeProblem writes p with the headers its status calls for.
func writeProblem(w http.ResponseWriter, p Problem) {
	body, err := json.Marshal(p)
	if err != nil { // a Problem holds only strings and ints
		body = []byte(`{"type":"` + ProblemTypeBase + `internal","title":"Internal server error","status":500,"code":"internal"}`)
	}
	hd := w.Header()
	if p.Status == http.StatusUnauthorized {
		challenge := `Bearer realm="statgate"`
		if p.Code == codeInvalidToken.name || p.Code == codeTokenExpired.name {
			challenge += `, error="invalid_token"`
		}
		hd.Set("WWW-Authenticate", challenge)
	}
	hd.Set("Content-Type", "application/problem+json")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}
