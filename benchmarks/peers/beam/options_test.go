package main

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

func TestParseOptions(t *testing.T) {
	base := []string{"--input", "x.csv", "--epsilon", "1", "--delta", "1e-6", "--max-partitions", "4", "--max-per-partition", "2", "--lo", "0", "--hi", "30"}
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	for _, tc := range []struct {
		desc    string
		args    []string
		want    options
		wantErr string // substring of the error; "" for success
	}{
		{
			desc: "required flags only, defaults filled",
			args: base,
			want: options{input: "x.csv", epsilon: 1, delta: 1e-6, maxPartitions: 4, maxPerPartition: 2, lo: 0, hi: 30,
				runner: runnerDirect, plan: planStaged, noise: noiseLaplace, partitions: partitionsPerAggregate},
		},
		{
			desc: "every flag",
			args: with("--runner", "prism", "--plan", "single", "--noise", "gaussian", "--partitions", "shared", "--pre-threshold", "10", "--out", "o.csv", "--verbose"),
			want: options{input: "x.csv", epsilon: 1, delta: 1e-6, maxPartitions: 4, maxPerPartition: 2, lo: 0, hi: 30,
				runner: runnerPrism, plan: planSingle, noise: noiseGaussian, partitions: partitionsShared, preThreshold: 10, out: "o.csv", verbose: true},
		},
		{desc: "no input", args: []string{"--epsilon", "1", "--delta", "1e-6", "--max-partitions", "1", "--max-per-partition", "1", "--hi", "1"}, wantErr: "--input"},
		{desc: "epsilon zero", args: with("--epsilon", "0"), wantErr: "--epsilon"},
		{desc: "epsilon infinite", args: with("--epsilon", "+Inf"), wantErr: "--epsilon"},
		{desc: "delta zero", args: with("--delta", "0"), wantErr: "--delta"},
		{desc: "delta one", args: with("--delta", "1"), wantErr: "--delta"},
		{desc: "L0 zero", args: with("--max-partitions", "0"), wantErr: "--max-partitions"},
		{desc: "M zero", args: with("--max-per-partition", "0"), wantErr: "--max-per-partition"},
		{desc: "lo not below hi", args: with("--lo", "30"), wantErr: "--lo"},
		{desc: "unknown runner", args: with("--runner", "dataflow"), wantErr: "--runner"},
		{desc: "unknown plan", args: with("--plan", "parallel"), wantErr: "--plan"},
		{desc: "unknown noise", args: with("--noise", "uniform"), wantErr: "--noise"},
		{desc: "unknown partition mode", args: with("--partitions", "public"), wantErr: "--partitions"},
		{desc: "negative pre-threshold", args: with("--pre-threshold", "-1"), wantErr: "--pre-threshold"},
		{desc: "stray argument", args: with("extra"), wantErr: "unexpected arguments"},
		{desc: "unknown flag", args: with("--sample", "1"), wantErr: "sample"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := parseOptions(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseOptions error = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseOptions: %v", err)
			}
			if *got != tc.want {
				t.Errorf("parseOptions = %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestParseOptionsHelp(t *testing.T) {
	var sb strings.Builder
	_, err := parseOptions([]string{"--help"}, &sb)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseOptions(--help) error = %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(sb.String(), "--max-partitions L0") {
		t.Errorf("usage text lacks the command line: %q", sb.String())
	}
}
