package utility

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Target is one figure of issue 12's targets table.
type Target struct {
	Figure string
	// Now is the measured value, printed; Goal the target, printed.
	Now, Goal string
	// Met says whether Now meets Goal (false when Now is unknown).
	Met bool
}

// Targets returns issue 12's targets table for r.
func (r *Report) Targets() []Target {
	o := r.Overall
	worst, worstMet := "–", false
	if r.Worst >= 0 {
		w := r.Outcomes[r.Worst]
		worst = fmt.Sprintf("%s (%s)", signedPct(w.Stats.MedianBias), w.Question.Name)
		worstMet = math.Abs(w.Stats.MedianBias) <= 0.05
	}
	return []Target{
		{fmt.Sprintf("worst question's median bias, count cells truth ≥ 100 (questions with SE ≤ %.1f %%)", 100*BiasPrecision), worst, "within ±5 %", worstMet},
		{"median |error|, count cells truth ≥ 100", pct(o.MedianAbsErr), "≤ 3 %", o.MedianAbsErr <= 0.03},
		{"released count cells with truth < min_cell_count", pct(o.SmallShare), "≤ 1 %", o.SmallShare <= 0.01},
		{"95 % intervals containing the exact answer", pct(o.Coverage), "≥ 93 %", o.Coverage >= 0.93},
		{"mean / median cells, median |error|", pct(o.MeanAbsErr), "≤ 10 %", o.MeanAbsErr <= 0.10},
	}
}

// WriteMarkdown writes r as benchmarks/UTILITY.md.
func (r *Report) WriteMarkdown(w io.Writer) error {
	b := &strings.Builder{}
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	if r.Holdout {
		p("# Utility benchmark: the holdout\n\n")
		p("How close statgate's released numbers are to the truth on questions it was not tuned on: every question of the\n")
		p("holdout workload (`utility.Holdout`, %d questions: ad-hoc SQL, a template, cohorts, written apart from the main\n", len(r.Outcomes))
		p("workload and never used to choose the engine's rules) is asked through\n")
	} else {
		p("# Utility benchmark\n\n")
		p("How close statgate's released numbers are to the truth: every question of a workload of realistic researcher and\n")
		p("analyst questions (`benchmarks/utility`, %d questions: ad-hoc SQL, templates, cohorts) is asked through\n", len(r.Outcomes))
	}
	p("`Engine.Query` at the shipped policy's ε per query, and every released cell is compared with the exact, unbounded\n")
	p("answer of a plain DuckDB over the same Parquet files. This file is written by the command below; see\n")
	p("[README.md](README.md#utility-benchmark) for how to run it and how to read it.\n\n")
	p("- Command: `%s`\n", r.Command)
	p("- Date: %s\n", r.Started.Format("2006-01-02 15:04 MST"))
	if r.Commit != "" {
		p("- Source: %s\n", r.Commit)
	}
	m := r.Machine
	p("- Machine: nproc %d, %s, %s, %s, DuckDB %s, load average %s at the start\n", m.Cores, orDash(m.CPU), m.OS, m.Go, orDash(m.DuckDB), orDash(m.Load))
	d := r.Data
	if d != nil {
		var rows []string
		for _, t := range d.Tables {
			rows = append(rows, fmt.Sprintf("%s %d", t.Name, t.Rows))
		}
		cached := ""
		if d.Cached {
			cached = ", cached from an earlier run"
		}
		p("- Data: `statgate gen --persons %d --seed %d` (engine/synth), rows: %s; generated in %.1f s, loaded in %.1f s%s\n",
			d.Persons, d.Seed, strings.Join(rows, ", "), d.Generated.Seconds(), d.Loaded.Seconds(), cached)
	}
	p("- Policy: `%s` as shipped (ε per query, bounds, min_cell_count, round_to), project budgets raised to ε = %g, δ = %g in memory so nothing is refused for budget\n", PolicyPath, Budget.Epsilon, Budget.Delta)
	p("- Repetitions: each question asked %d time(s) with fresh noise, cells pooled; the run took %.0f s\n\n", r.Reps, r.Elapsed.Seconds())

	p("## Targets (issue 12)\n\n")
	p("| figure | now | target | met |\n|---|---|---|---|\n")
	for _, t := range r.Targets() {
		met := "no"
		if t.Met {
			met = "yes"
		}
		p("| %s | %s | %s | %s |\n", escapeCell(t.Figure), escapeCell(t.Now), t.Goal, met)
	}
	p("\n")

	r.writeHistory(b)
	r.writeOverall(b)
	r.writeAnswers(b)
	r.writeAccuracy(b)
	if r.Epi != nil {
		if err := r.Epi.WriteMarkdown(b); err != nil {
			return err
		}
	}
	writeDefinitions(b)
	r.writeWorkload(b)
	_, err := io.WriteString(w, b.String())
	return err
}

