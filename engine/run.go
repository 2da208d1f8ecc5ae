package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/compile"
	"github.com/statgate/statgate/engine/consist"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/plausible"
	"github.com/statgate/statgate/engine/post"
	"github.com/statgate/statgate/engine/protect"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/result"
	"github.com/statgate/statgate/engine/state"
)

// ErrInternal is returned, wrapped, when something failed after the budget
// was debited: nothing is released and the budget is not refunded.
var ErrInternal = errors.New("engine: internal error; nothing was released")

// internalError is a failure after checking. Its message names only the
// stage: the cause (DuckDB's text can quote data values) stays reachable
// through errors.Unwrap for operators' logs and never becomes the message
// a caller prints.
type internalError struct {
	stage string
	cause error
	// epsilon is what the ledger charged before the failure (0 if none).
	epsilon float64
}

func (e *internalError) Error() string { return ErrInternal.Error() + " (" + e.stage + ")" }

// Unwrap returns ErrInternal and the cause, so errors.Is matches both
// ErrInternal and, for example, context.DeadlineExceeded.
func (e *internalError) Unwrap() []error { return []error{ErrInternal, e.cause} }

func internal(stage string, cause error) error { return &internalError{stage: stage, cause: cause} }

// noteFailure records on a failure after checking what the ledger charged
// for it (ChargedEpsilon) and logs its cause for the operators: the caller
// only ever sees the stage, while the cause (DuckDB's error text, a
// timeout, the memory limit) is what explains it. The log stays on the
// server, as the audit log does.
func noteFailure(ctx context.Context, queryID string, err error, charged float64) {
	var ie *internalError
	if !errors.As(err, &ie) {
		return
	}
	ie.epsilon = charged
	slog.ErrorContext(ctx, "request failed after checking; nothing was released",
		"query_id", queryID, "stage", ie.stage, "charged_epsilon", charged, "cause", ie.cause)
}

// ChargedEpsilon is the ε the ledger charged for a request that failed
// after its debit (nothing was released and the debit is kept), or 0.
// Operators' metrics count it with the ε of released results.
func ChargedEpsilon(err error) float64 {
	var ie *internalError
	if errors.As(err, &ie) {
		return ie.epsilon
	}
	return 0
}

// prepared is a request compiled, planned and prepared for release:
// everything that can refuse it has run and nothing is debited yet.
type prepared struct {
	x        *loaded // the extracts it is planned for and runs on
	compiled *compile.Compiled
	plan     *plan.Plan
	// release is the protection prepared before the debit: its shares,
	// what to debit, and every mechanism already checked; options are
	// what it was prepared with.
	release *protect.Release
	options protect.Options

	debitedEpsilon, debitedDelta float64 // set once the ledger took them
	// cacheKey identifies the question for free repeats (cacheKey).
	cacheKey string
	// kind is the request's kind as the audit log and the ledger record
	// it (requestKind); principal who asks (the member charged).
	kind, principal string
}

// Query runs one request through the whole pipeline: compile, plan,
// prepare the protection, debit, execute, protect, post-process, audit.
// It returns a refusal (*refusal.Error) for anything the request may not
// do, before any debit; after the debit any failure releases nothing and
// keeps the debit.
func (e *Engine) Query(ctx context.Context, p Principal, r Request) (*result.Result, error) {
	queryID := newQueryID()
	x, release, err := e.acquire()
	if err != nil {
		return nil, err
	}
	defer release() // this request runs on one extracts snapshot throughout
	pr, err := e.prepare(ctx, x, p, r)
	if r.DryRun {
		// Nothing is read, debited or released: nothing to audit.
		if err != nil {
			return nil, err
		}
		return e.dryRun(ctx, pr)
	}
	var res *result.Result
	if err == nil {
		pr.cacheKey = cacheKey(pr)
		if res = e.cached(ctx, pr, queryID); res == nil {
			res, err = e.run(ctx, p, pr, queryID)
		}
	}
	// The audit entry is written whatever happened; a result whose entry
	// cannot be written is not released.
	if aerr := e.appendAudit(context.WithoutCancel(ctx), p, r, pr, queryID, res, err); aerr != nil && err == nil {
		err = internal("audit", state.Unavailable(aerr))
	}
	if err == nil && !res.Meta.Cached {
		e.store(context.WithoutCancel(ctx), pr, res)
	}
	if err != nil {
		charged := 0.0
		if pr != nil {
			charged = pr.debitedEpsilon
		}
		noteFailure(ctx, queryID, err, charged)
		return nil, err
	}
	return res, nil
}

