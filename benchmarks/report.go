package benchmarks

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/statgate/statgate/engine/catalog"
	"github.com/statgate/statgate/engine/plan"
)

// Report is one run of the harness, rendered as RESULTS.md.
type Report struct {
	// Command is the exact command line that produced the report.
	Command string
	Started time.Time
	Elapsed time.Duration
	Machine Machine
	// Params are the privacy parameters of the question (statgate's, which
	// the peer gets too).
	Params BeamParams
	// MemoryLimit and Threads are the DuckDB settings of the run.
	MemoryLimit string
	Threads     int
	// BeamRunner names the peer's Beam runner ("" when the peer was skipped).
	BeamRunner string
	Sizes      []*SizeResult
}

// Targets of the issues (7, and 14 for C/B, C/A and memory), checked
// (not asserted) in the report.
const (
	TargetEngineOverBounded = 1.1   // C/B at most
	TargetBeamOverEngine    = 100.0 // E/C at least, at 10 M rows
	TargetPeakBytes         = 3 << 30
	TargetPeakRows          = 100_000_000
	// TargetEngineOverRaw10M and TargetEngineOverRaw100M are C/A at most
	// at 10 M rows and 200 groups, and at 100 M rows.
	TargetEngineOverRaw10M  = 2.0
	TargetEngineOverRaw100M = 2.5
)

// WriteResults renders r as compare's section of path (RESULTS.md), at
// the start of the file, keeping the sections other commands wrote (see
// WriteSection).
func WriteResults(path string, r *Report) error {
	if err := WriteSection(path, CompareBegin, CompareEnd, r.Section(), true); err != nil {
		return fmt.Errorf("benchmarks.WriteResults: %w", err)
	}
	return nil
}

// Section is Markdown between compare's markers.
func (r *Report) Section() string {
	return CompareBegin + "\n" + r.Markdown() + CompareEnd + "\n"
}

// Markdown renders the report.
func (r *Report) Markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# statgate benchmark results\n\n")
	w("Written by the benchmark harness (`benchmarks/cmd/compare`); do not edit by hand. This run:\n\n")
	w("```\n%s\n```\n\n", r.Command)
	w("started %s, took %s.\n\n", r.Started.Format("2006-01-02 15:04 MST"), r.Elapsed.Round(time.Second))
	r.writeMachine(w)
	r.writeQuestion(w)
	r.writeSummary(w)
	r.writeScaling(w)
	for _, s := range r.Sizes {
		writeSize(w, s)
	}
	return b.String()
}

type writer func(format string, args ...any)

func (r *Report) writeMachine(w writer) {
	m := r.Machine
	arrow := "database/sql rows converted to Arrow (built without -tags duckdb_arrow)"
	if m.NativeArrow {
		arrow = "DuckDB's native Arrow export (-tags duckdb_arrow)"
	}
	threads := "all cores"
	if r.Threads > 0 {
		threads = strconv.Itoa(r.Threads)
	}
	limit := "DuckDB's default (80% of RAM)"
	if r.MemoryLimit != "" {
		limit = r.MemoryLimit
	}
	w("## Machine\n\n| | |\n|---|---|\n")
	w("| CPU | %s, %d cores |\n", orUnknown(m.CPU), m.Cores)
	w("| Memory | %s |\n", fmtBytes(m.MemBytes))
	w("| OS | %s |\n| Go | %s |\n| DuckDB | %s |\n| Results read through | %s |\n", m.OS, m.Go, orUnknown(m.DuckDB), arrow)
	w("| DuckDB threads / memory_limit | %s / %s |\n", threads, limit)
	if m.Load != "" {
		w("| Load average when the run started | %s (the machine is shared; times are medians of alternating runs) |\n", m.Load)
	}
	w("\n")
}

