// Package extract keeps the extracts database a server answers from, and
// its version, across `statgate load`s.
//
// Every replica opens the one extracts file read-only (engine/exec, no
// exclusive lock), so several `statgate serve` processes share it. `statgate
// load` writes a new file and renames it over the old one atomically; a Set
// notices (Watch polls the file's identity, or the server calls Reload on
// SIGHUP), opens the new file beside the old, checks it, and swaps:
// requests that began on the old snapshot finish on it, new requests get
// the new one, and the old database closes when its last request releases
// it. A file that fails to open or to pass Options.Accept is not swapped
// in; the old snapshot keeps serving.
//
// # Version
//
// A snapshot's Version names what it holds: Fingerprint is
// exec.DB.Fingerprint (SHA-256 over every table's name, columns and rows,
// independent of load times), so two replicas, or two loads of unchanged
// sources, have the same fingerprint exactly when they hold the same data.
// The fingerprint is an exact function of every row, so it stays inside
// the process (operator logs, the swap decision). The public name is ID
// (exec.DB.VersionID, an HMAC of the fingerprint keyed with a secret
// written by the load): the engine puts it in every answer's meta
// (result.Meta.Extract), so an answer names the extract version it was
// computed from without saying anything about the rows. Later work
// (deliveries, a result cache) keys on it.
package extract

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/statgate/statgate/engine/exec"
)

// ErrClosed is returned by Acquire after Close.
var ErrClosed = errors.New("extract: the set is closed")

// Version identifies one extracts database.
type Version struct {
	// Fingerprint is exec.DB.Fingerprint of the database (64 hex digits).
	// It is a function of every row: never release it.
	Fingerprint string
	// ID is the version's public name (exec.DB.VersionID, 32 hex digits):
	// what answers carry in meta.extract.
	ID string
	// Opened is when this process opened it.
	Opened time.Time
	// Counter numbers the versions of the data directory (every `statgate
	// load` and `statgate deliver` makes the next); Created is when this
	// one was written. Both are public: they say when data arrived, not
	// what it holds.
	Counter int64
	Created time.Time
}

// Options configure Open.
type Options struct {
	// Path is the extracts database file (exec.ExtractsPath of a data
	// directory). It is opened read-only.
	Path string
	// DB configures each database opened (its Path and ReadOnly are set
	// from Path).
	DB exec.Options
	// Accept, if set, checks a newly opened snapshot before it is used
	// (for example, that every dataset of the policy is loaded) and
	// returns what the caller derives from it, kept in Snapshot.Derived.
	// An error refuses the snapshot: Open fails, Reload keeps the old one.
	Accept func(ctx context.Context, s *Snapshot) (any, error)
}

// Snapshot is one opened extracts database. Between Acquire and Release
// its DB stays open, whatever reloads happen meanwhile.
type Snapshot struct {
	// DB is the read-only, locked-down database.
	DB *exec.DB
	// Version names what DB holds.
	Version Version
	// Sizes are the row counts of its tables (read once: the file does
	// not change while open).
	Sizes map[string]int64
	// Info is what the database says of its version, per dataset (the
	// last delivery, the declared period): exec.DB.Version.
	Info *exec.VersionInfo
	// Derived is what Options.Accept returned for it.
	Derived any

	set     *Set
	info    os.FileInfo // the file as it was when opened
	refs    int         // Acquires not yet released (guarded by set.mu)
	retired bool        // swapped out; closes when refs reaches 0
}

// Set is the current snapshot of one extracts file and the snapshots still
// in use. It is safe for concurrent use.
type Set struct {
	opts Options

	mu     sync.Mutex
	cur    *Snapshot
	closed bool
	// reload serialises Reloads (opening a file takes a while; two at
	// once would open it twice).
	reload sync.Mutex
}

// Open opens the extracts file and returns a Set whose current snapshot
// it is.
func Open(ctx context.Context, opts *Options) (*Set, error) {
	if opts == nil || opts.Path == "" {
		return nil, errors.New("extract.Open: a path is required")
	}
	s := &Set{opts: *opts}
	sn, err := s.open(ctx)
	if err != nil {
		return nil, fmt.Errorf("extract.Open: %w", err)
	}
	s.cur = sn
	return s, nil
}

