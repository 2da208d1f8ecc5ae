package benchmarks

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBeamParamsOf(t *testing.T) {
	pol, err := Policy()
	if err != nil {
		t.Fatal(err)
	}
	p, err := BeamParamsOf(pol)
	if err != nil {
		t.Fatal(err)
	}
	want := BeamParams{Epsilon: 0.5, Delta: 1e-7, MaxPartitions: 4, MaxPerPartition: 10, Lo: 0, Hi: 90, PreThreshold: 5, Noise: "laplace"}
	if p != want {
		t.Errorf("BeamParamsOf = %+v, want %+v", p, want)
	}
	args := strings.Join(p.Args("in.csv"), " ")
	wantArgs := "--input in.csv --epsilon 0.5 --delta 1e-07 --max-partitions 4 --max-per-partition 10 --lo 0 --hi 90 --noise laplace --partitions shared --pre-threshold 5 --plan staged"
	if args != wantArgs {
		t.Errorf("Args = %s\nwant   %s", args, wantArgs)
	}
	delete(pol.Datasets, "npr")
	if _, err := BeamParamsOf(pol); err == nil {
		t.Error("BeamParamsOf succeeded without an npr dataset")
	}
}

func TestRunBeam(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		desc    string
		body    string
		want    BeamOutcome
		wantErr string
	}{
		{desc: "report on the last line", body: "echo 'log line'\necho '{\"rows_in\":10,\"groups_out\":3,\"seconds\":1.5}'\n",
			want: BeamOutcome{RowsIn: 10, GroupsOut: 3, Seconds: 1.5}},
		{desc: "the peer gets a memory limit", body: "[ -n \"$GOMEMLIMIT\" ] || { echo 'GOMEMLIMIT unset' >&2; exit 1; }\necho '{\"rows_in\":1,\"groups_out\":1,\"seconds\":0.5}'\n",
			want: BeamOutcome{RowsIn: 1, GroupsOut: 1, Seconds: 0.5}},
		{desc: "failure shows stderr", body: "echo 'beam peer: --input is required' >&2\nexit 1\n", wantErr: "--input is required"},
		{desc: "a killed peer reports its memory", body: "kill -9 $$\n", wantErr: "signal: killed after 0 s, peak RSS"},
		{desc: "no report", body: "echo 'hello'\n", wantErr: "report line"},
	}
	for i, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			bin := script("peer"+string(rune('a'+i)), tc.body)
			got, err := RunBeam(context.Background(), bin, "in.csv", BeamParams{Epsilon: 1, Delta: 1e-7, MaxPartitions: 1, MaxPerPartition: 1, Hi: 1})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.RowsIn != tc.want.RowsIn || got.GroupsOut != tc.want.GroupsOut || got.Seconds != tc.want.Seconds || got.Wall <= 0 || got.PeakRSS <= 0 {
				t.Errorf("RunBeam = %+v, want %+v with wall time and peak RSS", got, tc.want)
			}
		})
	}
}

func TestBeamEnv(t *testing.T) {
	tests := []struct {
		desc string
		env  []string
		want []string
	}{
		{desc: "limit added", env: []string{"HOME=/root", "GOGC=100"}, want: []string{"HOME=/root", "GOGC=100", "GOMEMLIMIT=" + BeamMemoryLimit}},
		{desc: "empty environment", env: nil, want: []string{"GOMEMLIMIT=" + BeamMemoryLimit}},
		{desc: "explicit limit wins", env: []string{"GOMEMLIMIT=4GiB", "HOME=/root"}, want: []string{"GOMEMLIMIT=4GiB", "HOME=/root"}},
		{desc: "a similar name is not the limit", env: []string{"XGOMEMLIMIT=1"}, want: []string{"XGOMEMLIMIT=1", "GOMEMLIMIT=" + BeamMemoryLimit}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			env := slices.Clone(tc.env)
			got := beamEnv(env)
			if !slices.Equal(got, tc.want) {
				t.Errorf("beamEnv(%q) = %q, want %q", tc.env, got, tc.want)
			}
			if !slices.Equal(env, tc.env) {
				t.Errorf("beamEnv changed its argument to %q", env)
			}
		})
	}
}

func TestPolicyCoversTheQuestion(t *testing.T) {
	pol, err := Policy()
	if err != nil {
		t.Fatal(err)
	}
	proj, ok := pol.Projects[Project]
	if !ok {
		t.Fatalf("no project %q", Project)
	}
	if !slices.Equal(proj.Datasets, []string{"population", "npr", "lmr"}) {
		t.Errorf("project datasets %v", proj.Datasets)
	}
	if role, ok := pol.Member(Project, Principal); !ok || role != "researcher" {
		t.Errorf("%s is %q in %s, want researcher", Principal, role, Project)
	}
	// Enough budget for millions of repetitions.
	if n := proj.Budget.Delta / pol.Datasets["npr"].DeltaPerQuery; n < 1e6 {
		t.Errorf("the δ budget allows only %g queries", n)
	}
}
