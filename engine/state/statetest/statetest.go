// Package statetest is the behavioural test suite of engine/state: every
// backend runs it on its own store, so that they all debit, chain and
// authenticate alike. A backend's test calls Run (or one of TestLedger,
// TestAuditLog, TestTokens and TestCache) with a Backend that opens its stores:
//
//	func TestState(t *testing.T) {
//		statetest.Run(t, func(t *testing.T, now func() time.Time) (state.Store, func(*testing.T) state.Store) {
//			…
//		})
//	}
//
// What only one backend can show (its schema, its files, its locks, a
// process killed mid-transaction) stays in that backend's own tests.
package statetest

import (
	"sync"
	"testing"
	"time"

	"github.com/statgate/statgate/engine/state"
)

// Backend opens the stores the suite tests. It returns a new, empty store
// that stamps its records with now and is closed when t ends, and reopen,
// which opens another handle on that same store, as a second process
// would (also stamping with now, also closed when its t ends).
type Backend func(t *testing.T, now func() time.Time) (s state.Store, reopen func(t *testing.T) state.Store)

// Run runs the whole suite.
func Run(t *testing.T, b Backend) {
	t.Run("Ledger", func(t *testing.T) { TestLedger(t, b) })
	t.Run("Accounts", func(t *testing.T) { TestAccounts(t, b) })
	t.Run("AuditLog", func(t *testing.T) { TestAuditLog(t, b) })
	t.Run("Tokens", func(t *testing.T) { TestTokens(t, b) })
	t.Run("Cache", func(t *testing.T) { TestCache(t, b) })
}

// open opens a store on the real clock.
func open(t *testing.T, b Backend) (state.Store, func(*testing.T) state.Store) {
	t.Helper()
	return b(t, time.Now)
}

// clock is a settable time source, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}
