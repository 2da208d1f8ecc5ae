package benchmarks

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// TargetFloodRatio is the bound on B's p95 under the flood over
// its p95 alone (checked, not asserted, in the report).
const TargetFloodRatio = 2.0

// Markers around the flood section of RESULTS.md. WriteFloodSection
// replaces what lies between them and keeps the rest of the file (see
// WriteSection).
const (
	FloodBegin = "<!-- flood: written by benchmarks/cmd/flood -->"
	FloodEnd   = "<!-- /flood -->"
)

// FloodReport is one run of the flood command.
type FloodReport struct {
	// Command is the exact command line.
	Command string
	Started time.Time
	Elapsed time.Duration
	Machine Machine
	// Revision is the statgate commit measured ("" when unknown).
	Revision string
	Spec     Spec
	Runs     []*FloodResult
}

// Markdown renders the report as a section of RESULTS.md, markers included.
func (r *FloodReport) Markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("%s\n## Execution limits: a light query under a flood\n\n", FloodBegin)
	w("Written by `benchmarks/cmd/flood` (the rest of this file by `compare`). This run:\n\n")
	w("```\n%s\n```\n\n", r.Command)
	rev := ""
	if r.Revision != "" {
		rev = fmt.Sprintf("statgate %s, ", r.Revision)
	}
	w("started %s, took %s, on %s (%d cores, load %s when it started), %s%s, DuckDB %s.\n\n",
		r.Started.Format("2006-01-02 15:04 MST"), r.Elapsed.Round(time.Second), orUnknown(r.Machine.CPU),
		r.Machine.Cores, orUnknown(r.Machine.Load), rev, r.Machine.Go, orUnknown(r.Machine.DuckDB))
	if len(r.Runs) == 0 {
		w("No runs.\n%s\n", FloodEnd)
		return b.String()
	}
	o := r.Runs[0].Options
	w("The API on loopback (`POST /v1/query`, bearer tokens, JSON) over the registry of `benchmarks.Generate` with %s npr rows "+
		"(%s persons, %d groups). Principal A (`%s`) runs %d clients that post the heavy query back to back; principal B (`%s`) "+
		"posts the light query one at a time, %s apart: in each of %d rounds %d times alone, then %d times under A's flood (B starts "+
		"once A has its first answer or 429; the next round once the server is idle), %d of each in all. Latencies are B's, "+
		"request sent to last byte read; quantiles are nearest-rank over all rounds. \"other processes\" is the CPU the rest of "+
		"the machine used meanwhile (/proc/stat less this process), since the machine may be shared%s.\n\n",
		fmtCount(r.Spec.Rows), fmtCount(r.Spec.Persons()), r.Spec.Groups, FloodPrincipal, o.Flooders, LightPrincipal,
		o.Pause, o.Rounds, o.Light/o.Rounds, o.Light/o.Rounds, o.Light, quietNote(r.Runs))
	w("- light: `%s`\n- heavy: `%s`\n\n", oneLine(o.LightSQL), oneLine(o.HeavySQL))
	w("A principal with a query running cannot take the last free slot (it stays for a principal with none), so A runs at "+
		"most min(per principal, global − 1) heavy queries at once: %s.\n\n", aShares(r.Runs))
	w("| limits global / per principal | DuckDB threads | A after a 429 | heavy alone | B p50 alone | B p95 alone | B p50 flood | B p95 flood | p95 flood / alone | B not 200 | A 200 | A 429 | A 5xx | A other | flood | other processes |\n")
	w("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range r.Runs {
		threads := "all cores"
		if x.Options.Threads > 0 {
			threads = strconv.Itoa(x.Options.Threads)
		}
		retry := "retries at once"
		switch {
		case x.HeavyStatuses[429] == 0:
			retry = "–"
		case x.Options.RetryAfter:
			retry = "waits Retry-After"
		}
		other := 0
		for st, n := range x.HeavyStatuses {
			if st != 200 && st != 429 && st < 500 {
				other += n
			}
		}
		others := "–"
		if x.OthersCores >= 0 {
			others = fmt.Sprintf("%.2f cores", x.OthersCores)
		}
		w("| %d / %d | %s | %s | %s s | %s | %s | %s | %s | %s | %d | %d | %d | %d | %d | %.0f s | %s |\n",
			x.Global, x.PerPrincipal, threads, retry, fmtSeconds(x.HeavyAlone.Quantile(0.5)),
			fmtMillis(x.Alone.Quantile(0.5)), fmtMillis(x.Alone.Quantile(0.95)),
			fmtMillis(x.Flooded.Quantile(0.5)), fmtMillis(x.Flooded.Quantile(0.95)), fmtRatio(x.Ratio(), x.Ratio() > 0),
			x.LightFailures(), x.HeavyStatuses[200], x.HeavyStatuses[429], x.HeavyServerErrors(), other, x.FloodSeconds, others)
	}
	w("\nTarget (measured, not asserted): B's light queries all answered 200 with p95 under the flood at most %g× alone, A's "+
		"excess answered 429, never 5xx.\n\n", TargetFloodRatio)
	for _, x := range r.Runs {
		verdict := "met"
		if x.LightFailures() > 0 || x.HeavyServerErrors() > 0 || x.Ratio() > TargetFloodRatio || len(x.Flooded) < x.Options.Light {
			verdict = "not met"
		}
		how := "retrying at once"
		switch {
		case x.HeavyStatuses[429] == 0:
			how = "never refused"
		case x.Options.RetryAfter:
			how = "waiting Retry-After"
		}
		threads := "all cores"
		if x.Options.Threads > 0 {
			threads = strconv.Itoa(x.Options.Threads)
		}
		w("- limits %d / %d, DuckDB threads %s, A %s: %s (B %d/%d answered, ratio %s; A statuses %s)\n",
			x.Global, x.PerPrincipal, threads, how, verdict,
			len(x.Flooded), x.Options.Light, fmtRatio(x.Ratio(), x.Ratio() > 0), fmtStatuses(x.HeavyStatuses))
	}
	w("%s\n", FloodEnd)
	return b.String()
}

