package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		line    string
		want    layout
		wantErr bool
	}{
		{
			desc: "harness export with icd3",
			line: "pid,icd3,length_of_stay_days",
			want: layout{Header: "pid,icd3,length_of_stay_days", Columns: 3, PID: 0, Key: 1, LOS: 2},
		},
		{
			desc: "full npr export keys on icd10",
			line: "pid,contact_date,icd10,contact_type,hospital,length_of_stay_days\r",
			want: layout{Header: "pid,contact_date,icd10,contact_type,hospital,length_of_stay_days", Columns: 6, PID: 0, Key: 2, LOS: 5, KeyIsICD10: true},
		},
		{
			desc: "icd3 wins over icd10, names are case-insensitive",
			line: "ICD10,LENGTH_OF_STAY_DAYS,Icd3,PID",
			want: layout{Header: "ICD10,LENGTH_OF_STAY_DAYS,Icd3,PID", Columns: 4, PID: 3, Key: 2, LOS: 1},
		},
		{desc: "no key column", line: "pid,length_of_stay_days", wantErr: true},
		{desc: "no pid", line: "icd3,length_of_stay_days", wantErr: true},
		{desc: "no length of stay", line: "pid,icd3", wantErr: true},
		{desc: "broken quoting", line: `pid,"icd3,length_of_stay_days`, wantErr: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := parseHeader(tc.line)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseHeader(%q) error = %v, wantErr %v", tc.line, err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Errorf("parseHeader(%q) = %+v, want %+v", tc.line, got, tc.want)
			}
		})
	}
}

func TestParseLine(t *testing.T) {
	icd3 := layout{Columns: 3, PID: 0, Key: 1, LOS: 2}
	icd10 := layout{Columns: 3, PID: 2, Key: 0, LOS: 1, KeyIsICD10: true}
	for _, tc := range []struct {
		desc    string
		l       layout
		line    string
		want    parsed
		wantErr bool
	}{
		{desc: "plain row", l: icd3, line: "42,J45,3", want: parsed{pid: 42, key: "J45", los: 3, hasLOS: true}},
		{desc: "NULL length of stay", l: icd3, line: "42,J45,", want: parsed{pid: 42, key: "J45"}},
		{desc: "icd10 cut to three characters", l: icd10, line: "J45.9,7,1001", want: parsed{pid: 1001, key: "J45", los: 7, hasLOS: true}},
		{desc: "short icd10 kept whole", l: icd10, line: "J4,7,1001", want: parsed{pid: 1001, key: "J4", los: 7, hasLOS: true}},
		{desc: "quoted field", l: icd3, line: `42,"J,5",2.5`, want: parsed{pid: 42, key: "J,5", los: 2.5, hasLOS: true}},
		{desc: "pid not an integer", l: icd3, line: "x,J45,3", wantErr: true},
		{desc: "length of stay not a number", l: icd3, line: "42,J45,long", wantErr: true},
		{desc: "too few fields", l: icd3, line: "42,J45", wantErr: true},
		{desc: "too many fields", l: icd3, line: "42,J45,3,4", wantErr: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := tc.l.parseLine(tc.line)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseLine(%q) error = %v, wantErr %v", tc.line, err, tc.wantErr)
			}
			if err != nil {
				if !errors.Is(err, errMalformed) {
					t.Errorf("parseLine(%q) error %v is not errMalformed", tc.line, err)
				}
				return
			}
			if got != tc.want {
				t.Errorf("parseLine(%q) = %+v, want %+v", tc.line, got, tc.want)
			}
		})
	}
}

func TestFirstChars(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"J45.9", 3, "J45"},
		{"J4", 3, "J4"},
		{"", 3, ""},
		{"ÆØÅX", 3, "ÆØÅ"},
	} {
		t.Run(strconv.Quote(tc.s), func(t *testing.T) {
			if got := firstChars(tc.s, tc.n); got != tc.want {
				t.Errorf("firstChars(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
			}
		})
	}
}

func TestReadLayout(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		desc    string
		path    string
		wantKey int
		wantErr bool
	}{
		{desc: "header and rows", path: write("ok.csv", "pid,icd3,length_of_stay_days\n1,J45,2\n"), wantKey: 1},
		{desc: "empty file", path: write("empty.csv", ""), wantErr: true},
		{desc: "wrong header", path: write("bad.csv", "a,b,c\n"), wantErr: true},
		{desc: "missing file", path: filepath.Join(dir, "absent.csv"), wantErr: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			l, err := readLayout(context.Background(), tc.path)
			if (err != nil) != tc.wantErr {
				t.Fatalf("readLayout error = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && l.Key != tc.wantKey {
				t.Errorf("readLayout key column = %d, want %d", l.Key, tc.wantKey)
			}
		})
	}
}
