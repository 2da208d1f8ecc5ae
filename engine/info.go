package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/catalog"
	"github.com/statgate/statgate/engine/dcat"
	"github.com/statgate/statgate/engine/state"
	"github.com/statgate/statgate/policies"
)

// Datasets returns the data map: every dataset, or those matching q.
func (e *Engine) Datasets(q string) []catalog.Dataset {
	c := e.current().catalog
	if q == "" {
		return c.Datasets()
	}
	return c.Search(q)
}

// Catalogue returns the data map as a DCAT-AP 3 / HealthDCAT-AP catalogue
// in JSON-LD (engine/dcat), its IRIs under baseURL.
func (e *Engine) Catalogue(baseURL string) map[string]any {
	return dcat.Build(e.pol, e.current().catalog.Datasets(), dcat.Options{BaseURL: baseURL})
}

// Dataset returns one dataset of the data map.
func (e *Engine) Dataset(name string) (catalog.Dataset, bool) {
	return e.current().catalog.Dataset(name)
}

// DataMap says who may read the data map: policies.DataMapPublic or
// policies.DataMapToken (the policy's data_map); token for a nil engine.
func (e *Engine) DataMap() string {
	if e == nil || e.pol == nil || e.pol.DataMap == "" {
		return policies.DataMapToken
	}
	return e.pol.DataMap
}

// CodeLists returns the data map's code lists and code systems, without codes.
func (e *Engine) CodeLists() []catalog.CodeList { return e.current().catalog.CodeLists() }

// CodeList returns one code list or code system with its codes, those
// matching q when q is not empty.
func (e *Engine) CodeList(name, q string) (catalog.CodeList, bool) {
	return e.current().catalog.CodeList(name, q)
}

// Membership is one project a principal belongs to, with their role.
type Membership struct {
	Project  string   `json:"project"`
	Title    string   `json:"title"`
	Role     string   `json:"role"`
	Actions  []string `json:"actions"`
	Datasets []string `json:"datasets"`
}

// Memberships lists the projects the principal is a member of, by id.
func (e *Engine) Memberships(p Principal) []Membership {
	var out []Membership
	for _, proj := range e.pol.Projects {
		for _, m := range proj.Members {
			if m.Principal != p.Name {
				continue
			}
			ms := Membership{Project: proj.ID, Title: proj.Title, Role: m.Role, Actions: []string{}, Datasets: slices.Clone(proj.Datasets)}
			if r := e.pol.Roles[m.Role]; r != nil {
				for _, a := range r.Actions {
					ms.Actions = append(ms.Actions, string(a))
				}
			}
			out = append(out, ms)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Project < out[j].Project })
	return out
}