func (r *Report) writeQuestion(w writer) {
	p := r.Params
	w("## The question\n\n")
	w("```sql\n%s\n```\n\n", RawSQL)
	w("on a generated npr table (`benchmarks.Generate`: ~%d rows per person, each row's group drawn from a skewed distribution over G three-character codes, so most persons exceed the L0 bound — the worst case for bounding). ", RowsPerPerson)
	w("Privacy parameters (policy `%s`, the same for the peer): ε = %g, δ = %g, at most %d groups per person (L0), %d rows per person per group (L∞), length_of_stay_days clamped to [%g, %g], groups by DP partition selection with pre-threshold %d, %s noise.\n\n",
		PolicyPath, p.Epsilon, p.Delta, p.MaxPartitions, p.MaxPerPartition, p.Lo, p.Hi, p.PreThreshold, p.Noise)
	w("| | variant |\n|---|---|\n")
	for _, v := range []Variant{VariantRaw, VariantBounded, VariantEngine, VariantHTTP, VariantBeam, VariantCohort} {
		w("| %s | %s |\n", v, variantDetail(v, r.BeamRunner))
	}
	w("\nA–D and K each run in a child process of their own (peak RSS is that process's), one untimed warm-up each, then in alternating rounds A, B, C, D, K, A, B, …; times are medians. E is a fresh process per run; its time is the pipeline run the peer reports (process start, flag parsing and pipeline construction excluded, as A–D exclude opening the database).\n\n")
}

func variantDetail(v Variant, beamRunner string) string {
	switch v {
	case VariantRaw:
		return "the plain query above on DuckDB (locked-down connection, results read as Arrow): no bounding, no noise"
	case VariantBounded:
		return "the contribution-bounded SQL statgate generates for it (`plan.Bound`), executed and read without noise: the floor for a user-level DP engine on DuckDB"
	case VariantEngine:
		return "`Engine.Query`: parse + check, plan, budget debit, execute, protect (noise, partition selection, suppression, CIs), audit"
	case VariantHTTP:
		return "`POST /v1/query` to the real API on loopback (bearer token, JSON), response decoded"
	case VariantBeam:
		runner := beamRunner
		if runner == "" {
			runner = "direct"
		}
		return fmt.Sprintf("Google's privacy-on-beam v3.0.0 on Beam's %s runner (`%s`), same bounds and ε, reading npr.csv", runner, BeamDir)
	case VariantCohort:
		return "cohort estimate through `Engine.Query`: persons with `icd10 LIKE 'E11%'` in npr and `atc = 'A10BA02'` in lmr, by sex from population (three registries)"
	}
	return ""
}

func (r *Report) writeSummary(w writer) {
	w("## Summary\n\nMedian seconds per question; ratios of medians.\n\n")
	w("| npr rows | groups | A raw | B bounded | C engine | D HTTP | E beam | K cohort | C/A | C/B | D/C | E/C | peak RSS C |\n")
	w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range r.Sizes {
		w("| %s | %d |", fmtCount(s.Spec.Rows), s.Spec.Groups)
		for _, v := range []Variant{VariantRaw, VariantBounded, VariantEngine, VariantHTTP, VariantBeam, VariantCohort} {
			w(" %s |", cellSeconds(s.Result(v)))
		}
		for _, pair := range [][2]Variant{{VariantEngine, VariantRaw}, {VariantEngine, VariantBounded}, {VariantHTTP, VariantEngine}, {VariantBeam, VariantEngine}} {
			w(" %s |", fmtRatio(s.Ratio(pair[0], pair[1])))
		}
		rss := "–"
		if c := s.Result(VariantEngine); c != nil && c.PeakRSS > 0 {
			rss = fmtBytes(c.PeakRSS)
		}
		w(" %s |\n", rss)
	}
	w("\nTargets (measured, not asserted):\n\n")
	for _, s := range r.Sizes {
		w("- %s rows, %d groups: %s\n", fmtCount(s.Spec.Rows), s.Spec.Groups, strings.Join(targets(s), "; "))
	}
	w("\n")
}

