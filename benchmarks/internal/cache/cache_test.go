package cache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/exec"
)

type testMarker struct {
	Persons int     `json:"persons"`
	Seconds float64 `json:"seconds"`
}

func TestMarker(t *testing.T) {
	dir := t.TempDir()
	var m testMarker
	if ok, err := ReadMarker(dir, &m); ok || err != nil {
		t.Fatalf("ReadMarker of a directory without marker = %v, %v; want false, nil", ok, err)
	}
	want := testMarker{Persons: 1000, Seconds: 1.5}
	if err := WriteMarker(dir, want); err != nil {
		t.Fatal(err)
	}
	if ok, err := ReadMarker(dir, &m); !ok || err != nil || m != want {
		t.Fatalf("ReadMarker after WriteMarker = %v, %v, %+v; want true, nil, %+v", ok, err, m, want)
	}
	if err := os.WriteFile(filepath.Join(dir, MarkerFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMarker(dir, &m); err == nil || !strings.Contains(err.Error(), MarkerFile) {
		t.Errorf("ReadMarker of a broken marker: %v, want an error naming the file", err)
	}
}

func TestStateDir(t *testing.T) {
	prepared := t.TempDir()
	extracts := ExtractsDir(prepared)
	if err := os.MkdirAll(extracts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exec.ExtractsPath(extracts), []byte("extracts"), 0o644); err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	dir, err := StateDir(parent, extracts)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(dir) != parent {
		t.Errorf("StateDir made %s, not under %s", dir, parent)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("state directory holds %d entries, want only the extracts", len(entries))
	}
	if b, err := os.ReadFile(exec.ExtractsPath(dir)); err != nil || string(b) != "extracts" {
		t.Errorf("extracts in the state directory: %q, %v", b, err)
	}
	if _, err := StateDir(parent, filepath.Join(prepared, "missing")); err == nil {
		t.Error("StateDir without extracts: no error")
	}
}
