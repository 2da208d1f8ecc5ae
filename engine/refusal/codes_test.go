package refusal_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/refusal/refusaltest"
)

// root is the repository, read by the tests that hold the code base and
// the corpora to the registry.
const root = "../.."

func TestRegistry(t *testing.T) {
	codes := refusal.Codes()
	if len(codes) < 90 {
		t.Fatalf("%d codes registered; the registry lost some", len(codes))
	}
	for _, c := range codes {
		name := c.String()
		if got, ok := refusal.Lookup(name); !ok || got != c {
			t.Errorf("Lookup(%q) = %v, %v", name, got, ok)
		}
		if k := c.Kind(); k < refusal.KindQuery || k > refusal.KindNotFound {
			t.Errorf("%s: kind %v", c, k)
		}
		if c.Doc() == "" {
			t.Errorf("%s: no doc", c)
		}
		if b, _ := c.MarshalText(); string(b) != name || fmt.Sprint(c) != name {
			t.Errorf("%s: text %q, printed %q", name, b, fmt.Sprint(c))
		}
		// An Error's kind is its code's: nothing else can set it.
		if got := (&refusal.Error{Code: c}).Kind(); got != c.Kind() {
			t.Errorf("%s: Error kind %v, code kind %v", c, got, c.Kind())
		}
	}
	if _, ok := refusal.Lookup("no_such_code"); ok {
		t.Error(`Lookup("no_such_code") found a code`)
	}
	if z := (refusal.Code{}); z.String() != "" || z.Doc() != "" {
		t.Errorf("the zero Code prints %q", z)
	}
}

// TestOneKindPerCode pins the kinds of codes more than one stage returns:
// each has one kind, and so one HTTP status, wherever it is found.
// dataset_not_in_project was 422 from the checker and cohorts but 403 from
// the ledger; unknown_dataset 422 from the checker but 404 from the
// dataset handler (issue 18).
func TestOneKindPerCode(t *testing.T) {
	tests := []struct {
		code  refusal.Code
		where string
		want  refusal.Kind
	}{
		{refusal.DatasetNotInProject, "query checker, cohort criteria, ledger", refusal.KindForbidden},
		{refusal.UnknownDataset, "query checker, cohort criteria, GET /v1/datasets/{name}", refusal.KindNotFound},
		{refusal.RoleNotAllowed, "access, audit", refusal.KindForbidden},
		{refusal.EpsilonTooSmall, "protect options, release rehearsal", refusal.KindQuery},
		{refusal.BoundsAboveCap, "plan bounds, clamps", refusal.KindQuery},
	}
	for _, tc := range tests {
		if got := tc.code.Kind(); got != tc.want {
			t.Errorf("%s (%s): kind %v, want %v", tc.code, tc.where, got, tc.want)
		}
	}
}

func TestNewZeroCode(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("refusal.New with the zero Code did not panic")
		}
	}()
	refusal.New(refusal.Code{}, "m", "")
}

// TestCorporaCodesRegistered reads every corpus of testdata/queries: each
// code a case expects ("reject CODE ..." or "reject-where CODE ...") must
// be registered.
func TestCorporaCodesRegistered(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(root, "testdata", "queries", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpora (%v)", err)
	}
	n := 0
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			fields := strings.Fields(sc.Text())
			if len(fields) < 2 || (fields[0] != "reject" && fields[0] != "reject-where") {
				continue
			}
			n++
			if _, ok := refusal.Lookup(fields[1]); !ok {
				t.Errorf("%s:%d: %s is not a registered refusal code", path, line, fields[1])
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if n < 200 {
		t.Fatalf("read %d reject cases; the corpus reading is off", n)
	}
}

// TestCodeBaseUsesRegistry reads all non-test Go code: every refusal it
// builds names a code (the type system makes the code a registered one,
// with the registry's kind), and every registered code is constructed
// somewhere, so the registry lists no code a client never sees.
func TestCodeBaseUsesRegistry(t *testing.T) {
	src := refusaltest.Scan(t, root)
	for _, p := range src.Problems {
		t.Error(p)
	}
	for _, c := range refusal.Codes() {
		uses := src.Uses[c]
		if len(uses) == 0 {
			t.Errorf("%s is registered but nothing constructs it", c)
		}
	}
	var dirs []string
	for _, uses := range src.Uses {
		for _, u := range uses {
			if d := filepath.Dir(u); !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
	}
	for _, want := range []string{"engine/query", "engine/access", "engine/budget", "api"} {
		if !slices.Contains(dirs, filepath.Join(root, want)) {
			t.Errorf("the scan found no codes in %s (found %v)", want, dirs)
		}
	}
}

// TestScanFindsProblems checks the scan itself on a file that breaks the rules.
func TestScanFindsProblems(t *testing.T) {
	dir := t.TempDir()
	src := `package p

import r "github.com/statgate/statgate/engine/refusal"

var (
	a = &r.Error{Message: "no code"}
	b = &r.Error{Code: r.Code{}}
	c = r.New(r.Code{}, "zero", "")
	d = r.Newf(r.SelectStar, "fine")
)
`
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got := refusaltest.Scan(t, dir)
	if len(got.Problems) != 3 {
		t.Errorf("problems %q, want 3", got.Problems)
	}
	if len(got.Uses) != 1 || len(got.Uses[refusal.SelectStar]) != 1 {
		t.Errorf("uses %v, want select_star once", got.Uses)
	}
}
