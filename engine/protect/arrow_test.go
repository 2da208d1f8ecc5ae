package protect

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
)

func TestReadRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	keys := []plan.Key{
		{Name: "year", Type: query.TypeInteger},
		{Name: "code", Type: query.TypeString},
		{Name: "day", Type: query.TypeDate},
		{Name: "flag", Type: query.TypeBool},
	}
	aggs := []plan.Agg{
		countAgg(query.AggCountStar, "n"),
		countAgg(query.AggCountDistinct, "persons"),
		{Kind: query.AggSum, Name: "s"},
		{Kind: query.AggAvg, Name: "a"},
		{Kind: query.AggQuantile, Name: "q"},
	}
	p := testPlan(keys, aggs, [][]int{{0, 1, 2, 3}, {0}})
	// year is INTEGER (int32) in this extract; the grouping id BIGINT.
	batch := func(gid []any, year []any, code []any, persons []any, n []any, vals []any) []col {
		return []col{
			{"year", arrow.PrimitiveTypes.Int32, year},
			{"code", arrow.BinaryTypes.String, code},
			{"day", arrow.FixedWidthTypes.Date32, []any{"2021-03-04", nil}[:len(year)]},
			{"flag", arrow.FixedWidthTypes.Boolean, []any{true, nil}[:len(year)]},
			{"grouping_id", arrow.PrimitiveTypes.Int64, gid},
			{"persons", arrow.PrimitiveTypes.Int64, persons},
			{"n", arrow.PrimitiveTypes.Float64, n},
			{"s", arrow.PrimitiveTypes.Float64, []any{2.5, nil}[:len(year)]},
			{"a_count", arrow.PrimitiveTypes.Float64, n},
			{"a_norm", arrow.PrimitiveTypes.Float64, []any{-1.5, 0.0}[:len(year)]},
			{"q", listOfDouble, vals},
		}
	}
	rr := reader(t, mem,
		batch([]any{0, 7}, []any{2021, 2021}, []any{"E11", nil}, []any{12, 30}, []any{20.0, 44.0}, []any{[]float64{1, 2}, nil}),
		batch([]any{0}, []any{nil}, []any{"C50"}, []any{3}, []any{3.0}, []any{[]float64{}}),
	)
	defer rr.Release()

	sets, err := groupSets(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readRows(context.Background(), p, sets, rr)
	if err != nil {
		t.Fatal(err)
	}
	want := []rawRow{
		{set: 0, keys: []any{int64(2021), "E11", "2021-03-04", true}, persons: 12,
			aggs: []rawAgg{{count: 20}, {count: 12}, {sum: 2.5}, {count: 20, normSum: -1.5}, {values: []float64{1, 2}}}},
		{set: 1, keys: []any{int64(2021), nil, nil, nil}, persons: 30,
			aggs: []rawAgg{{count: 44}, {count: 30}, {}, {count: 44}, {}}}, // a NULL list reads as no values
		{set: 0, keys: []any{nil, "C50", "2021-03-04", true}, persons: 3,
			aggs: []rawAgg{{count: 3}, {count: 3}, {sum: 2.5}, {count: 3, normSum: -1.5}, {values: []float64{}}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows\n got %+v\nwant %+v", got, want)
	}
}

func TestReadRowsErrors(t *testing.T) {
	mem := memory.NewGoAllocator()
	keys := []plan.Key{{Name: "k", Type: query.TypeString}}
	aggs := []plan.Agg{countAgg(query.AggCountStar, "n")}
	tests := []struct {
		desc string
		p    *plan.Plan
		cols []col
		want string
	}{
		{
			desc: "column count differs",
			p:    testPlan(keys, aggs, nil),
			cols: []col{{"k", arrow.BinaryTypes.String, []any{"x"}}},
			want: "plan describes",
		},
		{
			desc: "grouping id of no set",
			p:    testPlan(keys, aggs, [][]int{{0}, {}}),
			cols: []col{
				{"k", arrow.BinaryTypes.String, []any{"x"}},
				{"grouping_id", arrow.PrimitiveTypes.Int64, []any{2}},
				{"persons", arrow.PrimitiveTypes.Int64, []any{1}},
				{"n", arrow.PrimitiveTypes.Float64, []any{1.0}},
			},
			want: "matches no grouping set",
		},
		{
			desc: "unsupported measure type",
			p:    testPlan(keys, aggs, nil),
			cols: []col{
				{"k", arrow.BinaryTypes.String, []any{"x"}},
				{"persons", arrow.PrimitiveTypes.Int64, []any{1}},
				{"n", arrow.BinaryTypes.String, []any{"1"}},
			},
			want: "unsupported",
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			rr := reader(t, mem, tc.cols)
			defer rr.Release()
			sets, err := groupSets(tc.p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = readRows(context.Background(), tc.p, sets, rr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestBind(t *testing.T) {
	keys := []plan.Key{{Name: "k", Type: query.TypeString}}
	tests := []struct {
		desc string
		p    *plan.Plan
		want string
	}{
		{"avg without norm_sum", func() *plan.Plan {
			p := testPlan(keys, []plan.Agg{{Kind: query.AggAvg, Name: "a"}}, nil)
			p.Columns = p.Columns[:len(p.Columns)-1]
			return p
		}(), "norm_sum"},
		{"grouping sets without grouping id", func() *plan.Plan {
			p := testPlan(keys, nil, [][]int{{0}, {}})
			p.Columns = slicesDelete(p.Columns, 1)
			return p
		}(), "grouping_id"},
		{"key without column", &plan.Plan{Keys: keys}, "no column holds key"},
		{"index out of range", &plan.Plan{Keys: keys, Columns: []plan.Column{{Name: "k", Role: plan.RoleKey, Index: 3}}}, "out of range"},
		{"unknown aggregate", testPlan(nil, []plan.Agg{{Kind: "min", Name: "m"}}, nil), "unsupported kind"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			sets, err := groupSets(tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bind(tc.p, sets); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func slicesDelete(c []plan.Column, i int) []plan.Column {
	return append(append([]plan.Column(nil), c[:i]...), c[i+1:]...)
}

func TestKeyID(t *testing.T) {
	tests := []struct {
		desc string
		a, b []any
		same bool
	}{
		{"int and integral float", []any{int64(3)}, []any{3.0}, true},
		{"string and number", []any{"3"}, []any{int64(3)}, false},
		{"null and empty string", []any{nil}, []any{""}, false},
		{"split strings", []any{"ab", "c"}, []any{"a", "bc"}, false},
		{"bools", []any{true}, []any{true}, true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			idx := make([]int, len(tc.a))
			for i := range idx {
				idx[i] = i
			}
			if got := keyID(tc.a, idx) == keyID(tc.b, idx); got != tc.same {
				t.Errorf("same = %v, want %v", got, tc.same)
			}
		})
	}
}
