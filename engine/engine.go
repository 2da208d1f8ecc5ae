// Package engine ties the pipeline together: compile (compile), bound
// (plan), prepare the protection (protect), debit (budget), execute
// (exec), protect, post-process (consist, post) and audit (audit), in that
// order and only that order. Nothing but a protected result.Result leaves
// it.
package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/differential-privacy/go/v3/noise"

	"github.com/statgate/statgate/engine/access"
	"github.com/statgate/statgate/engine/admit"
	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/catalog"
	"github.com/statgate/statgate/engine/compile"
	"github.com/statgate/statgate/engine/delivery"
	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/extract"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/result"
	"github.com/statgate/statgate/engine/state"
	"github.com/statgate/statgate/engine/template"
	"github.com/statgate/statgate/policies"
)

// Options configure an Engine. Policy, DataDir and State are required.
type Options struct {
	// Policy is the loaded policy.
	Policy *policies.Policy
	// DataDir holds extracts.duckdb (written by `statgate load`).
	DataDir string
	// State keeps the budget ledger and the audit log (engine/state; the
	// SQLite file under DataDir is engine/state/sqlite). The caller opens
	// it before New and closes it after Close.
	State state.Store
	// MemoryLimit and Threads configure DuckDB ("" and 0: DuckDB's
	// defaults; with 0, one thread when no extract has more than
	// exec.DefaultSmallTableRows rows, see exec.Options.SmallTableRows).
	MemoryLimit string
	Threads     int
	// QueryTimeout bounds one execution (default 60s).
	QueryTimeout time.Duration
	// Noise replaces the policy's noise mechanism; tests only.
	Noise noise.Noise
	// NoRepeats turns free repeats off: every question is answered (and
	// paid) anew instead of from the state store's result cache. For
	// harnesses that re-ask a question to measure its noise (the utility
	// benchmark, statistical tests); a server keeps repeats on.
	NoRepeats bool
}

// Engine answers requests with protected results. It is safe for
// concurrent use.
type Engine struct {
	pol      *policies.Policy
	access   *access.Control
	opts     Options
	parser   *query.Parser
	compiler *compile.Compiler // requests into checked queries
	// extracts is the extracts database, read-only, swapped for a new one
	// when `statgate load` replaces the file (Reload); each request runs
	// on one snapshot from start to end.
	extracts *extract.Set
	state    state.Store
	ledger   state.Ledger
	audit    state.AuditLog
	cache    state.Cache  // released answers, for free repeats
	book     *budget.Book // decides debits from the policy's budgets
	// gate admits big plans by their estimated memory against DuckDB's
	// memory limit, one limit for every snapshot open at once.
	gate *admit.Gate

	// noisyProfile, when set (tests only), sees every noisy contribution
	// profile a query draws and returns the one the bounds are chosen
	// from: the neighbouring-datasets test gives the neighbour's engine
	// the base's draw, to show that the bounds and mechanisms chosen
	// after the debit depend on that DP output alone.
	noisyProfile func(map[string][]float64) map[string][]float64

	closeOnce sync.Once
}

// loaded is what the engine derives from one extracts snapshot
// (extract.Snapshot.Derived).
type loaded struct {
	db *exec.DB
	// version names the extracts (result.Meta.Extract).
	version extract.Version
	// sizes are the datasets' row counts (the snapshot does not change
	// while open); plans use them to split the L0 step of large tables
	// into person buckets.
	sizes map[string]int64
	// persons is the public (rounded) size of the largest one-row-per-person
	// dataset: an upper estimate of the persons in the data, for costs.
	persons int64
	catalog *catalog.Catalog
	// info is what the extracts say of their version (exec.DB.Version).
	info *exec.VersionInfo
	// upTo is each dataset's "data up to" month (delivery.DataUpTo).
	upTo map[string]string
}

// stamp names in meta the extracts version a result was computed from
// and the month each of its datasets' data reach.
func (x *loaded) stamp(m *result.Meta, datasets []string) {
	m.Extract, m.ExtractVersion = x.version.ID, x.version.Counter
	for _, d := range datasets {
		if u := x.upTo[d]; u != "" {
			if m.DataUpTo == nil {
				m.DataUpTo = map[string]string{}
			}
			m.DataUpTo[d] = u
		}
	}
}

// acquire returns the current extracts, held until release is called.
func (e *Engine) acquire() (*loaded, func(), error) {
	sn, err := e.extracts.Acquire()
	if err != nil {
		return nil, nil, fmt.Errorf("engine: extracts: %w", err)
	}
	return sn.Derived.(*loaded), sn.Release, nil
}

