package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/statgate/statgate/engine/delivery"
	"github.com/statgate/statgate/policies"
)

// deliverOptions are the flags of `statgate deliver`.
type deliverOptions struct {
	policy, data, state  string
	dataset, through, by string
	compactAfter         int
	files                []string
}

// deliverExamples are `statgate deliver`'s usage examples.
var deliverExamples = []string{
	"statgate deliver --dataset npr --through 2024-11 npr-2024-11.parquet   # dates within the policy's public years",
	"statgate deliver --dataset population --by registry-ops population-changes.csv.gz",
}

func runDeliver(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o deliverOptions
	fs := newFlags("deliver", "deliver --dataset NAME [--through YYYY-MM[-DD]] [--by NAME] FILE…", stderr, deliverExamples...)
	fs.StringVar(&o.policy, "policy", defaultPolicy, "policy file (env STATGATE_POLICY)")
	fs.StringVar(&o.data, "data", defaultData, "data directory holding the extracts (env STATGATE_DATA)")
	stateFlag(fs, &o.state)
	fs.StringVar(&o.dataset, "dataset", "", "dataset the files deliver rows of (required)")
	fs.StringVar(&o.through, "through", "", "last day (or month) the delivery covers, a public fact; later dates are refused and answers say \"data up to\" its month")
	fs.StringVar(&o.by, "by", envOr("USER", "operator"), "who delivers, for the audit log")
	fs.IntVar(&o.compactAfter, "compact-after", 0, "once the delivery is live, compact the dataset if it is read from more than this many part files (0: never; see `statgate compact`)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o.files = fs.Args()
	if o.dataset == "" || len(o.files) == 0 {
		fmt.Fprintln(stderr, "statgate deliver: --dataset and at least one file are required")
		fs.Usage()
		return errUsage
	}
	return deliver(ctx, o, stdout)
}

func deliver(ctx context.Context, o deliverOptions, stdout io.Writer) error {
	pol, err := policies.Load(o.policy)
	if err != nil {
		return err
	}
	var through time.Time
	if o.through != "" {
		if through, err = delivery.ParseThrough(o.through); err != nil {
			return err
		}
	}
	if _, err := os.Stat(o.data); err != nil {
		return fmt.Errorf("data directory: %w (run `statgate load` first)", err)
	}
	st, err := openState(ctx, o.state, o.data)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := delivery.Deliver(ctx, &delivery.Options{
		Policy: pol, DataDir: o.data, Dataset: o.dataset, Files: o.files, Through: through,
		Principal: o.by, Audit: st.Audit(), Progress: stdout,
	})
	if err != nil {
		return err
	}
	what := fmt.Sprintf("%d rows appended", rep.Rows)
	if rep.Mode == "upsert" {
		what = fmt.Sprintf("%d rows upserted (%d replaced, %d new persons)", rep.Rows, rep.Replaced, rep.Rows-rep.Replaced)
	}
	fmt.Fprintf(stdout, "delivered %s to %s in %.1fs: version %d, %s; delivery fingerprint %s (audited)\n",
		o.dataset, rep.Path, rep.Elapsed.Seconds(), rep.Version, what, rep.Fingerprint)
	if o.compactAfter > 0 && rep.Parts > o.compactAfter {
		return compactWith(ctx, st, compactOptions{data: o.data, by: o.by, datasets: listFlag{o.dataset}}, stdout)
	}
	return nil
}