// prepare compiles the request (engine/compile: checks, authorisation,
// the query), bounds its contributions (plan.Bound), prepares its
// protection with the options of its datasets' effective policy
// (protect.Prepare) and checks its cost. Nothing here reads the extracts,
// so its refusals never depend on the data. Once the plan exists, a
// refused request's prepared is returned with the error, for the audit.
func (e *Engine) prepare(ctx context.Context, x *loaded, p Principal, r Request) (*prepared, error) {
	c, err := e.compiler.Compile(ctx, p.Name, r)
	if err != nil {
		return nil, err
	}
	pl, err := plan.Bound(c.Query, e.pol, e.planOptions(c, x))
	if err != nil {
		return nil, err
	}
	pr := &prepared{x: x, compiled: c, plan: pl, kind: requestKind(r), principal: p.Name}
	if pr.options, err = e.protectOptions(c, pl, x.persons); err != nil {
		return pr, err
	}
	if pr.release, err = protect.Prepare(pl, &pr.options); err != nil {
		return pr, err
	}
	if err := checkCost(e.pol.Limits, pr.release, pl.Datasets, x.sizes); err != nil {
		return pr, err
	}
	return pr, nil
}

// planOptions are the options every plan of c on the snapshot x is made
// with: the request's, the snapshot's table sizes and DuckDB's memory
// limit (the admission gate's capacity).
func (e *Engine) planOptions(c *compile.Compiled, x *loaded) *plan.Options {
	o := c.PlanOptions(x.sizes)
	o.MemoryLimit = e.gate.Capacity()
	return o
}

// protectOptions derives the protection's options from the effective
// policy of the plan's datasets, and reserves the share of the
// contribution profile when the plan has one.
func (e *Engine) protectOptions(c *compile.Compiled, pl *plan.Plan, persons int64) (protect.Options, error) {
	eff, err := e.pol.Resolve(pl.Datasets)
	if err != nil {
		return protect.Options{}, fmt.Errorf("engine.Query: %w", err)
	}
	o, err := protect.OptionsFor(eff, c.Epsilon, c.Pinned)
	if err != nil {
		return protect.Options{}, err
	}
	o.Noise, o.Persons = e.opts.Noise, persons
	if prof := pl.Profile; prof != nil {
		o.EstimateBounds, o.ProfileHistograms = true, prof.Histograms()
	}
	return *o, nil
}

