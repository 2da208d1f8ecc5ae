//go:build !duckdb_arrow

package exec

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	duckdb "github.com/duckdb/duckdb-go/v2"
)

// appendFunc appends one scanned database/sql value (nil for NULL) to an
// Arrow builder of the column's canonical type.
type appendFunc func(b array.Builder, v any) error

// column is the canonical Arrow type of one DuckDB result type and how to
// append its scanned values.
type column struct {
	typ    arrow.DataType
	append appendFunc
}

// columnFor maps a DuckDB type name, as database/sql reports it
// (ColumnType.DatabaseTypeName), to its canonical Arrow type.
func columnFor(duckType string) (column, error) {
	if elem, ok := strings.CutSuffix(duckType, "[]"); ok {
		child, err := columnFor(elem)
		if err != nil {
			return column{}, err
		}
		return column{
			typ:    arrow.ListOfField(arrow.Field{Name: "l", Type: child.typ, Nullable: true}),
			append: appendList(child.append),
		}, nil
	}
	switch {
	case duckType == "BOOLEAN":
		return column{arrow.FixedWidthTypes.Boolean, appendBool}, nil
	case isIntegerType(duckType) && duckType != "HUGEINT" && duckType != "UHUGEINT", duckType == "SQLNULL":
		return column{arrow.PrimitiveTypes.Int64, appendInt64}, nil
	case isNumericType(duckType):
		return column{arrow.PrimitiveTypes.Float64, appendFloat64}, nil
	case duckType == "VARCHAR", duckType == "ENUM":
		return column{arrow.BinaryTypes.String, appendString}, nil
	case duckType == "DATE":
		return column{arrow.FixedWidthTypes.Date32, appendDate32}, nil
	case duckType == "TIMESTAMP", duckType == "TIMESTAMP_S", duckType == "TIMESTAMP_MS", duckType == "TIMESTAMP_NS":
		return column{timestampType, appendTimestamp}, nil
	case duckType == "TIMESTAMPTZ":
		return column{timestampTZType, appendTimestamp}, nil
	}
	return column{}, fmt.Errorf("%w %s", ErrUnsupportedType, duckType)
}

func appendList(child appendFunc) appendFunc {
	return func(b array.Builder, v any) error {
		lb := b.(*array.ListBuilder)
		if v == nil {
			lb.AppendNull()
			return nil
		}
		xs, ok := v.([]any)
		if !ok {
			return fmt.Errorf("list value of type %T", v)
		}
		lb.Append(true)
		vb := lb.ValueBuilder()
		for _, x := range xs {
			if err := child(vb, x); err != nil {
				return err
			}
		}
		return nil
	}
}

func appendBool(b array.Builder, v any) error {
	bb := b.(*array.BooleanBuilder)
	switch x := v.(type) {
	case nil:
		bb.AppendNull()
	case bool:
		bb.Append(x)
	default:
		return fmt.Errorf("boolean value of type %T", v)
	}
	return nil
}

func appendInt64(b array.Builder, v any) error {
	ib := b.(*array.Int64Builder)
	if v == nil {
		ib.AppendNull()
		return nil
	}
	n, err := toInt64(v)
	if err != nil {
		return err
	}
	ib.Append(n)
	return nil
}

// toInt64 converts any scanned integer to int64, refusing an unsigned
// value that does not fit.
func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("unsigned value does not fit BIGINT")
		}
		return int64(x), nil
	}
	return 0, fmt.Errorf("integer value of type %T", v)
}

func appendFloat64(b array.Builder, v any) error {
	fb := b.(*array.Float64Builder)
	var f float64
	switch x := v.(type) {
	case nil:
		fb.AppendNull()
		return nil
	case float64:
		f = x
	case float32:
		f = float64(x)
	case *big.Int:
		f, _ = new(big.Float).SetInt(x).Float64()
	case duckdb.Decimal:
		// Through the decimal text, which ParseFloat rounds correctly, as
		// the native build does.
		var err error
		if f, err = strconv.ParseFloat(x.String(), 64); err != nil {
			return fmt.Errorf("decimal value: %w", err)
		}
	default:
		n, err := toInt64(v)
		if err != nil {
			return fmt.Errorf("numeric value of type %T", v)
		}
		f = float64(n)
	}
	fb.Append(f)
	return nil
}

func appendString(b array.Builder, v any) error {
	sb := b.(*array.StringBuilder)
	switch x := v.(type) {
	case nil:
		sb.AppendNull()
	case string:
		sb.Append(x)
	default:
		return fmt.Errorf("string value of type %T", v)
	}
	return nil
}

func appendDate32(b array.Builder, v any) error {
	db := b.(*array.Date32Builder)
	switch x := v.(type) {
	case nil:
		db.AppendNull()
	case time.Time:
		db.Append(arrow.Date32(floorDiv(x.Unix(), 86400)))
	default:
		return fmt.Errorf("date value of type %T", v)
	}
	return nil
}

func appendTimestamp(b array.Builder, v any) error {
	tb := b.(*array.TimestampBuilder)
	switch x := v.(type) {
	case nil:
		tb.AppendNull()
	case time.Time:
		tb.Append(arrow.Timestamp(x.UnixMicro()))
	default:
		return fmt.Errorf("timestamp value of type %T", v)
	}
	return nil
}