// current returns the current extracts for what needs no database (the
// data map).
func (e *Engine) current() *loaded {
	_, d := e.extracts.Current()
	return d.(*loaded)
}

// accept checks a newly opened extracts snapshot (every policy dataset
// loaded) and derives what requests need from it.
func (e *Engine) accept(ctx context.Context, sn *extract.Snapshot) (any, error) {
	if err := e.checkLoaded(sn.Sizes); err != nil {
		return nil, err
	}
	if err := e.checkOneRowPerPerson(ctx, sn); err != nil {
		return nil, err
	}
	x := &loaded{db: sn.DB, version: sn.Version, sizes: sn.Sizes, info: sn.Info}
	for name, n := range sn.Sizes {
		if d, ok := e.pol.Datasets[name]; ok && d.OneRowPerPerson {
			approx, _ := catalog.Approx(n)
			x.persons = max(x.persons, approx)
		}
	}
	x.catalog = catalog.New(e.pol, sn.Sizes)
	x.upTo = map[string]string{}
	for name, ds := range e.pol.Datasets {
		v := sn.Info.Datasets[name]
		x.upTo[name] = delivery.DataUpTo(ds, v)
		x.catalog.SetFreshness(name, v.LastDelivery, x.upTo[name])
	}
	return x, nil
}

// Reload opens the extracts file again and, when `statgate load` replaced
// it with other data, answers new requests from it (requests under way
// finish on the old one). It returns the version now current and whether
// it changed; on an error the old extracts keep serving.
func (e *Engine) Reload(ctx context.Context) (extract.Version, bool, error) {
	return e.extracts.Reload(ctx)
}

// WatchExtracts reloads the extracts whenever the file changes, checking
// every interval, until ctx ends; report (optional) hears of each reload.
func (e *Engine) WatchExtracts(ctx context.Context, interval time.Duration, report func(extract.Version, bool, error)) {
	e.extracts.Watch(ctx, interval, report)
}

// ExtractVersion is the version of the extracts new requests run on.
func (e *Engine) ExtractVersion() extract.Version {
	v, _ := e.extracts.Current()
	return v
}

// New opens the extracts database (read-only, see engine/extract) and
// prepares the parser;
// the ledger and the audit log are opts.State's.
func New(ctx context.Context, opts *Options) (*Engine, error) {
	if opts == nil || opts.Policy == nil {
		return nil, errors.New("engine.New: a policy is required")
	}
	if opts.DataDir == "" {
		return nil, errors.New("engine.New: a data directory is required")
	}
	if opts.State == nil {
		return nil, errors.New("engine.New: a state store is required")
	}
	o := *opts
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 60 * time.Second
	}
	e := &Engine{pol: o.Policy, access: access.New(o.Policy), opts: o}
	var err error
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	if e.parser, err = query.NewParser(ctx); err != nil {
		return nil, fmt.Errorf("engine.New: parser: %w", err)
	}
	// The policy's templates are parsed and checked once, here.
	templates, err := template.Compile(ctx, e.parser, o.Policy)
	if err != nil {
		return nil, fmt.Errorf("engine.New: %w", err)
	}
	if e.compiler, err = compile.New(&compile.Options{Policy: o.Policy, Parser: e.parser, Access: e.access, Templates: templates}); err != nil {
		return nil, fmt.Errorf("engine.New: %w", err)
	}
	if e.extracts, err = extract.Open(ctx, &extract.Options{
		Path: exec.ExtractsPath(o.DataDir),
		DB: exec.Options{MemoryLimit: o.MemoryLimit, Threads: o.Threads, QueryTimeout: o.QueryTimeout,
			SmallTableRows: exec.DefaultSmallTableRows},
		Accept: e.accept,
	}); err != nil {
		var ce *checkError
		if errors.As(err, &ce) {
			return nil, ce
		}
		return nil, fmt.Errorf("engine.New: extracts in %s (run `statgate load` first): %w", o.DataDir, err)
	}
	e.state, e.ledger, e.audit, e.cache = o.State, o.State.Ledger(), o.State.Audit(), o.State.Cache()
	if e.gate, err = e.newGate(ctx); err != nil {
		return nil, fmt.Errorf("engine.New: %w", err)
	}
	acct, err := budget.ForAccounting(o.Policy.Accounting)
	if err != nil {
		return nil, fmt.Errorf("engine.New: %w", err)
	}
	if e.book, err = budget.NewPolicyBook(o.Policy, acct); err != nil {
		return nil, fmt.Errorf("engine.New: %w", err)
	}
	return e, nil
}

