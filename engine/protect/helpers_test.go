package protect

import (
	"flag"
	"os"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
)

// TestMain sends the warnings glog writes (the DP library logs one when
// its aggregations get a noise it does not know, as testkit.FakeNoise) to a
// directory removed afterwards instead of the system's temporary
// directory.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "protect-glog-")
	if err == nil {
		err = flag.Set("log_dir", dir)
	}
	if err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// col is one column of a hand-built Arrow batch; nil values are NULL.
type col struct {
	name string
	typ  arrow.DataType
	vals []any
}

var listOfDouble = arrow.ListOf(arrow.PrimitiveTypes.Float64)

// buildBatch builds one record batch from cols with the arrow-go builders.
func buildBatch(t testing.TB, mem memory.Allocator, cols []col) arrow.RecordBatch {
	t.Helper()
	fields := make([]arrow.Field, len(cols))
	arrs := make([]arrow.Array, len(cols))
	n := -1
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c.name, Type: c.typ, Nullable: true}
		if n >= 0 && len(c.vals) != n {
			t.Fatalf("column %s has %d values, want %d", c.name, len(c.vals), n)
		}
		n = len(c.vals)
		b := array.NewBuilder(mem, c.typ)
		for _, v := range c.vals {
			appendValue(t, b, v)
		}
		arrs[i] = b.NewArray()
		b.Release()
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(max(n, 0)))
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

func appendValue(t testing.TB, b array.Builder, v any) {
	t.Helper()
	if v == nil {
		b.AppendNull()
		return
	}
	switch b := b.(type) {
	case *array.Int64Builder:
		switch x := v.(type) {
		case int:
			b.Append(int64(x))
		case int64:
			b.Append(x)
		default:
			t.Fatalf("int64 column: value %T", v)
		}
	case *array.Int32Builder:
		b.Append(int32(v.(int)))
	case *array.Float64Builder:
		switch x := v.(type) {
		case int:
			b.Append(float64(x))
		case float64:
			b.Append(x)
		default:
			t.Fatalf("float64 column: value %T", v)
		}
	case *array.StringBuilder:
		b.Append(v.(string))
	case *array.BooleanBuilder:
		b.Append(v.(bool))
	case *array.Date32Builder:
		d, err := time.Parse(time.DateOnly, v.(string))
		if err != nil {
			t.Fatal(err)
		}
		b.Append(arrow.Date32FromTime(d))
	case *array.ListBuilder:
		b.Append(true)
		vb := b.ValueBuilder().(*array.Float64Builder)
		for _, x := range v.([]float64) {
			vb.Append(x)
		}
	default:
		t.Fatalf("no test builder for %T", b)
	}
}

// reader returns a RecordReader over batches (all of the first one's schema).
func reader(t testing.TB, mem memory.Allocator, batches ...[]col) array.RecordReader {
	t.Helper()
	var recs []arrow.RecordBatch
	for _, cols := range batches {
		recs = append(recs, buildBatch(t, mem, cols))
	}
	rr, err := array.NewRecordReader(recs[0].Schema(), recs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		r.Release()
	}
	return rr
}

// testPlan builds a plan with the column layout package plan generates:
// the keys, a grouping id when sets are given, the persons count, then
// each aggregate's columns (count_persons reads the persons column).
func testPlan(keys []plan.Key, aggs []plan.Agg, sets [][]int) *plan.Plan {
	p := &plan.Plan{Keys: keys, Aggs: aggs, GroupingSets: sets, PersonsL0: 1, PersonsLInf: 1,
		Bounds: plan.Bounds{MaxGroupsPerPerson: 1, MaxRowsPerPersonPerGroup: 1, L0Step: "one_group_per_person"}}
	for i, k := range keys {
		p.Columns = append(p.Columns, plan.Column{Name: k.Name, Role: plan.RoleKey, Index: i})
	}
	if sets != nil {
		p.Columns = append(p.Columns, plan.Column{Name: "grouping_id", Role: plan.RoleGroupingID})
	}
	p.Columns = append(p.Columns, plan.Column{Name: "persons", Role: plan.RolePersons})
	for i, a := range aggs {
		switch a.Kind {
		case query.AggCountStar, query.AggCount:
			p.Columns = append(p.Columns, plan.Column{Name: a.Name, Role: plan.RoleCount, Index: i})
		case query.AggSum:
			p.Columns = append(p.Columns, plan.Column{Name: a.Name, Role: plan.RoleSum, Index: i})
		case query.AggAvg:
			p.Columns = append(p.Columns,
				plan.Column{Name: a.Name + "_count", Role: plan.RoleCount, Index: i},
				plan.Column{Name: a.Name + "_norm", Role: plan.RoleNormSum, Index: i})
		case query.AggQuantile, query.AggStddev, query.AggVariance:
			p.Columns = append(p.Columns, plan.Column{Name: a.Name, Role: plan.RoleValues, Index: i})
		}
	}
	return p
}

// batchFor lays rows (column name → value) out as the columns of p.
func batchFor(p *plan.Plan, rows []map[string]any) []col {
	var cols []col
	for _, c := range p.Columns {
		var typ arrow.DataType
		switch c.Role {
		case plan.RoleKey:
			switch p.Keys[c.Index].Type {
			case query.TypeInteger:
				typ = arrow.PrimitiveTypes.Int64
			case query.TypeNumber:
				typ = arrow.PrimitiveTypes.Float64
			case query.TypeDate:
				typ = arrow.FixedWidthTypes.Date32
			case query.TypeBool:
				typ = arrow.FixedWidthTypes.Boolean
			default:
				typ = arrow.BinaryTypes.String
			}
		case plan.RoleGroupingID, plan.RolePersons:
			typ = arrow.PrimitiveTypes.Int64
		case plan.RoleValues:
			typ = listOfDouble
		default:
			typ = arrow.PrimitiveTypes.Float64
		}
		cl := col{name: c.Name, typ: typ}
		for _, r := range rows {
			cl.vals = append(cl.vals, r[c.Name])
		}
		cols = append(cols, cl)
	}
	return cols
}

// countAgg is a count-type aggregate with sensitivities 1.
func countAgg(kind query.AggKind, name string) plan.Agg {
	return plan.Agg{Kind: kind, Name: name, L0: 1, LInf: 1}
}