// open opens the file as it is now into a new snapshot and accepts it.
//
// DuckDB's Go driver keeps one database instance per (canonical) path for
// the whole process, so opening Path again after a load would hand back
// the old instance, still reading the old file. open therefore gives
// DuckDB a name of its own for the file now at Path: a hard link beside
// it, unique to this process and open, removed as soon as DuckDB has the
// file open (it keeps its descriptor). Where no link can be made (a
// read-only data directory) it opens Path itself, and a reload picks up a
// new file only once the old snapshot has closed; restart the server then.
func (s *Set) open(ctx context.Context) (sn *Snapshot, err error) {
	info, err := os.Stat(s.opts.Path)
	if err != nil {
		return nil, err
	}
	o := s.opts.DB
	o.Path, o.ReadOnly = s.opts.Path, true
	link := uniqueLink(s.opts.Path)
	if err := os.Link(s.opts.Path, link); err == nil {
		defer os.Remove(link)
		if info, err = os.Stat(link); err != nil {
			return nil, err
		}
		o.Path = link
	}
	db, err := exec.Open(ctx, &o)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	sizes, err := db.TableRows(ctx)
	if err != nil {
		return nil, err
	}
	fp, err := db.Fingerprint(ctx)
	if err != nil {
		return nil, err
	}
	id, err := db.VersionID(ctx, fp)
	if err != nil {
		return nil, err
	}
	vi, err := db.Version(ctx)
	if err != nil {
		return nil, err
	}
	sn = &Snapshot{DB: db, Version: Version{Fingerprint: fp, ID: id, Opened: time.Now().UTC(), Counter: vi.Counter, Created: vi.Created},
		Sizes: sizes, Info: vi, set: s, info: info}
	if s.opts.Accept != nil {
		if sn.Derived, err = s.opts.Accept(ctx, sn); err != nil {
			return nil, err
		}
	}
	return sn, nil
}

// Acquire returns the current snapshot, held open until Release.
func (s *Set) Acquire() (*Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	s.cur.refs++
	return s.cur, nil
}

// Release gives back a snapshot from Acquire. A snapshot swapped out by a
// reload closes when its last holder releases it.
func (sn *Snapshot) Release() {
	s := sn.set
	s.mu.Lock()
	sn.refs--
	done := sn.retired && sn.refs == 0
	s.mu.Unlock()
	if done {
		sn.close()
	}
}

// close closes the database.
func (sn *Snapshot) close() error { return sn.DB.Close() }

// opens numbers the opens of this process, for uniqueLink.
var opens atomic.Int64

// uniqueLink is a name beside path no other open of any process uses
// (exec.OpeningLink: .<file>.open-<host>-<pid>-<n>). While it exists,
// exec.Prune keeps the part files of the version it names.
func uniqueLink(path string) string { return exec.OpeningLink(path, opens.Add(1)) }

// Current returns the current snapshot's Version and Derived without
// holding it: for what needs no database (the data map, a readiness
// report).
func (s *Set) Current() (Version, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur.Version, s.cur.Derived
}

// Changed reports whether the file at Path is no longer the one the
// current snapshot opened (`statgate load` renamed a new one over it).
func (s *Set) Changed() bool {
	info, err := os.Stat(s.opts.Path)
	if err != nil {
		return false // nothing to open; keep serving the open one
	}
	s.mu.Lock()
	cur := s.cur.info
	s.mu.Unlock()
	return !os.SameFile(info, cur) || info.Size() != cur.Size() || !info.ModTime().Equal(cur.ModTime())
}

// Reload opens the file at Path again and, when it is another version
// than the current snapshot (another fingerprint or version counter),
// makes it current; it returns
// the current Version and whether it changed. On an error the current
// snapshot stays.
func (s *Set) Reload(ctx context.Context) (Version, bool, error) {
	s.reload.Lock()
	defer s.reload.Unlock()
	sn, err := s.open(ctx)
	if err != nil {
		v, _ := s.Current()
		return v, false, fmt.Errorf("extract.Reload: %s: %w", s.opts.Path, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		sn.close()
		return Version{}, false, ErrClosed
	}
	old := s.cur
	if old.Version.Fingerprint == sn.Version.Fingerprint && old.Version.Counter == sn.Version.Counter {
		// The same file again (copied back, touched): keep the open one,
		// but remember the new file so that Changed settles. A new version
		// of the same data (a compaction, a load of unchanged sources with
		// another declared period) is swapped in like any other: answers
		// name the version they ran on.
		old.info = sn.info
		s.mu.Unlock()
		sn.close()
		return old.Version, false, nil
	}
	s.cur = sn
	old.retired = true
	closeOld := old.refs == 0
	s.mu.Unlock()
	if closeOld {
		old.close()
	}
	return sn.Version, true, nil
}

// Watch checks every interval whether the file changed and reloads it
// when it did, until ctx ends. report, if not nil, is told of every reload
// tried: the version then current, whether it changed, and the error.
func (s *Set) Watch(ctx context.Context, interval time.Duration, report func(Version, bool, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.Changed() {
			continue
		}
		v, changed, err := s.Reload(ctx)
		if errors.Is(err, ErrClosed) {
			return
		}
		if report != nil {
			report(v, changed, err)
		}
		if err != nil {
			// Do not retry a bad file every tick: wait for the next change.
			s.settle()
		}
	}
}

// settle records the file now at Path as seen, so that Changed is false
// until it changes again.
func (s *Set) settle() {
	info, err := os.Stat(s.opts.Path)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.cur.info = info
	s.mu.Unlock()
}

// Close closes the current snapshot's database now, and each snapshot
// still held when it is released. Acquire fails afterwards.
func (s *Set) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	cur := s.cur
	cur.retired = true
	closeNow := cur.refs == 0
	s.mu.Unlock()
	if closeNow {
		return cur.close()
	}
	return nil
}
