package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestJoinMeasures(t *testing.T) {
	for _, tc := range []struct {
		desc  string
		table [numMeasures]map[string]string
		want  []string
	}{
		{desc: "nothing released", want: []string{}},
		{
			desc: "all measures, sorted by key",
			table: [numMeasures]map[string]string{
				{"J45": "10", "E11": "20"},
				{"J45": "11", "E11": "21"},
				{"J45": "1.5", "E11": "2.5"},
			},
			want: []string{"E11,20,21,2.5", "J45,10,11,1.5"},
		},
		{
			desc: "a group one measure did not release has an empty cell",
			table: [numMeasures]map[string]string{
				{"E11": "20"},
				{"E11": "21", "J45": "11"},
				{"E11": "2.5"},
			},
			want: []string{"E11,20,21,2.5", "J45,,11,"},
		},
		{
			desc:  "a key that needs quoting",
			table: [numMeasures]map[string]string{{`A,"B"`: "3"}, nil, nil},
			want:  []string{`"A,""B""",3,,`},
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if got := joinMeasures(tc.table); !slices.Equal(got, tc.want) {
				t.Errorf("joinMeasures = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReadRecords(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.csv")
	if err := os.WriteFile(good, []byte("E11,20\n\"A,B\",3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.csv")
	if err := os.WriteFile(broken, []byte("\"E11,20\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		desc    string
		path    string
		want    [][]string
		wantErr bool
	}{
		{desc: "records", path: good, want: [][]string{{"E11", "20"}, {"A,B", "3"}}},
		{desc: "no file is an empty output", path: filepath.Join(dir, "absent.csv"), want: nil},
		{desc: "broken quoting", path: broken, wantErr: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := readRecords(tc.path)
			if (err != nil) != tc.wantErr {
				t.Fatalf("readRecords error = %v, wantErr %v", err, tc.wantErr)
			}
			if !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Errorf("readRecords = %q, want %q", got, tc.want)
			}
		})
	}
}
