package protect

import (
	"context"
	"reflect"
	"testing"

	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
)

// TestKeep checks partition selection as Apply calls it: at ε=1 and
// δ=1e-7 a group held by one person is dropped in ≥ 99.9% of 10,000 runs,
// and a group of 1,000 persons is always kept.
func TestKeep(t *testing.T) {
	const runs = 10000
	tests := []struct {
		desc     string
		persons  int64
		minCell  int
		l0       int64
		wantKept func(kept int) bool
	}{
		{"one person, min cell count 5", 1, 5, 1, func(k int) bool { return k <= runs/1000 }},
		{"one person, no pre-threshold", 1, 0, 1, func(k int) bool { return k <= runs/1000 }},
		{"one person, gaussian thresholding (L0 > 3)", 1, 0, 4, func(k int) bool { return k <= runs/1000 }},
		{"1000 persons", 1000, 5, 1, func(k int) bool { return k == runs }},
		{"1000 persons, L0 = 4", 1000, 5, 4, func(k int) bool { return k == runs }},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			s := mustSettings(t, &Options{Epsilon: 1, Delta: 1e-7, MinCellCount: tc.minCell})
			kept := 0
			for _, k := range draws(t, runs, func() (bool, error) { return s.keep(tc.persons, share{1, 1e-7, ""}, tc.l0) }) {
				if k {
					kept++
				}
			}
			if !tc.wantKept(kept) {
				t.Errorf("kept %d of %d", kept, runs)
			}
		})
	}
}

func TestChoose(t *testing.T) {
	n := countAgg(query.AggCountStar, "n")
	obs := func(set int, persons int64, count float64, keys ...any) rawRow {
		return rawRow{set: set, keys: keys, persons: persons, aggs: []rawAgg{{count: count}}}
	}
	zero := func(set int, keys ...any) rawRow {
		return rawRow{set: set, keys: keys, aggs: []rawAgg{{}}}
	}
	tests := []struct {
		desc string
		p    *plan.Plan
		raw  []rawRow
		want []rawRow
	}{
		{
			desc: "public domains: every combination, empty ones as zeros, NULL and out-of-domain left out",
			p:    testPlan([]plan.Key{sexKey, yearKey}, []plan.Agg{n}, nil),
			raw: []rawRow{
				obs(0, 7, 9, "M", int64(2021)),
				obs(0, 3, 3, "F", int64(2020)),
				obs(0, 2, 2, nil, int64(2020)),
				obs(0, 2, 2, "F", int64(1999)),
			},
			want: []rawRow{
				obs(0, 3, 3, "F", int64(2020)), zero(0, "F", int64(2021)), zero(0, "F", int64(2022)),
				zero(0, "M", int64(2020)), obs(0, 7, 9, "M", int64(2021)), zero(0, "M", int64(2022)),
			},
		},
		{
			desc: "a domain that lists NULL releases the NULL group",
			p: testPlan([]plan.Key{{Name: "death_year", Type: query.TypeInteger, Domain: []any{int64(2020), nil}}},
				[]plan.Agg{n}, nil),
			raw:  []rawRow{obs(0, 90, 90, nil), obs(0, 2, 2, int64(1999))},
			want: []rawRow{zero(0, int64(2020)), obs(0, 90, 90, nil)},
		},
		{
			desc: "no keys: the single group, even without data",
			p:    testPlan(nil, []plan.Agg{n}, nil),
			want: []rawRow{zero(0)},
		},
		{
			desc: "selection: large groups kept in key order, groups below the pre-threshold dropped",
			p:    testPlan([]plan.Key{codeKey}, []plan.Agg{n}, nil),
			raw: []rawRow{
				obs(0, 1000, 1500, "J45"),
				obs(0, 2, 2, "C50"),
				obs(0, 1000, 1200, "E11"),
				obs(0, 1000, 1000, nil),
			},
			want: []rawRow{obs(0, 1000, 1200, "E11"), obs(0, 1000, 1500, "J45"), obs(0, 1000, 1000, nil)},
		},
		{
			desc: "grouping sets: detail by selection, grand total always",
			p:    testPlan([]plan.Key{codeKey}, []plan.Agg{n}, [][]int{{0}, {}}),
			raw: []rawRow{
				obs(1, 2002, 2702, nil),
				obs(0, 1000, 1500, "J45"),
				obs(0, 2, 2, "C50"),
			},
			want: []rawRow{obs(0, 1000, 1500, "J45"), obs(1, 2002, 2702, nil)},
		},
		{
			desc: "grouping sets over public domains: margins list their domain too",
			p:    testPlan([]plan.Key{sexKey, yearKey}, []plan.Agg{n}, [][]int{{0, 1}, {0}}),
			raw: []rawRow{
				obs(0, 7, 9, "M", int64(2021)),
				obs(1, 7, 9, "M", nil),
			},
			want: []rawRow{
				zero(0, "F", int64(2020)), zero(0, "F", int64(2021)), zero(0, "F", int64(2022)),
				zero(0, "M", int64(2020)), obs(0, 7, 9, "M", int64(2021)), zero(0, "M", int64(2022)),
				zero(1, "F", nil), obs(1, 7, 9, "M", nil),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			s := mustSettings(t, &Options{Epsilon: 1, Delta: 1e-6, MinCellCount: 5})
			l, err := split(tc.p, s)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.raw {
				if len(tc.raw[i].keys) == 0 {
					tc.raw[i].keys = make([]any, len(tc.p.Keys))
				}
			}
			for i := range tc.want {
				if len(tc.want[i].keys) == 0 {
					tc.want[i].keys = make([]any, len(tc.p.Keys))
				}
			}
			got, err := s.choose(context.Background(), tc.p, l, tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("groups\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestChooseRejectsDuplicates(t *testing.T) {
	p := testPlan([]plan.Key{sexKey}, []plan.Agg{countAgg(query.AggCountStar, "n")}, nil)
	s := mustSettings(t, &Options{Epsilon: 1})
	l, err := split(p, s)
	if err != nil {
		t.Fatal(err)
	}
	raw := []rawRow{{keys: []any{"F"}, aggs: []rawAgg{{}}}, {keys: []any{"F"}, aggs: []rawAgg{{}}}}
	if _, err := s.choose(context.Background(), p, l, raw); err == nil {
		t.Error("a group returned twice: no error")
	}
}
