package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/result"
)

const sampleQuery = `{"project":"diabetes-2026","sql":"SELECT 1"}`

func TestResultNegotiation(t *testing.T) {
	tests := []struct {
		desc   string
		accept string
		want   string
	}{
		{desc: "missing Accept", accept: "", want: MediaJSON},
		{desc: "any", accept: "*/*", want: MediaJSON},
		{desc: "csv", accept: "text/csv", want: MediaCSV + "; charset=utf-8; header=present"},
		{desc: "arrow", accept: MediaArrow, want: MediaArrow},
		{desc: "csv preferred by q", accept: "application/json;q=0.5, text/csv", want: MediaCSV + "; charset=utf-8; header=present"},
		{desc: "browser-like", accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", want: MediaJSON},
		{desc: "json excluded by q=0", accept: "application/json;q=0, */*", want: MediaCSV + "; charset=utf-8; header=present"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			ts := newTestServer(t, nil, nil)
			w := ts.do(req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: sampleQuery, header: map[string]string{"Accept": tc.accept}})
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if got := w.Header().Get("Content-Type"); got != tc.want {
				t.Errorf("Content-Type %q, want %q", got, tc.want)
			}
			if got := w.Header().Get("Statgate-Query-Id"); got != "q-123" {
				t.Errorf("Statgate-Query-Id %q", got)
			}
			if got := w.Header().Get("Statgate-Epsilon"); got != "0.5" {
				t.Errorf("Statgate-Epsilon %q", got)
			}
			if !strings.Contains(w.Header().Get("Vary"), "Accept") {
				t.Error("no Vary: Accept")
			}
		})
	}
}

func TestJSONResult(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	w := ts.do(req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: sampleQuery})
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	var got result.Result
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := sampleResult()
	if !reflect.DeepEqual(got.Columns, want.Columns) || got.Meta.QueryID != want.Meta.QueryID || len(got.Rows) != len(want.Rows) {
		t.Fatalf("round trip differs:\n%+v", got)
	}
	c := got.Rows[1].Cells[3]
	if !c.Suppressed || c.Reason != "min_cell_count" || c.Value != nil || c.CI != nil {
		t.Errorf("suppressed cell %+v", c)
	}
	if ci := got.Rows[0].Cells[3].CI; ci == nil || *ci != [2]float64{1244.5, 1255.5} {
		t.Errorf("ci95 %v", ci)
	}
}

