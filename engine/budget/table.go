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

// WriteGrants writes grants as an aligned text table, with whether each
// has its audit entry (audited by grant id; nil: not checked).
func WriteGrants(w io.Writer, grants []Grant, audited map[int64]bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tBUDGET\tε\tδ\tBY\tREASON\tAUDITED")
	for _, g := range grants {
		a := "-"
		if audited != nil {
			a = "no"
			if audited[g.ID] {
				a = "yes"
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%g\t%g\t%s\t%s\t%s\n", g.ID, g.Time.UTC().Format("2006-01-02 15:04:05Z"),
			g.Account, g.Amount.Epsilon(), g.Amount.Delta(), g.Principal, g.Reason, a)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("budget.WriteGrants: %w", err)
	}
	return nil
}

// WriteCaps writes the balances of capped accounts beyond project ×
// dataset (project-wide, member, lifetime) and each project's per-person
// guarantee as aligned text tables (`statgate budget show`).
func WriteCaps(w io.Writer, caps []Balance, guarantees []Guarantee) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(caps) > 0 {
		fmt.Fprintln(tw, "\nBUDGET\tε SPENT\tε REMAINING\tε TOTAL\tδ SPENT\tδ REMAINING\tδ TOTAL\tδ FROM\tBOUND")
		for _, b := range caps {
			a := Account{Scope: b.Scope, Project: b.Project, Dataset: b.Dataset, Principal: b.Principal}
			from := b.DeltaFrom
			if from == "" {
				from = DeltaDeclared
			}
			fmt.Fprintf(tw, "%s\t%.4g\t%.4g\t%g\t%.4g\t%.4g\t%g\t%s\t%s\n", a,
				b.SpentEpsilon, b.RemainingEpsilon, b.TotalEpsilon, b.SpentDelta, b.RemainingDelta, b.TotalDelta, from, b.Bound)
		}
	}
	if len(guarantees) > 0 {
		fmt.Fprintln(tw, "\nPROJECT\tPER PERSON AT MOST ε\tδ\tFROM\tSPENT ε\tSPENT δ\tBOUND")
		for _, g := range guarantees {
			fmt.Fprintf(tw, "%s\t%g\t%g\t%s\t%.4g\t%.4g\t%s\n", g.Project, g.MaxEpsilon, g.MaxDelta, g.From,
				g.SpentEpsilon, g.SpentDelta, g.Bound)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("budget.WriteCaps: %w", err)
	}
	return nil
}
