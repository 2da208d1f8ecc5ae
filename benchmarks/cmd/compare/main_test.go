package main

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/statgate/statgate/benchmarks"
)

func TestRepsFor(t *testing.T) {
	tests := []struct {
		rows int64
		flag int
		want int
	}{
		{1_000_000, 0, 15},
		{10_000_000, 0, 5},
		{100_000_000, 0, 3},
		{100_000_000, 7, 7},
		{1_000_000, 2, 2},
	}
	for _, tc := range tests {
		if got := repsFor(tc.rows, tc.flag); got != tc.want {
			t.Errorf("repsFor(%d, %d) = %d, want %d", tc.rows, tc.flag, got, tc.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		desc      string
		args      []string
		check     func(*options) bool
		wantErr   bool
		wantUsage bool
	}{
		{desc: "defaults: 1 M and 10 M rows, group scaling at 1 M", args: nil, check: func(o *options) bool {
			return slices.Equal(o.rows, []int64{1_000_000, 10_000_000}) && o.scaleRows == 1_000_000 &&
				slices.Equal(o.scaleGroups, []int64{20, 2000}) && o.reps == 0 && o.beamReps == 1 && o.beamMaxRows == 10_000_000 &&
				slices.Equal(o.variants, benchmarks.DefaultVariants) && strings.HasSuffix(o.out, "benchmarks/RESULTS.md") &&
				strings.HasSuffix(o.cache, "benchmarks/.cache")
		}},
		{desc: "100 M without the peer", args: []string{"--rows", "100000000", "--skip-beam", "--memory-limit", "3GB", "--scale-groups", ""}, check: func(o *options) bool {
			return slices.Equal(o.rows, []int64{100_000_000}) && o.skipBeam && o.memoryLimit == "3GB" && len(o.scaleGroups) == 0
		}},
		{desc: "variant subset", args: []string{"--variants", "C,A"}, check: func(o *options) bool {
			return slices.Equal(o.variants, []benchmarks.Variant{"C", "A"})
		}},
		{desc: "the peer is not a child variant", args: []string{"--variants", "A,E"}, wantErr: true},
		{desc: "bad rows", args: []string{"--rows", "lots"}, wantErr: true},
		{desc: "negative reps", args: []string{"--reps", "-1"}, wantErr: true},
		{desc: "stray argument", args: []string{"extra"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			o, err := parseFlags(tc.args, io.Discard)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseFlags(%q) error = %v, want error %v", tc.args, err, tc.wantErr)
			}
			if err == nil && !tc.check(o) {
				t.Errorf("parseFlags(%q) = %+v", tc.args, o)
			}
		})
	}
}

func TestCommandLine(t *testing.T) {
	got := commandLine([]string{"--rows", "1M", "--scale-groups", "", "--memory-limit", "3 GB"}, true)
	want := "go run -tags duckdb_arrow ./benchmarks/cmd/compare --rows 1M --scale-groups '' --memory-limit '3 GB'"
	if got != want {
		t.Errorf("commandLine = %s\nwant          %s", got, want)
	}
	if got := commandLine(nil, false); got != "go run ./benchmarks/cmd/compare" {
		t.Errorf("commandLine without the tag = %s", got)
	}
}