// Templates lists the templates the principal may run in at least one of
// their projects.
func (e *Engine) Templates(p Principal) []TemplateInfo {
	var out []TemplateInfo
	for _, t := range e.pol.Templates {
		if !e.access.MayRunTemplate(p.Name, t) {
			continue
		}
		ti := TemplateInfo{Name: t.Name, Title: t.Title, Description: t.Description,
			Datasets: slices.Clone(t.Datasets), Epsilon: t.Epsilon, SQL: t.SQL}
		for _, n := range t.ParamNames() {
			d := t.Params[n]
			ti.Params = append(ti.Params, ParamInfo{Name: n, Type: string(d.Type), Description: d.Description,
				Pattern: d.Pattern, Min: d.Min, Max: d.Max, Enum: d.Enum, Default: d.Default, Required: d.Default == nil})
		}
		out = append(out, ti)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Budget reports a project's budget per dataset to its members.
func (e *Engine) Budget(ctx context.Context, p Principal, project string) (*BudgetReport, error) {
	proj, err := e.access.Project(p.Name, project)
	if err != nil {
		return nil, err
	}
	rep := &BudgetReport{Project: proj.ID}
	for _, d := range proj.Datasets {
		b, err := e.book.Balance(ctx, e.ledger, proj.ID, d)
		if err != nil {
			return nil, fmt.Errorf("engine.Budget: %w", err)
		}
		rep.Datasets = append(rep.Datasets, DatasetBudget{
			Dataset:    d,
			Epsilon:    Amount{Total: b.TotalEpsilon, Spent: b.SpentEpsilon, Remaining: b.RemainingEpsilon},
			Delta:      Amount{Total: b.TotalDelta, Spent: b.SpentDelta, Remaining: b.RemainingDelta},
			Rho:        Amount{Total: b.TotalRho, Spent: b.SpentRho, Remaining: b.RemainingRho},
			Accounting: b.Accounting, Bound: b.Bound,
		})
	}
	caps, err := e.book.CapBalances(ctx, e.ledger, e.pol, proj.ID)
	if err != nil {
		return nil, fmt.Errorf("engine.Budget: %w", err)
	}
	for _, b := range caps {
		rep.Caps = append(rep.Caps, CapBudget{Scope: string(b.Scope), Dataset: b.Dataset, Principal: b.Principal,
			Epsilon: Amount{Total: b.TotalEpsilon, Spent: b.SpentEpsilon, Remaining: b.RemainingEpsilon},
			Delta:   Amount{Total: b.TotalDelta, Spent: b.SpentDelta, Remaining: b.RemainingDelta},
			Rho:     Amount{Total: b.TotalRho, Spent: b.SpentRho, Remaining: b.RemainingRho},
			Bound:   b.Bound, DeltaFrom: b.DeltaFrom})
	}
	if rep.Caps == nil {
		rep.Caps = []CapBudget{}
	}
	g, err := e.book.Guarantee(ctx, e.ledger, e.pol, proj.ID)
	if err != nil {
		return nil, fmt.Errorf("engine.Budget: %w", err)
	}
	rep.PerPerson = PerPerson{Epsilon: g.MaxEpsilon, Delta: g.MaxDelta, From: g.From,
		SpentEpsilon: g.SpentEpsilon, SpentDelta: g.SpentDelta, Bound: g.Bound}
	return rep, nil
}

// Audit returns the newest audit entries of the projects where the
// principal's role allows reading the audit log; an admin of one project
// does not see another's.
func (e *Engine) Audit(ctx context.Context, p Principal, limit int) ([]audit.Entry, error) {
	scope, err := e.access.AuditProjects(p.Name)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	// Only the entries of the projects the principal administers.
	entries, err := e.audit.List(ctx, audit.Filter{Projects: scope, Limit: limit, Newest: true})
	if err != nil {
		return nil, fmt.Errorf("engine.Audit: %w", err)
	}
	return entries, nil
}

// The page sizes of BudgetHistory.
const (
	// DefaultHistoryLimit is the page size when none is asked for.
	DefaultHistoryLimit = 50
	// MaxHistoryLimit is the largest page.
	MaxHistoryLimit = 500
)

// BudgetHistory returns a page of a project's debits to its members
// (every role), newest first: one per query that paid, with what it cost
// and who asked. Free repeats and dry runs debit nothing and are not in it
// (the audit log records them). before ≤ 0 starts at the newest; limit ≤ 0
// is DefaultHistoryLimit, above MaxHistoryLimit MaxHistoryLimit.
func (e *Engine) BudgetHistory(ctx context.Context, p Principal, project string, before int64, limit int) (*BudgetHistory, error) {
	proj, err := e.access.Project(p.Name, project)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	limit = min(limit, MaxHistoryLimit)
	// One more than the page tells whether another page follows.
	debits, err := e.ledger.Debits(ctx, proj.ID, budget.Page{Before: before, Limit: limit + 1})
	if err != nil {
		return nil, fmt.Errorf("engine.BudgetHistory: %w", state.Unavailable(err))
	}
	h := &BudgetHistory{Project: proj.ID, Debits: []HistoryDebit{}}
	if len(debits) > limit {
		debits = debits[:limit]
		h.NextBefore = debits[limit-1].ID
	}
	for _, d := range debits {
		h.Debits = append(h.Debits, HistoryDebit{ID: d.ID, Time: d.Time.UTC(), QueryID: d.QueryID,
			Principal: d.Principal, Kind: d.Kind, Datasets: d.Datasets,
			Epsilon: d.Cost.Epsilon(), Delta: d.Cost.Delta(), Rho: d.Cost.Rho()})
	}
	return h, nil
}
