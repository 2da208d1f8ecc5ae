package policies

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func ptr(f float64) *float64 { return &f }

func TestParamValidate(t *testing.T) {
	year := &Param{Name: "year", Type: ParamInteger, Min: ptr(2010), Max: ptr(2024)}
	from := &Param{Name: "from_year", Type: ParamInteger, Min: ptr(2010), Default: int64(2010)}
	atc := &Param{Name: "atc_prefix", Type: ParamString, Pattern: `^[A-Z][0-9]{2}[A-Z]{0,2}[0-9]{0,2}%$`}
	sex := &Param{Name: "sex", Type: ParamString, Enum: []string{"M", "F"}}
	share := &Param{Name: "share", Type: ParamNumber, Min: ptr(0), Max: ptr(1)}
	level := &Param{Name: "level", Type: ParamNumber, Enum: []string{"0.5", "1"}}
	day := &Param{Name: "day", Type: ParamDate}
	huge := strings.Repeat("A", MaxParamLength+1)

	cases := []struct {
		desc    string
		p       *Param
		in      any
		want    any
		problem string // non-empty: an error is wanted
	}{
		{"integer from JSON number", year, float64(2015), int64(2015), ""},
		{"integer from Go int", year, 2015, int64(2015), ""},
		{"integer from json.Number", year, json.Number("2016"), int64(2016), ""},
		{"integer from decimal string", year, " 2017 ", int64(2017), ""},
		{"integer at the bounds", year, float64(2024), int64(2024), ""},
		{"integer with a fraction", year, 2015.5, nil, "must be a whole number"},
		{"integer below min", year, float64(2009), nil, "must be between 2010 and 2024"},
		{"integer above max", year, int64(2025), nil, "must be between 2010 and 2024"},
		{"integer from text", year, "twenty", nil, "must be an integer, not text"},
		{"integer from bool", year, true, nil, "must be an integer, not true/false"},
		{"integer from list", year, []any{float64(1)}, nil, "must be an integer, not a list"},
		{"integer only min", from, float64(2000), nil, "must be at least 2010"},
		{"missing with default", from, nil, int64(2010), ""},
		{"missing without default", year, nil, nil, "is required"},
		{"pattern matches", atc, "A10B%", "A10B%", ""},
		{"pattern must match in full", atc, "A10B% OR 1=1", nil, "does not match the pattern"},
		{"pattern on huge input", atc, huge, nil, "is longer than 1000 bytes"},
		{"string from number", atc, float64(3), nil, "must be text, not a number"},
		{"string with a NUL character", sex, "F\x00", nil, "must not contain a NUL character"},
		{"enum member", sex, "F", "F", ""},
		{"enum non-member", sex, "X", nil, "must be one of M, F"},
		{"number", share, 0.25, 0.25, ""},
		{"number from int", share, 1, float64(1), ""},
		{"number above max", share, 1.5, nil, "must be between 0 and 1"},
		{"number from text", share, "much", nil, "must be a number, not text"},
		{"number not finite", share, "Inf", nil, "must be a finite number"},
		{"number enum compared by value", level, "0.50", 0.5, ""},
		{"number enum non-member", level, 2, nil, "must be one of 0.5, 1"},
		{"date", day, "2020-02-29", "2020-02-29", ""},
		{"date invalid day", day, "2021-02-29", nil, "must be a valid date"},
		{"date wrong layout", day, "29.02.2020", nil, "must be a valid date written YYYY-MM-DD"},
		{"date from number", day, float64(2020), nil, "not a number"},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := tc.p.Validate(tc.in)
			if tc.problem == "" {
				if err != nil {
					t.Fatalf("Validate(%#v): %v", tc.in, err)
				}
				if got != tc.want {
					t.Errorf("Validate(%#v) = %#v, want %#v", tc.in, got, tc.want)
				}
				return
			}
			var pe *ParamError
			if !errors.As(err, &pe) {
				t.Fatalf("Validate(%#v) = %#v, %v; want a *ParamError", tc.in, got, err)
			}
			if pe.Param != tc.p.Name || !strings.Contains(err.Error(), tc.p.Name) {
				t.Errorf("error %q does not name parameter %q", err, tc.p.Name)
			}
			if !strings.Contains(pe.Problem, tc.problem) {
				t.Errorf("problem %q, want it to contain %q", pe.Problem, tc.problem)
			}
			if s, ok := tc.in.(string); ok && len(s) > 3 && strings.Contains(err.Error(), s) {
				t.Errorf("error %q echoes the value", err)
			}
		})
	}
}
