package cli

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseCount(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "1000000", want: 1_000_000},
		{in: "1e7", want: 10_000_000},
		{in: "10M", want: 10_000_000},
		{in: "100k", want: 100_000},
		{in: " 2.5M ", want: 2_500_000},
		{in: "0", wantErr: true},
		{in: "-5", wantErr: true},
		{in: "many", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseCount(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParseCount(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot("test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "benchmarks", "internal", "cli", "cli.go")); err != nil {
		t.Errorf("root %s does not hold this package: %v", root, err)
	}
	t.Chdir(t.TempDir())
	if _, err := RepoRoot("test"); err == nil {
		t.Error("found a statgate root above a temporary directory")
	}
}

// TestRunExitCodes: -h exits 0 without running, a flag error 2 and a
// failed run 1, each error printed after the command's name.
func TestRunExitCodes(t *testing.T) {
	parse := func(args []string, stderr io.Writer) (string, error) {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		v := fs.String("v", "ok", "")
		return *v, fs.Parse(args)
	}
	ran := 0
	run := func(_ context.Context, v string, _ io.Writer) error {
		ran++
		if v != "ok" {
			return errors.New("run failed: " + v)
		}
		return nil
	}
	for _, tc := range []struct {
		args       []string
		code, runs int
		stderr     string
	}{
		{[]string{"-h"}, 0, 0, ""},
		{[]string{"-nope"}, 2, 0, "x: flag provided but not defined: -nope\n"},
		{[]string{"-v", "bad"}, 1, 1, "x: run failed: bad\n"},
		{nil, 0, 1, ""},
	} {
		ran = 0
		var stderr strings.Builder
		if code := Run(context.Background(), "x", tc.args, &stderr, parse, run); code != tc.code || ran != tc.runs || stderr.String() != tc.stderr {
			t.Errorf("Run(%q) = %d after %d runs, stderr %q; want %d, %d, %q", tc.args, code, ran, stderr.String(), tc.code, tc.runs, tc.stderr)
		}
	}
}
