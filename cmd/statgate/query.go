package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/statgate/statgate/api"
	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/result"
	"github.com/statgate/statgate/policies"
)

// queryOptions are the flags of `statgate query`.
type queryOptions struct {
	repeats bool // free repeats from the result cache
	policy  string
	data    string
	state   string
	project string
	as      string
	epsilon float64
	totals  bool
	format  string
}

func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o queryOptions
	fs := newFlags("query", `query --project P --as PRINCIPAL [--epsilon E] [--totals] [--format table|json|csv] "SQL"`, stderr,
		`statgate query --project diabetes-2026 --as ingrid --format csv "SELECT sex, count(DISTINCT pid) AS persons FROM population GROUP BY 1"`)
	fs.StringVar(&o.policy, "policy", defaultPolicy, "policy file (env STATGATE_POLICY)")
	fs.StringVar(&o.data, "data", defaultData, "data directory (env STATGATE_DATA)")
	stateFlag(fs, &o.state)
	fs.StringVar(&o.project, "project", "", "project the query is asked in and paid from (required)")
	fs.StringVar(&o.as, "as", "", "principal asking, as named in the policy's project members (required)")
	fs.Float64Var(&o.epsilon, "epsilon", 0, "ε to spend (default: the policy's default)")
	fs.BoolVar(&o.totals, "totals", false, "add margins (totals) with secondary suppression")
	fs.BoolVar(&o.repeats, "repeats", true, "answer a question asked before in the project from its stored release, at no cost (false: answer and pay anew)")
	fs.StringVar(&o.format, "format", "table", "output format: table (values with [95% CI]), json (the API's JSON) or csv (the API's CSV)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.project == "" || o.as == "" || fs.NArg() != 1 || (o.format != "table" && o.format != "json" && o.format != "csv") {
		fmt.Fprintln(stderr, "statgate query: needs --project, --as, a --format of table, json or csv, and exactly one SQL argument")
		fs.Usage()
		return errUsage
	}
	pol, err := policies.Load(o.policy)
	if err != nil {
		return err
	}
	if err := requireExtracts(o.data); err != nil {
		return err
	}
	store, err := openState(ctx, o.state, o.data)
	if err != nil {
		return err
	}
	defer store.Close()
	eng, err := engine.New(ctx, &engine.Options{Policy: pol, DataDir: o.data, State: store, NoRepeats: !o.repeats})
	if err != nil {
		return err
	}
	defer eng.Close()
	res, err := eng.Query(ctx, engine.Principal{Name: o.as}, engine.Request{
		Project: o.project, SQL: fs.Arg(0), Epsilon: o.epsilon, Totals: o.totals,
	})
	if err != nil {
		return err
	}
	switch o.format {
	case "json":
		b, err := api.Render(res, api.MediaJSON)
		if err != nil {
			return err
		}
		if !bytes.HasSuffix(b, []byte("\n")) {
			b = append(b, '\n')
		}
		_, err = stdout.Write(b)
		return err
	case "csv":
		b, err := api.Render(res, api.MediaCSV)
		if err != nil {
			return err
		}
		_, err = stdout.Write(b)
		return err
	}
	return printResult(stdout, res)
}

// printResult writes a released result as an aligned table: each measure
// as value [95% CI], suppressed cells as "suppressed".
func printResult(w io.Writer, res *result.Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	names := make([]string, len(res.Columns))
	for i, c := range res.Columns {
		names[i] = c.Name
	}
	fmt.Fprintln(tw, strings.Join(names, "\t"))
	for _, row := range res.Rows {
		cells := make([]string, len(row.Cells))
		for i, c := range row.Cells {
			cells[i] = formatCell(res.Columns[i], c, row.Margin)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	m := res.Meta
	fmt.Fprintf(w, "\n%d rows; ε %.4g and δ %.3g spent on %s (%s noise, groups by %s, L0 %d, L∞ %d, min cell %d, rounded to %d); %d cells suppressed\n",
		len(res.Rows), m.Epsilon, m.Delta, strings.Join(m.Datasets, ", "), m.Mechanism, m.Groups,
		m.Bounding.MaxGroupsPerPerson, m.Bounding.MaxRowsPerPersonPerGroup, m.MinCellCount, m.RoundTo, m.SuppressedCells)
	for _, n := range m.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	for _, n := range m.Warnings {
		fmt.Fprintln(w, "WARNING:", n)
	}
	return nil
}

func formatCell(col result.Column, c result.Cell, margin bool) string {
	switch {
	case c.Suppressed:
		return "suppressed"
	case c.Value == nil && col.Role == result.RoleKey && margin:
		return "(total)"
	case c.Value == nil:
		return "NULL"
	case col.Role == result.RoleKey:
		return fmt.Sprint(c.Value)
	}
	v := fmt.Sprintf("%.4g", c.Value)
	if c.CI != nil {
		v += fmt.Sprintf(" [%.4g, %.4g]", c.CI[0], c.CI[1])
	}
	return v
}
