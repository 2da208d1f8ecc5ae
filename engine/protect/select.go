package protect

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/differential-privacy/go/v3/dpagg"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/result"
)

// The ways output groups are chosen (result.Meta.Groups).
const (
	GroupsPublicDomain       = "public_domain"
	GroupsPartitionSelection = "partition_selection"
	GroupsSingle             = "single_group"
)

// groupsMode says how a plan's output groups are chosen.
func groupsMode(p *plan.Plan, l *layout) string {
	switch {
	case len(p.Keys) == 0:
		return GroupsSingle
	case l.selects:
		return GroupsPartitionSelection
	}
	return GroupsPublicDomain
}

// keep decides with dpagg.PreAggSelectPartition whether a group with
// persons distinct persons is released: ε and δ are the selection share,
// MaxPartitionsContributed the plan's PersonsL0 and PreThreshold the
// minimum cell count.
func (s *settings) keep(persons int64, sh share, l0 int64) (bool, error) {
	sel, err := dpagg.NewPreAggSelectPartition(&dpagg.PreAggSelectPartitionOptions{
		Epsilon:                  sh.eps,
		Delta:                    sh.delta,
		PreThreshold:             int64(s.MinCellCount),
		MaxPartitionsContributed: l0,
	})
	if err != nil {
		return false, fmt.Errorf("partition selection: %w", err)
	}
	if err := sel.IncrementBy(persons); err != nil {
		return false, fmt.Errorf("partition selection: %w", err)
	}
	ok, err := sel.ShouldKeepPartition()
	if err != nil {
		return false, fmt.Errorf("partition selection: %w", err)
	}
	return ok, nil
}

// choose returns the groups to release, grouping set by grouping set in
// the plan's order:
//   - a set whose keys all have public domains (including the set of no
//     keys) releases every combination of the domains, in domain order;
//     combinations absent from the data are true zeros, and observed
//     groups outside the domains are not released (a NULL key only when
//     its domain lists nil, the NULL group);
//   - any other set releases the observed groups that pass partition
//     selection, sorted by key; the others are dropped without a trace.
func (s *settings) choose(ctx context.Context, p *plan.Plan, l *layout, raw []rawRow) ([]rawRow, error) {
	bySet := make([]map[string]*rawRow, len(l.sets))
	for i := range bySet {
		bySet[i] = map[string]*rawRow{}
	}
	for i := range raw {
		r := &raw[i]
		id := keyID(r.keys, l.sets[r.set].keys)
		if _, dup := bySet[r.set][id]; dup {
			return nil, fmt.Errorf("the bounded SQL returned one group twice")
		}
		bySet[r.set][id] = r
	}
	var out []rawRow
	for si, set := range l.sets {
		if set.public {
			rows, err := s.domainGroups(p, si, set, bySet[si])
			if err != nil {
				return nil, err
			}
			out = append(out, rows...)
			continue
		}
		obs := make([]*rawRow, 0, len(bySet[si]))
		for _, r := range bySet[si] {
			obs = append(obs, r)
		}
		slices.SortFunc(obs, func(a, b *rawRow) int { return compareKeys(a.keys, b.keys, set.keys) })
		for i, r := range obs {
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			ok, err := s.keep(r.persons, l.selection, p.PersonsL0)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, *r)
			}
		}
	}
	return out, nil
}

// domainGroups lists every combination of the public domains of set's
// keys, with the observed aggregates where there are some and zeros where
// there are none.
func (s *settings) domainGroups(p *plan.Plan, si int, set groupSet, observed map[string]*rawRow) ([]rawRow, error) {
	domains := make([][]any, len(set.keys))
	for j, k := range set.keys {
		for _, v := range p.Keys[k].Domain {
			cv, err := convertKey(v, p.Keys[k].Type)
			if err != nil {
				return nil, fmt.Errorf("public domain of key %q: %w", p.Keys[k].Name, err)
			}
			domains[j] = append(domains[j], cv)
		}
		if len(domains[j]) == 0 {
			return nil, nil
		}
	}
	var out []rawRow
	idx := make([]int, len(set.keys))
	for {
		keys := make([]any, len(p.Keys))
		for j, k := range set.keys {
			keys[k] = domains[j][idx[j]]
		}
		if r, ok := observed[keyID(keys, set.keys)]; ok {
			row := *r
			row.keys = keys
			out = append(out, row)
		} else {
			out = append(out, rawRow{set: si, keys: keys, aggs: make([]rawAgg, len(p.Aggs))})
		}
		// Advance the odometer, last key fastest.
		j := len(idx) - 1
		for ; j >= 0; j-- {
			idx[j]++
			if idx[j] < len(domains[j]) {
				break
			}
			idx[j] = 0
		}
		if j < 0 {
			return out, nil
		}
	}
}

// compareKeys orders key tuples on keys idx: numbers by value, strings
// lexically, false before true, NULL last.
func compareKeys(a, b []any, idx []int) int {
	for _, k := range idx {
		if c := result.Compare(a[k], b[k]); c != 0 {
			return c
		}
	}
	return 0
}
