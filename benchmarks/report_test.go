package benchmarks

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		desc string
		xs   []float64
		want float64
	}{
		{"none", nil, 0},
		{"one", []float64{3}, 3},
		{"odd, unsorted", []float64{5, 1, 3}, 3},
		{"even: mean of the middle two", []float64{4, 1, 3, 2}, 2.5},
		{"outlier does not move it", []float64{1, 1.1, 0.9, 100, 1}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			in := append([]float64(nil), tc.xs...)
			if got := median(tc.xs); got != tc.want {
				t.Errorf("median(%v) = %g, want %g", tc.xs, got, tc.want)
			}
			for i := range in {
				if in[i] != tc.xs[i] {
					t.Fatalf("median reordered its input: %v", tc.xs)
				}
			}
		})
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct {
		desc, got, want string
	}{
		{"count", fmtCount(10_000_000), "10,000,000"},
		{"small count", fmtCount(999), "999"},
		{"negative count", fmtCount(-1234), "-1,234"},
		{"seconds below 1", fmtSeconds(0.12345), "0.123"},
		{"seconds below 10", fmtSeconds(3.14159), "3.14"},
		{"seconds below 100", fmtSeconds(42.42), "42.4"},
		{"seconds from 100", fmtSeconds(181.6), "182"},
		{"rate in millions", fmtRate(12_345_678), "12.3 M"},
		{"rate in thousands", fmtRate(61_234), "61 k"},
		{"no rate", fmtRate(math.Inf(1)), "–"},
		{"bytes in MiB", fmtBytes(300 << 20), "300 MiB"},
		{"bytes in GiB", fmtBytes(3 << 29), "1.50 GiB"},
		{"no bytes", fmtBytes(0), "–"},
		{"large ratio", fmtRatio(152.4, true), "152"},
		{"small ratio", fmtRatio(1.0449, true), "1.04"},
		{"no ratio", fmtRatio(0, false), "–"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

// sizeResult builds a SizeResult with the given medians (one run each).
func sizeResult(rows int64, groups int, secs map[Variant]float64) *SizeResult {
	s := &SizeResult{Spec: Spec{Rows: rows, Groups: groups, Seed: 1}, Reps: 1}
	for _, v := range []Variant{VariantRaw, VariantBounded, VariantEngine, VariantHTTP, VariantBeam, VariantCohort} {
		if x, ok := secs[v]; ok {
			s.Results = append(s.Results, &VariantResult{Variant: v, Seconds: []float64{x}, Groups: int64(groups), PeakRSS: 512 << 20})
		}
	}
	return s
}

func TestRatio(t *testing.T) {
	s := sizeResult(10_000_000, 200, map[Variant]float64{VariantRaw: 2, VariantBounded: 4, VariantEngine: 4.4, VariantBeam: 440})
	s.Results = append(s.Results, &VariantResult{Variant: VariantHTTP, Err: "boom"})
	tests := []struct {
		desc   string
		a, b   Variant
		want   float64
		wantOK bool
	}{
		{"C/A", VariantEngine, VariantRaw, 2.2, true},
		{"C/B", VariantEngine, VariantBounded, 1.1, true},
		{"E/C", VariantBeam, VariantEngine, 100, true},
		{"failed variant", VariantHTTP, VariantEngine, 0, false},
		{"missing variant", VariantCohort, VariantEngine, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, ok := s.Ratio(tc.a, tc.b)
			if ok != tc.wantOK || math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("Ratio(%s, %s) = %g, %v; want %g, %v", tc.a, tc.b, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	tests := []struct {
		desc string
		s    *SizeResult
		want []string
	}{
		{"met at 10 M", sizeResult(10_000_000, 200, map[Variant]float64{VariantRaw: 2, VariantBounded: 4, VariantEngine: 4.4, VariantBeam: 500}),
			[]string{"C/B = 1.10 (target ≤ 1.1: met)", "C/A = 2.20 (target ≤ 2.0 at 10 M rows: NOT met", "E/C = 114 (target ≥ 100 at 10 M rows: met)"}},
		{"missed", sizeResult(10_000_000, 200, map[Variant]float64{VariantBounded: 4, VariantEngine: 6, VariantBeam: 300}),
			[]string{"C/B = 1.50 (target ≤ 1.1: NOT met)", "E/C = 50 (target ≥ 100 at 10 M rows: NOT met)"}},
		{"missed, with the profile", withProfile(sizeResult(1_000_000, 200, map[Variant]float64{VariantBounded: 0.2, VariantEngine: 0.4}), 0.17),
			[]string{"C/B = 2.00 (target ≤ 1.1: NOT met; C − B = 0.200 s, and C's contribution profile alone takes 0.170 s, see below)"}},
		{"C/A met at 10 M", sizeResult(10_000_000, 200, map[Variant]float64{VariantRaw: 2, VariantEngine: 3.9}),
			[]string{"C/A = 1.95 (target ≤ 2.0 at 10 M rows: met"}},
		{"C/A at 100 M", sizeResult(100_000_000, 200, map[Variant]float64{VariantRaw: 20, VariantEngine: 60}),
			[]string{"C/A = 3.00 (target ≤ 2.5 at 100 M rows: NOT met"}},
		{"no beam target below 10 M", sizeResult(1_000_000, 200, map[Variant]float64{VariantEngine: 0.5, VariantBeam: 20}),
			[]string{"E/C = 40"}},
		{"memory at 100 M", sizeResult(100_000_000, 200, map[Variant]float64{VariantEngine: 50}),
			[]string{"largest peak RSS of A–D, K = 512 MiB (target ≤ 3 GiB: met)"}},
		{"nothing to compare", sizeResult(1_000_000, 200, nil), []string{"no ratio measured"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := strings.Join(targets(tc.s), "\n")
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("targets:\n%s\nwant a line containing %q", got, w)
				}
			}
		})
	}
}

// withProfile gives s a contribution profile of the given latency.
func withProfile(s *SizeResult, latency float64) *SizeResult {
	s.ContributionProfile = &Profile{Latency: latency}
	return s
}

func testReport() *Report {
	one := sizeResult(1_000_000, 200, map[Variant]float64{VariantRaw: 0.1, VariantBounded: 0.3, VariantEngine: 0.33, VariantHTTP: 0.35, VariantBeam: 17, VariantCohort: 0.05})
	one.Loads = []LoadThroughput{{Format: "parquet", Rows: 1_000_000, Seconds: 0.5, Bytes: 20 << 20}, {Format: "csv", Rows: 1_000_000, Seconds: 2, Bytes: 45 << 20}}
	one.BoundedProfile = &Profile{Latency: 0.3, CPU: 0.55, PeakBuffer: 200 << 20, Operators: []Operator{
		{Name: "HASH_GROUP_BY", Seconds: 0.3, Rows: 970_000, Detail: "groups: #0, #1"},
		{Name: "HASH_JOIN", Seconds: 0.1, Rows: 970_000, Detail: "join type: LEFT; conditions: a | b"},
	}}
	one.ContributionProfile = &Profile{Latency: 0.02, CPU: 0.04, PeakBuffer: 30 << 20, Operators: []Operator{
		{Name: "HASH_GROUP_BY", Seconds: 0.03, Rows: 960_000, Detail: "groups: #0, #1; aggregates: count_star()"},
	}}
	ten := sizeResult(10_000_000, 200, map[Variant]float64{VariantRaw: 1.5, VariantBounded: 4, VariantEngine: 4.2, VariantHTTP: 4.3, VariantBeam: 180, VariantCohort: 0.4})
	ten.BoundedProfile = &Profile{Latency: 4, CPU: 7, Operators: []Operator{{Name: "WINDOW", Seconds: 5, Rows: 10_000_000}}}
	ten.ContributionProfile = &Profile{Latency: 0.25, CPU: 0.45, Operators: []Operator{{Name: "SEQ_SCAN", Seconds: 0.2, Rows: 1_000_000, Detail: "table: npr"}}}
	groups := sizeResult(1_000_000, 2000, map[Variant]float64{VariantRaw: 0.2, VariantBounded: 0.5, VariantEngine: 0.6})
	return &Report{
		Command: "go run -tags duckdb_arrow ./benchmarks/cmd/compare --rows 1M,10M",
		Started: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Elapsed: 90 * time.Second,
		Machine: Machine{CPU: "Test CPU", Cores: 2, MemBytes: 8 << 30, OS: "linux/amd64", Go: "go1.26", DuckDB: "v1.5.6", NativeArrow: true},
		Params:  BeamParams{Epsilon: 0.5, Delta: 1e-7, MaxPartitions: 4, MaxPerPartition: 10, Lo: 0, Hi: 90, PreThreshold: 5, Noise: "laplace"},
		Sizes:   []*SizeResult{one, ten, groups},
	}
}

func TestMarkdown(t *testing.T) {
	md := testReport().Markdown()
	for _, want := range []string{
		"go run -tags duckdb_arrow ./benchmarks/cmd/compare --rows 1M,10M",
		"| CPU | Test CPU, 2 cores |",
		"DuckDB's native Arrow export (-tags duckdb_arrow)",
		// Summary rows: medians, then C/A, C/B, D/C, E/C and C's peak RSS.
		"| 1,000,000 | 200 | 0.100 | 0.300 | 0.330 | 0.350 | 17.0 | 0.050 | 3.30 | 1.10 | 1.06 | 52 | 512 MiB |",
		"| 10,000,000 | 200 | 1.50 | 4.00 | 4.20 | 4.30 | 180 | 0.400 | 2.80 | 1.05 | 1.02 | 43 | 512 MiB |",
		"E/C = 43 (target ≥ 100 at 10 M rows: NOT met)",
		// Scaling with rows at 200 groups and with groups at 1 M rows.
		"With rows (200 groups)",
		"| 10,000,000 | 0.150 | 0.400 | 0.420 | 0.430 | 0.040 | ×12.73 for ×10 |",
		"With groups (1,000,000 rows)",
		"| 2000 | 0.200 | 0.500 | 0.600 | – | – | ×1.82 for ×10 |",
		// Per-size detail, loads and the profile (pipes escaped).
		"| C | statgate Engine.Query | 0.330 | 0.330 | 0.330 | 1 | 3.0 M | 200 | 512 MiB |",
		"| csv | 45 MiB | 2.00 | 500 k |",
		"| HASH_JOIN | 0.100 | 25% | 970,000 | join type: LEFT; conditions: a \\| b |",
		// What C runs beyond B: the contribution profile, full at 1 M rows
		// and sampled at 10 M; the C/B line points at it only when unmet.
		"every person, as on every table of up to 2,000,000 rows), DuckDB `EXPLAIN ANALYZE`, second run: latency 0.020 s, CPU 0.040 s, peak buffer memory 30 MiB.",
		"| HASH_GROUP_BY | 0.030 | 100% | 960,000 | groups: #0, #1; aggregates: count_star() |",
		"a keyed sample of one person in 10, as on every table of over 2,000,000 rows), DuckDB `EXPLAIN ANALYZE`, second run: latency 0.250 s",
		"| SEQ_SCAN | 0.200 | 100% | 1,000,000 | table: npr |",
		"- 1,000,000 rows, 200 groups: C/B = 1.10 (target ≤ 1.1: met);",
		"C/B = 1.05 (target ≤ 1.1: met)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("Markdown:\n%s", md)
	}
}

func TestMarkdownReportsFailures(t *testing.T) {
	r := testReport()
	r.Sizes = r.Sizes[:1]
	r.Sizes[0].Results[2] = &VariantResult{Variant: VariantEngine, Err: "engine.Open: boom\nsecond line"}
	md := r.Markdown()
	for _, want := range []string{
		"| C | statgate Engine.Query | failed: engine.Open: boom |", // first line of the error only
		"| 0.300 | failed | 0.350 |",                                // C's cell in the summary
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestWriteResults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "RESULTS.md")
	r := testReport()
	if err := WriteResults(path, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != r.Section() {
		t.Error("the file differs from Section()")
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
