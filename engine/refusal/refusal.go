// Package refusal holds the one error type every pipeline stage uses to
// refuse a request: a stable machine-readable code, a message a researcher
// understands, and an optional hint saying what to do instead. The API maps
// a refusal's Kind to an HTTP status in one place.
//
// A refusal's text never depends on the data: it may name the query's own
// parts (columns, functions, parameters) and the policy, never values read
// from an extract.
package refusal

import (
	"errors"
	"fmt"
)

// Kind groups refusal codes by how a client should react.
type Kind int

// The refusal kinds.
const (
	// KindQuery: the request is well-formed but not allowed or not
	// supported (HTTP 422).
	KindQuery Kind = iota
	// KindBadRequest: the request itself is malformed: a missing field, a
	// parameter of the wrong type (HTTP 400).
	KindBadRequest
	// KindBudget: the privacy budget cannot cover the request (HTTP 409).
	KindBudget
	// KindForbidden: the principal may not do this (HTTP 403).
	KindForbidden
	// KindNotFound: a named project, dataset or template does not exist
	// for this principal (HTTP 404).
	KindNotFound
)

// Error is a refusal. It is a value type; compare codes with Is or errors.As.
type Error struct {
	Kind Kind
	// Code is stable and snake_case, e.g. "select_star", "budget_exhausted".
	Code string
	// Message says what is not allowed, in words a researcher understands.
	Message string
	// Hint says what to do instead; empty when there is nothing to suggest.
	Hint string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Hint == "" {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s (hint: %s)", e.Code, e.Message, e.Hint)
}

// Is reports whether target is a refusal with the same code, so that
// errors.Is(err, &refusal.Error{Code: "select_star"}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// New returns a KindQuery refusal.
func New(code, message, hint string) *Error {
	return &Error{Kind: KindQuery, Code: code, Message: message, Hint: hint}
}

// Newf returns a KindQuery refusal with a formatted message and no hint.
func Newf(code, format string, args ...any) *Error {
	return &Error{Kind: KindQuery, Code: code, Message: fmt.Sprintf(format, args...)}
}

// As returns the refusal in err's chain, if any.
func As(err error) (*Error, bool) {
	var r *Error
	if errors.As(err, &r) {
		return r, true
	}
	return nil, false
}

// CodeOf returns the code of the refusal in err's chain, or "" if err is not a refusal.
func CodeOf(err error) string {
	if r, ok := As(err); ok {
		return r.Code
	}
	return ""
}