// historyHeader is the header of the History table.
const historyHeader = "| date | run | source | persons | reps | worst median bias | median \\|error\\| | truth < min cell | CI coverage | mean/median \\|error\\| |"

// HistoryRow is r's line of the History table: its targets figures under
// label (what changed, e.g. "before item 5").
func (r *Report) HistoryRow(label string) string {
	t := r.Targets()
	persons := 0
	if r.Data != nil {
		persons = r.Data.Persons
	}
	return fmt.Sprintf("| %s | %s | %s | %d | %d | %s | %s | %s | %s | %s |", r.Started.Format("2006-01-02"), escapeCell(label),
		escapeCell(orDash(r.Commit)), persons, r.Reps, t[0].Now, t[1].Now, t[2].Now, t[3].Now, t[4].Now)
}

// ParseHistory returns the rows of the History table of an earlier report
// (markdown as WriteMarkdown writes it), oldest first; none when it has no
// such table.
func ParseHistory(markdown string) []string {
	var rows []string
	in := false
	for _, line := range strings.Split(markdown, "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## History"
		case in && strings.HasPrefix(line, "| ") && line != historyHeader && !strings.HasPrefix(line, "|---"):
			rows = append(rows, line)
		}
	}
	return rows
}

func (r *Report) writeHistory(b *strings.Builder) {
	if len(r.History) == 0 {
		return
	}
	fmt.Fprintf(b, "## History\n\nThe targets figures of earlier runs (kept from the previous file; `--history LABEL` adds a run).\n\n%s\n", historyHeader)
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range r.History {
		b.WriteString(row + "\n")
	}
	b.WriteString("\n")
}

func (r *Report) writeOverall(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	answered, refused, failed := 0, 0, 0
	for _, o := range r.Outcomes {
		switch {
		case o.Answered == o.Runs:
			answered++
		case len(o.Failed) > 0:
			failed++
		default:
			refused++
		}
	}
	s := r.Overall
	p("## Overall\n\n")
	p("| figure | value |\n|---|---|\n")
	p("| questions answered / refused / failed | %d / %d / %d |\n", answered, refused, failed)
	p("| cells released / suppressed / not released (groups) | %d / %d / %d (%d) |\n", s.Released, s.Suppressed, s.NotReleased, s.NotReleasedGroups)
	p("| suppressed share of listed cells | %s |\n", pct(s.SuppressedShare))
	p("| count cells with truth ≥ %d | %d of %d released count cells |\n", LargeCount, s.Large, s.CountCells)
	p("| median \\|relative error\\|, count cells truth ≥ %d | %s |\n", LargeCount, pct(s.MedianAbsErr))
	p("| median bias (signed relative error), count cells truth ≥ %d | %s |\n", LargeCount, signedPct(s.MedianBias))
	if r.Worst >= 0 {
		w := r.Outcomes[r.Worst]
		p("| worst question's median bias, questions whose bias is measured to ±%.1f %% (1 SE) | %s ± %s (%s) |\n",
			100*BiasPrecision, signedPct(w.Stats.MedianBias), pct(w.Stats.BiasSE), w.Question.Name)
	}
	if r.WorstAny >= 0 {
		w := r.Outcomes[r.WorstAny]
		p("| worst question's median bias, all questions | %s ± %s (%s) |\n", signedPct(w.Stats.MedianBias), pct(w.Stats.BiasSE), w.Question.Name)
	}
	p("| 95 %% interval contains the exact answer | %s of %d cells |\n", pct(s.Coverage), s.CoverageCells)
	p("| released count cells with truth < min_cell_count | %s (%d of %d) |\n", pct(s.SmallShare), s.Small, s.CountCells)
	p("| mean / median cells, median \\|relative error\\| | %s of %d cells |\n", pct(s.MeanAbsErr), s.MeanCells)
	p("| sum cells, median \\|relative error\\| | %s of %d cells |\n", pct(s.SumAbsErr), s.SumCells)
	p("| stddev / variance cells, median \\|relative error\\| | %s of %d cells |\n", pct(s.SpreadAbsErr), s.SpreadCells)
	p("| expressions of aggregates (ratios), median \\|relative error\\| | %s of %d cells |\n", pct(s.RatioAbsErr), s.RatioCells)
	p("| mean / quantile / spread cells released for groups with no data | %d |\n\n", s.NoData)
}

