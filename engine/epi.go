package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/compile"
	"github.com/statgate/statgate/engine/epi"
	"github.com/statgate/statgate/engine/protect"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/result"
	"github.com/statgate/statgate/engine/state"
)

// RatesRequest asks for incidence per person-time (see compile.RatesRequest).
type RatesRequest = compile.RatesRequest

// SurvivalRequest asks for Kaplan–Meier survival (see compile.SurvivalRequest).
type SurvivalRequest = compile.SurvivalRequest

// EventSpec, Period and Criteria are parts of rates and survival requests.
type (
	EventSpec = compile.EventSpec
	Period    = compile.Period
	Criteria  = compile.Criteria
)

// epiResult is a rates or survival answer (engine/epi).
type epiResult interface {
	ResultMeta() *result.Meta
}

// epiRelease is a rates or survival release prepared before the debit
// (epi.RatesRelease, epi.SurvivalRelease).
type epiRelease[R epiResult] interface {
	Epsilon() float64
	Delta() float64
	Rho() float64
	Apply(ctx context.Context, rr array.RecordReader) (R, error)
	DryRun() R
}

// epiPrepared is a rates or survival request compiled, planned and
// prepared for release: nothing is debited yet.
type epiPrepared[R epiResult] struct {
	project  string
	datasets []string
	sql      string
	rel      epiRelease[R]
	// question is what, with the project, the kind, the plan and the
	// extracts' version, identifies the request for free repeats: the
	// compiled query (checked conditions, not their text) and the
	// protection's options.
	question any

	cacheKey                     string
	debitedEpsilon, debitedDelta float64
}

// prepareEpi plans a compiled rates or survival query q (reading
// datasets, at the ε asked) with plan, and prepares its release with
// prepare under the datasets' effective policy.
func prepareEpi[R epiResult, P any](e *Engine, project string, datasets []string, eps float64, q any,
	plan func() (P, string, error), prepare func(P, *epi.Options) (epiRelease[R], error)) (*epiPrepared[R], error) {
	pl, sql, err := plan()
	if err != nil {
		return nil, err
	}
	o, err := e.epiOptions(datasets, eps)
	if err != nil {
		return nil, err
	}
	rel, err := prepare(pl, o)
	if err != nil {
		return nil, err
	}
	opts := *o
	opts.Noise = nil // the sampler is not part of the question
	return &epiPrepared[R]{project: project, datasets: datasets, sql: sql, rel: rel,
		question: struct {
			Query   any
			Options epi.Options
		}{q, opts}}, nil
}

// Rates answers a rates request through the pipeline: compile, plan,
// prepare (every mechanism built), debit, execute, protect, audit. A dry
// run stops after prepare; a repeat is answered from the result cache.
func (e *Engine) Rates(ctx context.Context, p Principal, r RatesRequest) (*epi.RatesResult, error) {
	return runEpi(ctx, e, p, "rates", r.Project, r, r.DryRun, func() (*epiPrepared[*epi.RatesResult], error) {
		c, err := e.compiler.Rates(ctx, p.Name, r)
		if err != nil {
			return nil, err
		}
		return prepareEpi(e, c.Project.ID, c.Query.Datasets, c.Epsilon, c.Query,
			func() (*epi.RatesPlan, string, error) {
				pl, err := epi.PlanRates(c.Query)
				if err != nil {
					return nil, "", err
				}
				return pl, pl.SQL, nil
			},
			func(pl *epi.RatesPlan, o *epi.Options) (epiRelease[*epi.RatesResult], error) { return pl.Prepare(o) })
	})
}

// Survival answers a survival request through the pipeline, as Rates.
func (e *Engine) Survival(ctx context.Context, p Principal, r SurvivalRequest) (*epi.SurvivalResult, error) {
	return runEpi(ctx, e, p, "survival", r.Project, r, r.DryRun, func() (*epiPrepared[*epi.SurvivalResult], error) {
		c, err := e.compiler.Survival(ctx, p.Name, r)
		if err != nil {
			return nil, err
		}
		return prepareEpi(e, c.Project.ID, c.Query.Datasets, c.Epsilon, c.Query,
			func() (*epi.SurvivalPlan, string, error) {
				pl, err := epi.PlanSurvival(c.Query)
				if err != nil {
					return nil, "", err
				}
				return pl, pl.SQL, nil
			},
			func(pl *epi.SurvivalPlan, o *epi.Options) (epiRelease[*epi.SurvivalResult], error) {
				return pl.Prepare(o)
			})
	})
}

