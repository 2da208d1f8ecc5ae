package protect

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/result"
)

// rawRow is one row of the bounded SQL: the exact, unprotected aggregates
// of one group of one grouping set. It never leaves the package.
type rawRow struct {
	// set indexes layout.sets.
	set int
	// keys holds one value per plan key (int64, float64, string or bool;
	// dates as 'YYYY-MM-DD'); nil for NULL and for keys the set rolls up.
	keys    []any
	persons int64
	aggs    []rawAgg
}

// rawAgg holds the columns of one aggregate in one row.
type rawAgg struct {
	count, sum, normSum float64
	values              []float64
}

// binding says where each aggregate's inputs are among the SQL columns.
type binding struct {
	persons int // column of RolePersons, -1 when absent
	gid     int // column of RoleGroupingID, -1 when absent
	keys    []int
	// count, sum, norm, values: per aggregate, the column or -1.
	count, sum, norm, values []int
}

// bind maps plan.Columns to keys and aggregates and checks that every
// aggregate has the columns it needs.
func bind(p *plan.Plan, sets []groupSet) (*binding, error) {
	b := &binding{persons: -1, gid: -1, keys: fill(len(p.Keys)),
		count: fill(len(p.Aggs)), sum: fill(len(p.Aggs)), norm: fill(len(p.Aggs)), values: fill(len(p.Aggs))}
	for i, c := range p.Columns {
		var slot []int
		switch c.Role {
		case plan.RoleKey:
			slot = b.keys
		case plan.RoleGroupingID:
			b.gid = i
			continue
		case plan.RolePersons:
			if b.persons < 0 {
				b.persons = i
			}
			continue
		case plan.RoleCount:
			slot = b.count
		case plan.RoleSum:
			slot = b.sum
		case plan.RoleNormSum:
			slot = b.norm
		case plan.RoleValues:
			slot = b.values
		default:
			return nil, fmt.Errorf("column %q has unknown role %q", c.Name, c.Role)
		}
		if c.Index < 0 || c.Index >= len(slot) {
			return nil, fmt.Errorf("column %q (%s) refers to index %d, out of range", c.Name, c.Role, c.Index)
		}
		slot[c.Index] = i
	}
	for i, k := range b.keys {
		if k < 0 {
			return nil, fmt.Errorf("no column holds key %q", p.Keys[i].Name)
		}
	}
	if len(sets) > 1 && b.gid < 0 {
		return nil, fmt.Errorf("plan has %d grouping sets but no grouping_id column", len(sets))
	}
	for i, a := range p.Aggs {
		var needs []need
		switch a.Kind {
		case query.AggCountStar, query.AggCount:
			needs = []need{{b.count[i], plan.RoleCount}}
		case query.AggCountDistinct:
			if b.count[i] < 0 && b.persons < 0 {
				return nil, fmt.Errorf("aggregate %q: no count or persons column", a.Name)
			}
		case query.AggSum:
			needs = []need{{b.sum[i], plan.RoleSum}}
		case query.AggAvg:
			needs = []need{{b.count[i], plan.RoleCount}, {b.norm[i], plan.RoleNormSum}}
		case query.AggQuantile, query.AggStddev, query.AggVariance:
			needs = []need{{b.values[i], plan.RoleValues}}
		default:
			return nil, fmt.Errorf("aggregate %q: unsupported kind %q", a.Name, a.Kind)
		}
		for _, n := range needs {
			if n.col < 0 {
				return nil, fmt.Errorf("aggregate %q (%s) has no %s column", a.Name, a.Kind, n.role)
			}
		}
	}
	return b, nil
}

// need is a column an aggregate needs.
type need struct {
	col  int
	role plan.Role
}

func fill(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = -1
	}
	return s
}

// readRows reads every batch of rr into raw rows. It checks ctx between
// batches and releases nothing it does not own (the caller releases rr).
func readRows(ctx context.Context, p *plan.Plan, sets []groupSet, rr array.RecordReader) ([]rawRow, error) {
	b, err := bind(p, sets)
	if err != nil {
		return nil, err
	}
	if got := rr.Schema().NumFields(); got != len(p.Columns) {
		return nil, fmt.Errorf("result has %d columns, plan describes %d", got, len(p.Columns))
	}
	setOf := map[int64]int{}
	for i, s := range sets {
		setOf[s.gid] = i
	}
	var rows []rawRow
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec := rr.RecordBatch()
		if rec.NumCols() != int64(len(p.Columns)) {
			return nil, fmt.Errorf("batch has %d columns, plan describes %d", rec.NumCols(), len(p.Columns))
		}
		for r := 0; r < int(rec.NumRows()); r++ {
			row, ok, err := readRow(p, b, sets, setOf, rec, r)
			if err != nil {
				return nil, err
			}
			if ok {
				rows = append(rows, row)
			}
		}
	}
	if err := rr.Err(); err != nil {
		return nil, fmt.Errorf("reading batches: %w", err)
	}
	return rows, ctx.Err()
}

