package audit

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteEntries writes entries as an aligned text table (`statgate audit
// tail`): one line each, the request shortened to one line of at most 60
// characters, the hash to its first 12 hex digits.
func WriteEntries(w io.Writer, entries []Entry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tPRINCIPAL\tPROJECT\tKIND\tOUTCOME\tε\tδ\tDATASETS\tREQUEST\tHASH")
	for _, e := range entries {
		outcome := e.Outcome
		if e.Reason != "" {
			outcome += " (" + e.Reason + ")"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%g\t%g\t%s\t%s\t%s\n",
			e.Seq, e.Time.UTC().Format("2006-01-02 15:04:05Z"), e.Principal, e.Project, e.Kind, outcome,
			e.Epsilon, e.Delta, strings.Join(e.Datasets, ","), request(e), short(e.Hash, 12))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("audit.WriteEntries: %w", err)
	}
	return nil
}

// request is a one-line summary of what an entry asked.
func request(e Entry) string {
	s := e.Query
	if e.Template != "" {
		s = e.Template + " " + string(e.Params)
	}
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 60 {
		s = string(r[:59]) + "…"
	}
	if s == "" {
		s = "-"
	}
	return s
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// WriteReport writes the result of Verify for an operator (`statgate
// audit verify`), always with the full head hash to record elsewhere.
func WriteReport(w io.Writer, r Report) error {
	var b strings.Builder
	if r.OK {
		fmt.Fprintf(&b, "audit log OK: %d entries, hash chain and head record intact\n", r.Entries)
	} else {
		fmt.Fprintf(&b, "audit log TAMPERED (%s", r.Problem)
		if r.FirstBad > 0 {
			fmt.Fprintf(&b, " at entry %d", r.FirstBad)
		}
		fmt.Fprintf(&b, "): %s\n%d entries in the log\n", r.Detail, r.Entries)
	}
	if r.HeadSeq > 0 || r.HeadHash != "" {
		fmt.Fprintf(&b, "head: seq %d hash %s\n", r.HeadSeq, r.HeadHash)
		if r.OK {
			fmt.Fprintf(&b, "Record this head outside this machine, and check later that entry %d still has this hash.\n", r.HeadSeq)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("audit.WriteReport: %w", err)
	}
	return nil
}
