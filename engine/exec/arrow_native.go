//go:build duckdb_arrow

package exec

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	duckdb "github.com/duckdb/duckdb-go/v2"
)

// queryArrow runs query through DuckDB's native Arrow export on conn's
// driver connection. conn stays checked out (by QueryArrow) until the
// reader is released, so nothing else uses the driver connection while the
// reader reads from it. Columns whose Arrow type is not canonical (see the
// package doc) are converted batch by batch; canonical ones pass through
// without copying.
func queryArrow(ctx context.Context, conn *sql.Conn, query string, args []any) (array.RecordReader, error) {
	var rr array.RecordReader
	err := conn.Raw(func(dc any) error {
		drv, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("driver connection of type %T", dc)
		}
		a, err := duckdb.NewArrowFromConn(drv)
		if err != nil {
			return err
		}
		rr, err = a.QueryContext(ctx, query, args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	in := rr.Schema()
	fields := make([]arrow.Field, in.NumFields())
	convs := make([]convertFunc, in.NumFields())
	identity := true
	for i, f := range in.Fields() {
		typ, conv, err := canonical(f.Type)
		if err != nil {
			rr.Release()
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		fields[i] = arrow.Field{Name: f.Name, Type: typ, Nullable: true}
		convs[i] = conv
		identity = identity && conv == nil
	}
	if identity {
		return rr, nil
	}
	return &convertReader{in: rr, schema: arrow.NewSchema(fields, nil), convs: convs, refs: 1}, nil
}

// convertFunc converts one array to its canonical type; the caller
// releases the result.
type convertFunc func(arr arrow.Array) (arrow.Array, error)

// canonical returns the canonical type of an Arrow type DuckDB produced
// and the conversion to it (nil when the type is already canonical).
func canonical(dt arrow.DataType) (arrow.DataType, convertFunc, error) {
	switch t := dt.(type) {
	case *arrow.BooleanType, *arrow.Int64Type, *arrow.Float64Type, *arrow.StringType, *arrow.Date32Type:
		return dt, nil, nil
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type,
		*arrow.Uint8Type, *arrow.Uint16Type, *arrow.Uint32Type, *arrow.Uint64Type, *arrow.NullType:
		return arrow.PrimitiveTypes.Int64, toInt64Array, nil
	case *arrow.Float32Type, *arrow.Decimal32Type, *arrow.Decimal64Type, *arrow.Decimal128Type, *arrow.Decimal256Type:
		return arrow.PrimitiveTypes.Float64, toFloat64Array, nil
	case *arrow.DictionaryType:
		if _, ok := t.ValueType.(*arrow.StringType); ok {
			return arrow.BinaryTypes.String, decodeDictionary, nil
		}
	case *arrow.TimestampType:
		want := timestampType
		if t.TimeZone != "" {
			want = timestampTZType
		}
		if t.Unit == arrow.Microsecond && t.TimeZone == want.TimeZone {
			return dt, nil, nil
		}
		return want, toTimestampArray(t.Unit, want), nil
	case *arrow.ListType:
		elem, conv, err := canonical(t.Elem())
		if err != nil {
			return nil, nil, err
		}
		if conv == nil {
			return dt, nil, nil
		}
		lt := arrow.ListOfField(arrow.Field{Name: t.ElemField().Name, Type: elem, Nullable: true})
		return lt, convertList(lt, conv), nil
	}
	return nil, nil, fmt.Errorf("%w %s", ErrUnsupportedType, dt)
}

func toInt64Array(arr arrow.Array) (arrow.Array, error) {
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	b.Reserve(arr.Len())
	for i := range arr.Len() {
		if arr.IsNull(i) {
			b.AppendNull()
			continue
		}
		switch a := arr.(type) {
		case *array.Int8:
			b.Append(int64(a.Value(i)))
		case *array.Int16:
			b.Append(int64(a.Value(i)))
		case *array.Int32:
			b.Append(int64(a.Value(i)))
		case *array.Uint8:
			b.Append(int64(a.Value(i)))
		case *array.Uint16:
			b.Append(int64(a.Value(i)))
		case *array.Uint32:
			b.Append(int64(a.Value(i)))
		case *array.Uint64:
			v := a.Value(i)
			if v > math.MaxInt64 {
				return nil, errors.New("unsigned value does not fit BIGINT")
			}
			b.Append(int64(v))
		default:
			return nil, fmt.Errorf("%w %s", ErrUnsupportedType, arr.DataType())
		}
	}
	return b.NewArray(), nil
}

func toFloat64Array(arr arrow.Array) (arrow.Array, error) {
	b := array.NewFloat64Builder(memory.DefaultAllocator)
	defer b.Release()
	b.Reserve(arr.Len())
	scale := int32(0)
	if dt, ok := arr.DataType().(arrow.DecimalType); ok {
		scale = dt.GetScale()
	}
	for i := range arr.Len() {
		if arr.IsNull(i) {
			b.AppendNull()
			continue
		}
		// Decimals go through their exact text, which ParseFloat rounds
		// correctly, as the database/sql build does.
		var text string
		switch a := arr.(type) {
		case *array.Float32:
			b.Append(float64(a.Value(i)))
			continue
		case *array.Decimal32:
			text = a.Value(i).ToString(scale)
		case *array.Decimal64:
			text = a.Value(i).ToString(scale)
		case *array.Decimal128:
			text = a.Value(i).ToString(scale)
		case *array.Decimal256:
			text = a.Value(i).ToString(scale)
		default:
			return nil, fmt.Errorf("%w %s", ErrUnsupportedType, arr.DataType())
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, fmt.Errorf("decimal value: %w", err)
		}
		b.Append(f)
	}
	return b.NewArray(), nil
}

func decodeDictionary(arr arrow.Array) (arrow.Array, error) {
	d, ok := arr.(*array.Dictionary)
	if !ok {
		return nil, fmt.Errorf("%w %s", ErrUnsupportedType, arr.DataType())
	}
	values, ok := d.Dictionary().(*array.String)
	if !ok {
		return nil, fmt.Errorf("%w %s", ErrUnsupportedType, arr.DataType())
	}
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	b.Reserve(arr.Len())
	for i := range arr.Len() {
		if d.IsNull(i) {
			b.AppendNull()
			continue
		}
		b.Append(values.Value(d.GetValueIndex(i)))
	}
	return b.NewArray(), nil
}

// toTimestampArray converts timestamps of unit to microseconds (rounding
// toward negative infinity, as time.Time.UnixMicro does) of type want.
func toTimestampArray(unit arrow.TimeUnit, want *arrow.TimestampType) convertFunc {
	return func(arr arrow.Array) (arrow.Array, error) {
		a, ok := arr.(*array.Timestamp)
		if !ok {
			return nil, fmt.Errorf("%w %s", ErrUnsupportedType, arr.DataType())
		}
		b := array.NewTimestampBuilder(memory.DefaultAllocator, want)
		defer b.Release()
		b.Reserve(arr.Len())
		for i := range arr.Len() {
			if a.IsNull(i) {
				b.AppendNull()
				continue
			}
			v := int64(a.Value(i))
			switch unit {
			case arrow.Second:
				v *= 1_000_000
			case arrow.Millisecond:
				v *= 1_000
			case arrow.Nanosecond:
				v = floorDiv(v, 1_000)
			}
			b.Append(arrow.Timestamp(v))
		}
		return b.NewArray(), nil
	}
}

// convertList converts a list's values with conv, keeping its offsets and
// validity.
func convertList(lt *arrow.ListType, conv convertFunc) convertFunc {
	return func(arr arrow.Array) (arrow.Array, error) {
		l, ok := arr.(*array.List)
		if !ok {
			return nil, fmt.Errorf("%w %s", ErrUnsupportedType, arr.DataType())
		}
		values, err := conv(l.ListValues())
		if err != nil {
			return nil, err
		}
		defer values.Release()
		in := l.Data()
		data := array.NewData(lt, in.Len(), in.Buffers()[:2], []arrow.ArrayData{values.Data()}, in.NullN(), in.Offset())
		defer data.Release()
		return array.MakeFromData(data), nil
	}
}

// convertReader converts each batch of a native reader to canonical types.
type convertReader struct {
	in     array.RecordReader
	schema *arrow.Schema
	convs  []convertFunc
	refs   int64

	cur arrow.RecordBatch
	err error
}

// Retain adds a reference.
func (r *convertReader) Retain() { r.refs++ }

// Release drops a reference; the last one releases the native reader.
func (r *convertReader) Release() {
	if r.refs <= 0 {
		return
	}
	r.refs--
	if r.refs > 0 {
		return
	}
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	r.in.Release()
}

// Schema returns the canonical schema.
func (r *convertReader) Schema() *arrow.Schema { return r.schema }

// Next converts the native reader's next batch.
func (r *convertReader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.err != nil || !r.in.Next() {
		return false
	}
	rec := r.in.RecordBatch()
	cols := make([]arrow.Array, rec.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, conv := range r.convs {
		if conv == nil {
			cols[i] = rec.Column(i)
			cols[i].Retain()
			continue
		}
		c, err := conv(rec.Column(i))
		if err != nil {
			r.err = fmt.Errorf("column %q: %w", r.schema.Field(i).Name, err)
			return false
		}
		cols[i] = c
	}
	r.cur = array.NewRecordBatch(r.schema, cols, rec.NumRows())
	return true
}

// RecordBatch returns the current batch, valid until the next call to Next.
func (r *convertReader) RecordBatch() arrow.RecordBatch { return r.cur }

// Record returns the current batch.
//
// Deprecated: use RecordBatch.
func (r *convertReader) Record() arrow.RecordBatch { return r.cur }

// Err returns the error that stopped Next, if any.
func (r *convertReader) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.in.Err()
}