// readRow reads row r of rec. ok is false for a row whose key value the
// key's type cannot represent (a non-finite number, a fraction in an
// integer key): it is dropped as a value outside a public domain is, a
// choice made by the key alone, so no row's value can make the read fail.
// Errors are for a result that does not have the plan's shape.
func readRow(p *plan.Plan, b *binding, sets []groupSet, setOf map[int64]int, rec arrow.RecordBatch, r int) (row rawRow, ok bool, err error) {
	row, err = readRowValues(p, b, sets, setOf, rec, r)
	if errors.Is(err, errUnrepresentable) {
		return row, false, nil
	}
	return row, err == nil, err
}

// errUnrepresentable marks a key value its declared type cannot hold.
var errUnrepresentable = errors.New("key value not representable in its type")

func readRowValues(p *plan.Plan, b *binding, sets []groupSet, setOf map[int64]int, rec arrow.RecordBatch, r int) (rawRow, error) {
	row := rawRow{keys: make([]any, len(p.Keys)), aggs: make([]rawAgg, len(p.Aggs))}
	if b.gid >= 0 {
		gid, ok, err := intAt(rec.Column(b.gid), r)
		if err != nil || !ok {
			return row, fmt.Errorf("column %q: grouping id: %v", p.Columns[b.gid].Name, errOrNull(err))
		}
		set, found := setOf[gid]
		if !found {
			return row, fmt.Errorf("grouping id %d matches no grouping set of the plan", gid)
		}
		row.set = set
	}
	inSet := make([]bool, len(p.Keys))
	for _, k := range sets[row.set].keys {
		inSet[k] = true
	}
	for k, col := range b.keys {
		if !inSet[k] {
			continue // rolled up: nil
		}
		v, err := keyAt(rec.Column(col), r, p.Keys[k].Type)
		if err != nil {
			return row, fmt.Errorf("key %q: %w", p.Keys[k].Name, err)
		}
		if f, isFloat := v.(float64); isFloat && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return row, errUnrepresentable
		}
		row.keys[k] = v
	}
	if b.persons >= 0 {
		n, _, err := intAt(rec.Column(b.persons), r)
		if err != nil {
			return row, fmt.Errorf("column %q: %w", p.Columns[b.persons].Name, err)
		}
		row.persons = n
	}
	for i := range p.Aggs {
		a := &row.aggs[i]
		var err error
		if c := b.count[i]; c >= 0 {
			a.count, err = floatAt(rec.Column(c), r)
		} else if p.Aggs[i].Kind == query.AggCountDistinct {
			a.count = float64(row.persons)
		}
		if c := b.sum[i]; c >= 0 && err == nil {
			a.sum, err = floatAt(rec.Column(c), r)
		}
		if c := b.norm[i]; c >= 0 && err == nil {
			a.normSum, err = floatAt(rec.Column(c), r)
		}
		if c := b.values[i]; c >= 0 && err == nil {
			a.values, err = listAt(rec.Column(c), r)
		}
		if err != nil {
			return row, fmt.Errorf("aggregate %q: %w", p.Aggs[i].Name, err)
		}
	}
	return row, nil
}

func errOrNull(err error) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("NULL")
}

// intAt reads an integer (or integral float) cell; ok is false for NULL.
func intAt(a arrow.Array, i int) (int64, bool, error) {
	if a.IsNull(i) {
		return 0, false, nil
	}
	switch x := a.(type) {
	case *array.Int64:
		return x.Value(i), true, nil
	case *array.Int32:
		return int64(x.Value(i)), true, nil
	case *array.Int16:
		return int64(x.Value(i)), true, nil
	case *array.Int8:
		return int64(x.Value(i)), true, nil
	case *array.Uint64:
		v := x.Value(i)
		if v > math.MaxInt64 {
			return 0, false, fmt.Errorf("%w: out of int64 range", errUnrepresentable)
		}
		return int64(v), true, nil
	case *array.Uint32:
		return int64(x.Value(i)), true, nil
	case *array.Uint16:
		return int64(x.Value(i)), true, nil
	case *array.Uint8:
		return int64(x.Value(i)), true, nil
	case *array.Float64, *array.Float32, *array.Decimal128:
		f, err := floatAt(a, i)
		if err != nil {
			return 0, false, err
		}
		if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return 0, false, fmt.Errorf("%w: expected a whole number", errUnrepresentable)
		}
		return int64(f), true, nil
	}
	return 0, false, fmt.Errorf("unsupported integer column type %s", a.DataType())
}

// floatAt reads a numeric cell as float64; NULL (an aggregate over no
// rows) reads as 0.
func floatAt(a arrow.Array, i int) (float64, error) {
	if a.IsNull(i) {
		return 0, nil
	}
	switch x := a.(type) {
	case *array.Float64:
		return x.Value(i), nil
	case *array.Float32:
		return float64(x.Value(i)), nil
	case *array.Decimal128:
		return x.Value(i).ToFloat64(x.DataType().(*arrow.Decimal128Type).Scale), nil
	}
	n, _, err := intAt(a, i)
	if err != nil {
		return 0, fmt.Errorf("unsupported numeric column type %s", a.DataType())
	}
	return float64(n), nil
}

