package post

import (
	"testing"

	"github.com/statgate/statgate/engine/internal/testkit"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/result"
)

func TestApply(t *testing.T) {
	// Protected columns: key "k", measures "n" and "m"; the query selects m, k, n.
	res := &result.Result{
		Columns: []result.Column{{Name: "k", Role: result.RoleKey}, {Name: "n", Role: result.RoleMeasure}, {Name: "m", Role: result.RoleMeasure}},
		Rows: []result.Row{
			{Cells: []result.Cell{{Value: "a"}, {Value: 10.0}, {Value: 1.0}}},
			{Cells: []result.Cell{{Value: "b"}, {Suppressed: true}, {Suppressed: true}}},
			{Cells: []result.Cell{{Value: "c"}, {Value: 30.0}, {Value: 3.0}}},
			{Cells: []result.Cell{{Value: "d"}, {Value: 20.0}, {Value: 2.0}}},
		},
	}
	q := &query.Query{
		Keys: []query.GroupKey{{Name: "k"}},
		Aggs: []query.Aggregate{{Name: "n"}, {Name: "m"}},
		Output: []query.OutputColumn{
			{Name: "mean", Key: -1, Agg: 1}, {Name: "key", Key: 0, Agg: -1}, {Name: "count", Key: -1, Agg: 0},
		},
	}
	limit := int64(2)
	tests := []struct {
		desc   string
		having query.Expr
		order  []query.OrderItem
		limit  *int64
		want   []string
	}{
		{desc: "select order only", want: []string{"a", "b", "c", "d"}},
		{desc: "order desc keeps suppressed last", order: []query.OrderItem{{Column: 2, Desc: true}}, want: []string{"c", "d", "a", "b"}},
		{desc: "order asc keeps suppressed last", order: []query.OrderItem{{Column: 0}}, want: []string{"a", "d", "c", "b"}},
		{desc: "having drops suppressed and small", having: &query.Compare{Op: ">=", L: &query.OutputRef{Column: 2}, R: &query.Literal{Value: int64(20)}}, want: []string{"c", "d"}},
		{desc: "having with OR and NOT", having: &query.Logical{Op: "OR", Args: []query.Expr{
			&query.Logical{Op: "NOT", Args: []query.Expr{&query.Compare{Op: "<", L: &query.OutputRef{Column: 0}, R: &query.Literal{Value: 3.0}}}},
			&query.Compare{Op: "=", L: &query.OutputRef{Column: 1}, R: &query.Literal{Value: "a"}}}}, want: []string{"a", "c"}},
		{desc: "arithmetic on a string is NULL, not an error", having: &query.Compare{Op: ">",
			L: &query.Arith{Op: "+", L: &query.OutputRef{Column: 1}, R: &query.Literal{Value: 1.0}}, R: &query.Literal{Value: 0.0}}, want: nil},
		{desc: "division by zero is NULL", having: &query.IsNull{X: &query.Arith{Op: "/", L: &query.OutputRef{Column: 0}, R: &query.Literal{Value: 0.0}}}, want: []string{"a", "b", "c", "d"}},
		{desc: "an unknown operator is NULL", having: &query.Compare{Op: "~", L: &query.OutputRef{Column: 0}, R: &query.Literal{Value: 0.0}}, want: nil},
		{desc: "limit after order", order: []query.OrderItem{{Column: 2, Desc: true}}, limit: &limit, want: []string{"c", "d"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			qq := *q
			qq.Having, qq.OrderBy, qq.Limit = tc.having, tc.order, tc.limit
			out, err := Apply(res, &qq)
			if err != nil {
				t.Fatal(err)
			}
			if got := testkit.ColumnNames(out); got != "mean,key,count" {
				t.Fatalf("columns %s", got)
			}
			var keys []string
			for _, r := range out.Rows {
				keys = append(keys, r.Cells[1].Value.(string))
			}
			if len(keys) != len(tc.want) {
				t.Fatalf("rows %v, want %v", keys, tc.want)
			}
			for i := range keys {
				if keys[i] != tc.want[i] {
					t.Fatalf("rows %v, want %v", keys, tc.want)
				}
			}
		})
	}
}

// TestApplyRounds: round(agg, n) rounds a released value half away from
// zero and its interval outward to the same places; a count to tens with
// negative places; a suppressed cell and the noise's stddev stay.
func TestApplyRounds(t *testing.T) {
	ci := func(lo, hi float64) *[2]float64 { return &[2]float64{lo, hi} }
	res := &result.Result{
		Columns: []result.Column{{Name: "k", Role: result.RoleKey}, {Name: "m", Role: result.RoleMeasure}, {Name: "n", Role: result.RoleMeasure}},
		Rows: []result.Row{
			{Cells: []result.Cell{{Value: "a"}, {Value: 4.25, StdDev: 0.3, CI: ci(3.61, 4.89)}, {Value: int64(1234), CI: ci(1201, 1266)}}},
			{Cells: []result.Cell{{Value: "b"}, {Value: -2.35, CI: ci(-2.96, -1.74)}, {Suppressed: true}}},
		},
	}
	one, tens := 1, -1
	q := &query.Query{
		Keys: []query.GroupKey{{Name: "k"}},
		Aggs: []query.Aggregate{{Name: "m"}, {Name: "n"}},
		Output: []query.OutputColumn{
			{Name: "k", Key: 0, Agg: -1}, {Name: "m1", Key: -1, Agg: 0, Round: &one}, {Name: "n10", Key: -1, Agg: 1, Round: &tens}, {Name: "m", Key: -1, Agg: 0},
		},
	}
	out, err := Apply(res, q)
	if err != nil {
		t.Fatal(err)
	}
	a, b := out.Rows[0].Cells, out.Rows[1].Cells
	near := func(x, y float64) bool { return x-y < 1e-9 && y-x < 1e-9 }
	if v := a[1].Value.(float64); !near(v, 4.3) || !near(a[1].CI[0], 3.6) || !near(a[1].CI[1], 4.9) || a[1].StdDev != 0.3 {
		t.Errorf("round(4.25, 1) = %v %v sd %v, want 4.3 [3.6, 4.9] sd 0.3", v, *a[1].CI, a[1].StdDev)
	}
	if v := b[1].Value.(float64); !near(v, -2.4) || !near(b[1].CI[0], -3.0) || !near(b[1].CI[1], -1.7) {
		t.Errorf("round(-2.35, 1) = %v %v, want -2.4 [-3.0, -1.7]", v, *b[1].CI)
	}
	if v := a[2].Value.(int64); v != 1230 || *a[2].CI != [2]float64{1200, 1270} {
		t.Errorf("round(1234, -1) = %v %v, want 1230 [1200, 1270]", v, *a[2].CI)
	}
	if !b[2].Suppressed || b[2].Value != nil {
		t.Errorf("a suppressed cell became %+v", b[2])
	}
	if v := a[3].Value.(float64); v != 4.25 || *a[3].CI != [2]float64{3.61, 4.89} {
		t.Errorf("the unrounded output of the same aggregate is %v %v", v, *a[3].CI)
	}
	// HAVING compares the aggregate, not its rounding: 4.25 > 4.26 fails
	// though round(4.25, 1) = 4.3 would pass.
	qq := *q
	qq.Having = &query.Compare{Op: ">", L: &query.OutputRef{Column: 1}, R: &query.Literal{Value: 4.26}}
	if out, err := Apply(res, &qq); err != nil || len(out.Rows) != 0 {
		t.Errorf("HAVING on the rounded output's aggregate kept %v (%v)", out, err)
	}
}