// targets checks a size's results against the targets.
func targets(s *SizeResult) []string {
	var out []string
	mark := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	if x, ok := s.Ratio(VariantEngine, VariantBounded); ok {
		line := fmt.Sprintf("C/B = %.2f (target ≤ %.1f: %s", x, TargetEngineOverBounded, mark(x <= TargetEngineOverBounded))
		if c := s.ContributionProfile; c != nil && x > TargetEngineOverBounded {
			b, cc := s.Result(VariantBounded).Median(), s.Result(VariantEngine).Median()
			line += fmt.Sprintf("; C − B = %s s, and C's contribution profile alone takes %s s, see below", fmtSeconds(cc-b), fmtSeconds(c.Latency))
		}
		out = append(out, line+")")
	}
	if x, ok := s.Ratio(VariantEngine, VariantRaw); ok {
		switch {
		case s.Spec.Rows >= TargetPeakRows:
			out = append(out, fmt.Sprintf("C/A = %.2f (target ≤ %.1f at 100 M rows: %s; the cost of bounding, see the profile below)", x, TargetEngineOverRaw100M, mark(x <= TargetEngineOverRaw100M)))
		case s.Spec.Rows >= 10_000_000 && s.Spec.Groups == 200:
			out = append(out, fmt.Sprintf("C/A = %.2f (target ≤ %.1f at 10 M rows: %s; the cost of bounding, see the profile below)", x, TargetEngineOverRaw10M, mark(x <= TargetEngineOverRaw10M)))
		default:
			out = append(out, fmt.Sprintf("C/A = %.2f (the cost of bounding; see the profile below)", x))
		}
	}
	if x, ok := s.Ratio(VariantBeam, VariantEngine); ok {
		t := ""
		if s.Spec.Rows >= 10_000_000 {
			t = fmt.Sprintf(" (target ≥ %.0f at 10 M rows: %s)", TargetBeamOverEngine, mark(x >= TargetBeamOverEngine))
		}
		out = append(out, fmt.Sprintf("E/C = %.0f%s", x, t))
	}
	if s.Spec.Rows >= TargetPeakRows {
		var peak int64
		for _, r := range s.Results {
			if r.Variant != VariantBeam {
				peak = max(peak, r.PeakRSS)
			}
		}
		out = append(out, fmt.Sprintf("largest peak RSS of A–D, K = %s (target ≤ 3 GiB: %s)", fmtBytes(peak), mark(peak <= TargetPeakBytes)))
	}
	if len(out) == 0 {
		out = append(out, "no ratio measured")
	}
	return out
}

