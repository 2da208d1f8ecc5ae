package load

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/statgate/statgate/benchmarks"
)

// Targets of issue 14 for 8 clients (checked, not asserted, in the report).
const (
	TargetQPS = 500.0
	TargetP99 = 0.050 // seconds
)

// Report is one run of the load command, rendered as one labelled run of
// RESULTS.md's load section.
type Report struct {
	// Label names the run ("before", "after"); a later run with the same
	// label replaces it, runs with other labels stay.
	Label string
	// Command is the exact command line; Revision the statgate commit.
	Command, Revision string
	Machine           benchmarks.Machine
	// Persons is the size of the synthetic extract.
	Persons int
	Result  *Result
}

// runBegin and runEnd mark one labelled run inside the load section.
func runBegin(label string) string { return "<!-- load-run: " + label + " -->" }

const runEnd = "<!-- /load-run -->"

var runRE = regexp.MustCompile(`(?s)<!-- load-run: (.*?) -->\n.*?<!-- /load-run -->\n?`)

// Markdown renders the run, its markers included.
func (r *Report) Markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	res := r.Result
	w("%s\n### %s\n\n", runBegin(r.Label), r.Label)
	rev := ""
	if r.Revision != "" {
		rev = "statgate " + r.Revision + ", "
	}
	w("```\n%s\n```\n\n", r.Command)
	w("Started %s, took %s, on %s (%d cores, load %s when it started), %s%s, DuckDB %s, results read through %s. ",
		res.Started.UTC().Format("2006-01-02 15:04 MST"), res.Elapsed.Round(time.Second), orUnknown(r.Machine.CPU), r.Machine.Cores,
		orUnknown(r.Machine.Load), rev, r.Machine.Go, orUnknown(r.Machine.DuckDB), arrowOf(r.Machine))
	w("%d synthetic persons (`engine/synth`); %s per cell after %s of warm-up; API limits %d global / %d per principal, one principal per client.\n\n",
		r.Persons, res.Options.Duration, res.Options.Warmup, res.Global, res.PerPrincipal)
	w("| kind | clients | answered | q/s | q/s vs raw | p50 ms | p99 ms | max ms | CPU ms / answer | not 200 | load avg start → end |\n")
	w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, c := range res.Cells {
		vsRaw := "–"
		if raw := res.Cell(c.Kind.RawCeiling(), c.Clients); raw != nil && raw.QPS() > 0 {
			vsRaw = fmt.Sprintf("%.2f", c.QPS()/raw.QPS())
		}
		w("| %s | %d | %d | %.0f | %s | %.1f | %.1f | %.1f | %.2f | %s | %s → %s |\n", c.Kind, c.Clients, len(c.Latencies), c.QPS(), vsRaw,
			1e3*c.Quantile(0.5), 1e3*c.Quantile(0.99), 1e3*c.Quantile(1), 1e3*c.CPUPerAnswer(), failed(c.Failed), orUnknown(c.LoadBefore), orUnknown(c.LoadAfter))
	}
	w("\nTargets (measured, not asserted), 8 clients: at least %.0f q/s with p99 at most %.0f ms.\n\n", TargetQPS, 1e3*TargetP99)
	for _, k := range []Kind{AdHoc, Cohort, Template} {
		c := res.Cell(k, 8)
		if c == nil {
			continue
		}
		met := "met"
		if c.QPS() < TargetQPS || c.Quantile(0.99) > TargetP99 {
			met = "not met"
		}
		ceiling := ""
		if raw := res.Cell(k.RawCeiling(), 8); raw != nil {
			ceiling = fmt.Sprintf(" (plain DuckDB on the same question: %.0f q/s)", raw.QPS())
		}
		w("- %s: %.0f q/s, p99 %.1f ms: %s%s\n", k, c.QPS(), 1e3*c.Quantile(0.99), met, ceiling)
	}
	r.writeStages(w)
	w("%s\n", runEnd)
	return b.String()
}

