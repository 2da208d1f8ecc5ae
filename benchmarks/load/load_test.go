package load

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/statgate/statgate/benchmarks"
	"github.com/statgate/statgate/benchmarks/internal/cli"
	"github.com/statgate/statgate/benchmarks/utility"
	"github.com/statgate/statgate/policies"
)

// TestQuestionsAreDistinct: no question repeats within far more requests
// than a run sends per kind, so no cache keyed by the question answers one.
func TestQuestionsAreDistinct(t *testing.T) {
	for _, k := range Kinds {
		seen := map[string]int{}
		for i := range 36000 {
			q := question(k, i)
			key := q.path + string(q.body) + q.sql
			if j, ok := seen[key]; ok {
				t.Fatalf("%s: questions %d and %d are the same: %s", k, j, i, key)
			}
			seen[key] = i
		}
	}
}

// TestRunAnswersEveryKind runs every kind briefly on a small extract: all
// requests answered 200 (a refused question would count as not 200), the
// report names every cell and the ratio to raw.
func TestRunAnswersEveryKind(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a small extract")
	}
	ctx := context.Background()
	pol, data := prepare(t)
	res, err := Run(ctx, &Options{Policy: pol, ExtractsDir: data.ExtractsDir(), Scratch: t.TempDir(),
		// A second per cell: on a loaded machine a request can stall for
		// half of one, and a cell needs one answer after its warm-up.
		Clients: []int{1, 2}, Duration: time.Second, Warmup: 50 * time.Millisecond, Stages: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Cells) != len(Kinds)*2 {
		t.Fatalf("%d cells, want %d", len(res.Cells), len(Kinds)*2)
	}
	for _, c := range res.Cells {
		if len(c.Failed) > 0 || len(c.Latencies) == 0 || c.QPS() <= 0 {
			t.Errorf("%s with %d clients: %d answered, not 200: %v", c.Kind, c.Clients, len(c.Latencies), c.Failed)
		}
		// Every answer took some CPU, and no request costs a second of it.
		if cpu := c.CPUPerAnswer(); cpu <= 0 || cpu > 1 {
			t.Errorf("%s with %d clients: %g s CPU per answer", c.Kind, c.Clients, cpu)
		}
		// Only each engine kind's cell with the most clients is profiled,
		// and its DuckDB work is found on the stack.
		if profiled := !c.Kind.IsRaw() && c.Clients == 2; profiled != (c.Stages != nil) {
			t.Errorf("%s with %d clients: stages %v", c.Kind, c.Clients, c.Stages)
		} else if profiled && !slices.ContainsFunc(c.Stages, func(s Stage) bool { return s.Name == "DuckDB: execute the bounded SQL, read Arrow" && s.Seconds > 0 }) {
			t.Errorf("%s: no DuckDB execution among the stages %v", c.Kind, c.Stages)
		}
	}
	if res.Global != 2 || res.PerPrincipal != 2 {
		t.Errorf("limits %d / %d, want the most clients, 2 / 2", res.Global, res.PerPrincipal)
	}
	md := (&Report{Label: "test", Command: "load", Persons: 2000, Result: res}).Markdown()
	for _, want := range []string{"| raw | 1 |", "| adhoc | 2 |", "| raw-template | 1 |", "| template | 1 |", "| raw-cohort | 2 |", "| cohort | 2 |",
		runBegin("test"), runEnd, "Where an answer's CPU goes", "| stage | adhoc, 2 clients | template, 2 clients | cohort, 2 clients |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

// loadPolicy loads the shipped policy, budgets raised (utility.LoadPolicy).
func loadPolicy(t *testing.T) *policies.Policy {
	t.Helper()
	root, err := cli.RepoRoot("load test")
	if err != nil {
		t.Fatal(err)
	}
	pol, err := utility.LoadPolicy(filepath.Join(root, utility.PolicyPath))
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// prepare loads the shipped policy (loadPolicy) and a 2,000-person
// synthetic extract.
func prepare(t *testing.T) (*policies.Policy, *utility.Data) {
	t.Helper()
	pol := loadPolicy(t)
	data, err := utility.Prepare(context.Background(), &utility.DataOptions{Persons: 2000, Seed: 3, CacheDir: t.TempDir(), Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	return pol, data
}

// TestReportComparesEachKindWithItsRaw: "q/s vs raw" divides by the
// kind's own raw kind, and the targets name the raw kind's q/s.
func TestReportComparesEachKindWithItsRaw(t *testing.T) {
	cell := func(k Kind, n int) *Cell {
		return &Cell{Kind: k, Clients: 8, Seconds: 1, Latencies: make([]float64, n)}
	}
	res := &Result{Started: time.Unix(0, 0), Cells: []*Cell{cell(Raw, 400), cell(AdHoc, 300), cell(RawTemplate, 1000),
		cell(Template, 250), cell(RawCohort, 310), cell(Cohort, 269)}}
	md := (&Report{Label: "test", Result: res}).Markdown()
	for _, want := range []string{"| adhoc | 8 | 300 | 300 | 0.75 |", "| template | 8 | 250 | 250 | 0.25 |", "| cohort | 8 | 269 | 269 | 0.87 |",
		"| raw-cohort | 8 | 310 | 310 | – |",
		"- adhoc: 300 q/s, p99 0.0 ms: not met (plain DuckDB on the same question: 400 q/s)\n",
		"- cohort: 269 q/s, p99 0.0 ms: not met (plain DuckDB on the same question: 310 q/s)\n",
		"- template: 250 q/s, p99 0.0 ms: not met (plain DuckDB on the same question: 1000 q/s)\n"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	// Without its raw kind a kind has no ratio and no ceiling.
	res.Cells = []*Cell{cell(Raw, 400), cell(Cohort, 269)}
	md = (&Report{Label: "test", Result: res}).Markdown()
	for _, want := range []string{"| cohort | 8 | 269 | 269 | – |", "- cohort: 269 q/s, p99 0.0 ms: not met\n"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

// TestWriteRunKeepsOtherRuns: a run replaces the run of its label only;
// other labels and the rest of RESULTS.md stay.
func TestWriteRunKeepsOtherRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "RESULTS.md")
	if err := os.WriteFile(path, []byte("# results\n\ncompare text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := func(label, cmd string) *Report {
		return &Report{Label: label, Command: cmd, Persons: 10, Result: &Result{Started: time.Unix(0, 0),
			Cells: []*Cell{{Kind: AdHoc, Clients: 8, Seconds: 1, Latencies: []float64{0.01, 0.02}}}}}
	}
	for _, r := range []*Report{rep("before", "one"), rep("after", "two"), rep("before", "three")} {
		if err := WriteRun(path, r); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	if !strings.HasPrefix(got, "# results\n\ncompare text\n\n"+benchmarks.LoadBegin) || !strings.HasSuffix(got, benchmarks.LoadEnd+"\n") {
		t.Errorf("the load section is not after the rest:\n%s", got)
	}
	before, after := strings.Index(got, "\nthree\n"), strings.Index(got, "\ntwo\n")
	if strings.Contains(got, "\none\n") || before < 0 || after < 0 || before > after {
		t.Errorf("want run before (replaced by three) then after (two):\n%s", got)
	}
	if strings.Count(got, runEnd) != 2 || strings.Count(got, "| adhoc | 8 | 2 | 2 |") != 2 {
		t.Errorf("want two runs of one cell each:\n%s", got)
	}
}

// TestStageOf: a sample is named by the first stage all of whose
// functions are on its stack, so DuckDB work under the contribution
// profile or the parser is not counted as the bounded query's.
func TestStageOf(t *testing.T) {
	const (
		eng   = "github.com/statgate/statgate/engine.(*Engine).Query"
		est   = "github.com/statgate/statgate/engine.(*Engine).estimateBounds"
		arrow = "github.com/statgate/statgate/engine/exec.(*DB).QueryArrow"
		prep  = "github.com/duckdb/duckdb-go-bindings._Cfunc_duckdb_prepare_extracted_statement"
		exe   = "github.com/duckdb/duckdb-go-bindings._Cfunc_duckdb_execute_pending"
	)
	cases := []struct {
		frames []string
		want   string
	}{
		{[]string{"runtime.cgocall", exe, arrow, est, eng}, "contribution profile: DuckDB"},
		{[]string{"math.log1p", "github.com/statgate/statgate/engine/protect.(*Release).NoiseProfile", est, eng}, "contribution profile: noise, bound choice, new plan"},
		{[]string{"runtime.cgocall", prep, arrow, "github.com/statgate/statgate/engine.(*Engine).run", eng}, "DuckDB: parse, bind, plan the bounded SQL"},
		{[]string{"runtime.cgocall", exe, arrow, "github.com/statgate/statgate/engine.(*Engine).run", eng}, "DuckDB: execute the bounded SQL, read Arrow"},
		{[]string{"runtime.cgocall", exe, "github.com/statgate/statgate/engine/query.(*Parser).Parse", "github.com/statgate/statgate/engine.(*Engine).prepare", eng}, "parse (json_serialize_sql), check, plan"},
		{[]string{"modernc.org/sqlite/lib._sqlite3VdbeExec", "github.com/statgate/statgate/engine/state/sqlite.(*Store).commit"}, "state store: debit, audit append, answer (SQLite)"},
		{[]string{"encoding/json.Marshal", "github.com/statgate/statgate/api.(*Handler).query", "net/http.HandlerFunc.ServeHTTP"}, "HTTP API: auth, limits, JSON"},
		// The native build reads Arrow through an embedded interface: no
		// engine/exec frame on the stack.
		{[]string{"github.com/duckdb/duckdb-go/v2.(*recordReader).Next", "github.com/statgate/statgate/engine/protect.(*Release).Apply", "github.com/statgate/statgate/engine.(*Engine).run"}, "DuckDB: execute the bounded SQL, read Arrow"},
		{[]string{"github.com/duckdb/duckdb-go/v2.(*recordReader).Next", "github.com/statgate/statgate/engine/protect.ReadProfile", est}, "contribution profile: DuckDB"},
		// A debit is the state store's; the middleware's token lookup is the API's.
		{[]string{"modernc.org/sqlite/lib._sqlite3VdbeExec", "github.com/statgate/statgate/engine/state/sqlite.(*ledger).Debit", "github.com/statgate/statgate/engine.(*Engine).run", "github.com/statgate/statgate/api.(*Handler).authenticate.func1"}, "state store: debit, audit append, answer (SQLite)"},
		{[]string{"modernc.org/sqlite/lib._sqlite3VdbeExec", "github.com/statgate/statgate/engine/state/sqlite.(*tokenStore).Lookup", "github.com/statgate/statgate/api.(*Handler).authenticate.func1"}, "HTTP API: auth, limits, JSON"},
		{[]string{"runtime.gcBgMarkWorker"}, otherStage},
	}
	for _, c := range cases {
		if got := stageOf(c.frames); got != c.want {
			t.Errorf("%v: %q, want %q", c.frames[:2], got, c.want)
		}
	}
	names := StageNames()
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("stage %q listed twice", n)
		}
		seen[n] = true
	}
	if names[len(names)-1] != otherStage {
		t.Errorf("stage names %v: other not last", names)
	}
}

// TestReportSaysWhatTheCPUAllows: from a profiled cell's stages, the q/s
// its CPU per answer allows on the machine's cores, and what statgate's
// own DuckDB statements alone would allow.
func TestReportSaysWhatTheCPUAllows(t *testing.T) {
	c := &Cell{Kind: AdHoc, Clients: 8, Seconds: 1, Latencies: make([]float64, 1000), Stages: []Stage{
		{Name: stageProfileDuckDB, Seconds: 1}, {Name: stagePlan, Seconds: 0.5}, {Name: stageExecute, Seconds: 1.5},
		{Name: stageParse, Seconds: 0.4}, {Name: stageState, Seconds: 0.6}, // 4 s in all, 3 of them DuckDB's
	}}
	r := &Report{Label: "test", Machine: benchmarks.Machine{Cores: 2}, Result: &Result{Started: time.Unix(0, 0), Cells: []*Cell{c}}}
	md := r.Markdown()
	for _, want := range []string{
		"What the CPU per answer allows on 2 cores (each at most 1000 ms of CPU a second), against the target's 500 q/s, which needs at most 4.00 ms per answer:",
		"- adhoc: 4.00 ms per answer allows at most 500 q/s; statgate's DuckDB statements alone (contribution profile: DuckDB, DuckDB: parse, bind, plan the bounded SQL, DuckDB: execute the bounded SQL, read Arrow) take 3.00 ms of it, which alone would allow 667\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	// Without the machine's cores there is nothing to divide by.
	r.Machine.Cores = 0
	if md := r.Markdown(); strings.Contains(md, "What the CPU per answer allows") {
		t.Errorf("report without cores has the allowance:\n%s", md)
	}
}
