// Package compile turns a request into a checked query: ad-hoc SQL through
// the query checker, a template run by binding its values into the
// template checked when the engine started (engine/template), a cohort
// estimate by building a query.Query whose criteria are query.Exists on
// the person key. On the way it checks what a request must be (exactly one
// of sql, template and cohort, a project, a sane ε) and asks engine/access
// whether the principal may ask it.
//
// Nothing here reads the extracts, so its refusals never depend on the
// data. Planning, protection and the debit come after, in the engine.
package compile

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/statgate/statgate/engine/access"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/template"
	"github.com/statgate/statgate/policies"
)

// Options configure a Compiler. Policy, Parser and Templates are required.
type Options struct {
	// Policy is the loaded policy.
	Policy *policies.Policy
	// Parser parses and checks ad-hoc SQL and cohort criteria. The
	// Compiler does not close it.
	Parser *query.Parser
	// Access decides who may do what; nil: access.New(Policy).
	Access *access.Control
	// Templates are the policy's templates compiled by template.Compile,
	// by name; New refuses a policy template missing from it.
	Templates map[string]*template.Template
}

// Compiler compiles the requests of one policy. It is immutable and safe
// for concurrent use.
type Compiler struct {
	pol       *policies.Policy
	parser    *query.Parser
	access    *access.Control
	templates map[string]*template.Template
}

// New returns the Compiler of opts.Policy.
func New(opts *Options) (*Compiler, error) {
	if opts == nil || opts.Policy == nil {
		return nil, errors.New("compile.New: a policy is required")
	}
	if opts.Parser == nil {
		return nil, errors.New("compile.New: a parser is required")
	}
	for name := range opts.Policy.Templates {
		if opts.Templates[name] == nil {
			return nil, fmt.Errorf("compile.New: template %q is not compiled (template.Compile)", name)
		}
	}
	c := &Compiler{pol: opts.Policy, parser: opts.Parser, access: opts.Access, templates: opts.Templates}
	if c.access == nil {
		c.access = access.New(opts.Policy)
	}
	return c, nil
}

// Compiled is a request compiled: its checked query and what the engine
// needs to plan, protect and report it. It is immutable once Compile
// returns it.
type Compiled struct {
	// Query is the checked query, ready for plan.Bound. It is the
	// request's own (a template run binds a copy) and nobody edits it.
	Query *query.Query
	// Project is the project the request is asked and paid for in; the
	// principal is a member whose role allows the request.
	Project *policies.Project
	// Epsilon is the total ε asked for: the request's (0: the policy's
	// default), or the template's fixed ε when Pinned.
	Epsilon float64
	Pinned  bool
	// Notes are added to the result's notes (what a cohort's age_band
	// means).
	Notes []string
	// RunKey identifies a template run's question for a result cache
	// (template.Run.Key); "" for SQL and cohorts.
	RunKey string
	// Totals and Bounds are the request's, for the plan (PlanOptions).
	Totals bool
	Bounds *plan.RequestBounds
}

// PlanOptions are the options to plan the compiled query with over tables
// of the given row counts.
func (c *Compiled) PlanOptions(tableRows map[string]int64) *plan.Options {
	return &plan.Options{TableRows: tableRows, Totals: c.Totals, Bounds: c.Bounds}
}

// Compile checks r, authorises it for principal and compiles it into a
// checked query. Whatever r may not do is refused with a *refusal.Error:
// a malformed request (bad_request, missing_project, bad_epsilon), a
// project principal is not a member of, a role that does not allow the
// request's kind, and every refusal of the checker, of a template's
// parameters or of a cohort's criteria. Other errors are the parser's.
func (c *Compiler) Compile(ctx context.Context, principal string, r Request) (*Compiled, error) {
	if err := validate(r); err != nil {
		return nil, err
	}
	proj, err := c.access.Project(principal, r.Project)
	if err != nil {
		return nil, err
	}
	if err := c.access.Allow(principal, proj, action(r)); err != nil {
		return nil, err
	}
	var out *Compiled
	switch {
	case r.SQL != "":
		out, err = c.compileSQL(ctx, proj, r)
	case r.Template != "":
		out, err = c.compileTemplate(proj, r)
	default:
		out, err = c.compileCohort(ctx, proj, r)
	}
	if err != nil {
		return nil, err
	}
	out.Project, out.Totals, out.Bounds = proj, r.Totals, r.Bounds
	return out, nil
}

// validate refuses a request that is not exactly one of SQL, template and
// cohort, names no project, or asks for an ε that is not a number ≥ 0.
func validate(r Request) error {
	n := 0
	for _, set := range []bool{r.SQL != "", r.Template != "", r.Cohort != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return &refusal.Error{Code: refusal.BadRequest,
			Message: "a request needs exactly one of sql, template or cohort"}
	}
	if r.Project == "" {
		return &refusal.Error{Code: refusal.MissingProject,
			Message: "the request names no project", Hint: "add \"project\": the id of a project you are a member of"}
	}
	if math.IsNaN(r.Epsilon) || math.IsInf(r.Epsilon, 0) || r.Epsilon < 0 {
		return &refusal.Error{Code: refusal.BadEpsilon,
			Message: "epsilon must be a positive number", Hint: "omit epsilon to use the policy's default"}
	}
	return nil
}

// action is what a valid request asks to do.
func action(r Request) policies.Action {
	switch {
	case r.SQL != "":
		return policies.ActionSQL
	case r.Template != "":
		return policies.ActionTemplates
	}
	return policies.ActionCohorts
}

// compileSQL checks ad-hoc SQL against the datasets of the project.
func (c *Compiler) compileSQL(ctx context.Context, proj *policies.Project, r Request) (*Compiled, error) {
	q, err := c.parser.Compile(ctx, r.SQL, query.NewCatalog(c.pol, proj.Datasets))
	if err != nil {
		return nil, err
	}
	return &Compiled{Query: q, Epsilon: r.Epsilon}, nil
}

// compileTemplate binds one run's parameter values into the template's
// query, which was parsed and checked once when the engine started
// (engine/template). Unknown, missing and bad parameters are refused;
// nothing is parsed here.
func (c *Compiler) compileTemplate(proj *policies.Project, r Request) (*Compiled, error) {
	decl, err := c.access.Template(proj, r.Template)
	if err != nil {
		return nil, err
	}
	t := c.templates[decl.Name]
	if t == nil {
		return nil, fmt.Errorf("compile: template %q was not compiled", decl.Name)
	}
	run, err := t.Bind(r.Params)
	if err != nil {
		return nil, err
	}
	return &Compiled{Query: run.Query, Epsilon: decl.Epsilon, Pinned: true, RunKey: run.Key()}, nil
}
