package audit

import "errors"

// ErrInvalidEntry reports an entry Append cannot store: an unknown
// outcome, no kind, a NaN or negative ε/δ, or params that are not JSON.
var ErrInvalidEntry = errors.New("invalid audit entry")

// ErrBroken reports a log whose last entry does not match its head record:
// entries were removed from or added to its end outside Append.
var ErrBroken = errors.New("audit log does not match its head record; run `statgate audit verify`")
