package api

import (
	"maps"
	"slices"

	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/catalog"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/result"
)

// Converters between the engine's types and the wire types of types.go.
// They copy, so a wire value shares no memory with what the engine
// returned, and they keep a nil slice nil and an empty one empty: JSON
// tells null from [].

// convert maps s through f, keeping nil nil.
func convert[S, T any](s []S, f func(S) T) []T {
	if s == nil {
		return nil
	}
	out := make([]T, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

// clonePtr returns a pointer to a copy of *p, or nil.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// toEngine returns the engine's form of the request bounds.
func (b *Bounds) toEngine() *engine.Bounds {
	if b == nil {
		return nil
	}
	return &engine.Bounds{
		MaxGroupsPerPerson:       b.MaxGroupsPerPerson,
		MaxRowsPerPersonPerGroup: b.MaxRowsPerPersonPerGroup,
		Clamp:                    maps.Clone(b.Clamp),
	}
}

// toEngine returns the engine's form of a cohort criterion.
func (r *RelativeTo) toEngine() *engine.RelativeTo {
	if r == nil {
		return nil
	}
	return &engine.RelativeTo{Criterion: r.Criterion, WithinDays: clonePtr(r.WithinDays)}
}

func (c Criterion) toEngine() engine.Criterion {
	return engine.Criterion{Dataset: c.Dataset, Where: c.Where, From: c.From, To: c.To,
		After: c.After.toEngine(), Before: c.Before.toEngine(),
		NoneWithinDaysBefore: clonePtr(c.NoneWithinDaysBefore), AgeAtIndex: slices.Clone(c.AgeAtIndex)}
}

// fromResult returns the wire form of a released result.
func fromResult(res *result.Result) *Result {
	if res == nil {
		return nil
	}
	return &Result{
		Columns: convert(res.Columns, fromColumn),
		Rows:    convert(res.Rows, fromRow),
		Meta:    fromMeta(res.Meta),
	}
}

func fromColumn(c result.Column) Column {
	return Column{Name: c.Name, Role: string(c.Role), Type: string(c.Type), Aggregate: c.Aggregate}
}

func fromRow(r result.Row) Row {
	return Row{Cells: convert(r.Cells, fromCell), Margin: r.Margin}
}

func fromCell(c result.Cell) Cell {
	return Cell{Value: c.Value, Suppressed: c.Suppressed, Reason: c.Reason, StdDev: c.StdDev, CI: clonePtr(c.CI)}
}

func fromMeta(m result.Meta) Meta {
	return Meta{
		QueryID:         m.QueryID,
		Time:            m.Time,
		Project:         m.Project,
		Datasets:        slices.Clone(m.Datasets),
		Epsilon:         m.Epsilon,
		Delta:           m.Delta,
		Rho:             m.Rho,
		ZDelta:          m.ZDelta,
		Split:           convert(m.Split, fromSpend),
		Mechanism:       m.Mechanism,
		Groups:          m.Groups,
		Bounding:        fromBounding(m.Bounding),
		MinCellCount:    m.MinCellCount,
		RoundTo:         m.RoundTo,
		SuppressBelow:   m.SuppressBelow,
		SuppressedCells: m.SuppressedCells,
		Notes:           slices.Clone(m.Notes),
		Extract:         m.Extract,
		ExtractVersion:  m.ExtractVersion,
		DataUpTo:        maps.Clone(m.DataUpTo),
		Warnings:        slices.Clone(m.Warnings),
		DryRun:          fromDryRun(m.DryRun),
		Cached:          m.Cached,
		CachedFrom:      m.CachedFrom,
	}
}

func fromDryRun(d *result.DryRun) *DryRun {
	if d == nil {
		return nil
	}
	return &DryRun{
		Cost: convert(d.Cost, func(c result.DryRunCost) DryRunCost {
			return DryRunCost{Dataset: c.Dataset, Epsilon: c.Epsilon, Delta: c.Delta, Rho: c.Rho}
		}),
		Measures: convert(d.Measures, func(e result.Expected) Expected {
			return Expected{Measure: e.Measure, Aggregate: e.Aggregate, Mechanism: e.Mechanism, StdDev: clonePtr(e.StdDev), HalfWidth95: clonePtr(e.HalfWidth95), Note: e.Note}
		}),
		ReleaseThreshold:   d.ReleaseThreshold,
		SmallestReleasable: d.SmallestReleasable,
		BoundsFromData:     d.BoundsFromData,
		Fits:               d.Fits,
		Cached:             d.Cached,
		BudgetAfter: convert(d.BudgetAfter, func(a result.DryRunAfter) DryRunAfter {
			return DryRunAfter{Scope: a.Scope, Dataset: a.Dataset, Principal: a.Principal, RemainingEpsilon: a.RemainingEpsilon, RemainingDelta: a.RemainingDelta, RemainingRho: a.RemainingRho}
		}),
	}
}

func fromSpend(s result.Spend) Spend {
	return Spend{Purpose: s.Purpose, Epsilon: s.Epsilon, Delta: s.Delta, Mechanism: s.Mechanism, TreeMechanism: s.TreeMechanism}
}

func fromBounding(b result.Bounding) Bounding {
	out := Bounding{
		MaxGroupsPerPerson:         b.MaxGroupsPerPerson,
		MaxRowsPerPersonPerGroup:   b.MaxRowsPerPersonPerGroup,
		MaxValuesPerPersonPerGroup: b.MaxValuesPerPersonPerGroup,
		Bounds:                     maps.Clone(b.Bounds),
		L0Step:                     b.L0Step,
		Chosen:                     b.Chosen,
	}
	if t := b.Truncated; t != nil {
		out.Truncated = &Truncated{Pairs: t.Pairs, Rows: t.Rows}
	}
	return out
}

// fromDataset returns the wire form of a data map entry.
func fromDataset(d catalog.Dataset) Dataset {
	return Dataset{
		Name:            d.Name,
		Title:           d.Title,
		Description:     d.Description,
		PersonKey:       d.PersonKey,
		OneRowPerPerson: d.OneRowPerPerson,
		Size:            d.Size,
		ApproxRows:      d.ApproxRows,
		LastDelivery:    d.LastDelivery,
		DataUpTo:        d.DataUpTo,
		Bounding: DatasetBounding{
			MaxGroupsPerPerson:       d.Bounding.MaxGroupsPerPerson,
			MaxRowsPerPersonPerGroup: d.Bounding.MaxRowsPerPersonPerGroup,
			MinCellCount:             d.Bounding.MinCellCount,
			RoundTo:                  d.Bounding.RoundTo,
			Epsilon:                  EpsilonPerQuery{Default: d.Bounding.Epsilon.Default, Max: d.Bounding.Epsilon.Max},
			DeltaPerQuery:            d.Bounding.DeltaPerQuery,
			Noise:                    d.Bounding.Noise,
		},
		Columns: convert(d.Columns, fromDatasetColumn),
		Hits:    d.Hits,
		Matches: convert(d.Matches, func(m catalog.Match) SearchMatch {
			return SearchMatch{Column: m.Column, Field: m.Field, Text: m.Text, Word: m.Word, Via: m.Via}
		}),
	}
}

func fromCodeList(c catalog.CodeList) CodeList {
	return CodeList{Name: c.Name, Kind: c.Kind, Source: c.Source, Licence: c.Licence, Count: c.Count,
		UsedBy: slices.Clone(c.UsedBy),
		Codes:  convert(c.Codes, func(x catalog.Code) CodeListCode { return CodeListCode{Code: x.Code, Name: x.Name, Level: x.Level} })}
}

func fromDatasetColumn(c catalog.Column) DatasetColumn {
	out := DatasetColumn{
		Name:          c.Name,
		Type:          c.Type,
		Description:   c.Description,
		CodeSystem:    c.CodeSystem,
		PersonKey:     c.PersonKey,
		Bounds:        clonePtr(c.Bounds),
		PrefixDomains: convert(c.PrefixDomains, fromPrefixDomain),
		Matched:       c.Matched,
	}
	if c.PublicDomain != nil {
		d := fromDomain(*c.PublicDomain)
		out.PublicDomain = &d
	}
	return out
}

func fromDomain(d catalog.Domain) Domain {
	return Domain{
		Kind:     d.Kind,
		Values:   slices.Clone(d.Values),
		CodeList: d.CodeList,
		Count:    d.Count,
		Range:    clonePtr(d.Range),
		Summary:  d.Summary,
	}
}

func fromPrefixDomain(p catalog.PrefixDomain) PrefixDomain {
	return PrefixDomain{Length: p.Length, Domain: fromDomain(p.Domain)}
}

// fromTemplate returns the wire form of a template's description.
func fromTemplate(t engine.TemplateInfo) TemplateInfo {
	return TemplateInfo{
		Name:        t.Name,
		Title:       t.Title,
		Description: t.Description,
		Datasets:    slices.Clone(t.Datasets),
		Params:      convert(t.Params, fromParam),
		Epsilon:     t.Epsilon,
		SQL:         t.SQL,
	}
}

func fromParam(p engine.ParamInfo) ParamInfo {
	return ParamInfo{
		Name:        p.Name,
		Type:        p.Type,
		Description: p.Description,
		Pattern:     p.Pattern,
		Min:         clonePtr(p.Min),
		Max:         clonePtr(p.Max),
		Enum:        slices.Clone(p.Enum),
		Default:     p.Default,
		Required:    p.Required,
	}
}

// fromBudget returns the wire form of a budget report.
func fromBudget(r *engine.BudgetReport) *BudgetReport {
	if r == nil {
		return nil
	}
	caps := convert(r.Caps, func(c engine.CapBudget) CapBudget {
		return CapBudget{Scope: c.Scope, Dataset: c.Dataset, Principal: c.Principal, Epsilon: fromAmount(c.Epsilon),
			Delta: fromAmount(c.Delta), Rho: fromAmount(c.Rho), Bound: c.Bound, DeltaFrom: c.DeltaFrom}
	})
	if caps == nil {
		caps = []CapBudget{}
	}
	pp := r.PerPerson
	return &BudgetReport{Project: r.Project, Datasets: convert(r.Datasets, fromDatasetBudget), Caps: caps,
		PerPerson: PerPerson{Epsilon: pp.Epsilon, Delta: pp.Delta, From: pp.From,
			SpentEpsilon: pp.SpentEpsilon, SpentDelta: pp.SpentDelta, Bound: pp.Bound}}
}

func fromDatasetBudget(b engine.DatasetBudget) DatasetBudget {
	return DatasetBudget{Dataset: b.Dataset, Epsilon: fromAmount(b.Epsilon), Delta: fromAmount(b.Delta),
		Rho: fromAmount(b.Rho), Accounting: b.Accounting, Bound: b.Bound}
}

// fromBudgetHistory returns the wire form of a page of budget history.
func fromBudgetHistory(h *engine.BudgetHistory) *BudgetHistory {
	out := &BudgetHistory{Project: h.Project, NextBefore: h.NextBefore, Debits: []HistoryDebit{}}
	for _, d := range h.Debits {
		out.Debits = append(out.Debits, HistoryDebit{ID: d.ID, Time: d.Time, QueryID: d.QueryID, Principal: d.Principal,
			Kind: d.Kind, Datasets: slices.Clone(d.Datasets), Epsilon: d.Epsilon, Delta: d.Delta, Rho: d.Rho})
	}
	return out
}

func fromAmount(a engine.Amount) Amount {
	return Amount{Total: a.Total, Spent: a.Spent, Remaining: a.Remaining}
}

// fromAuditEntry returns the wire form of an audit entry.
func fromAuditEntry(e audit.Entry) AuditEntry {
	return AuditEntry{
		Seq:          e.Seq,
		Time:         e.Time,
		QueryID:      e.QueryID,
		Principal:    e.Principal,
		Project:      e.Project,
		Datasets:     slices.Clone(e.Datasets),
		Kind:         e.Kind,
		Query:        e.Query,
		Template:     e.Template,
		Params:       slices.Clone(e.Params),
		PlanHash:     e.PlanHash,
		Epsilon:      e.Epsilon,
		Delta:        e.Delta,
		Outcome:      e.Outcome,
		Reason:       e.Reason,
		ResultDigest: e.ResultDigest,
		PrevHash:     e.PrevHash,
		Hash:         e.Hash,
	}
}

func fromSQLReference(r *query.Reference) SQLReference {
	return SQLReference{
		Statement:  convert(r.Statement, func(c query.Clause) SQLClause { return SQLClause{Clause: c.Clause, Rule: c.Rule} }),
		Functions:  convert(r.Functions, fromSQLFunction),
		Aggregates: convert(r.Aggregates, fromSQLFunction),
		Refused: convert(r.Refused, func(x query.Refused) SQLRefused {
			return SQLRefused{Names: slices.Clone(x.Names), Code: x.Code, Reason: x.Reason, Hint: x.Hint}
		}),
		Codes: convert(r.Codes, func(c query.Code) RefusalCode { return RefusalCode{Code: c.Code, Doc: c.Doc} }),
	}
}

func fromSQLFunction(f query.Function) SQLFunction {
	return SQLFunction{Name: f.Name, Synonyms: slices.Clone(f.Synonyms), Signature: f.Signature, Doc: f.Doc, Example: f.Example}
}
