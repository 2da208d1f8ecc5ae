package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/result"
)

func TestRoundCell(t *testing.T) {
	ci := func(lo, hi float64) *[2]float64 { return &[2]float64{lo, hi} }
	tests := []struct {
		desc string
		in   Cell
		want Cell
	}{
		{"mean: sd to 3 digits, value and interval at the sd's second digit, outward",
			Cell{Value: 52.34871234, StdDev: 1.234567, CI: ci(49.9290001, 54.7684)},
			Cell{Value: 52.3, StdDev: 1.23, CI: ci(49.9, 54.8)}},
		{"count: the whole value is kept, the interval rounded outward to whole units",
			Cell{Value: 1250.0, StdDev: 20.4081632, CI: ci(1209.99, 1290.01)},
			Cell{Value: 1250.0, StdDev: 20.4, CI: ci(1209, 1291)}},
		{"small noise on a large sum keeps the digits the noise allows",
			Cell{Value: 123456.789, StdDev: 0.0345678, CI: ci(123456.72, 123456.86)},
			Cell{Value: 123456.789, StdDev: 0.0346, CI: ci(123456.72, 123456.86)}},
		{"large noise: interval ends at hundreds",
			Cell{Value: 5321.5, StdDev: 2345.6, CI: ci(-1.5, 9918.3)},
			Cell{Value: 5300.0, StdDev: 2350, CI: ci(-100, 10000)}},
		{"suppressed cell untouched",
			Cell{Suppressed: true, Reason: "min_cell_count"},
			Cell{Suppressed: true, Reason: "min_cell_count"}},
		{"key cell untouched", Cell{Value: 3.14159}, Cell{Value: 3.14159}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := tc.in
			roundCell(&got)
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tc.want)
			if !bytes.Equal(g, w) {
				t.Errorf("got  %s\nwant %s", g, w)
			}
			if tc.in.CI != nil && (got.CI[0] > tc.in.CI[0] || got.CI[1] < tc.in.CI[1]) {
				t.Errorf("rounded interval %v does not contain %v", *got.CI, *tc.in.CI)
			}
		})
	}
}

// TestRoundEstimate: the rates' and survival's estimates are rounded as
// measure cells are, and a suppressed one (no value) is left alone.
func TestRoundEstimate(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	tests := []struct {
		desc          string
		value         *float64
		sd            float64
		ci            *[2]float64
		wantV, wantSD float64
		wantCI        [2]float64
		wantNilValue  bool
		wantUntouched bool
	}{
		{desc: "a rate", value: f(204.006123), sd: 22.345, ci: &[2]float64{161.543, 247.044},
			wantV: 204, wantSD: 22.3, wantCI: [2]float64{161, 248}},
		{desc: "person-years", value: f(84253.123), sd: 251.7, ci: &[2]float64{83757.2, 84749.0},
			wantV: 84250, wantSD: 252, wantCI: [2]float64{83750, 84750}},
		{desc: "a survival proportion", value: f(0.912345), sd: 0.04567, ci: &[2]float64{0.82312, 0.98745},
			wantV: 0.912, wantSD: 0.0457, wantCI: [2]float64{0.823, 0.988}},
		{desc: "a whole count keeps its value", value: f(170), sd: 15.43, ci: &[2]float64{141.329, 202.434},
			wantV: 170, wantSD: 15.4, wantCI: [2]float64{141, 203}},
		{desc: "suppressed: no value, no interval", sd: 3.21, wantNilValue: true, wantSD: 3.21},
		{desc: "no stddev: untouched", value: f(1.23456), sd: 0, ci: &[2]float64{1.1111, 1.3333},
			wantV: 1.23456, wantCI: [2]float64{1.1111, 1.3333}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			sd := tc.sd
			var before [2]float64
			if tc.ci != nil {
				before = *tc.ci
			}
			roundEstimate(tc.value, &sd, tc.ci)
			if sd != tc.wantSD {
				t.Errorf("sd %v, want %v", sd, tc.wantSD)
			}
			if tc.wantNilValue {
				if tc.value != nil || tc.ci != nil {
					t.Errorf("a suppressed estimate gained a value or an interval")
				}
				return
			}
			if *tc.value != tc.wantV || *tc.ci != tc.wantCI {
				t.Errorf("value %v ci %v, want %v %v", *tc.value, *tc.ci, tc.wantV, tc.wantCI)
			}
			if tc.ci[0] > before[0] || tc.ci[1] < before[1] {
				t.Errorf("rounded interval %v does not contain %v", *tc.ci, before)
			}
		})
	}
}

