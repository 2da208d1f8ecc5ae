package benchmarks

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWriteResultsKeepsOtherSections: a compare run replaces its own
// section only; flood's and load's sections, before and after a rerun of
// either, stay as they were, also in a file written before compare's
// section had markers.
func TestWriteResultsKeepsOtherSections(t *testing.T) {
	path := filepath.Join(t.TempDir(), "RESULTS.md")
	flood := (&FloodReport{Command: "flood --x"}).Markdown()
	load := LoadBegin + "\n## load\n\nload figures\n" + LoadEnd + "\n"
	// The layout of RESULTS.md before compare's markers: compare's text,
	// then the flood section.
	if err := os.WriteFile(path, []byte("# statgate benchmark results\n\nold compare text\n\n"+flood), 0o644); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if err := WriteSection(path, LoadBegin, LoadEnd, load, false); err != nil {
		t.Fatal(err)
	}
	r := testReport()
	if err := WriteResults(path, r); err != nil {
		t.Fatal(err)
	}
	got := read()
	if want := r.Section() + "\n" + flood + "\n" + load; got != want {
		t.Fatalf("after the first compare run:\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(got, "old compare text") {
		t.Error("the unmarked compare text of the old layout was kept")
	}
	// A second compare run, a flood rerun and a load rerun each replace
	// only their own section.
	r.Command = "compare --second"
	if err := WriteResults(path, r); err != nil {
		t.Fatal(err)
	}
	flood2 := (&FloodReport{Command: "flood --y"}).Markdown()
	if err := WriteFloodSection(path, &FloodReport{Command: "flood --y"}); err != nil {
		t.Fatal(err)
	}
	load2 := strings.Replace(load, "load figures", "new load figures", 1)
	if err := WriteSection(path, LoadBegin, LoadEnd, load2, false); err != nil {
		t.Fatal(err)
	}
	if want := r.Section() + "\n" + flood2 + "\n" + load2; read() != want {
		t.Errorf("after reruns:\n%s\nwant\n%s", read(), want)
	}
	if strings.Count(read(), CompareBegin) != 1 || strings.Count(read(), FloodBegin) != 1 || strings.Count(read(), LoadBegin) != 1 {
		t.Errorf("a section is duplicated:\n%s", read())
	}
}

func TestReplaceSection(t *testing.T) {
	const b, e = "<!-- x -->", "<!-- /x -->"
	sec := b + "\nnew\n" + e + "\n"
	for _, tc := range []struct {
		desc, text string
		first      bool
		want       string
	}{
		{"empty file", "", false, sec},
		{"appended", "a\n", false, "a\n\n" + sec},
		{"replaced in place", "a\n" + b + "\nold\n" + e + "\nz\n", false, "a\n" + sec + "z\n"},
		{"begin without end: the rest is replaced", "a\n" + b + "\nold\n", false, "a\n" + sec},
		{"first, into an empty file", "", true, sec},
		{"first, unmarked text before a marker replaced", "old\n\n<!-- y -->\ny\n<!-- /y -->\n", true, sec + "\n<!-- y -->\ny\n<!-- /y -->\n"},
		{"first, unmarked file replaced whole", "old\n", true, sec},
	} {
		if got := replaceSection(tc.text, b, e, sec, tc.first); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.desc, got, tc.want)
		}
	}
}

// TestWriteSectionToAPipeWritesIntoIt: a results path that is not a
// regular file (a pipe here, /dev/null in practice) is written to, never
// replaced by a file — run as root, renaming over /dev/null would break
// every program on the machine that writes to it.
func TestWriteSectionToAPipeWritesIntoIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sink")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	got := make(chan string, 1)
	go func() {
		b, _ := os.ReadFile(path)
		got <- string(b)
	}()
	if err := WriteSection(path, LoadBegin, LoadEnd, LoadBegin+"\nfigures\n"+LoadEnd+"\n", false); err != nil {
		t.Fatal(err)
	}
	if s := <-got; !strings.Contains(s, "figures") {
		t.Errorf("the pipe read %q, want the section", s)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("after WriteSection the path is %v (%v), want the pipe still", fi.Mode(), err)
	}
}