// run debits the budget, executes the plan and protects the result.
// Everything that can refuse ran in prepare; from the debit on, the
// release cannot fail on a privacy parameter, whatever the data.
func (e *Engine) run(ctx context.Context, p Principal, pr *prepared, queryID string) (*result.Result, error) {
	c, rel := pr.compiled, pr.release
	project := c.Project.ID
	done, err := e.admit(ctx, pr.x, pr.plan.Datasets)
	if err != nil {
		return nil, err // nothing debited
	}
	defer done()
	cost, err := budget.NewZCost(rel.Epsilon(), rel.Delta(), rel.Rho(), rel.ZDelta())
	if err == nil {
		err = e.ledger.Debit(ctx, budget.Spend{
			QueryID: queryID, Project: project, Principal: p.Name, Kind: pr.kind,
			Datasets: pr.plan.Datasets, Cost: cost,
		}, e.book)
	}
	if err != nil {
		if _, ok := refusal.As(err); ok {
			return nil, err
		}
		// The store failed, not the request: fail closed (nothing runs).
		return nil, fmt.Errorf("engine.Query: debit: %w", state.Unavailable(err))
	}
	pr.debitedEpsilon, pr.debitedDelta = rel.Epsilon(), rel.Delta()
	// From here on the budget is spent: any failure releases nothing.
	ctx, cancel := context.WithTimeout(ctx, e.opts.QueryTimeout)
	defer cancel()
	est, err := e.estimateBounds(ctx, pr)
	if err != nil {
		return nil, internal("execute", err)
	}
	sqlText := pr.plan.SQL
	if est != nil {
		rel, sqlText = est.release, est.plan.SQL
	}
	rr, err := pr.x.db.QueryArrow(ctx, sqlText)
	if err != nil {
		return nil, internal("execute", err)
	}
	defer rr.Release()
	res, err := rel.Apply(ctx, rr)
	if err != nil {
		return nil, internal("protect", err)
	}
	if est != nil {
		est.report(&res.Meta)
	}
	res = consist.Apply(res)
	if res, err = post.Apply(res, c.Query); err != nil {
		return nil, internal("post-processing", err)
	}
	res.Meta.QueryID = queryID
	res.Meta.Time = time.Now().UTC()
	res.Meta.Project = project
	res.Meta.Datasets = slices.Clone(pr.plan.Datasets)
	// What the ledger charged: the debited release's amounts (a release
	// re-made at bounds chosen from the data may use less, never more).
	res.Meta.Epsilon = pr.release.Epsilon()
	res.Meta.Delta = pr.release.Delta()
	res.Meta.Rho, res.Meta.ZDelta = pr.release.Rho(), pr.release.ZDelta()
	res.Meta.Notes = append(res.Meta.Notes, c.Notes...)
	pr.x.stamp(&res.Meta, pr.plan.Datasets)
	final := pr.plan
	if est != nil {
		final = est.plan
	}
	res.Meta.Warnings = plausible.Warnings(res, final.Aggs, pr.x.publicSizes(final.Datasets))
	if res.Rows == nil {
		res.Rows = []result.Row{} // an empty result is [], not null
	}
	return res, nil
}

// appendAudit builds and appends the audit entry of one request.
func (e *Engine) appendAudit(ctx context.Context, p Principal, r Request, pr *prepared, queryID string, res *result.Result, qerr error) error {
	en := audit.Entry{QueryID: queryID, Principal: p.Name, Project: r.Project, Kind: requestKind(r)}
	switch en.Kind {
	case "sql":
		en.Query = r.SQL
	case "template":
		en.Template = r.Template
		if b, err := json.Marshal(r.Params); err == nil {
			en.Params = b
		}
	case "cohort":
		if b, err := json.Marshal(r.Cohort); err == nil {
			en.Query = string(b)
		}
	}
	if pr != nil {
		en.PlanHash = planHash(pr.plan.SQL)
		en.Datasets = pr.plan.Datasets
	}
	if err := setOutcome(&en, qerr, res != nil, res); err != nil {
		return err
	}
	if pr != nil {
		// What was debited, also when execution failed afterwards.
		en.Epsilon, en.Delta = pr.debitedEpsilon, pr.debitedDelta
	}
	_, err := e.audit.Append(ctx, en)
	return err
}

// planHash is the audit entry's hash of the SQL a request ran.
func planHash(sql string) string {
	sum := sha256.Sum256([]byte(sql))
	return hex.EncodeToString(sum[:])
}

// setOutcome records in en how a request ended: released (with the digest
// of what was released, when hasResult and qerr is nil), refused (the
// refusal's code) or failed.
func setOutcome(en *audit.Entry, qerr error, hasResult bool, released any) error {
	if qerr == nil && hasResult {
		b, err := json.Marshal(released)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		en.Outcome, en.ResultDigest = "released", hex.EncodeToString(sum[:])
		return nil
	}
	if rf, ok := refusal.As(qerr); ok {
		en.Outcome, en.Reason = "refused", rf.Code.String()
	} else {
		en.Outcome, en.Reason = "failed", "internal_error"
	}
	return nil
}