// TestJSONDigits checks a whole JSON result: no number of a measure cell
// carries more than the meaningful digits.
func TestJSONDigits(t *testing.T) {
	res := &result.Result{
		Columns: []result.Column{{Name: "sex", Role: result.RoleKey, Type: result.TypeString},
			{Name: "mean_ddd", Role: result.RoleMeasure, Type: result.TypeNumber, Aggregate: "avg"}},
		Rows: []result.Row{{Cells: []result.Cell{{Value: "F"},
			{Value: 31.415926535897, StdDev: 0.73105857863, CI: &[2]float64{29.98326, 32.84858}}}}},
		Meta: result.Meta{Epsilon: 0.1 + 0.2, Split: []result.Spend{{Purpose: "mean_ddd", Epsilon: 0.3 * 0.9}}, SuppressBelow: 23.456789},
	}
	b, err := render(res, MediaJSON, outputOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"value":31.42`, `"stddev":0.731`, `"ci95":[29.98,32.85]`, `"epsilon":0.3,`, `"epsilon":0.27,`, `"suppress_below":23.46`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
	if !bytes.Contains(b, []byte(`"rows":[`)) {
		t.Errorf("rows not an array: %s", b)
	}
	empty, err := render(&result.Result{Columns: res.Columns, Meta: res.Meta}, MediaJSON, outputOptions{})
	if err != nil || !bytes.Contains(empty, []byte(`"rows":[]`)) {
		t.Errorf("a result without rows renders %s (%v), want rows []", empty, err)
	}
}

func TestPrettyAndComments(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	w := ts.do(req{method: "POST", path: "/v1/query?pretty=true", token: "tok-ingrid", body: sampleQuery})
	if w.Code != 200 || !strings.HasPrefix(w.Body.String(), "{\n  \"columns\": [") {
		t.Errorf("pretty JSON: status %d, body starts %.40q", w.Code, w.Body.String())
	}
	w = ts.do(req{method: "GET", path: "/v1/templates?pretty=1", token: "tok-ingrid"})
	if w.Code != 200 || !strings.Contains(w.Body.String(), "\n  \"templates\"") {
		t.Errorf("pretty template list: status %d, body %.60q", w.Code, w.Body.String())
	}
	before := ts.eng.calls
	w = ts.do(req{method: "POST", path: "/v1/query?pretty=yes", token: "tok-ingrid", body: sampleQuery})
	if w.Code != 400 || !strings.Contains(w.Body.String(), `parameter \"pretty\"`) || ts.eng.calls != before {
		t.Errorf("bad pretty: status %d, body %s, engine calls %d → %d (want 400 before the engine)", w.Code, w.Body, before, ts.eng.calls)
	}

	w = ts.do(req{method: "POST", path: "/v1/query", token: "tok-ingrid", body: sampleQuery, header: map[string]string{"Accept": "text/csv"}})
	body := w.Body.String()
	lines := strings.Split(body, "\n")
	if w.Code != 200 || lines[0] != "# statgate result: q-123" {
		t.Fatalf("status %d, CSV starts %q", w.Code, lines[0])
	}
	for _, want := range []string{"\n# project: diabetes-2026; datasets: npr\n", "\n# epsilon: 0.5 (delta 1e-07, laplace noise)",
		"\n# suppression: cells of fewer than 5 persons are empty"} {
		if !strings.Contains(body, want) {
			t.Errorf("CSV comments lack %q:\n%s", want, body)
		}
	}
	r := csv.NewReader(strings.NewReader(body))
	r.Comment = '#'
	recs, err := r.ReadAll()
	if err != nil || len(recs) != 4 || recs[0][0] != "year" {
		t.Errorf("CSV with comments read as %q, %v", recs, err)
	}
	strict := ts.do(req{method: "POST", path: "/v1/query?comments=false", token: "tok-ingrid", body: sampleQuery, header: map[string]string{"Accept": "text/csv"}})
	if !strings.HasPrefix(strict.Body.String(), "year,sex,") || !strings.HasSuffix(body, strict.Body.String()) {
		t.Errorf("comments=false body %q is not the commented body without its # lines", strict.Body.String())
	}
}
