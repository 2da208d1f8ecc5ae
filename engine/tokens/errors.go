package tokens

import "errors"

// ErrNotFound reports a token id that does not exist.
var ErrNotFound = errors.New("no token with this id")

// ErrBadPrincipal reports a principal name that is empty or contains
// spaces or control characters.
var ErrBadPrincipal = errors.New("a principal is a non-empty name without spaces or control characters")

// ErrExpired reports a token that was issued with a TTL that has passed.
// Lookup returns it (with ok false) so that the API can tell the token's
// holder to ask for a new one.
var ErrExpired = errors.New("the token has expired")

// ErrBadTTL reports a negative CreateOptions.TTL.
var ErrBadTTL = errors.New("a token's TTL must not be negative")
