package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/catalog"
	"github.com/statgate/statgate/engine/consist"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/post"
	"github.com/statgate/statgate/engine/protect"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/result"
	"github.com/statgate/statgate/policies"
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

// compiled is a request after checking and planning, before the debit.
type compiled struct {
	kind     string // "sql", "template" or "cohort"
	text     string // what the audit log records as the query
	template string
	params   map[string]any
	q        *query.Query
	notes    []string // added to the result's notes (what a cohort's age_band means)
	plan     *plan.Plan
	epsilon  float64 // requested total ε (before the split)
	pinnedEp bool    // the template's fixed ε
	// release is the protection prepared before the debit: its shares,
	// what to debit, and every mechanism already checked; options are
	// what it was prepared with.
	release *protect.Release
	options protect.Options

	debitedEpsilon, debitedDelta float64 // set once the ledger took them
}

// Query runs one request through the whole pipeline: check, plan, debit,
// execute, protect, audit. It returns a refusal (*refusal.Error) for
// anything the request may not do, before any debit; after the debit any
// failure releases nothing and keeps the debit.
func (e *Engine) Query(ctx context.Context, p Principal, r Request) (*result.Result, error) {
	queryID := newQueryID()
	c, err := e.compile(ctx, p, r)
	var res *result.Result
	if err == nil {
		res, err = e.run(ctx, p, r, c, queryID)
	}
	// The audit entry is written whatever happened; a result whose entry
	// cannot be written is not released.
	if aerr := e.appendAudit(context.WithoutCancel(ctx), p, r, c, queryID, res, err); aerr != nil && err == nil {
		err = internal("audit", aerr)
	}
	if err != nil {
		var ie *internalError
		if errors.As(err, &ie) && c != nil {
			ie.epsilon = c.debitedEpsilon
		}
		return nil, err
	}
	return res, nil
}

// compile authorises the request and turns it into a plan. Nothing here
// reads the extracts, so its refusals never depend on the data.
func (e *Engine) compile(ctx context.Context, p Principal, r Request) (*compiled, error) {
	n := 0
	for _, set := range []bool{r.SQL != "", r.Template != "", r.Cohort != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, &refusal.Error{Code: refusal.BadRequest,
			Message: "a request needs exactly one of sql, template or cohort"}
	}
	if r.Project == "" {
		return nil, &refusal.Error{Code: refusal.MissingProject,
			Message: "the request names no project", Hint: "add \"project\": the id of a project you are a member of"}
	}
	if math.IsNaN(r.Epsilon) || math.IsInf(r.Epsilon, 0) || r.Epsilon < 0 {
		return nil, &refusal.Error{Code: refusal.BadEpsilon,
			Message: "epsilon must be a positive number", Hint: "omit epsilon to use the policy's default"}
	}
	proj, err := e.access.Project(p.Name, r.Project)
	if err != nil {
		return nil, err
	}
	var c *compiled
	switch {
	case r.SQL != "":
		if err := e.access.Allow(p.Name, proj, policies.ActionSQL); err != nil {
			return nil, err
		}
		c = &compiled{kind: "sql", text: r.SQL, epsilon: r.Epsilon}
		c.q, err = e.parser.Compile(ctx, r.SQL, query.NewCatalog(e.pol, proj.Datasets))
	case r.Template != "":
		if err := e.access.Allow(p.Name, proj, policies.ActionTemplates); err != nil {
			return nil, err
		}
		c, err = e.compileTemplate(ctx, proj, r)
	default:
		if err := e.access.Allow(p.Name, proj, policies.ActionCohorts); err != nil {
			return nil, err
		}
		c, err = e.compileCohort(ctx, proj, r)
	}
	if err != nil {
		return c, err
	}
	if c.plan == nil {
		c.plan, err = plan.Bound(c.q, e.pol, &plan.Options{TableRows: e.sizes, Totals: r.Totals, Bounds: r.Bounds})
		if err != nil {
			return c, err
		}
	}
	po, err := e.protectOptions(c)
	if err != nil {
		return c, err
	}
	if pr := c.plan.Profile; pr != nil {
		po.EstimateBounds, po.ProfileHistograms = true, pr.Histograms()
	}
	c.options = *po
	if c.release, err = protect.Prepare(c.plan, po); err != nil {
		return c, err
	}
	if err := e.checkCost(c); err != nil {
		return c, err
	}
	return c, nil
}