func TestCSVResult(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	w := ts.do(req{method: "POST", path: "/v1/query?comments=false", token: "tok-ingrid", body: sampleQuery, header: map[string]string{"Accept": "text/csv"}})
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if cd := w.Header().Get("Content-Disposition"); cd != `attachment; filename="statgate-q-123.csv"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	records, err := csv.NewReader(w.Body).ReadAll()
	if err != nil {
		t.Fatalf("parse CSV: %v", err)
	}
	want := [][]string{
		{"year", "sex", "first_contact",
			"persons", "persons_stddev", "persons_ci_low", "persons_ci_high",
			"mean_los", "mean_los_stddev", "mean_los_ci_low", "mean_los_ci_high", "margin", "suppressed"},
		{"2020", "F", "2020-01-01", "1250", "2.8", "1244.5", "1255.5", "3.25", "0.1", "3.05", "3.45", "false", ""},
		{"2020", "M", "2020-01-01", "", "", "", "", "4.5", "0.2", "4.1", "4.9", "false", "persons"},
		{"", "", "", "1260", "2.8", "1254.5", "1265.5", "", "", "", "", "true", "mean_los"},
	}
	if !reflect.DeepEqual(records, want) {
		t.Errorf("CSV\n got %q\nwant %q", records, want)
	}
}

func TestCSVWithoutMargins(t *testing.T) {
	res := &result.Result{
		Columns: []result.Column{{Name: "sex", Role: result.RoleKey, Type: result.TypeString},
			{Name: "n", Role: result.RoleMeasure, Type: result.TypeNumber}},
		Rows: []result.Row{{Cells: []result.Cell{{Value: "=cmd|' /C calc'!A0"}, {Value: 1e22, StdDev: 1e-7}}}},
	}
	b, err := render(res, MediaCSV, outputOptions{})
	if err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"sex", "n", "n_stddev", "n_ci_low", "n_ci_high", "suppressed"},
		{"=cmd|' /C calc'!A0", "1e+22", "1e-07", "", "", ""},
	}
	if !reflect.DeepEqual(records, want) {
		t.Errorf("got %q\nwant %q", records, want)
	}
}

func TestArrowResult(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	w := ts.do(req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: sampleQuery, header: map[string]string{"Accept": MediaArrow}})
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rd, err := ipc.NewReader(w.Body, ipc.WithAllocator(mem))
	if err != nil {
		t.Fatalf("ipc.NewReader: %v", err)
	}
	defer rd.Release()

	schema := rd.Schema()
	wantFields := []struct {
		name string
		typ  arrow.DataType
	}{
		{"year", arrow.PrimitiveTypes.Int64},
		{"sex", arrow.BinaryTypes.String},
		{"first_contact", arrow.FixedWidthTypes.Date32},
		{"persons", arrow.PrimitiveTypes.Float64},
		{"persons_stddev", arrow.PrimitiveTypes.Float64},
		{"persons_ci_low", arrow.PrimitiveTypes.Float64},
		{"persons_ci_high", arrow.PrimitiveTypes.Float64},
		{"persons_suppressed", arrow.FixedWidthTypes.Boolean},
		{"mean_los", arrow.PrimitiveTypes.Float64},
		{"mean_los_stddev", arrow.PrimitiveTypes.Float64},
		{"mean_los_ci_low", arrow.PrimitiveTypes.Float64},
		{"mean_los_ci_high", arrow.PrimitiveTypes.Float64},
		{"mean_los_suppressed", arrow.FixedWidthTypes.Boolean},
		{"margin", arrow.FixedWidthTypes.Boolean},
	}
	if schema.NumFields() != len(wantFields) {
		t.Fatalf("schema %s", schema)
	}
	for i, f := range wantFields {
		if got := schema.Field(i); got.Name != f.name || !arrow.TypeEqual(got.Type, f.typ) {
			t.Errorf("field %d = %s %s, want %s %s", i, got.Name, got.Type, f.name, f.typ)
		}
	}
	if i := schema.Field(3).Metadata.FindKey(AggregateKey); i < 0 || schema.Field(3).Metadata.Values()[i] != "count_persons" {
		t.Errorf("persons field metadata %v", schema.Field(3).Metadata)
	}
	mi := schema.Metadata().FindKey(MetaKey)
	if mi < 0 {
		t.Fatal("no meta in schema metadata")
	}
	var meta result.Meta
	if err := json.Unmarshal([]byte(schema.Metadata().Values()[mi]), &meta); err != nil || meta.QueryID != "q-123" || meta.Epsilon != 0.5 {
		t.Errorf("meta %+v, err %v", meta, err)
	}

	if !rd.Next() {
		t.Fatalf("no record batch: %v", rd.Err())
	}
	rec := rd.RecordBatch()
	if rec.NumRows() != 3 {
		t.Fatalf("%d rows", rec.NumRows())
	}
	year := rec.Column(0).(*array.Int64)
	sex := rec.Column(1).(*array.String)
	date := rec.Column(2).(*array.Date32)
	persons := rec.Column(3).(*array.Float64)
	personsLo := rec.Column(5).(*array.Float64)
	personsSup := rec.Column(7).(*array.Boolean)
	losSup := rec.Column(12).(*array.Boolean)
	margin := rec.Column(13).(*array.Boolean)

	if year.Value(0) != 2020 || sex.Value(1) != "M" || !date.Value(0).ToTime().Equal(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("keys: %v %v %v", year, sex, date)
	}
	if persons.Value(0) != 1250 || personsLo.Value(0) != 1244.5 {
		t.Errorf("persons %v ci_low %v", persons, personsLo)
	}
	if !persons.IsNull(1) || !personsLo.IsNull(1) || !personsSup.Value(1) || personsSup.Value(0) {
		t.Errorf("suppressed cell not null/flagged: %v %v", persons, personsSup)
	}
	if !year.IsNull(2) || !sex.IsNull(2) || !margin.Value(2) || margin.Value(0) || !losSup.Value(2) {
		t.Errorf("margin row: year %v sex %v margin %v", year, sex, margin)
	}
	if rd.Next() {
		t.Error("more than one record batch")
	}
}

func TestRenderFailuresAre500(t *testing.T) {
	tests := []struct {
		desc   string
		res    *result.Result
		accept string
	}{
		{desc: "ragged row", accept: MediaJSON, res: &result.Result{
			Columns: []result.Column{{Name: "n", Role: result.RoleMeasure}},
			Rows:    []result.Row{{Cells: []result.Cell{{Value: 1.0}, {Value: 2.0}}}}}},
		{desc: "unsupported CSV value", accept: MediaCSV, res: &result.Result{
			Columns: []result.Column{{Name: "k", Role: result.RoleKey, Type: result.TypeString}},
			Rows:    []result.Row{{Cells: []result.Cell{{Value: []int{1}}}}}}},
		{desc: "non-integral integer key", accept: MediaArrow, res: &result.Result{
			Columns: []result.Column{{Name: "k", Role: result.RoleKey, Type: result.TypeInteger}},
			Rows:    []result.Row{{Cells: []result.Cell{{Value: 1.5}}}}}},
		{desc: "malformed date key", accept: MediaArrow, res: &result.Result{
			Columns: []result.Column{{Name: "k", Role: result.RoleKey, Type: result.TypeDate}},
			Rows:    []result.Row{{Cells: []result.Cell{{Value: "01/02/2020"}}}}}},
		{desc: "string measure", accept: MediaArrow, res: &result.Result{
			Columns: []result.Column{{Name: "n", Role: result.RoleMeasure}},
			Rows:    []result.Row{{Cells: []result.Cell{{Value: "12"}}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			eng := &fakeEngine{queryFn: func(context.Context, engine.Principal, engine.Request) (*result.Result, error) { return tc.res, nil }}
			ts := newTestServer(t, eng, nil)
			w := ts.do(req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: sampleQuery, header: map[string]string{"Accept": tc.accept}})
			if w.Code != 500 {
				t.Fatalf("status %d", w.Code)
			}
			if p := decodeProblem(t, w); p.Code != "internal" {
				t.Errorf("code %q", p.Code)
			}
		})
	}
}

func TestFormatFloat(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {1250, "1250"}, {1e6, "1000000"}, {-3.25, "-3.25"}, {1e21, "1e+21"}, {1e-7, "1e-07"}, {0.000001, "0.000001"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := formatFloat(tc.in); got != tc.want {
				t.Errorf("formatFloat(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestArrowKeyConversions(t *testing.T) {
	day := time.Date(2021, 3, 4, 0, 0, 0, 0, time.UTC)
	res := &result.Result{
		Columns: []result.Column{
			{Name: "i", Role: result.RoleKey, Type: result.TypeInteger},
			{Name: "x", Role: result.RoleKey, Type: result.TypeNumber},
			{Name: "b", Role: result.RoleKey, Type: result.TypeBool},
			{Name: "d", Role: result.RoleKey, Type: result.TypeDate},
			{Name: "s", Role: result.RoleKey, Type: result.TypeString},
			{Name: "n", Role: result.RoleMeasure, Type: result.TypeNumber},
		},
		Rows: []result.Row{
			{Cells: []result.Cell{{Value: 2020.0}, {Value: int64(3)}, {Value: true}, {Value: day}, {Value: int64(301)}, {Value: int64(40), StdDev: 1}}},
			{Cells: []result.Cell{{Value: 7}, {Value: 0.5}, {Value: false}, {Value: "2021-03-04"}, {Value: "0301"}, {Value: 12.5}}},
		},
	}
	b, err := render(res, MediaArrow, outputOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := ipc.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	if !rd.Next() {
		t.Fatalf("no batch: %v", rd.Err())
	}
	rec := rd.RecordBatch()
	tests := []struct {
		desc      string
		got, want any
	}{
		{"integer from float64", rec.Column(0).(*array.Int64).Value(0), int64(2020)},
		{"integer from int", rec.Column(0).(*array.Int64).Value(1), int64(7)},
		{"number from int64", rec.Column(1).(*array.Float64).Value(0), 3.0},
		{"boolean", rec.Column(2).(*array.Boolean).Value(0), true},
		{"date from time", rec.Column(3).(*array.Date32).Value(0).ToTime(), day},
		{"date from string", rec.Column(3).(*array.Date32).Value(1).ToTime(), day},
		{"string from int64", rec.Column(4).(*array.String).Value(0), "301"},
		{"string kept", rec.Column(4).(*array.String).Value(1), "0301"},
		{"measure from int64", rec.Column(5).(*array.Float64).Value(0), 40.0},
		{"no CI is null", rec.Column(7).(*array.Float64).IsNull(0), true},
		{"no margin column", rec.NumCols(), int64(6 + 4)},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if !reflect.DeepEqual(tc.got, tc.want) {
				t.Errorf("got %v (%T), want %v (%T)", tc.got, tc.got, tc.want, tc.want)
			}
		})
	}
}