// quietNote says which rounds were discarded for FloodOptions.QuietCores.
func quietNote(runs []*FloodResult) string {
	q, n := runs[0].Options.QuietCores, 0
	for _, x := range runs {
		n += x.Discarded
	}
	if q <= 0 {
		return ""
	}
	return fmt.Sprintf("; each round started once they used at most %.2f cores, and a round in which they used more was "+
		"discarded and run again (%d discarded in all)", q, n)
}

// aShares lists, per distinct pair of limits, how many queries A runs at once.
func aShares(runs []*FloodResult) string {
	var parts []string
	for _, x := range runs {
		n := min(x.PerPrincipal, max(1, x.Global-1), x.Options.Flooders)
		p := fmt.Sprintf("%d with limits %d / %d", n, x.Global, x.PerPrincipal)
		if !slices.Contains(parts, p) {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

// fmtMillis renders seconds as milliseconds.
func fmtMillis(s float64) string {
	switch {
	case s <= 0:
		return "–"
	case s < 0.01:
		return fmt.Sprintf("%.2f ms", s*1e3)
	case s < 1:
		return fmt.Sprintf("%.1f ms", s*1e3)
	}
	return fmt.Sprintf("%.0f ms", s*1e3)
}

// fmtStatuses renders {200: 3, 429: 40} as "200×3, 429×40".
func fmtStatuses(m map[int]int) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		name := strconv.Itoa(k)
		if k < 0 {
			name = "transport error"
		}
		parts[i] = fmt.Sprintf("%s×%d", name, m[k])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// WriteFloodSection puts r's section into path (RESULTS.md): in place of
// an earlier flood section, else at the end. A missing file is created.
func WriteFloodSection(path string, r *FloodReport) error {
	return WriteSection(path, FloodBegin, FloodEnd, r.Markdown(), false)
}
