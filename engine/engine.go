// Package engine ties the pipeline together: parse and check (query),
// bound (plan), debit (budget), execute (exec), protect (protect) and
// audit (audit), in that order and only that order. Nothing but a
// protected result.Result leaves it.
package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/differential-privacy/go/v3/noise"

	"github.com/statgate/statgate/engine/access"
	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/catalog"
	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/statedb"
	"github.com/statgate/statgate/engine/template"
	"github.com/statgate/statgate/engine/tokens"
	"github.com/statgate/statgate/policies"
)

// Options configure an Engine. Policy and DataDir are required.
type Options struct {
	// Policy is the loaded policy.
	Policy *policies.Policy
	// DataDir holds extracts.duckdb (written by `statgate load`) and state.db
	// (ledger, audit log, tokens).
	DataDir string
	// MemoryLimit and Threads configure DuckDB ("" and 0: DuckDB's defaults).
	MemoryLimit string
	Threads     int
	// QueryTimeout bounds one execution (default 60s).
	QueryTimeout time.Duration
	// Noise replaces the policy's noise mechanism; tests only.
	Noise noise.Noise
}

// Engine answers requests with protected results. It is safe for
// concurrent use.
type Engine struct {
	pol     *policies.Policy
	access  *access.Control
	opts    Options
	parser  *query.Parser
	db      *exec.DB
	state   *sql.DB
	ledger  budget.Ledger
	audit   *audit.Log
	tokens  *tokens.Store
	catalog *catalog.Catalog
	// sizes are the datasets' row counts when the engine opened (the
	// extracts are read-only while it runs); plans use them to split the
	// L0 step of large tables into person buckets.
	sizes map[string]int64
	// persons is the public (rounded) size of the largest one-row-per-person
	// dataset: an upper estimate of the persons in the data, for costs.
	persons int64
	// templates are the policy's templates, parsed and checked once at Open.
	templates map[string]*template.Template

	closeOnce sync.Once
}

// Open opens the extracts database (read-only) and the state store, and
// prepares the parser.
func Open(ctx context.Context, opts *Options) (*Engine, error) {
	if opts == nil || opts.Policy == nil {
		return nil, errors.New("engine.Open: a policy is required")
	}
	if opts.DataDir == "" {
		return nil, errors.New("engine.Open: a data directory is required")
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
		return nil, fmt.Errorf("engine.Open: parser: %w", err)
	}
	if e.templates, err = template.Compile(ctx, e.parser, o.Policy); err != nil {
		return nil, fmt.Errorf("engine.Open: %w", err)
	}
	if e.db, err = exec.Open(ctx, &exec.Options{
		Path:         exec.ExtractsPath(o.DataDir),
		ReadOnly:     true,
		MemoryLimit:  o.MemoryLimit,
		Threads:      o.Threads,
		QueryTimeout: o.QueryTimeout,
	}); err != nil {
		return nil, fmt.Errorf("engine.Open: extracts in %s (run `statgate load` first): %w", o.DataDir, err)
	}
	sizes, err := e.db.TableRows(ctx)
	if err != nil {
		return nil, fmt.Errorf("engine.Open: %w", err)
	}
	if err = e.checkLoaded(sizes); err != nil {
		return nil, err
	}
	e.sizes = sizes
	for name, n := range sizes {
		if d, ok := o.Policy.Datasets[name]; ok && d.OneRowPerPerson {
			approx, _ := catalog.Approx(n)
			e.persons = max(e.persons, approx)
		}
	}
	e.catalog = catalog.New(o.Policy, sizes)
	if e.state, err = statedb.Open(ctx, o.DataDir); err != nil {
		return nil, fmt.Errorf("engine.Open: state: %w", err)
	}
	if e.ledger, err = budget.NewSQLLedger(e.state, PolicyLimits(o.Policy)); err != nil {
		return nil, fmt.Errorf("engine.Open: ledger: %w", err)
	}
	if e.audit, err = audit.NewLog(e.state); err != nil {
		return nil, fmt.Errorf("engine.Open: audit: %w", err)
	}
	if e.tokens, err = tokens.NewStore(e.state); err != nil {
		return nil, fmt.Errorf("engine.Open: tokens: %w", err)
	}
	return e, nil
}

// checkLoaded refuses to start when a policy dataset has no table.
func (e *Engine) checkLoaded(sizes map[string]int64) error {
	for name := range e.pol.Datasets {
		if _, ok := sizes[name]; !ok {
			return fmt.Errorf("engine.Open: dataset %q is not loaded in %s; run `statgate load --policy %s --data %s`",
				name, exec.ExtractsPath(e.opts.DataDir), e.pol.Path, e.opts.DataDir)
		}
	}
	return nil
}

// PolicyLimits returns the budget limits the policy declares per project × dataset.
func PolicyLimits(p *policies.Policy) budget.Limits {
	return func(project, dataset string) (policies.Budget, bool) {
		pr, ok := p.Projects[project]
		if !ok {
			return policies.Budget{}, false
		}
		for _, d := range pr.Datasets {
			if d == dataset {
				return pr.Budget, true
			}
		}
		return policies.Budget{}, false
	}
}

// Tokens is the token store (the API authenticates with it).
func (e *Engine) Tokens() *tokens.Store { return e.tokens }

// Policy is the policy the engine enforces.
func (e *Engine) Policy() *policies.Policy { return e.pol }

// StatePath is the state store's file.
func StatePath(dataDir string) string { return filepath.Join(dataDir, "state.db") }

// Ready reports whether the engine can answer queries.
func (e *Engine) Ready(ctx context.Context) error {
	if err := e.db.Ping(ctx); err != nil {
		return fmt.Errorf("engine.Ready: extracts: %w", err)
	}
	if err := e.state.PingContext(ctx); err != nil {
		return fmt.Errorf("engine.Ready: state: %w", err)
	}
	return nil
}

// Close releases the databases. It is safe to call more than once.
func (e *Engine) Close() error {
	var errs []error
	e.closeOnce.Do(func() {
		if e.parser != nil {
			errs = append(errs, e.parser.Close())
		}
		if e.db != nil {
			errs = append(errs, e.db.Close())
		}
		if e.state != nil {
			errs = append(errs, e.state.Close())
		}
	})
	return errors.Join(errs...)
}
