package api

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/catalog"
	"github.com/statgate/statgate/engine/result"
)

// TestConvertFillsEveryWireField converts engine values with every field
// set and checks that every field of the wire value is set too, so a
// converter cannot silently drop a field. Fields the engine adds and the
// API does not (yet) carry do not fail it.
func TestConvertFillsEveryWireField(t *testing.T) {
	tests := []struct {
		desc    string
		convert func() any
	}{
		{desc: "result", convert: func() any { return fromResult(filled[result.Result]()) }},
		{desc: "dataset", convert: func() any { return fromDataset(*filled[catalog.Dataset]()) }},
		{desc: "template", convert: func() any { return fromTemplate(*filled[engine.TemplateInfo]()) }},
		{desc: "budget", convert: func() any { return fromBudget(filled[engine.BudgetReport]()) }},
		{desc: "audit entry", convert: func() any { return fromAuditEntry(*filled[audit.Entry]()) }},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			for _, path := range zeroFields(reflect.ValueOf(tc.convert()), "") {
				t.Errorf("%s is not set from the engine's value", path)
			}
		})
	}
}

// TestRequestFieldsReachEngine sets each field of a request body part on
// its own and checks that the engine's value changes.
func TestRequestFieldsReachEngine(t *testing.T) {
	tests := []struct {
		desc    string
		typ     reflect.Type
		convert func(v any) any
	}{
		{desc: "bounds", typ: reflect.TypeFor[Bounds](), convert: func(v any) any { b := v.(Bounds); return *b.toEngine() }},
		{desc: "criterion", typ: reflect.TypeFor[Criterion](), convert: func(v any) any { return v.(Criterion).toEngine() }},
	}
	for _, tc := range tests {
		for f := range tc.typ.Fields() {
			t.Run(tc.desc+"."+f.Name, func(t *testing.T) {
				v := reflect.New(tc.typ).Elem()
				fill(v.FieldByIndex(f.Index))
				if reflect.ValueOf(tc.convert(v.Interface())).IsZero() {
					t.Errorf("%s does not reach the engine", f.Name)
				}
			})
		}
	}
}

// TestConvertKeepsNilAndEmpty: JSON tells null from [], so the converters
// must keep a nil slice nil and an empty one empty.
func TestConvertKeepsNilAndEmpty(t *testing.T) {
	res := &result.Result{Columns: []result.Column{}, Rows: nil, Meta: result.Meta{Datasets: []string{}}}
	got, err := json.Marshal(fromResult(res))
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("wire JSON\n%s\nengine JSON\n%s", got, want)
	}
}

// filled returns a T with every exported field set.
func filled[T any]() *T {
	v := new(T)
	fill(reflect.ValueOf(v).Elem())
	return v
}

// fill sets v, and every exported field reachable from it, to a non-zero value.
func fill(v reflect.Value) {
	switch {
	case v.Type() == reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
		return
	case v.Type() == reflect.TypeFor[json.RawMessage]():
		v.SetBytes([]byte(`{"x":1}`))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0))
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i))
		}
	case reflect.Map:
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Interface:
		v.Set(reflect.ValueOf("x"))
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(1)
	case reflect.Float64:
		v.SetFloat(1.5)
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

// zeroFields returns the paths of the zero values among v and the exported
// fields, elements and map values reachable from it.
func zeroFields(v reflect.Value, path string) []string {
	if v.IsZero() {
		return []string{path}
	}
	var out []string
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		out = zeroFields(v.Elem(), path)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return nil
		}
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				out = append(out, zeroFields(v.Field(i), path+"."+f.Name)...)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			out = append(out, zeroFields(v.Index(i), path+"[]")...)
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			out = append(out, zeroFields(it.Value(), path+"[k]")...)
		}
	}
	return out
}
