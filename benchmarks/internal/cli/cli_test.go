package cli

import (
	"os"
	"path/filepath"
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
