package deliverbench

import (
	"fmt"
	"strings"
)

// Markers around this benchmark's section of RESULTS.md.
const (
	SectionBegin = "<!-- deliver: written by benchmarks/cmd/deliver -->"
	SectionEnd   = "<!-- /deliver -->"
)

// Targets of issue 19.
const (
	// MaxVisible is the most seconds until queries see the delivery.
	MaxVisible = 10.0
	// MaxRatio is the most it may cost relative to loading its rows alone.
	MaxRatio = 10.0
)

// Ratio is Visible / LoadAlone, both with the clients asking (0 when the
// load took no time).
func (r *Result) Ratio() float64 { return ratio(r.Visible, r.LoadAlone) }

// RatioIdle is VisibleIdle / LoadAloneIdle, both without clients.
func (r *Result) RatioIdle() float64 { return ratio(r.VisibleIdle, r.LoadAloneIdle) }

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// Section renders the result as RESULTS.md's deliver section, markers
// included.
func (r *Result) Section(command string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	ok := func(good bool) string {
		if good {
			return "✓"
		}
		return "✗"
	}
	m := r.Machine
	p("%s", SectionBegin)
	p("## Deliveries (issue 19)")
	p("")
	p("`%s` — %s, %d cores, load average %s at the start, Go %s, DuckDB %s, native Arrow %v.", command, m.CPU, m.Cores, m.Load, m.Go, m.DuckDB, m.NativeArrow)
	p("")
	p("A delivery of %s npr rows (`statgate deliver`, with its audit entry) onto a %s-row npr, while %d closed-loop clients ask an engine that checks the extracts every %s (`serve --watch-extracts`); repeats off, so every answer is a paid release.", count(r.DeliveryRows), count(r.Rows), r.Clients, r.Watch)
	p("")
	p("The delivery, loading its rows alone and the copy-and-append alternative are each timed twice under equal conditions: with the clients asking (the target's condition), and idle after them (the same rows delivered once more).")
	p("")
	p("| | clients asking | idle | target |")
	p("|---|---|---|---|")
	p("| seconds until new requests run on the delivery | %.2f s (deliver %.2f s; first answer naming it after %.2f s) | %.2f s (deliver %.2f s) | ≤ %.0f s %s |", r.Visible, r.Deliver, r.FirstAnswer, r.VisibleIdle, r.DeliverIdle, MaxVisible, ok(r.Visible <= MaxVisible && r.VisibleIdle <= MaxVisible))
	p("| `statgate load` of the %s rows alone | %.2f s | %.2f s | |", count(r.DeliveryRows), r.LoadAlone, r.LoadAloneIdle)
	p("| ratio, until visible / load alone | %.2f | %.2f | ≤ %.0f %s |", r.Ratio(), r.RatioIdle(), MaxRatio, ok(r.Ratio() <= MaxRatio && r.RatioIdle() <= MaxRatio))
	if r.Copy > 0 {
		p("| the alternative: copy extracts.duckdb, append inside, checkpoint | %.2f s (%.1f× the load alone) | %.2f s (%.1f×) | |", r.Copy, ratio(r.Copy, r.LoadAlone), r.CopyIdle, ratio(r.CopyIdle, r.LoadAloneIdle))
	}
	p("| answers through the switch (old version / new) | %d (%d / %d), %d errors | | 0 errors %s |", r.Answers, r.Old, r.New, r.Errors, ok(r.Errors == 0))
	p("| median seconds per answer, old / new version | %.2f / %.2f | | |", r.MedianOld, r.MedianNew)
	p("| refused delivery (a NULL person key) | version, fingerprint and exact data unchanged: %v | | unchanged %s |", r.RefusedSame, ok(r.RefusedSame))
	p("")
	p("Refusal message: `%s`", r.Refused)
	if r.FirstError != "" {
		p("")
		p("First error: `%s`", r.FirstError)
	}
	p("%s", SectionEnd)
	return b.String()
}

// count writes 1000000 as "1 M", 100000000 as "100 M", others as digits.
func count(n int64) string {
	if n >= 1_000_000 && n%1_000_000 == 0 {
		return fmt.Sprintf("%d M", n/1_000_000)
	}
	return fmt.Sprintf("%d", n)
}