// epiOptions are the privacy options of the datasets' effective policy
// at the ε asked for (0: the default), checked against its range.
func (e *Engine) epiOptions(datasets []string, eps float64) (*epi.Options, error) {
	eff, err := e.pol.Resolve(datasets)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	o, err := protect.OptionsFor(eff, eps, false)
	if err != nil {
		return nil, err
	}
	// epi noises with Laplace whatever the policy's mechanism (epi.Mechanism).
	return &epi.Options{Epsilon: o.Epsilon, MinCellCount: o.MinCellCount, RoundTo: o.RoundTo, Noise: e.opts.Noise}, nil
}

// runEpiRequest prepares (everything that can refuse), runs and audits one

// runEpi prepares (everything that can refuse), then previews (a dry
// run), repeats (an identical question answered before in the project) or
// runs, and audits one rates or survival request; body is the request as
// the audit records it.
func runEpi[R epiResult](ctx context.Context, e *Engine, p Principal, kind, project string, body any, dryRun bool, prepare func() (*epiPrepared[R], error)) (R, error) {
	var none R
	queryID := newQueryID()
	x, release, err := e.acquire()
	if err != nil {
		return none, err
	}
	defer release() // the request runs on one extracts snapshot throughout
	pr, err := prepare()
	if err == nil {
		pr.cacheKey = epiCacheKey(kind, x, pr)
	}
	if dryRun {
		// Nothing is read, debited or released: nothing to audit.
		if err != nil {
			return none, err
		}
		return epiDryRun(ctx, e, x, p, pr)
	}
	var out R
	cached := false
	if err == nil {
		if out, cached = epiCached(ctx, e, pr, queryID); !cached {
			out, err = epiRun(ctx, e, x, p, kind, pr, queryID)
		}
	}
	var released any
	if err == nil {
		released = out
	}
	if aerr := appendEpiAudit(context.WithoutCancel(ctx), e, p, kind, project, body, pr, queryID, released, err); aerr != nil && err == nil {
		err = internal("audit", state.Unavailable(aerr))
	}
	if err != nil {
		charged := 0.0
		if pr != nil {
			charged = pr.debitedEpsilon
		}
		noteFailure(ctx, queryID, err, charged)
		return none, err
	}
	if !cached {
		e.storeAnswer(context.WithoutCancel(ctx), pr.project, pr.cacheKey, out.ResultMeta().QueryID, out)
	}
	return out, nil
}

// epiRun debits the budget, executes the plan and protects the result.
func epiRun[R epiResult](ctx context.Context, e *Engine, x *loaded, p Principal, kind string, pr *epiPrepared[R], queryID string) (R, error) {
	var none R
	rel := pr.rel
	done, err := e.admit(ctx, x, pr.datasets)
	if err != nil {
		return none, err // nothing debited
	}
	defer done()
	// Its δ (if any) is charged beside ρ as well: ρ covers only its Laplace
	// mechanisms.
	cost, err := budget.NewZCost(rel.Epsilon(), rel.Delta(), rel.Rho(), rel.Delta())
	if err == nil {
		err = e.ledger.Debit(ctx, budget.Spend{
			QueryID: queryID, Project: pr.project, Principal: p.Name, Kind: kind,
			Datasets: pr.datasets, Cost: cost,
		}, e.book)
	}
	if err != nil {
		if _, ok := refusal.As(err); ok {
			return none, err
		}
		// The store failed, not the request: fail closed (nothing runs).
		return none, fmt.Errorf("engine: debit: %w", state.Unavailable(err))
	}
	pr.debitedEpsilon, pr.debitedDelta = rel.Epsilon(), rel.Delta()
	// From here on the budget is spent: any failure releases nothing.
	ctx, cancel := context.WithTimeout(ctx, e.opts.QueryTimeout)
	defer cancel()
	rr, err := x.db.QueryArrow(ctx, pr.sql)
	if err != nil {
		return none, internal("execute", err)
	}
	defer rr.Release()
	out, err := rel.Apply(ctx, rr)
	if err != nil {
		return none, internal("protect", err)
	}
	m := out.ResultMeta()
	m.QueryID = queryID
	m.Time = time.Now().UTC()
	pr.fillMeta(m, x)
	return out, nil
}