// writeScaling shows how the medians grow with rows (at the most common
// group count) and with groups (at each row count measured with several).
func (r *Report) writeScaling(w writer) {
	byGroups := map[int][]*SizeResult{}
	byRows := map[int64][]*SizeResult{}
	for _, s := range r.Sizes {
		byGroups[s.Spec.Groups] = append(byGroups[s.Spec.Groups], s)
		byRows[s.Spec.Rows] = append(byRows[s.Spec.Rows], s)
	}
	variants := []Variant{VariantRaw, VariantBounded, VariantEngine, VariantHTTP, VariantCohort}
	header := func(first string) {
		w("| %s |", first)
		for _, v := range variants {
			w(" %s s/M rows |", v)
		}
		w(" C growth |\n|---:|")
		for range variants {
			w("---:|")
		}
		w("---:|\n")
	}
	row := func(label string, s, prev *SizeResult, by float64) {
		w("| %s |", label)
		for _, v := range variants {
			vr := s.Result(v)
			if vr == nil || vr.Err != "" || vr.Median() == 0 {
				w(" – |")
				continue
			}
			w(" %s |", fmtSeconds(vr.Median()/float64(s.Spec.Rows)*1e6))
		}
		growth := "–"
		if prev != nil {
			if a, b := prev.Result(VariantEngine), s.Result(VariantEngine); a != nil && b != nil && a.Median() > 0 && b.Median() > 0 {
				growth = fmt.Sprintf("×%.2f for ×%g", b.Median()/a.Median(), by)
			}
		}
		w(" %s |\n", growth)
	}
	var wrote bool
	for _, g := range sortedKeys(byGroups) {
		sizes := byGroups[g]
		if len(sizes) < 2 {
			continue
		}
		slices.SortFunc(sizes, func(a, b *SizeResult) int { return int(a.Spec.Rows - b.Spec.Rows) })
		if !wrote {
			w("## Scaling\n\n")
			wrote = true
		}
		w("With rows (%d groups); seconds per million rows, so flat means linear:\n\n", g)
		header("npr rows")
		for i, s := range sizes {
			var prev *SizeResult
			by := 0.0
			if i > 0 {
				prev = sizes[i-1]
				by = float64(s.Spec.Rows) / float64(prev.Spec.Rows)
			}
			row(fmtCount(s.Spec.Rows), s, prev, by)
		}
		w("\n")
	}
	for _, n := range sortedKeys(byRows) {
		sizes := byRows[n]
		if len(sizes) < 2 {
			continue
		}
		slices.SortFunc(sizes, func(a, b *SizeResult) int { return a.Spec.Groups - b.Spec.Groups })
		if !wrote {
			w("## Scaling\n\n")
			wrote = true
		}
		w("With groups (%s rows); seconds per million rows:\n\n", fmtCount(n))
		header("groups")
		for i, s := range sizes {
			var prev *SizeResult
			by := 0.0
			if i > 0 {
				prev = sizes[i-1]
				by = float64(s.Spec.Groups) / float64(prev.Spec.Groups)
			}
			row(strconv.Itoa(s.Spec.Groups), s, prev, by)
		}
		w("\n")
	}
}

func writeSize(w writer, s *SizeResult) {
	w("## %s rows, %d groups (%s persons)\n\n", fmtCount(s.Spec.Rows), s.Spec.Groups, fmtCount(s.Spec.Persons()))
	w("| | variant | median s | min s | max s | runs | npr rows/s | groups out | peak RSS |\n")
	w("|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range s.Results {
		if r.Err != "" && len(r.Seconds) == 0 {
			w("| %s | %s | failed: %s | | | | | | %s |\n", r.Variant, r.Variant.Describe(), oneLine(r.Err), fmtBytes(r.PeakRSS))
			continue
		}
		rate := "–"
		if r.Variant != VariantCohort {
			rate = fmtRate(perSecond(float64(s.Spec.Rows), r.Median()))
		}
		w("| %s | %s | %s | %s | %s | %d | %s | %d | %s |\n", r.Variant, r.Variant.Describe(),
			fmtSeconds(r.Median()), fmtSeconds(slices.Min(r.Seconds)), fmtSeconds(slices.Max(r.Seconds)), len(r.Seconds),
			rate, r.Groups, fmtBytes(r.PeakRSS))
		if r.Err != "" {
			w("| | | failed after %d runs: %s | | | | | | |\n", len(r.Seconds), oneLine(r.Err))
		}
	}
	if e := s.Result(VariantBeam); e != nil && len(e.Wall) > 0 {
		w("\nE's whole process (start, pipeline construction, run) took %s s (median).\n", fmtSeconds(median(e.Wall)))
	}
	w("\nData: generated in %.1f s, loaded in %.1f s (when first cached); this size took %s.\n\n", s.Generated, s.Loaded,
		time.Duration(s.Elapsed*float64(time.Second)).Round(time.Second))
	if len(s.Loads) > 0 {
		w("Load throughput (`statgate load` of npr alone: read, type-check, person-key check, write):\n\n")
		w("| source | size | seconds | rows/s |\n|---|---:|---:|---:|\n")
		for _, l := range s.Loads {
			w("| %s | %s | %s | %s |\n", l.Format, fmtBytes(l.Bytes), fmtSeconds(l.Seconds), fmtRate(l.RowsPerSecond()))
		}
		w("\n")
	}
	if s.BoundedProfile != nil {
		writeProfile(w, s)
	}
}

