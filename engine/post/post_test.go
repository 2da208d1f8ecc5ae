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
