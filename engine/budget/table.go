package budget

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/policies"
)

// Balances returns the balance of every dataset of project in p, in the
// project's dataset order, or of every project (sorted by id) when project
// is "". An unknown project is a KindNotFound refusal.
func Balances(ctx context.Context, l Ledger, p *policies.Policy, project string) ([]Balance, error) {
	var ids []string
	if project != "" {
		if _, ok := p.Projects[project]; !ok {
			return nil, &refusal.Error{Kind: refusal.KindNotFound, Code: "project_not_found",
				Message: fmt.Sprintf("there is no project %q in the policy", project)}
		}
		ids = []string{project}
	} else {
		for id := range p.Projects {
			ids = append(ids, id)
		}
		slices.Sort(ids)
	}
	var out []Balance
	for _, id := range ids {
		for _, d := range p.Projects[id].Datasets {
			b, err := l.Remaining(ctx, id, d)
			if err != nil {
				return nil, fmt.Errorf("budget.Balances: %w", err)
			}
			out = append(out, b)
		}
	}
	return out, nil
}

// WriteTable writes balances as an aligned text table (`statgate budget show`).
func WriteTable(w io.Writer, balances []Balance) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tDATASET\tε SPENT\tε REMAINING\tε TOTAL\tδ SPENT\tδ REMAINING\tδ TOTAL")
	for _, b := range balances {
		fmt.Fprintf(tw, "%s\t%s\t%g\t%g\t%g\t%g\t%g\t%g\n", b.Project, b.Dataset,
			b.SpentEpsilon, b.RemainingEpsilon, b.TotalEpsilon,
			b.SpentDelta, b.RemainingDelta, b.TotalDelta)
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
			e.Epsilon, e.Delta)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("budget.WriteHistory: %w", err)
	}
	return nil
}