func writeProfile(w writer, s *SizeResult) {
	p := s.BoundedProfile
	w("Where B's time goes (DuckDB `EXPLAIN ANALYZE` of the bounded SQL, second run): latency %s s, CPU %s s, peak buffer memory %s",
		fmtSeconds(p.Latency), fmtSeconds(p.CPU), fmtBytes(p.PeakBuffer))
	if a := s.RawProfile; a != nil {
		w("; the raw query A: latency %s s, CPU %s s, peak buffer memory %s", fmtSeconds(a.Latency), fmtSeconds(a.CPU), fmtBytes(a.PeakBuffer))
	}
	w(". Identical operators of the L0 step's person buckets are summed (×n).\n\n")
	writeOperators(w, p)
	if c := s.ContributionProfile; c != nil {
		w("What C runs beyond B: the contribution profile (`plan.Profile`: persons by how many groups and rows they contribute and by their smallest and largest value, from which the engine chooses L0, L∞ and the clamps after the debit; %s), DuckDB `EXPLAIN ANALYZE`, second run: latency %s s, CPU %s s, peak buffer memory %s.\n\n",
			profileReads(s.Spec.Rows), fmtSeconds(c.Latency), fmtSeconds(c.CPU), fmtBytes(c.PeakBuffer))
		writeOperators(w, c)
	}
}

// profileReads says which persons the contribution profile of a registry
// with npr rows reads, as the engine decides it (plan.ProfileSample of
// the size the data map publishes).
func profileReads(rows int64) string {
	public, _ := catalog.Approx(rows)
	n := plan.ProfileSample(public)
	if n <= 1 {
		return fmt.Sprintf("every person, as on every table of up to %s rows", fmtCount(plan.ProfileFullRows))
	}
	return fmt.Sprintf("a keyed sample of one person in %d, as on every table of over %s rows", n, fmtCount(plan.ProfileFullRows))
}

// writeOperators writes the table of p's most costly operators.
func writeOperators(w writer, p *Profile) {
	w("| operator | s (all threads) | share | rows out | detail |\n|---|---:|---:|---:|---|\n")
	total := p.OperatorSeconds()
	for _, o := range p.Top(8) {
		share := 0.0
		if total > 0 {
			share = o.Seconds / total
		}
		name := o.Name
		if o.Count > 1 {
			name += fmt.Sprintf(" ×%d", o.Count)
		}
		w("| %s | %s | %.0f%% | %s | %s |\n", name, fmtSeconds(o.Seconds), share*100, fmtCount(o.Rows), strings.ReplaceAll(o.Detail, "|", "\\|"))
	}
	w("\n")
}

func sortedKeys[K int | int64, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func cellSeconds(r *VariantResult) string {
	switch {
	case r == nil:
		return "–"
	case len(r.Seconds) == 0:
		return "failed"
	}
	return fmtSeconds(r.Median())
}

func fmtRatio(x float64, ok bool) string {
	switch {
	case !ok:
		return "–"
	case x >= 10:
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

// fmtSeconds shows three significant digits (at least millisecond precision).
func fmtSeconds(s float64) string {
	switch {
	case s >= 100:
		return fmt.Sprintf("%.0f", s)
	case s >= 10:
		return fmt.Sprintf("%.1f", s)
	case s >= 1:
		return fmt.Sprintf("%.2f", s)
	}
	return fmt.Sprintf("%.3f", s)
}

// fmtCount groups digits: 10,000,000.
func fmtCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtRate shows a rows-per-second rate: "12.3 M", "850 k".
func fmtRate(r float64) string {
	switch {
	case r <= 0 || math.IsInf(r, 0) || math.IsNaN(r):
		return "–"
	case r >= 1e6:
		return fmt.Sprintf("%.1f M", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.0f k", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}

// fmtBytes shows a size in MiB or GiB.
func fmtBytes(n int64) string {
	switch {
	case n <= 0:
		return "–"
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// oneLine keeps the first line of an error message, table-safe.
func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.ReplaceAll(s, "|", "\\|")
}