// checkCost refuses a query whose estimated work is over the policy's
// limits. The estimate uses the plan, the policy and the data map's
// rounded sizes only.
func (e *Engine) checkCost(c *compiled) error {
	lim := e.pol.Limits
	if cost := c.release.Cost(); lim.MaxQueryCost > 0 && cost > lim.MaxQueryCost {
		return refusal.New(refusal.QueryTooExpensive,
			fmt.Sprintf("protecting this query would take about %d noise draws (its groups times the draws each aggregate needs per group); one query may take at most %d", cost, lim.MaxQueryCost),
			"group by fewer or coarser keys, ask for fewer quantiles, or split the question into several queries")
	}
	var rows int64
	for _, d := range c.plan.Datasets {
		approx, _ := catalog.Approx(e.sizes[d])
		rows += approx
	}
	if lim.MaxRowsScanned > 0 && rows > lim.MaxRowsScanned {
		return refusal.New(refusal.QueryTooExpensive,
			fmt.Sprintf("this query reads about %d rows of %v; one query may read at most %d", rows, c.plan.Datasets, lim.MaxRowsScanned),
			"ask about fewer datasets at once")
	}
	return nil
}

// run debits the budget, executes the plan and protects the result.
// Everything that can refuse ran in compile; from the debit on, the
// release cannot fail on a privacy parameter, whatever the data.
func (e *Engine) run(ctx context.Context, p Principal, r Request, c *compiled, queryID string) (*result.Result, error) {
	project := r.Project
	rel := c.release
	cost, err := budget.NewCost(rel.Epsilon(), rel.Delta(), 0)
	if err == nil {
		err = e.ledger.Debit(ctx, budget.Spend{
			QueryID: queryID, Project: project, Principal: p.Name,
			Datasets: c.plan.Datasets, Cost: cost,
		}, e.book)
	}
	if err != nil {
		if _, ok := refusal.As(err); ok {
			return nil, err
		}
		return nil, fmt.Errorf("engine.Query: debit: %w", err)
	}
	c.debitedEpsilon, c.debitedDelta = rel.Epsilon(), rel.Delta()
	// From here on the budget is spent: any failure releases nothing.
	ctx, cancel := context.WithTimeout(ctx, e.opts.QueryTimeout)
	defer cancel()
	est, err := e.estimateBounds(ctx, c, r)
	if err != nil {
		return nil, internal("execute", err)
	}
	sqlText := c.plan.SQL
	if est != nil {
		rel, sqlText = est.release, est.plan.SQL
	}
	rr, err := e.db.QueryArrow(ctx, sqlText)
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
	if c.q != nil {
		if res, err = post.Apply(res, c.q); err != nil {
			return nil, internal("post-processing", err)
		}
	}
	res.Meta.QueryID = queryID
	res.Meta.Time = time.Now().UTC()
	res.Meta.Project = project
	res.Meta.Datasets = slices.Clone(c.plan.Datasets)
	res.Meta.Epsilon = rel.Epsilon()
	res.Meta.Delta = rel.Delta()
	res.Meta.Notes = append(res.Meta.Notes, c.notes...)
	return res, nil
}

// protectOptions derives the protection's options from the effective
// policy of the plan's datasets.
func (e *Engine) protectOptions(c *compiled) (*protect.Options, error) {
	eff, err := e.pol.Resolve(c.plan.Datasets)
	if err != nil {
		return nil, fmt.Errorf("engine.Query: %w", err)
	}
	o, err := protect.OptionsFor(eff, c.epsilon, c.pinnedEp)
	if err != nil {
		return nil, err
	}
	o.Noise, o.Persons = e.opts.Noise, e.persons
	return o, nil
}

// appendAudit builds and appends the audit entry of one request.
func (e *Engine) appendAudit(ctx context.Context, p Principal, r Request, c *compiled, queryID string, res *result.Result, qerr error) error {
	en := audit.Entry{QueryID: queryID, Principal: p.Name, Project: r.Project}
	switch {
	case r.SQL != "":
		en.Kind, en.Query = "sql", r.SQL
	case r.Template != "":
		en.Kind, en.Template = "template", r.Template
		if b, err := json.Marshal(r.Params); err == nil {
			en.Params = b
		}
	case r.Cohort != nil:
		en.Kind = "cohort"
		if b, err := json.Marshal(r.Cohort); err == nil {
			en.Query = string(b)
		}
	default:
		en.Kind = "invalid"
	}
	if c != nil && c.plan != nil {
		sum := sha256.Sum256([]byte(c.plan.SQL))
		en.PlanHash = hex.EncodeToString(sum[:])
		en.Datasets = c.plan.Datasets
	}
	switch {
	case qerr == nil && res != nil:
		en.Outcome = "released"
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		en.ResultDigest = hex.EncodeToString(sum[:])
	default:
		if rf, ok := refusal.As(qerr); ok {
			en.Outcome, en.Reason = "refused", rf.Code.String()
		} else {
			en.Outcome, en.Reason = "failed", "internal_error"
		}
	}
	if c != nil {
		// What was debited, also when execution failed afterwards.
		en.Epsilon, en.Delta = c.debitedEpsilon, c.debitedDelta
	}
	_, err := e.audit.Append(ctx, en)
	return err
}

// newQueryID returns a random id for one request.
func newQueryID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("engine: crypto/rand failed: %v", err))
	}
	return "q_" + hex.EncodeToString(b[:])
}
