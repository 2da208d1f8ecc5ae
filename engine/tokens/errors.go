package tokens

import "errors"

// ErrNotFound reports a token id that does not exist.
var ErrNotFound = errors.New("no token with this id")

// ErrBadPrincipal reports a principal name that is empty or contains
// spaces or control characters.
var ErrBadPrincipal = errors.New("a principal is a non-empty name without spaces or control characters")