func (r *Report) writeAnswers(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("## Per question: what was released\n\n")
	p("Cells are per repetition (a group with two measures is two cells). Not released: groups of the exact answer the\n")
	p("result does not list, with the largest exact count among them. V: the values per person and group that means,\n")
	p("quantiles and spreads take, when the question has any.\n\n")
	p("| # | question | asked as | status | groups | L0 / L∞ [/ V] (l0_step) | exact groups | released | suppressed | not released (largest truth) |\n")
	p("|---|---|---|---|---|---|---|---|---|---|\n")
	for i, o := range r.Outcomes {
		s := o.Stats
		groups, bounds := "–", "–"
		if o.Answered > 0 {
			groups = o.Meta.Groups
			b := o.Meta.Bounding
			bounds = fmt.Sprintf("%d / %d", b.MaxGroupsPerPerson, b.MaxRowsPerPersonPerGroup)
			if b.MaxValuesPerPersonPerGroup > 0 {
				bounds += fmt.Sprintf(" / %d", b.MaxValuesPerPersonPerGroup)
			}
			bounds += " (" + b.L0Step + ")"
		}
		nr := fmt.Sprint(s.NotReleasedGroups)
		if s.NotReleasedGroups > 0 && !math.IsNaN(s.MaxNotReleased) {
			nr += fmt.Sprintf(" (%.0f)", s.MaxNotReleased)
		}
		p("| %d | %s | %s | %s | %s | %s | %d | %d | %d | %s |\n", i+1, o.Question.Name, o.Question.Kind(), o.Status(),
			groups, bounds, o.ExactRows, s.Released, s.Suppressed, nr)
	}
	var msgs []string
	for _, o := range r.Outcomes {
		if o.Message != "" {
			msgs = append(msgs, fmt.Sprintf("- %s: %s", o.Question.Name, escapeCell(o.Message)))
		}
	}
	if len(msgs) > 0 {
		p("\nRefusals and failures:\n\n%s\n", strings.Join(msgs, "\n"))
	}
	p("\n")
}

func (r *Report) writeAccuracy(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("## Per question: accuracy\n\n")
	p("| # | question | count cells ≥ %d | median \\|err\\| | median bias ± SE | CI coverage | truth < min cell | mean/median \\|err\\| | sum \\|err\\| | sd/var \\|err\\| | ratio \\|err\\| | no-data cells | suppressed |\n", LargeCount)
	p("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for i, o := range r.Outcomes {
		s := o.Stats
		name := o.Question.Name
		switch i {
		case r.Worst:
			name = "**" + name + "** (worst bias)"
		case r.WorstAny:
			name += " (worst bias, imprecise)"
		}
		p("| %d | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s |\n", i+1, name, s.Large,
			pct(s.MedianAbsErr), bias(s), withN(pct(s.Coverage), s.CoverageCells),
			withN(pct(s.SmallShare), s.CountCells), withN(pct(s.MeanAbsErr), s.MeanCells),
			withN(pct(s.SumAbsErr), s.SumCells), withN(pct(s.SpreadAbsErr), s.SpreadCells),
			withN(pct(s.RatioAbsErr), s.RatioCells), s.NoData, pct(s.SuppressedShare))
	}
	p("\n")
}

