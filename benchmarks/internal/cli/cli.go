// Package cli holds what the benchmark commands (compare, flood) parse and
// look up alike: row counts written 1M or 100k, and the repository root.
package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ParseCount parses a positive count: 1000000, 1e6, 1M, 100k.
func ParseCount(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, strings.TrimSuffix(s, "k")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f*mult < 1 || f*mult > 1e12 {
		return 0, fmt.Errorf("%q is not a count", s)
	}
	return int64(f * mult), nil
}

// RepoRoot is the statgate module's directory at or above the working
// directory; command names the command in the error when there is none.
func RepoRoot(command string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/statgate/statgate\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run " + command + " inside the statgate repository (no go.mod of github.com/statgate/statgate above the working directory)")
		}
		dir = parent
	}
}