// listAt reads a list<double> cell; NULL and NULL elements are skipped.
func listAt(a arrow.Array, i int) ([]float64, error) {
	if a.IsNull(i) {
		return nil, nil
	}
	var (
		start, end int64
		vals       arrow.Array
	)
	switch x := a.(type) {
	case *array.List:
		start, end = x.ValueOffsets(i)
		vals = x.ListValues()
	case *array.LargeList:
		start, end = x.ValueOffsets(i)
		vals = x.ListValues()
	default:
		return nil, fmt.Errorf("unsupported list column type %s", a.DataType())
	}
	out := make([]float64, 0, end-start)
	for j := int(start); j < int(end); j++ {
		if vals.IsNull(j) {
			continue
		}
		f, err := floatAt(vals, j)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// keyAt reads a key cell and converts it to the key's declared type:
// integer → int64, number → float64, date → 'YYYY-MM-DD', boolean → bool,
// string → string. NULL reads as nil.
func keyAt(a arrow.Array, i int, t query.Type) (any, error) {
	if a.IsNull(i) {
		return nil, nil
	}
	var v any
	// Strings are cloned: under the duckdb_arrow build they point into
	// DuckDB's memory, which is freed when the next batch is read.
	switch x := a.(type) {
	case *array.String:
		v = strings.Clone(x.Value(i))
	case *array.LargeString:
		v = strings.Clone(x.Value(i))
	case *array.StringView:
		v = strings.Clone(x.Value(i))
	case *array.Boolean:
		v = x.Value(i)
	case *array.Date32:
		v = x.Value(i).FormattedString()
	case *array.Date64:
		v = x.Value(i).FormattedString()
	case *array.Float64, *array.Float32, *array.Decimal128:
		f, err := floatAt(a, i)
		if err != nil {
			return nil, err
		}
		v = f
	default:
		n, _, err := intAt(a, i)
		if err != nil {
			return nil, err
		}
		v = n
	}
	cv, err := convertKey(v, t)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUnrepresentable, err)
	}
	return cv, nil
}

// convertKey converts a key value (from Arrow or from a public domain) to
// the key's declared type.
func convertKey(v any, t query.Type) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t {
	case query.TypeInteger:
		switch x := v.(type) {
		case int64:
			return x, nil
		case int:
			return int64(x), nil
		case float64:
			if x == math.Trunc(x) && math.Abs(x) <= 1<<53 {
				return int64(x), nil
			}
		case string:
			if n, err := strconv.ParseInt(x, 10, 64); err == nil {
				return n, nil
			}
		}
		return nil, fmt.Errorf("value of type %T is not an integer", v)
	case query.TypeNumber:
		switch x := v.(type) {
		case int64:
			return float64(x), nil
		case int:
			return float64(x), nil
		case float64:
			return x, nil
		}
		return nil, fmt.Errorf("value of type %T is not a number", v)
	case query.TypeBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("value of type %T is not a boolean", v)
	case query.TypeString, query.TypeDate:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return fmt.Sprint(v), nil
	}
	if x, ok := v.(int); ok {
		return int64(x), nil
	}
	return v, nil
}

// keyID is a canonical text of the values of keys idx, for map lookups:
// numbers compare by value whatever their Go type.
func keyID(vals []any, idx []int) string {
	var sb strings.Builder
	for _, k := range idx {
		switch x := vals[k].(type) {
		case nil:
			sb.WriteString("n")
		case int64:
			sb.WriteString("i" + strconv.FormatInt(x, 10))
		case float64:
			if x == math.Trunc(x) && math.Abs(x) <= 1<<53 {
				sb.WriteString("i" + strconv.FormatInt(int64(x), 10))
			} else {
				sb.WriteString("f" + strconv.FormatFloat(x, 'g', -1, 64))
			}
		case bool:
			sb.WriteString("b" + strconv.FormatBool(x))
		case string:
			sb.WriteString("s" + strconv.Itoa(len(x)) + ":" + x)
		default:
			sb.WriteString(fmt.Sprintf("?%v", x))
		}
		sb.WriteByte(0)
	}
	return sb.String()
}

// valueType is the result type of a key column.
func valueType(t query.Type, domain []any) result.ValueType {
	switch t {
	case query.TypeInteger:
		return result.TypeInteger
	case query.TypeNumber:
		return result.TypeNumber
	case query.TypeDate:
		return result.TypeDate
	case query.TypeBool:
		return result.TypeBool
	case query.TypeString:
		return result.TypeString
	}
	for _, v := range domain {
		switch v.(type) {
		case nil:
			continue
		case int64, int:
			return result.TypeInteger
		case float64:
			return result.TypeNumber
		case bool:
			return result.TypeBool
		}
		break
	}
	return result.TypeString
}
