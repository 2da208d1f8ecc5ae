package budget

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable writes balances as an aligned text table (`statgate budget show`).
func WriteTable(w io.Writer, balances []Balance) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tDATASET\tε SPENT\tε REMAINING\tε TOTAL\tδ SPENT\tδ REMAINING\tδ TOTAL\tρ SPENT\tρ REMAINING\tBOUND")
	for _, b := range balances {
		fmt.Fprintf(tw, "%s\t%s\t%.4g\t%.4g\t%g\t%.4g\t%.4g\t%g\t%.4g\t%.4g\t%s\n", b.Project, b.Dataset,
			b.SpentEpsilon, b.RemainingEpsilon, b.TotalEpsilon,
			b.SpentDelta, b.RemainingDelta, b.TotalDelta,
			b.SpentRho, b.RemainingRho, b.Bound)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("budget.WriteTable: %w", err)
	}
	return nil
}

// WriteHistory writes debits as an aligned text table, in the given order.
func WriteHistory(w io.Writer, entries []Entry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tPROJECT\tDATASET\tPRINCIPAL\tQUERY\tε\tδ")
	for _, e := range entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%g\t%g\n", e.ID,
			e.Time.UTC().Format("2006-01-02 15:04:05Z"), e.Project, e.Dataset, e.Principal, e.QueryID,
			e.Cost.Epsilon(), e.Cost.Delta())
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("budget.WriteHistory: %w", err)
	}
	return nil
}
