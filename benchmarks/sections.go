package benchmarks

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// RESULTS.md is written by several commands, each owning one section
// between its own markers (an HTML comment line before and after it):
// compare's section (CompareBegin … CompareEnd) comes first, flood's
// (FloodBegin … FloodEnd) and load's (LoadBegin … LoadEnd) follow.
// WriteSection replaces one section and keeps every other byte of the
// file, so running one command never drops another's results.

// Markers around compare's section of RESULTS.md.
const (
	CompareBegin = "<!-- compare: written by benchmarks/cmd/compare -->"
	CompareEnd   = "<!-- /compare -->"
)

// Markers around the load generator's section of RESULTS.md.
const (
	LoadBegin = "<!-- load: written by benchmarks/cmd/load -->"
	LoadEnd   = "<!-- /load -->"
)

// sectionMarker starts every section marker; a file written before the
// compare section had markers holds compare's text before the first one.
const sectionMarker = "<!-- "

// WriteSection puts section (its markers begin and end included, as its
// first and last lines) into the file at path: in place of the text from
// begin to end when the file has them, else at the end of the file (or,
// with first, at its start). A file missing is created. It writes through
// a temporary file renamed over path.
func WriteSection(path, begin, end, section string, first bool) error {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		// /dev/null or a pipe: written to, never read or replaced.
		if err := os.WriteFile(path, []byte(replaceSection("", begin, end, section, first)), 0o644); err != nil {
			return fmt.Errorf("benchmarks.WriteSection: %w", err)
		}
		return nil
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("benchmarks.WriteSection: %w", err)
	}
	text := replaceSection(string(old), begin, end, section, first)
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return fmt.Errorf("benchmarks.WriteSection: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("benchmarks.WriteSection: %w", err)
	}
	return nil
}

// replaceSection is WriteSection's text edit. A begin marker without its
// end replaces everything after begin. A first section without markers in
// text replaces the text before text's first section marker: the unmarked
// compare text of files written before compare had markers.
func replaceSection(text, begin, end, section string, first bool) string {
	if !strings.HasSuffix(section, "\n") {
		section += "\n"
	}
	if i := strings.Index(text, begin); i >= 0 {
		rest := text[i:]
		if j := strings.Index(rest, end); j >= 0 {
			return text[:i] + section + strings.TrimPrefix(rest[j+len(end):], "\n")
		}
		return text[:i] + section
	}
	if first {
		rest := ""
		if j := markerLine(text); j >= 0 {
			rest = "\n" + text[j:]
		}
		return section + rest
	}
	if text != "" && !strings.HasSuffix(text, "\n\n") {
		text = strings.TrimRight(text, "\n") + "\n\n"
	}
	return text + section
}

// markerLine is the offset of text's first line that starts a section
// marker, or -1.
func markerLine(text string) int {
	if strings.HasPrefix(text, sectionMarker) {
		return 0
	}
	if j := strings.Index(text, "\n"+sectionMarker); j >= 0 {
		return j + 1
	}
	return -1
}