// requestKind names what r asks ("sql", "template", "cohort"; "invalid"
// when it asks none of them), as the audit log and the ledger record it.
func requestKind(r Request) string {
	switch {
	case r.SQL != "":
		return "sql"
	case r.Template != "":
		return "template"
	case r.Cohort != nil:
		return "cohort"
	}
	return "invalid"
}

// newQueryID returns a random id for one request.
func newQueryID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("engine: crypto/rand failed: %v", err))
	}
	return "q_" + hex.EncodeToString(b[:])
}

// dryRun answers a request that asked only what it would cost
// (Request.DryRun): the prepared release's columns, meta and expected
// accuracy, the cost to every budget and each budget after it. It reads
// the ledger, never the extracts, and writes nothing.
func (e *Engine) dryRun(ctx context.Context, pr *prepared) (*result.Result, error) {
	rel := pr.release
	project := pr.compiled.Project.ID
	cost, err := budget.NewZCost(rel.Epsilon(), rel.Delta(), rel.Rho(), rel.ZDelta())
	if err != nil {
		return nil, fmt.Errorf("engine.Query: dry run: %w", err)
	}
	res := rel.DryRun()
	d := res.Meta.DryRun
	pr.cacheKey = cacheKey(pr)
	if hit := e.cached(ctx, pr, ""); hit != nil {
		// A repeat is free: nothing would be debited.
		d.Cached, cost = true, budget.Cost{}
		res.Meta.Epsilon, res.Meta.Delta, res.Meta.Rho, res.Meta.ZDelta = 0, 0, 0, 0
		res.Meta.Notes = append(res.Meta.Notes, "this question was answered before in the project ("+hit.Meta.CachedFrom+"): asking it again returns that answer at no cost")
	}
	res.Meta.Project = project
	res.Meta.Datasets = slices.Clone(pr.plan.Datasets)
	res.Meta.Epsilon, res.Meta.Delta = rel.Epsilon(), rel.Delta()
	res.Meta.Rho, res.Meta.ZDelta = rel.Rho(), rel.ZDelta()
	pr.x.stamp(&res.Meta, pr.plan.Datasets)
	res.Meta.Notes = append(res.Meta.Notes, pr.compiled.Notes...)
	res.Meta.Notes = append(res.Meta.Notes, "dry run: nothing was read from the registries and nothing was debited")
	if err := e.previewBudget(ctx, project, pr.principal, pr.plan.Datasets, cost, d, &res.Meta); err != nil {
		return nil, err
	}
	return res, nil
}

// previewBudget completes a dry run's d with the cost to every budget of
// datasets, whether they can pay it now, and each budget after it (a note
// in m says when they cannot). It reads the ledger and writes nothing.
func (e *Engine) previewBudget(ctx context.Context, project, principal string, datasets []string, cost budget.Cost, d *result.DryRun, m *result.Meta) error {
	spend := budget.Spend{Project: project, Principal: principal, Datasets: datasets, Cost: cost}
	switch err := e.book.Check(ctx, e.ledger, spend); {
	case err == nil || d.Cached:
		d.Fits = true
	case refusal.CodeOf(err) == refusal.BudgetExhausted:
		m.Notes = append(m.Notes, "the budget cannot pay this now: "+err.Error())
	default:
		if _, ok := refusal.As(err); ok {
			return err
		}
		return fmt.Errorf("engine: dry run: %w", state.Unavailable(err))
	}
	for _, ds := range spend.Datasets {
		d.Cost = append(d.Cost, result.DryRunCost{Dataset: ds, Epsilon: cost.Epsilon(), Delta: cost.Delta(), Rho: cost.Rho()})
	}
	for _, a := range e.book.Capped(spend) {
		bal, _, err := e.book.AccountBalance(ctx, e.ledger, a, cost)
		if err != nil {
			return fmt.Errorf("engine: dry run: %w", err)
		}
		d.BudgetAfter = append(d.BudgetAfter, result.DryRunAfter{Scope: string(a.Scope), Dataset: a.Dataset, Principal: a.Principal,
			RemainingEpsilon: bal.RemainingEpsilon, RemainingDelta: bal.RemainingDelta, RemainingRho: bal.RemainingRho})
	}
	return nil
}
