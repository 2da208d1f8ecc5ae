package budget

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// Markers around the budget benchmark's section of RESULTS.md.
const (
	SectionBegin = "<!-- budget: written by benchmarks/cmd/budget -->"
	SectionEnd   = "<!-- /budget -->"
)

// Setup describes the run for the report.
type Setup struct {
	Command        string
	Persons        int
	Seed           uint64
	Questions      []Question
	Policy, Commit string
}

// WriteMarkdown writes the comparison as RESULTS.md's budget section,
// markers included.
func (c *Compare) WriteMarkdown(w io.Writer, s *Setup) error {
	var b strings.Builder
	kinds := map[string]int{}
	for _, q := range s.Questions {
		switch {
		case q.Request.Template != "":
			kinds["template"]++
		case q.Request.Cohort != nil:
			kinds["cohort"]++
		default:
			kinds["sql"]++
		}
	}
	fmt.Fprintln(&b, SectionBegin)
	fmt.Fprintln(&b, "## A budget that lasts: basic composition against zCDP (issue 20)")
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "`%s` (commit %s): %d persons (seed %d), policy `%s` with its budgets (diabetes-2026 ε 10 / δ 1e-5 on each dataset, cancer-survival ε 6 / δ 1e-5). ",
		s.Command, s.Commit, s.Persons, s.Seed, s.Policy)
	fmt.Fprintf(&b, "One session of %d distinct questions (%d ad-hoc SQL, %d templates, %d cohorts; SQL and cohorts at ε %v in turn, templates at their fixed ε) over npr, lmr, cancer, population and death_causes, asked in the same order by a fresh ledger under each accounting; a question the budget cannot pay is refused and the session goes on. ",
		len(s.Questions), kinds["sql"], kinds["template"], kinds["cohort"], Epsilons)
	fmt.Fprintln(&b, "The same question at the same ε gets the same mechanism and noise scale under either accounting, so every answer is as accurate under both; information is Σ 1/sd² over the released (not suppressed) cells, given for count cells (persons, rows: one scale) and for all cells (sums and means in their own units).")
	fmt.Fprintln(&b)
	projects := map[string]bool{}
	for _, o := range []*Outcome{c.Basic, c.ZCDP} {
		for p := range o.ByProject() {
			projects[p] = true
		}
		for p := range o.Exhausted {
			projects[p] = true
		}
	}
	names := slices.Sorted(maps.Keys(projects))
	fmt.Fprint(&b, "| accounting | answers | refused: budget | released cells | Σ 1/sd², count cells | Σ 1/sd², all cells |")
	for _, p := range names {
		fmt.Fprintf(&b, " %s answers | %s Σ 1/sd² |", p, p)
	}
	fmt.Fprintln(&b)
	fmt.Fprint(&b, "|---|---:|---:|---:|---:|---:|")
	for range names {
		fmt.Fprint(&b, "---:|---:|")
	}
	fmt.Fprintln(&b)
	for _, o := range []*Outcome{c.Basic, c.ZCDP} {
		refused := 0
		for _, n := range o.Exhausted {
			refused += n
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %.4g | %.4g |", o.Accounting, len(o.Answers), refused, o.Cells(), o.CountInfo(), o.Info())
		bp := o.ByProject()
		for _, p := range names {
			fmt.Fprintf(&b, " %.0f | %.4g |", bp[p][0], bp[p][1])
		}
		fmt.Fprintln(&b)
	}
	fmt.Fprintln(&b)
	ratio := func(z, bb float64) string {
		if bb == 0 {
			return "∞"
		}
		return fmt.Sprintf("%.2f×", z/bb)
	}
	fmt.Fprintf(&b, "zCDP against basic: **%s the answers, %s the released cells, %s the information of count cells** (%s of all cells' Σ 1/sd², a sum dominated by the few means with the smallest sd in their own units)",
		ratio(float64(len(c.ZCDP.Answers)), float64(len(c.Basic.Answers))), ratio(float64(c.ZCDP.Cells()), float64(c.Basic.Cells())),
		ratio(c.ZCDP.CountInfo(), c.Basic.CountInfo()), ratio(c.ZCDP.Info(), c.Basic.Info()))
	zp, bp := c.ZCDP.ByProject(), c.Basic.ByProject()
	for _, p := range names {
		fmt.Fprintf(&b, "; %s %s the answers, %s the information", p, ratio(zp[p][0], bp[p][0]), ratio(zp[p][1], bp[p][1]))
	}
	fmt.Fprintf(&b, ". Questions answered under both: %d, median ratio of their median sd (zCDP / basic) %.3f.\n", c.Common, c.SDRatio)
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "Mechanisms of the answers (meta.mechanism; policy noise auto on npr and lmr, gaussian on cancer):")
	fmt.Fprintln(&b)
	for _, o := range []*Outcome{c.Basic, c.ZCDP} {
		m := map[string]int{}
		for _, a := range o.Answers {
			m[a.Mechanism]++
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
		fmt.Fprintf(&b, "- %s: %s\n", o.Accounting, strings.Join(parts, ", "))
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "The ledger at the end of each session (stated guarantee: the smaller valid bound):")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| accounting | project | dataset | ε spent / total | bound | ρ spent / allowed |")
	fmt.Fprintln(&b, "|---|---|---|---:|---|---:|")
	for _, o := range []*Outcome{c.Basic, c.ZCDP} {
		for _, rep := range o.Budgets {
			for _, d := range rep.Datasets {
				if d.Epsilon.Spent == 0 {
					continue
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %.3g / %g | %s | %.3g / %.3g |\n", o.Accounting, rep.Project, d.Dataset,
					d.Epsilon.Spent, d.Epsilon.Total, d.Bound, d.Rho.Spent, d.Rho.Total)
			}
		}
	}
	fmt.Fprintln(&b, SectionEnd)
	_, err := io.WriteString(w, b.String())
	return err
}
