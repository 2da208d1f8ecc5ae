package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/statgate/statgate/engine/result"
)

// Flat renderings (CSV and Arrow) of a Result have, in order:
//
//   - per key column: the key, named as in the result;
//   - per measure column m: m (empty/null when suppressed), m_stddev,
//     m_ci_low and m_ci_high (the 95% confidence interval; empty/null when
//     suppressed), and in Arrow a boolean m_suppressed;
//   - "margin" (true on total rows, whose rolled-up keys are empty/null),
//     only when the result has total rows;
//   - in CSV, a last column "suppressed" listing the names of the row's
//     suppressed measures separated by ";" (empty when none).
//
// Arrow keys are typed (string → utf8, integer → int64, number → float64,
// date → date32, boolean → bool); measures and their statistics are
// nullable float64. The Arrow schema's metadata holds the result's Meta as
// JSON under MetaKey, and each measure field's metadata its aggregate
// under AggregateKey. In CSV and Arrow the Meta is also summarised in the
// Statgate-Query-Id, Statgate-Epsilon and Statgate-Delta response headers.
const (
	MetaKey      = "statgate.meta"
	AggregateKey = "statgate.aggregate"
)

// Measure column suffixes of the flat renderings.
const (
	suffixStdDev     = "_stddev"
	suffixCILow      = "_ci_low"
	suffixCIHigh     = "_ci_high"
	suffixSuppressed = "_suppressed"
)

// render encodes the engine's result in the media type mt, through its
// wire form (Result). JSON and CSV carry numbers rounded for people
// (forPeople); o indents JSON and adds CSV's "#" comment lines.
func render(r *result.Result, mt string, o outputOptions) ([]byte, error) {
	if r == nil {
		return nil, errors.New("api: render: no result")
	}
	res := fromResult(r)
	if err := checkShape(res); err != nil {
		return nil, err
	}
	if res.Rows == nil {
		res.Rows = []Row{}
	}
	switch mt {
	case MediaCSV:
		forPeople(res)
		b, err := renderCSV(res)
		if err != nil || !o.comments {
			return b, err
		}
		return append(csvComments(res), b...), nil
	case MediaArrow:
		return renderArrow(res)
	default:
		forPeople(res)
		b, err := marshalJSON(res, o.pretty)
		if err != nil {
			return nil, fmt.Errorf("api: render JSON: %w", err)
		}
		return b, nil
	}
}

// checkShape makes sure every row has one cell per column.
func checkShape(res *Result) error {
	for i, row := range res.Rows {
		if len(row.Cells) != len(res.Columns) {
			return fmt.Errorf("api: render: row %d has %d cells for %d columns", i, len(row.Cells), len(res.Columns))
		}
	}
	return nil
}

// hasMargin reports whether any row is a total row.
func hasMargin(res *Result) bool {
	for _, row := range res.Rows {
		if row.Margin {
			return true
		}
	}
	return false
}

