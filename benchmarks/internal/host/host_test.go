package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/statgate/statgate/engine/exec" // registers the duckdb driver
)

func TestProcField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpuinfo")
	text := "processor\t: 0\nmodel name\t: First CPU\n\nprocessor\t: 1\nmodel name\t: Second CPU\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := procField(path, "model name"); got != "First CPU" {
		t.Errorf("model name = %q, want the first one", got)
	}
	if got := procField(path, "flags"); got != "" {
		t.Errorf("missing key = %q, want empty", got)
	}
	if got := procField(filepath.Join(t.TempDir(), "none"), "model name"); got != "" {
		t.Errorf("missing file = %q, want empty", got)
	}
}

func TestDuckDB(t *testing.T) {
	if got := DuckDB(t.Context()); !strings.HasPrefix(got, "v") {
		t.Errorf("DuckDB() = %q, want a version such as v1.2.0", got)
	}
}
