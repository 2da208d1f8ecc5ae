package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

// epiPrepared is a rates or survival request compiled, planned and
// prepared for release: nothing is debited yet.
type epiPrepared struct {
	kind     string // audit kind: "rates" or "survival"
	project  string
	datasets []string
	sql      string
	epsilon  float64
	delta    float64
	// rho is the zCDP cost of its Laplace mechanisms (ε²/2 each).
	rho float64
	// apply protects the executed plan's batches; it returns the result
	// and its meta for the engine to complete.
	apply func(ctx context.Context, rr array.RecordReader) (any, *result.Meta, error)

	debitedEpsilon, debitedDelta float64
}

// Rates answers a rates request through the pipeline: compile, plan,
// prepare (every mechanism built), debit, execute, protect, audit.
func (e *Engine) Rates(ctx context.Context, p Principal, r RatesRequest) (*epi.RatesResult, error) {
	var res *epi.RatesResult
	err := e.runEpiRequest(ctx, p, "rates", r.Project, r, func() (*epiPrepared, error) {
		c, err := e.compiler.Rates(ctx, p.Name, r)
		if err != nil {
			return nil, err
		}
		pl, err := epi.PlanRates(c.Query)
		if err != nil {
			return nil, err
		}
		o, err := e.epiOptions(c.Query.Datasets, c.Epsilon)
		if err != nil {
			return nil, err
		}
		rel, err := pl.Prepare(o)
		if err != nil {
			return nil, err
		}
		return &epiPrepared{kind: "rates", project: c.Project.ID, datasets: c.Query.Datasets, sql: pl.SQL,
			epsilon: rel.Epsilon(), delta: rel.Delta(), rho: rel.Rho(),
			apply: func(ctx context.Context, rr array.RecordReader) (any, *result.Meta, error) {
				out, err := rel.Apply(ctx, rr)
				if err != nil {
					return nil, nil, err
				}
				res = out
				return out, &out.Meta, nil
			}}, nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Survival answers a survival request through the pipeline.
func (e *Engine) Survival(ctx context.Context, p Principal, r SurvivalRequest) (*epi.SurvivalResult, error) {
	var res *epi.SurvivalResult
	err := e.runEpiRequest(ctx, p, "survival", r.Project, r, func() (*epiPrepared, error) {
		c, err := e.compiler.Survival(ctx, p.Name, r)
		if err != nil {
			return nil, err
		}
		pl, err := epi.PlanSurvival(c.Query)
		if err != nil {
			return nil, err
		}
		o, err := e.epiOptions(c.Query.Datasets, c.Epsilon)
		if err != nil {
			return nil, err
		}
		rel, err := pl.Prepare(o)
		if err != nil {
			return nil, err
		}
		return &epiPrepared{kind: "survival", project: c.Project.ID, datasets: c.Query.Datasets, sql: pl.SQL,
			epsilon: rel.Epsilon(), delta: rel.Delta(), rho: rel.Rho(),
			apply: func(ctx context.Context, rr array.RecordReader) (any, *result.Meta, error) {
				out, err := rel.Apply(ctx, rr)
				if err != nil {
					return nil, nil, err
				}
				res = out
				return out, &out.Meta, nil
			}}, nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
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
// rates or survival request; body is the request as the audit records it.
func (e *Engine) runEpiRequest(ctx context.Context, p Principal, kind, project string, body any, prepare func() (*epiPrepared, error)) error {
	queryID := newQueryID()
	x, release, err := e.acquire()
	if err != nil {
		return err
	}
	defer release() // the request runs on one extracts snapshot throughout
	pr, err := prepare()
	var released any
	if err == nil {
		released, err = e.runEpi(ctx, x, p, pr, queryID)
	}
	if aerr := e.appendEpiAudit(context.WithoutCancel(ctx), p, kind, project, body, pr, queryID, released, err); aerr != nil && err == nil {
		err = internal("audit", state.Unavailable(aerr))
	}
	if err != nil {
		var ie *internalError
		if errors.As(err, &ie) && pr != nil {
			ie.epsilon = pr.debitedEpsilon
		}
		return err
	}
	return nil
}

// runEpi debits the budget, executes the plan and protects the result.
func (e *Engine) runEpi(ctx context.Context, x *loaded, p Principal, pr *epiPrepared, queryID string) (any, error) {
	// Its δ (if any) is charged beside ρ as well: ρ covers only its Laplace
	// mechanisms.
	cost, err := budget.NewZCost(pr.epsilon, pr.delta, pr.rho, pr.delta)
	if err == nil {
		err = e.ledger.Debit(ctx, budget.Spend{
			QueryID: queryID, Project: pr.project, Principal: p.Name, Kind: pr.kind,
			Datasets: pr.datasets, Cost: cost,
		}, e.book)
	}
	if err != nil {
		if _, ok := refusal.As(err); ok {
			return nil, err
		}
		// The store failed, not the request: fail closed (nothing runs).
		return nil, fmt.Errorf("engine: debit: %w", state.Unavailable(err))
	}
	pr.debitedEpsilon, pr.debitedDelta = pr.epsilon, pr.delta
	// From here on the budget is spent: any failure releases nothing.
	ctx, cancel := context.WithTimeout(ctx, e.opts.QueryTimeout)
	defer cancel()
	rr, err := x.db.QueryArrow(ctx, pr.sql)
	if err != nil {
		return nil, internal("execute", err)
	}
	defer rr.Release()
	out, meta, err := pr.apply(ctx, rr)
	if err != nil {
		return nil, internal("protect", err)
	}
	meta.QueryID = queryID
	meta.Time = time.Now().UTC()
	meta.Project = pr.project
	meta.Datasets = slices.Clone(pr.datasets)
	meta.Epsilon, meta.Delta = pr.epsilon, pr.delta
	meta.Rho = pr.rho
	x.stamp(meta, pr.datasets)
	return out, nil
}

// appendEpiAudit appends the audit entry of one rates or survival request.
func (e *Engine) appendEpiAudit(ctx context.Context, p Principal, kind, project string, body any, pr *epiPrepared, queryID string, released any, qerr error) error {
	en := audit.Entry{QueryID: queryID, Principal: p.Name, Project: project, Kind: kind}
	if b, err := json.Marshal(body); err == nil {
		en.Query = string(b)
	}
	if pr != nil {
		sum := sha256.Sum256([]byte(pr.sql))
		en.PlanHash = hex.EncodeToString(sum[:])
		en.Datasets = pr.datasets
		en.Epsilon, en.Delta = pr.debitedEpsilon, pr.debitedDelta
	}
	switch {
	case qerr == nil && released != nil:
		en.Outcome = "released"
		b, err := json.Marshal(released)
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
	_, err := e.audit.Append(ctx, en)
	return err
}
