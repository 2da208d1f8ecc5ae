package engine

import (
	"testing"

	"github.com/statgate/statgate/policies"
)

func TestSubstitute(t *testing.T) {
	values := map[string]string{"atc": "'A10B%'", "year": "2020", "d": "DATE '2020-01-01'"}
	tests := []struct {
		desc, in, want string
		wantErr        bool
	}{
		{desc: "plain", in: "SELECT count(*) FROM lmr WHERE atc LIKE :atc", want: "SELECT count(*) FROM lmr WHERE atc LIKE 'A10B%'"},
		{desc: "cast left alone", in: "SELECT x::DATE, :year", want: "SELECT x::DATE, 2020"},
		{desc: "inside string literal left alone", in: "SELECT ':atc', :d", want: "SELECT ':atc', DATE '2020-01-01'"},
		{desc: "inside quoted identifier left alone", in: `SELECT ":year" FROM t WHERE y = :year`, want: `SELECT ":year" FROM t WHERE y = 2020`},
		{desc: "escaped quote in literal", in: "SELECT 'it''s :atc' , :year", want: "SELECT 'it''s :atc' , 2020"},
		{desc: "unknown placeholder", in: "SELECT :nope", wantErr: true},
		{desc: "unterminated quote", in: "SELECT 'abc", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := substitute(tc.in, values)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSQLLiteral(t *testing.T) {
	tests := []struct {
		t    policies.ParamType
		v    any
		want string
	}{
		{policies.ParamString, "O'Brien", "'O''Brien'"},
		{policies.ParamInteger, int64(-3), "-3"},
		{policies.ParamNumber, 0.25, "0.25"},
		{policies.ParamDate, "2021-02-03", "DATE '2021-02-03'"},
		{policies.ParamString, struct{}{}, "NULL"},
	}
	for _, tc := range tests {
		if got := sqlLiteral(tc.t, tc.v); got != tc.want {
			t.Errorf("sqlLiteral(%v, %v) = %q, want %q", tc.t, tc.v, got, tc.want)
		}
	}
}
