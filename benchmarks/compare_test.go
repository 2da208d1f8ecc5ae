package benchmarks

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// distinctGroups counts the groups of the raw query in the tiny registry.
func distinctGroups(t *testing.T, d *Data) int64 {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow("SELECT count(DISTINCT substr(icd10, 1, 3)) FROM read_parquet(" + quoteString(d.Path(NPRParquet)) + ")").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRunners answers the question once with each in-process variant on
// the tiny registry.
func TestRunners(t *testing.T) {
	d := tiny(t)
	ctx := context.Background()
	groups := distinctGroups(t, d)
	tests := []struct {
		v Variant
		// check the number of output rows.
		ok func(n int64) bool
	}{
		{VariantRaw, func(n int64) bool { return n == groups }},
		// Bounding can drop a rare group entirely, never add one.
		{VariantBounded, func(n int64) bool { return n > 0 && n <= groups }},
		// Partition selection releases a subset; at 1,000 persons and
		// δ = 1e-7 often none.
		{VariantEngine, func(n int64) bool { return n >= 0 && n <= groups }},
		{VariantHTTP, func(n int64) bool { return n >= 0 && n <= groups }},
		// Sex: M and F.
		{VariantCohort, func(n int64) bool { return n == 2 }},
	}
	for _, tc := range tests {
		t.Run(string(tc.v)+" "+tc.v.Describe(), func(t *testing.T) {
			dir, err := d.StateDir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			r, err := NewRunner(ctx, tc.v, &RunnerOptions{DataDir: dir, Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := r.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			for i := range 2 {
				out, err := r.Run(ctx)
				if err != nil {
					t.Fatalf("run %d: %v", i, err)
				}
				if out.Seconds <= 0 || !tc.ok(out.Groups) {
					t.Errorf("run %d: %+v (the raw query has %d groups)", i, out, groups)
				}
			}
		})
	}
	t.Run("unknown variant", func(t *testing.T) {
		if _, err := NewRunner(ctx, VariantBeam, &RunnerOptions{DataDir: d.ExtractsDir()}); err == nil {
			t.Error("NewRunner(E) succeeded; the peer is not a runner")
		}
	})
}

// TestBoundedSQLReadsTheBoundsOfThePolicy checks that B runs what C runs:
// the plan of QuerySQL under the benchmark policy, with the L0 step.
func TestBoundedSQLReadsTheBoundsOfThePolicy(t *testing.T) {
	ctx := context.Background()
	pol, err := Policy()
	if err != nil {
		t.Fatal(err)
	}
	r, err := newSQLRunner(ctx, VariantBounded, &RunnerOptions{DataDir: tiny(t).ExtractsDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := BoundedSQL(ctx, r.parser, pol, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Bounds.MaxGroupsPerPerson != 4 || p.Bounds.MaxRowsPerPersonPerGroup != 10 || p.Bounds.L0Step != "applied" {
		t.Errorf("bounds %+v, want L0 = 4 applied, L∞ = 10", p.Bounds)
	}
	if !strings.Contains(p.SQL, "least(count(*), 10)") {
		t.Errorf("the plan does not cap rows at 10:\n%s", p.SQL)
	}
}

// TestCompareTiny runs the harness end to end on 10,000 rows: every child
// variant in its own process (this test binary, see TestMain), a fake
// peer, load throughput and the profiles.
func TestCompareTiny(t *testing.T) {
	d := tiny(t)
	ctx := context.Background()
	fake := filepath.Join(t.TempDir(), "fake-beam")
	script := "#!/bin/sh\necho 'beam is starting' >&2\necho '{\"rows_in\":10000,\"groups_out\":7,\"seconds\":0.25}'\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	res, err := Compare(ctx, &CompareOptions{
		Data: d, Reps: 2, Exe: exe, ExeArgs: []string{"-test.run=^$"}, Scratch: t.TempDir(), Threads: 1,
		Beam:  &BeamRun{Binary: fake, Reps: 1, Params: BeamParams{Epsilon: 0.5, Delta: 1e-7, MaxPartitions: 4, MaxPerPartition: 10, Hi: 90, Noise: "laplace"}},
		Loads: true, Explain: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []Variant
	for _, r := range res.Results {
		got = append(got, r.Variant)
		wantRuns := 2
		if r.Variant == VariantBeam {
			wantRuns = 1
		}
		if r.Err != "" || len(r.Seconds) != wantRuns || r.PeakRSS <= 0 {
			t.Errorf("%s: %+v, want %d runs and a peak RSS", r.Variant, r, wantRuns)
		}
	}
	if want := []Variant{"A", "B", "C", "D", "E", "K"}; !slices.Equal(got, want) {
		t.Errorf("variants %v, want %v", got, want)
	}
	if a, b := res.Result(VariantRaw), res.Result(VariantBounded); a.Groups != distinctGroups(t, d) || b.Groups <= 0 || b.Groups > a.Groups {
		t.Errorf("A returned %d groups and B %d; want all %d and at most that", a.Groups, b.Groups, distinctGroups(t, d))
	}
	if e := res.Result(VariantBeam); e == nil || e.Seconds[0] != 0.25 || e.Groups != 7 || len(e.Wall) != 1 {
		t.Errorf("peer result %+v, want the fake's report", e)
	}
	if len(res.Loads) != 2 || res.Loads[0].Rows != tinySpec.Rows || res.Loads[1].Format != "csv" || res.Loads[1].RowsPerSecond() <= 0 {
		t.Errorf("loads %+v, want parquet and csv of %d rows", res.Loads, tinySpec.Rows)
	}
	if res.BoundedProfile == nil || res.RawProfile == nil || len(res.BoundedProfile.Operators) <= len(res.RawProfile.Operators) || res.ContributionProfile == nil || len(res.ContributionProfile.Operators) == 0 {
		t.Errorf("profiles: the bounded plan should have more operators than the raw one: %+v / %+v", res.BoundedProfile, res.RawProfile)
	}
}

func TestCompareReportsAFailingVariant(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A registry whose extracts file is not a database: the children fail
	// to open it, and Compare reports that instead of failing.
	d := &Data{Spec: tinySpec, Dir: t.TempDir()}
	if err := os.MkdirAll(d.ExtractsDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.ExtractsDir(), "extracts.duckdb"), []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Compare(context.Background(), &CompareOptions{Data: d, Variants: []Variant{VariantRaw, VariantEngine},
		Reps: 1, Exe: exe, ExeArgs: []string{"-test.run=^$"}, Scratch: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Results {
		if r.Err == "" || len(r.Seconds) != 0 {
			t.Errorf("%s: %+v, want an error and no runs", r.Variant, r)
		}
	}
	if len(res.Results) != 2 {
		t.Errorf("%d results, want 2", len(res.Results))
	}
}

func TestChildProtocol(t *testing.T) {
	d := tiny(t)
	dir, err := d.StateDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	in := strings.NewReader("run\nhello\nrun\nquit\nrun\n")
	var out strings.Builder
	if err := ServeChild(context.Background(), ChildSpec{Variant: VariantRaw, Options: RunnerOptions{DataDir: dir, Threads: 1}}, in, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("child wrote %d lines, want ready, run, error, run, peak (nothing after quit):\n%s", len(lines), out.String())
	}
	for i, want := range []string{`"ready":true`, `"groups":20`, `unknown request`, `"groups":20`, `"peak_rss":`} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %s, want it to contain %s", i, lines[i], want)
		}
	}
}

// TestChildPeakIsItsOwn: a child's peak memory does not include its
// parent's, however large the parent grew (rusage max RSS would: see rss.go).
func TestChildPeakIsItsOwn(t *testing.T) {
	if procPeakRSS("self") == 0 {
		t.Skip("no /proc/self/status VmHWM on this platform")
	}
	d := tiny(t)
	dir, err := d.StateDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Grow this process by 400 MiB of touched memory.
	ballast := make([]byte, 400<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c, err := StartChild(context.Background(), exe, []string{"-test.run=^$"}, ChildSpec{Variant: VariantRaw, Options: RunnerOptions{DataDir: dir, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(); err != nil {
		t.Fatal(err)
	}
	peak, err := c.Close()
	if err != nil {
		t.Fatal(err)
	}
	if peak <= 0 || peak >= 300<<20 {
		t.Errorf("child peak %s with a 400 MiB parent; want the child's own, well below", fmtBytes(peak))
	}
	if procPeakRSS("self") < 400<<20 || ballast[len(ballast)-1] != 1 {
		t.Errorf("the parent did not grow: peak %s", fmtBytes(procPeakRSS("self")))
	}
}