// fillMeta sets the request's project, datasets, cost and extracts' version.
func (pr *epiPrepared[R]) fillMeta(m *result.Meta, x *loaded) {
	m.Project = pr.project
	m.Datasets = slices.Clone(pr.datasets)
	m.Epsilon, m.Delta = pr.rel.Epsilon(), pr.rel.Delta()
	m.Rho = pr.rel.Rho()
	x.stamp(m, pr.datasets)
}

// epiDryRun previews a prepared request: its metadata, the expected
// accuracy of its cells, the cost to every budget and each budget after
// it (nothing when it would be a free repeat). It reads the ledger and
// the result cache, never the extracts, and writes nothing.
func epiDryRun[R epiResult](ctx context.Context, e *Engine, x *loaded, p Principal, pr *epiPrepared[R]) (R, error) {
	var none R
	rel := pr.rel
	cost, err := budget.NewZCost(rel.Epsilon(), rel.Delta(), rel.Rho(), rel.Delta())
	if err != nil {
		return none, fmt.Errorf("engine: dry run: %w", err)
	}
	out := rel.DryRun()
	m := out.ResultMeta()
	pr.fillMeta(m, x)
	d := m.DryRun
	if hit, ok := epiCached(ctx, e, pr, ""); ok {
		// A repeat is free: nothing would be debited.
		d.Cached, cost = true, budget.Cost{}
		m.Notes = append(m.Notes, "this question was answered before in the project ("+hit.ResultMeta().CachedFrom+"): asking it again returns that answer at no cost")
	}
	m.Notes = append(m.Notes, "dry run: nothing was read from the registries and nothing was debited")
	if err := e.previewBudget(ctx, pr.project, p.Name, pr.datasets, cost, d, m); err != nil {
		return none, err
	}
	return out, nil
}

// epiCacheKeyVersion changes whenever what epiCacheKey covers changes.
const epiCacheKeyVersion = "e1"

// epiCacheKey identifies a rates or survival question for free repeats:
// its kind, project, the extracts' version, the generated plan and the
// compiled question with its protection's options (see cacheKey). It
// depends on nothing in the data.
func epiCacheKey[R epiResult](kind string, x *loaded, pr *epiPrepared[R]) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nkind %q\nproject %q\nextract %q\nplan %q\nquestion ", epiCacheKeyVersion, kind, pr.project, x.version.Fingerprint, pr.sql)
	canon(&b, reflect.ValueOf(pr.question))
	sum := sha256.Sum256([]byte(b.String()))
	return epiCacheKeyVersion + ":" + hex.EncodeToString(sum[:])
}

// epiCached returns the stored answer of pr's question in its project,
// marked as a free repeat under queryID, when there is one.
func epiCached[R epiResult](ctx context.Context, e *Engine, pr *epiPrepared[R], queryID string) (R, bool) {
	var none R
	body, from, ok := e.lookupAnswer(ctx, pr.project, pr.cacheKey)
	if !ok {
		return none, false
	}
	out := reflect.New(reflect.TypeFor[R]().Elem()).Interface().(R)
	if err := json.Unmarshal(body, out); err != nil {
		slog.WarnContext(ctx, "result cache: stored answer unreadable; answering anew", "query_id", from, "err", err)
		return none, false
	}
	markRepeat(out.ResultMeta(), from, queryID)
	return out, true
}

// appendEpiAudit appends the audit entry of one rates or survival request.
func appendEpiAudit[R epiResult](ctx context.Context, e *Engine, p Principal, kind, project string, body any, pr *epiPrepared[R], queryID string, released any, qerr error) error {
	en := audit.Entry{QueryID: queryID, Principal: p.Name, Project: project, Kind: kind}
	if b, err := json.Marshal(body); err == nil {
		en.Query = string(b)
	}
	if pr != nil {
		en.PlanHash = planHash(pr.sql)
		en.Datasets = pr.datasets
		en.Epsilon, en.Delta = pr.debitedEpsilon, pr.debitedDelta
	}
	if err := setOutcome(&en, qerr, released != nil, released); err != nil {
		return err
	}
	_, err := e.audit.Append(ctx, en)
	return err
}
