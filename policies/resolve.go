package policies

import (
	"fmt"
	"math"
	"slices"
)

// Effective is the policy in force for one query: the tightest of what
// the datasets it reads declare. It is what the planner, the protection
// and the engine read, so the rule "the tightest of the datasets wins" is
// written once, here. Per-query choices (bounds picked for a query, a
// request's own ε) may only go at or under these caps.
type Effective struct {
	// Datasets are the datasets the query reads, in the order given.
	Datasets []string
	// MaxGroupsPerPerson (L0) and MaxRowsPerPersonPerGroup (L∞ for counts)
	// are the smallest of the datasets that are not one row per person;
	// 1 and 1 when every dataset is (a joined population register does not
	// tighten the bounds of the fact dataset).
	MaxGroupsPerPerson       int
	MaxRowsPerPersonPerGroup int
	// GroupsCap and RowsCap are the most a query may use (the smallest
	// caps of the same datasets; 1 and 1 when every dataset is one row per
	// person).
	GroupsCap int
	RowsCap   int
	// MinCellCount and RoundTo are the largest of the datasets'.
	MinCellCount int
	RoundTo      int
	// Epsilon is the range a request may ask for: the largest Min, the
	// smallest Max, and the smallest Default moved into [Min, Max]. When
	// the datasets' ranges do not overlap, Min > Max: see EpsilonOK.
	Epsilon EpsilonRange
	// DeltaPerQuery is the smallest δ of the datasets that are not one row
	// per person (of all datasets when every one is).
	DeltaPerQuery float64
	// Noise is "gaussian" when some dataset asks for it and DeltaPerQuery
	// is positive, else "auto" when some dataset asks for that and
	// DeltaPerQuery is positive, else "laplace".
	Noise string
	// Limits are the policy's limits on one query's work.
	Limits Limits
}

// EpsilonOK reports whether some ε satisfies every dataset's range.
func (e *Effective) EpsilonOK() bool { return e.Epsilon.Min <= e.Epsilon.Max }

// Resolve returns the effective policy of a query reading datasets. It
// fails only for an empty list or a dataset the policy does not declare
// (a checked query names only declared datasets).
func (p *Policy) Resolve(datasets []string) (*Effective, error) {
	if len(datasets) == 0 {
		return nil, fmt.Errorf("policies.Resolve: no datasets")
	}
	e := &Effective{
		Datasets: slices.Clone(datasets),
		Epsilon:  EpsilonRange{Default: math.Inf(1), Max: math.Inf(1)},
		Limits:   p.Limits,
		Noise:    "laplace",
	}
	delta, factDelta := math.Inf(1), math.Inf(1)
	gaussian, auto := false, false
	for _, name := range datasets {
		d, ok := p.Datasets[name]
		if !ok {
			return nil, fmt.Errorf("policies.Resolve: unknown dataset %q", name)
		}
		e.Epsilon.Min = math.Max(e.Epsilon.Min, d.Epsilon.Min)
		e.Epsilon.Default = math.Min(e.Epsilon.Default, d.Epsilon.Default)
		e.Epsilon.Max = math.Min(e.Epsilon.Max, d.Epsilon.Max)
		e.MinCellCount = max(e.MinCellCount, d.MinCellCount)
		e.RoundTo = max(e.RoundTo, d.RoundTo)
		gaussian = gaussian || d.Noise == "gaussian"
		auto = auto || d.Noise == "auto"
		delta = math.Min(delta, d.DeltaPerQuery)
		if d.OneRowPerPerson {
			continue
		}
		factDelta = math.Min(factDelta, d.DeltaPerQuery)
		if e.MaxGroupsPerPerson == 0 || d.MaxGroupsPerPerson < e.MaxGroupsPerPerson {
			e.MaxGroupsPerPerson = d.MaxGroupsPerPerson
		}
		if e.MaxRowsPerPersonPerGroup == 0 || d.MaxRowsPerPersonPerGroup < e.MaxRowsPerPersonPerGroup {
			e.MaxRowsPerPersonPerGroup = d.MaxRowsPerPersonPerGroup
		}
		if e.GroupsCap == 0 || d.MaxGroupsPerPersonCap < e.GroupsCap {
			e.GroupsCap = d.MaxGroupsPerPersonCap
		}
		if e.RowsCap == 0 || d.MaxRowsPerPersonPerGroupCap < e.RowsCap {
			e.RowsCap = d.MaxRowsPerPersonPerGroupCap
		}
	}
	// A value below 1 (a policy built in code, not loaded) fails closed to 1.
	e.MaxGroupsPerPerson = max(e.MaxGroupsPerPerson, 1)
	e.MaxRowsPerPersonPerGroup = max(e.MaxRowsPerPersonPerGroup, 1)
	e.GroupsCap = max(e.GroupsCap, e.MaxGroupsPerPerson)
	e.RowsCap = max(e.RowsCap, e.MaxRowsPerPersonPerGroup)
	e.DeltaPerQuery = delta
	if !math.IsInf(factDelta, 1) {
		e.DeltaPerQuery = factDelta
	}
	e.Epsilon.Default = math.Min(math.Max(e.Epsilon.Default, e.Epsilon.Min), e.Epsilon.Max)
	switch {
	case gaussian && e.DeltaPerQuery > 0:
		e.Noise = "gaussian"
	case auto && e.DeltaPerQuery > 0:
		e.Noise = "auto"
	}
	return e, nil
}