func writeDefinitions(b *strings.Builder) {
	b.WriteString(`## How the figures are computed

- Released rows are matched to exact rows by their key values (margins of ROLLUP, CUBE and ` + "`totals`" + ` by their NULL keys).
  A released group the exact answer lacks (a public-domain group with no data) has truth 0 for counts and sums and no
  truth for means, quantiles and spreads ("no-data cells": a number released where there is nothing to estimate).
- Suppressed cells are counted as suppressed, not as errors. Groups of the exact answer that the result does not list
  (partition selection left them out, or they fall outside the public domain) are "not released", with their truth.
- Relative error is (released − exact) / |exact|. The count figures use count cells (count(*), count(col),
  count(DISTINCT pid), cohort sizes) whose exact value is at least 100; bias is the median of the signed error, so a
  negative bias means answers are systematically too low (as per-person bounding makes them).
- The ± after a median bias is its standard error from the noise alone: √(π/2) · RMS(noise sd / truth) / √cells,
  with the noise sd the result states. The worst question of the targets table is chosen among questions whose SE
  is at most ` + fmt.Sprintf("%.1f", 100*BiasPrecision) + ` %: with fewer or noisier cells a median bias says more about the noise than about bounding
  (more repetitions, ` + "`--reps`" + `, shrink the SE). The overall table also names the worst question among all.
- CI coverage is the share of released cells, of every kind, whose ` + "`ci95`" + ` contains the exact unbounded answer.
- "truth < min cell" is the share of released count cells whose exact value is under the result's min_cell_count (5):
  cells that should have been suppressed and carry mostly noise.
- Mean/median error pools avg, median and quantile_cont cells with a non-zero exact value.
- Every repetition's cells are pooled; overall figures pool every question's cells (questions with many cells weigh more).

`)
}

func (r *Report) writeWorkload(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("## Workload\n\n")
	for i, o := range r.Outcomes {
		q := o.Question
		p("%d. **%s** — %s. %s, project %s, as %s", i+1, q.Name, q.Title, q.Kind(), q.Project, q.Principal)
		if q.Totals {
			p(", with totals")
		}
		p(".\n")
		switch q.Kind() {
		case "template":
			params, _ := json.Marshal(q.Params) // keys sorted
			p("   Template `%s` with `%s`.\n", q.Template, params)
		case "cohort":
			spec, _ := json.Marshal(q.Cohort)
			p("   Cohort `%s`.\n", spec)
		default:
			p("   `%s`\n", oneLine(q.SQL))
		}
		if q.Exact != "" && (q.Kind() != "sql" || oneLine(q.Exact) != oneLine(q.SQL)) {
			p("   Exact: `%s`\n", oneLine(q.Exact))
		}
	}
	p("\nA cohort's exact answer is COUNT(DISTINCT pid) with a semi-join per include criterion and an anti-join per exclude\n")
	p("criterion (`utility.CohortExactSQL`); icd10_chapter is a DuckDB macro over the WHO 2019 chapter ranges.\n")
}

// oneLine collapses whitespace runs so SQL fits an inline code span.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func escapeCell(s string) string { return strings.ReplaceAll(oneLine(s), "|", "\\|") }

func pct(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.1f %%", 100*x)
}

// bias prints a median bias and its standard error.
func bias(s Stats) string {
	if math.IsNaN(s.MedianBias) {
		return "–"
	}
	return signedPct(s.MedianBias) + " ± " + pct(s.BiasSE)
}

func signedPct(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%+.1f %%", 100*x)
}

func withN(v string, n int) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%s (%d)", v, n)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// WriteCellsCSV writes every matched cell of r, one line each: question,
// repetition-pooled key, measure, class, status, released value and
// interval, and the exact value (empty where there is none).
func (r *Report) WriteCellsCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"question", "key", "margin", "measure", "class", "status", "value", "stddev", "ci_lo", "ci_hi", "truth", "rel_err"})
	num := func(x float64, ok bool) string {
		if !ok || math.IsNaN(x) {
			return ""
		}
		return strconv.FormatFloat(x, 'g', 8, 64)
	}
	for _, o := range r.Outcomes {
		for i := range o.Cells {
			c := &o.Cells[i]
			rel := c.Status == Released
			cw.Write([]string{o.Question.Name, c.Key, strconv.FormatBool(c.Margin), c.Measure, string(c.Class), string(c.Status),
				num(c.Value, rel), num(c.StdDev, rel), num(c.CI[0], c.HasCI), num(c.CI[1], c.HasCI), num(c.Truth, c.HasTruth), num(c.RelErr(), true)})
		}
	}
	cw.Flush()
	return cw.Error()
}
