// Package refusal holds the one error type every pipeline stage uses to
// refuse a request: a stable machine-readable code, a message a researcher
// understands, and an optional hint saying what to do instead. Every code
// is registered in codes.go with its one Kind; the API maps a Kind to an
// HTTP status in one place, so a code has one status wherever it is found.
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
	// KindForbidden: the principal, or its project, may not do this
	// (HTTP 403).
	KindForbidden
	// KindNotFound: a named project, dataset or template does not exist
	// for this principal (HTTP 404).
	KindNotFound
)

// String returns the kind's name, e.g. "query", "not_found".
func (k Kind) String() string {
	switch k {
	case KindQuery:
		return "query"
	case KindBadRequest:
		return "bad_request"
	case KindBudget:
		return "budget"
	case KindForbidden:
		return "forbidden"
	case KindNotFound:
		return "not_found"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is a refusal. Its Kind is its code's, so two refusals with one
// code always have one status. Compare codes with ==, Is or errors.As.
type Error struct {
	// Code is one of the registered codes, e.g. SelectStar, BudgetExhausted.
	Code Code
	// Message says what is not allowed, in words a researcher understands.
	Message string
	// Hint says what to do instead; empty when there is nothing to suggest.
	Hint string
}

// Kind returns the kind the registry gives the refusal's code.
func (e *Error) Kind() Kind { return e.Code.Kind() }

// Error implements error.
func (e *Error) Error() string {
	if e.Hint == "" {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s (hint: %s)", e.Code, e.Message, e.Hint)
}

// Is reports whether target is a refusal with the same code, so that
// errors.Is(err, &refusal.Error{Code: refusal.SelectStar}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// New returns a refusal with the given code, message and hint. The zero
// Code is a programming error and panics.
func New(code Code, message, hint string) *Error {
	if code == (Code{}) {
		panic("refusal.New: the zero Code")
	}
	return &Error{Code: code, Message: message, Hint: hint}
}

// Newf returns a refusal with a formatted message and no hint.
func Newf(code Code, format string, args ...any) *Error {
	return New(code, fmt.Sprintf(format, args...), "")
}

// As returns the refusal in err's chain, if any.
func As(err error) (*Error, bool) {
	var r *Error
	if errors.As(err, &r) {
		return r, true
	}
	return nil, false
}

// CodeOf returns the code of the refusal in err's chain, or the zero Code
// if err is not a refusal.
func CodeOf(err error) Code {
	if r, ok := As(err); ok {
		return r.Code
	}
	return Code{}
}