// writeStages writes where the profiled cells' CPU went, per answer and
// as a share of the cell's profiled CPU, when the run profiled any.
func (r *Report) writeStages(w func(string, ...any)) {
	var cells []*Cell
	for _, c := range r.Result.Cells {
		if c.Stages != nil && len(c.Latencies) > 0 {
			cells = append(cells, c)
		}
	}
	if len(cells) == 0 {
		return
	}
	w("\nWhere an answer's CPU goes (`--stages`: the CPU profile of each kind's cell with the most clients, every goroutine of the process, samples named by the first stage whose functions are on their stack; work on DuckDB's own worker threads, which have no Go stack, counts as other): CPU ms per answer, and the share of the cell's profiled CPU.\n\n")
	w("| stage |")
	for _, c := range cells {
		w(" %s, %d clients |", c.Kind, c.Clients)
	}
	w("\n|---|")
	for range cells {
		w("---:|")
	}
	w("\n")
	totals := make([]float64, len(cells))
	for i, c := range cells {
		for _, s := range c.Stages {
			totals[i] += s.Seconds
		}
	}
	for _, name := range StageNames() {
		w("| %s |", name)
		for i, c := range cells {
			var sec float64
			for _, s := range c.Stages {
				if s.Name == name {
					sec = s.Seconds
				}
			}
			if sec == 0 {
				w(" – |")
				continue
			}
			w(" %.2f (%.0f %%) |", 1e3*sec/float64(len(c.Latencies)), 100*sec/totals[i])
		}
		w("\n")
	}
	w("| all profiled CPU |")
	for i, c := range cells {
		w(" %.2f |", 1e3*totals[i]/float64(len(c.Latencies)))
	}
	w("\n")
	cores := r.Machine.Cores
	if cores <= 0 {
		return
	}
	w("\nWhat the CPU per answer allows on %d cores (each at most %.0f ms of CPU a second), against the target's %.0f q/s, which needs at most %.2f ms per answer:\n\n",
		cores, 1e3, TargetQPS, 1e3*float64(cores)/TargetQPS)
	for i, c := range cells {
		n := float64(len(c.Latencies))
		var duck float64
		for _, s := range c.Stages {
			if isDuckDB(s.Name) {
				duck += s.Seconds
			}
		}
		w("- %s: %.2f ms per answer allows at most %.0f q/s; statgate's DuckDB statements alone (%s) take %.2f ms of it, which alone would allow %.0f\n",
			c.Kind, 1e3*totals[i]/n, float64(cores)*n/totals[i], strings.Join(duckDBStages, ", "), 1e3*duck/n, float64(cores)*n/max(duck, 1e-9))
	}
}

func failed(m map[int]int) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		name := fmt.Sprint(k)
		if k < 0 {
			name = "error"
		}
		parts[i] = fmt.Sprintf("%s×%d", name, m[k])
	}
	return strings.Join(parts, ", ")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func arrowOf(m benchmarks.Machine) string {
	if m.NativeArrow {
		return "DuckDB's native Arrow export"
	}
	return "database/sql rows (built without -tags duckdb_arrow)"
}

// sectionHeader opens the load section of RESULTS.md.
const sectionHeader = `## Small queries under load: a closed-loop load generator

Written by ` + "`benchmarks/cmd/load`" + ` (see benchmarks/README.md); each run below is replaced only by a later run with the same label.
c clients each post a request to the API on loopback (bearer token, JSON), read the whole response and post the next; every
request is a question not asked before in the run (ad hoc: persons by sex over a range of birth years, or contacts by type for an
ICD-10 letter and a range of stays; template: ` + "`prescriptions_by_atc_year`" + ` with a new ATC prefix; cohort: an ICD-10 letter in npr
within a range of years, an ATC group in lmr, no death, by sex or age band), so no cache can answer it. Each kind has its raw
ceiling, run with the same number of clients on the same DuckDB file (locked-down connection, no HTTP, no bounding, no noise):
"raw" runs the ad-hoc questions' SQL as it is, "raw-template" the template's SQL with the same ATC prefix written in,
"raw-cohort" the plain SQL a researcher would write for the same cohort (population, ` + "`pid IN (SELECT pid FROM …)`" + ` per
criterion, NOT IN for no death, the same groups, exact counts). "q/s vs raw" divides a kind's q/s by its own raw kind's at the
same clients, and the targets name the raw kind's q/s: what plain DuckDB does with the same questions. Every statgate request
is checked, debited durably before it runs and audited durably before it is answered. Latencies are request sent to last byte
read, nearest rank; the machine is shared, so read the load averages.
"CPU ms / answer" is the CPU the whole process (server, clients and DuckDB) used during the cell per request answered: what one
request costs, which other work on the machine changes far less than it changes q/s.

`

// WriteRun puts r into the load section of path (RESULTS.md), replacing an
// earlier run with r's label and keeping the other runs and the rest of
// the file.
func WriteRun(path string, r *Report) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("load.WriteRun: %w", err)
	}
	var runs []string
	replaced := false
	if i := strings.Index(string(old), benchmarks.LoadBegin); i >= 0 {
		sec := string(old)[i:]
		if j := strings.Index(sec, benchmarks.LoadEnd); j >= 0 {
			sec = sec[:j]
		}
		for _, m := range runRE.FindAllStringSubmatch(sec, -1) {
			run := strings.TrimRight(m[0], "\n") + "\n"
			if m[1] == r.Label {
				run, replaced = r.Markdown(), true
			}
			runs = append(runs, run)
		}
	}
	if !replaced {
		runs = append(runs, r.Markdown())
	}
	section := benchmarks.LoadBegin + "\n" + sectionHeader + strings.Join(runs, "\n") + benchmarks.LoadEnd + "\n"
	if err := benchmarks.WriteSection(path, benchmarks.LoadBegin, benchmarks.LoadEnd, section, false); err != nil {
		return fmt.Errorf("load.WriteRun: %w", err)
	}
	return nil
}