// newGate returns the admission gate of the engine's DuckDB memory limit
// (as the extracts' database reports it).
func (e *Engine) newGate(ctx context.Context) (*admit.Gate, error) {
	sn, err := e.extracts.Acquire()
	if err != nil {
		return nil, err
	}
	defer sn.Release()
	limit, err := sn.DB.MemoryLimit(ctx)
	if err != nil {
		return nil, err
	}
	return admit.New(limit), nil
}

// admit waits until a plan reading the given datasets fits in DuckDB's
// memory limit beside the plans running (admit.Gate); it runs before the
// debit, so a request that gives up waiting has spent nothing. The
// estimate comes from the snapshot's table sizes alone.
func (e *Engine) admit(ctx context.Context, x *loaded, datasets []string) (func(), error) {
	var rows int64
	for _, d := range datasets {
		rows += x.sizes[d]
	}
	return e.gate.Acquire(ctx, admit.Estimate(rows))
}

// checkError is checkLoaded's refusal, which New returns as it is.
type checkError struct{ msg string }

func (e *checkError) Error() string { return e.msg }

// checkLoaded refuses extracts (at start or on a reload) in which a policy
// dataset has no table.
func (e *Engine) checkLoaded(sizes map[string]int64) error {
	for name := range e.pol.Datasets {
		if _, ok := sizes[name]; !ok {
			return &checkError{fmt.Sprintf("engine.New: dataset %q is not loaded in %s; run `statgate load --policy %s --data %s`",
				name, exec.ExtractsPath(e.opts.DataDir), e.pol.Path, e.opts.DataDir)}
		}
	}
	return nil
}

// checkOneRowPerPerson refuses extracts in which a dataset the serving
// policy declares one row per person has a NULL or repeated person key.
// Plans trust that declaration (one group per person, a row per person in
// the partials), and `statgate load` or `deliver` may have been run with
// another policy file than the one served: checking the file itself, once
// per snapshot, keeps the noise calibrated to what is really there.
//
// A dataset whose rows the serving snapshot already holds (the same row
// count and recorded row-hash sum: a delivery to another dataset) was
// checked when that snapshot was accepted and is not scanned again, so a
// 1 % npr delivery does not re-count a 10 M-person population.
func (e *Engine) checkOneRowPerPerson(ctx context.Context, sn *extract.Snapshot) error {
	var prev *exec.VersionInfo
	if e.extracts != nil {
		prev = e.current().info
	}
	for name, ds := range e.pol.Datasets {
		if !ds.OneRowPerPerson {
			continue
		}
		if prev != nil && sn.Info != nil {
			old, now := prev.Datasets[name], sn.Info.Datasets[name]
			if now.HashSum != "" && now.HashSum == old.HashSum && now.Rows == old.Rows {
				continue
			}
		}
		n, err := sn.DB.PersonRepeats(ctx, name, ds.PersonKey)
		if err != nil {
			return fmt.Errorf("engine: check %s's person key: %w", name, err)
		}
		if n > 0 {
			return &checkError{fmt.Sprintf("engine.New: dataset %q has rows that repeat a person (or have no %s), but the policy says one_row_per_person; load it again with `statgate load --policy %s`",
				name, ds.PersonKey, e.pol.Path)}
		}
	}
	return nil
}

// Policy is the policy the engine enforces.
func (e *Engine) Policy() *policies.Policy { return e.pol }

// Ready reports whether the engine can answer queries.
func (e *Engine) Ready(ctx context.Context) error {
	x, release, err := e.acquire()
	if err != nil {
		return fmt.Errorf("engine.Ready: %w", err)
	}
	defer release()
	if err := x.db.Ping(ctx); err != nil {
		return fmt.Errorf("engine.Ready: extracts: %w", err)
	}
	if err := e.state.Ping(ctx); err != nil {
		return fmt.Errorf("engine.Ready: state: %w", err)
	}
	return nil
}

// Close releases the extracts database and the parser; the state store is
// the caller's to close. It is safe to call more than once.
func (e *Engine) Close() error {
	var errs []error
	e.closeOnce.Do(func() {
		if e.parser != nil {
			errs = append(errs, e.parser.Close())
		}
		if e.extracts != nil {
			errs = append(errs, e.extracts.Close())
		}
	})
	return errors.Join(errs...)
}
