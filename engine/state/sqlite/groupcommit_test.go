package sqlite

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// queued waits until n writes wait in s's queue behind the running batch.
func queued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		got := len(s.queue)
		s.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitLeading waits until a goroutine runs s's writes.
// heldStore opens a store with a table t whose writer is busy: a first
// write holds it until release is called, so that writes queue behind it
// for one batch; release waits for the first write.
func heldStore(t *testing.T) (s *Store, release func()) {
	t.Helper()
	ctx := context.Background()
	s = openStore(t, t.TempDir(), nil)
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	hold := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.write(ctx, func(ctx context.Context, tx *wtx) error { <-hold; return nil })
	}()
	waitLeading(s)
	return s, func() {
		close(hold)
		if err := <-first; err != nil {
			t.Errorf("the holding write: %v", err)
		}
	}
}

func waitLeading(s *Store) {
	for {
		s.mu.Lock()
		leading := s.leading
		s.mu.Unlock()
		if leading {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWritesQueuedMeanwhileShareOneCommit: writes that arrive while a
// transaction runs are committed together in the next one; a write that
// fails is undone alone (its savepoint) and the others are kept; a write
// whose context ended while it waited is not run; each write sees what
// the writes before it in the batch wrote; nothing returns before its
// commit.
func TestWritesQueuedMeanwhileShareOneCommit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	insert := func(x int, fail error) func(context.Context, *wtx) error {
		return func(ctx context.Context, tx *wtx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO t (x) VALUES (?)`, x); err != nil {
				return err
			}
			return fail
		}
	}
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.write(ctx, func(ctx context.Context, tx *wtx) error {
			<-release // hold the writer until the others queue
			return insert(1, nil)(ctx, tx)
		})
	}()
	queued(t, s, 0)
	waitLeading(s)
	errRefused := errors.New("refused")
	cancelled, cancel := context.WithCancel(ctx)
	var seen int
	results := make([]chan error, 5)
	fns := []func(context.Context, *wtx) error{
		insert(2, nil),
		insert(3, errRefused), // undone; 2 and 4 kept
		nil,                   // cancelled before it runs
		insert(4, nil),
		func(ctx context.Context, tx *wtx) error { // sees 1, 2 and 4, not 3
			return tx.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&seen)
		},
	}
	for i, fn := range fns {
		results[i] = make(chan error, 1)
		c := ctx
		if fn == nil {
			c, fn = cancelled, insert(99, nil)
		}
		go func() { results[i] <- s.write(c, fn) }()
		queued(t, s, i+1)
	}
	cancel()
	before := s.commits.Load()
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first write: %v", err)
	}
	want := []error{nil, errRefused, context.Canceled, nil, nil}
	for i, ch := range results {
		if err := <-ch; !errors.Is(err, want[i]) || (want[i] == nil) != (err == nil) {
			t.Errorf("write %d: %v, want %v", i, err, want[i])
		}
	}
	if got := s.commits.Load() - before; got != 2 {
		t.Errorf("%d commits for the first write and five queued ones, want 2 (one for the batch)", got)
	}
	if seen != 3 {
		t.Errorf("the last write of the batch saw %d rows, want 3 (1, 2 and 4)", seen)
	}
	// What was committed is on disk: a new store on the same file reads it.
	r := openStore(t, dir, nil)
	var got string
	if err := r.db.QueryRowContext(ctx, `SELECT group_concat(x) FROM (SELECT x FROM t ORDER BY x)`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "1,2,4" {
		t.Errorf("rows %q after the batch, want 1,2,4", got)
	}
}

// TestBrokenTransactionFailsTheWholeBatch: when a write leaves the
// transaction unusable (here it ends the transaction itself, as SQLite
// does on some I/O errors), no write of the batch is reported done and
// nothing of it is committed.
func TestBrokenTransactionFailsTheWholeBatch(t *testing.T) {
	ctx := context.Background()
	s, release := heldStore(t)
	fns := []func(context.Context, *wtx) error{
		func(ctx context.Context, tx *wtx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (1)`)
			return err
		},
		func(ctx context.Context, tx *wtx) error {
			if _, err := tx.ExecContext(ctx, `ROLLBACK`); err != nil {
				return err
			}
			return fmt.Errorf("gave up")
		},
		func(ctx context.Context, tx *wtx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (3)`)
			return err
		},
	}
	results := make([]chan error, len(fns))
	for i, fn := range fns {
		results[i] = make(chan error, 1)
		go func() { results[i] <- s.write(ctx, fn) }()
		queued(t, s, i+1)
	}
	release()
	for i, ch := range results {
		if err := <-ch; err == nil {
			t.Errorf("write %d of a broken batch reported done", i)
		}
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d rows kept from a broken batch, want 0", n)
	}
	// The writer works again afterwards.
	if err := s.write(ctx, fns[0]); err != nil {
		t.Fatalf("write after a broken batch: %v", err)
	}
}

// TestCancelledRequestDoesNotBreakItsBatch: a request that goes away
// (its ctx cancelled) while its write runs neither fails the writes that
// share its transaction nor loses its own: fn runs on the batch's
// context, which no single request can cancel. Otherwise a client's
// disconnect would roll back another request's audit append after that
// request was debited and executed.
func TestCancelledRequestDoesNotBreakItsBatch(t *testing.T) {
	ctx := context.Background()
	s, release := heldStore(t)
	gone, cancel := context.WithCancel(ctx)
	a, b := make(chan error, 1), make(chan error, 1)
	go func() {
		a <- s.write(gone, func(ctx context.Context, tx *wtx) error {
			cancel() // the client disconnects while its write runs
			_, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (1)`)
			return err
		})
	}()
	queued(t, s, 1)
	go func() {
		b <- s.write(ctx, func(ctx context.Context, tx *wtx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (2)`)
			return err
		})
	}()
	queued(t, s, 2)
	release()
	if err := <-a; err != nil {
		t.Errorf("the disconnected request's write: %v, want it committed", err)
	}
	if err := <-b; err != nil {
		t.Errorf("the other request's write: %v, want it committed", err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("%d rows after the batch, want 2", n)
	}
}
