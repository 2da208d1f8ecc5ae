// Package cache keeps prepared benchmark data between runs. A prepared
// directory holds the generated source files, the extracts database
// loaded from them (in ExtractsDir) and, once both are complete, a JSON
// marker (MarkerFile) that describes them; each engine then runs on a
// fresh state directory (StateDir) that shares the loaded extracts.
//
// It serves the two harnesses, package benchmarks (benchmarks/cmd/compare)
// and benchmarks/utility; each keeps its own marker type.
package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/statgate/statgate/engine/exec"
)

// MarkerFile is the name of the marker in a prepared directory.
const MarkerFile = "ready.json"

// ExtractsDir is the data directory under dir whose extracts.duckdb holds
// the loaded registries.
func ExtractsDir(dir string) string { return filepath.Join(dir, "data") }

// ReadMarker decodes dir's marker into v and reports whether dir has one;
// a missing marker is not an error.
func ReadMarker(dir string, v any) (bool, error) {
	path := filepath.Join(dir, MarkerFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return true, nil
}

// WriteMarker writes v, indented JSON, as dir's marker.
func WriteMarker(dir string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, MarkerFile), append(b, '\n'), 0o644)
}

// StateDir makes a fresh engine data directory under parent: a hard link
// to the extracts.duckdb of extractsDir (a copy where links fail) and no
// state, so an engine opened on it starts with an empty ledger and audit
// log. The caller removes it.
func StateDir(parent, extractsDir string) (string, error) {
	dir, err := os.MkdirTemp(parent, "state-")
	if err != nil {
		return "", err
	}
	src, dst := exec.ExtractsPath(extractsDir), exec.ExtractsPath(dir)
	if err := os.Link(src, dst); err != nil {
		if err := copyFile(src, dst); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