// renderCSV writes the CSV rendering (RFC 4180, header row first).
func renderCSV(res *Result) ([]byte, error) {
	margin := hasMargin(res)
	var header []string
	for _, c := range res.Columns {
		header = append(header, c.Name)
		if c.Role == RoleMeasure {
			header = append(header, c.Name+suffixStdDev, c.Name+suffixCILow, c.Name+suffixCIHigh)
		}
	}
	if margin {
		header = append(header, "margin")
	}
	header = append(header, "suppressed")

	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(header); err != nil {
		return nil, fmt.Errorf("api: render CSV: %w", err)
	}
	rec := make([]string, 0, len(header))
	for i, row := range res.Rows {
		rec = rec[:0]
		var suppressed []string
		for j, c := range res.Columns {
			cell := row.Cells[j]
			if c.Role != RoleMeasure {
				s, err := formatValue(cell.Value)
				if err != nil {
					return nil, fmt.Errorf("api: render CSV: row %d, column %q: %w", i, c.Name, err)
				}
				rec = append(rec, s)
				continue
			}
			if cell.Suppressed {
				suppressed = append(suppressed, c.Name)
				rec = append(rec, "", "", "", "")
				continue
			}
			v, err := formatValue(cell.Value)
			if err != nil {
				return nil, fmt.Errorf("api: render CSV: row %d, column %q: %w", i, c.Name, err)
			}
			lo, hi := "", ""
			if cell.CI != nil {
				lo, hi = formatFloat(cell.CI[0]), formatFloat(cell.CI[1])
			}
			rec = append(rec, v, formatFloat(cell.StdDev), lo, hi)
		}
		if margin {
			rec = append(rec, strconv.FormatBool(row.Margin))
		}
		rec = append(rec, strings.Join(suppressed, ";"))
		if err := w.Write(rec); err != nil {
			return nil, fmt.Errorf("api: render CSV: %w", err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("api: render CSV: %w", err)
	}
	return buf.Bytes(), nil
}

// formatValue renders a cell value for CSV; nil is empty.
func formatValue(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		return formatFloat(x), nil
	case float32:
		return formatFloat(float64(x)), nil
	case int:
		return strconv.Itoa(x), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case json.Number:
		return x.String(), nil
	case time.Time:
		return x.Format(time.DateOnly), nil
	default:
		return "", fmt.Errorf("unsupported value type %T", v)
	}
}

// formatFloat renders f as encoding/json does: plain notation unless very
// large or very small.
func formatFloat(f float64) string {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// arrowKeyType maps a key column's value type to its Arrow type.
func arrowKeyType(t string) arrow.DataType {
	switch t {
	case TypeInteger:
		return arrow.PrimitiveTypes.Int64
	case TypeNumber:
		return arrow.PrimitiveTypes.Float64
	case TypeDate:
		return arrow.FixedWidthTypes.Date32
	case TypeBool:
		return arrow.FixedWidthTypes.Boolean
	default:
		return arrow.BinaryTypes.String
	}
}

// arrowSchema returns the schema of the Arrow rendering.
func arrowSchema(res *Result) (*arrow.Schema, error) {
	var fields []arrow.Field
	f64 := arrow.PrimitiveTypes.Float64
	for _, c := range res.Columns {
		if c.Role != RoleMeasure {
			fields = append(fields, arrow.Field{Name: c.Name, Type: arrowKeyType(c.Type), Nullable: true})
			continue
		}
		md := arrow.NewMetadata([]string{AggregateKey}, []string{c.Aggregate})
		fields = append(fields,
			arrow.Field{Name: c.Name, Type: f64, Nullable: true, Metadata: md},
			arrow.Field{Name: c.Name + suffixStdDev, Type: f64, Nullable: true},
			arrow.Field{Name: c.Name + suffixCILow, Type: f64, Nullable: true},
			arrow.Field{Name: c.Name + suffixCIHigh, Type: f64, Nullable: true},
			arrow.Field{Name: c.Name + suffixSuppressed, Type: arrow.FixedWidthTypes.Boolean},
		)
	}
	if hasMargin(res) {
		fields = append(fields, arrow.Field{Name: "margin", Type: arrow.FixedWidthTypes.Boolean})
	}
	meta, err := json.Marshal(res.Meta)
	if err != nil {
		return nil, fmt.Errorf("api: render Arrow: meta: %w", err)
	}
	md := arrow.NewMetadata([]string{MetaKey}, []string{string(meta)})
	return arrow.NewSchema(fields, &md), nil
}

// renderArrow writes the Arrow IPC stream rendering: the schema and one
// record batch holding every row.
func renderArrow(res *Result) ([]byte, error) {
	schema, err := arrowSchema(res)
	if err != nil {
		return nil, err
	}
	mem := memory.NewGoAllocator()
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	margin := hasMargin(res)
	for i, row := range res.Rows {
		f := 0
		for j, c := range res.Columns {
			cell := row.Cells[j]
			if c.Role != RoleMeasure {
				if err := appendKey(b.Field(f), cell.Value); err != nil {
					return nil, fmt.Errorf("api: render Arrow: row %d, column %q: %w", i, c.Name, err)
				}
				f++
				continue
			}
			if err := appendMeasure(b.Fields()[f:f+5], cell); err != nil {
				return nil, fmt.Errorf("api: render Arrow: row %d, column %q: %w", i, c.Name, err)
			}
			f += 5
		}
		if margin {
			b.Field(f).(*array.BooleanBuilder).Append(row.Margin)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()

	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	if err := w.Write(rec); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("api: render Arrow: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("api: render Arrow: %w", err)
	}
	return buf.Bytes(), nil
}

// appendMeasure appends a measure cell to its five builders: value,
// stddev, CI low, CI high, suppressed.
func appendMeasure(bs []array.Builder, cell Cell) error {
	val := bs[0].(*array.Float64Builder)
	sd := bs[1].(*array.Float64Builder)
	lo := bs[2].(*array.Float64Builder)
	hi := bs[3].(*array.Float64Builder)
	bs[4].(*array.BooleanBuilder).Append(cell.Suppressed)
	if cell.Suppressed || cell.Value == nil {
		val.AppendNull()
		sd.AppendNull()
		lo.AppendNull()
		hi.AppendNull()
		return nil
	}
	v, ok := toFloat(cell.Value)
	if !ok {
		return fmt.Errorf("measure value of type %T", cell.Value)
	}
	val.Append(v)
	sd.Append(cell.StdDev)
	if cell.CI == nil {
		lo.AppendNull()
		hi.AppendNull()
	} else {
		lo.Append(cell.CI[0])
		hi.Append(cell.CI[1])
	}
	return nil
}

// appendKey appends a key value to its builder, converting it to the
// builder's type.
func appendKey(b array.Builder, v any) error {
	if v == nil {
		b.AppendNull()
		return nil
	}
	switch bb := b.(type) {
	case *array.StringBuilder:
		s, err := formatValue(v)
		if err != nil {
			return err
		}
		bb.Append(s)
	case *array.Int64Builder:
		n, ok := toInt(v)
		if !ok {
			return fmt.Errorf("integer key of type %T", v)
		}
		bb.Append(n)
	case *array.Float64Builder:
		f, ok := toFloat(v)
		if !ok {
			return fmt.Errorf("number key of type %T", v)
		}
		bb.Append(f)
	case *array.BooleanBuilder:
		x, ok := v.(bool)
		if !ok {
			return fmt.Errorf("boolean key of type %T", v)
		}
		bb.Append(x)
	case *array.Date32Builder:
		t, ok := v.(time.Time)
		if s, isString := v.(string); isString {
			var err error
			if t, err = time.Parse(time.DateOnly, s); err != nil {
				return fmt.Errorf("date key not in YYYY-MM-DD form")
			}
			ok = true
		}
		if !ok {
			return fmt.Errorf("date key of type %T", v)
		}
		bb.Append(arrow.Date32FromTime(t))
	default:
		return fmt.Errorf("unsupported builder %T", b)
	}
	return nil
}

// toFloat converts a numeric value to float64.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	default:
		return 0, false
	}
}

// toInt converts an integral value to int64.
func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return 0, false
		}
		return int64(x), true
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	default:
		return 0, false
	}
}
