package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/statgate/statgate/engine/delivery"
	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/state"
)

// compactOptions are the flags of `statgate compact`.
type compactOptions struct {
	data, state, by string
	datasets        listFlag
	minParts        int
}

// listFlag is a repeatable string flag.
type listFlag []string

func (f *listFlag) String() string { return strings.Join(*f, ",") }

// Set adds one value.
func (f *listFlag) Set(s string) error { *f = append(*f, s); return nil }

func runCompact(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o compactOptions
	fs := newFlags("compact", "compact [--dataset NAME]… [--min-parts N] [--by NAME]", stderr,
		"statgate compact                    # every dataset read from 2 or more part files",
		"statgate compact --dataset npr      # npr only; then `statgate prune` once servers have switched")
	fs.StringVar(&o.data, "data", defaultData, "data directory holding the extracts (env STATGATE_DATA)")
	stateFlag(fs, &o.state)
	fs.Var(&o.datasets, "dataset", "dataset to compact (repeatable; default: all with at least --min-parts parts)")
	fs.IntVar(&o.minParts, "min-parts", 2, "compact a dataset read from at least this many part files")
	fs.StringVar(&o.by, "by", envOr("USER", "operator"), "who compacts, for the audit log")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	return compact(ctx, o, stdout)
}

func compact(ctx context.Context, o compactOptions, stdout io.Writer) error {
	if _, err := os.Stat(exec.ExtractsPath(o.data)); err != nil {
		return fmt.Errorf("extracts: %w (run `statgate load` first)", err)
	}
	st, err := openState(ctx, o.state, o.data)
	if err != nil {
		return err
	}
	defer st.Close()
	return compactWith(ctx, st, o, stdout)
}

// compactWith compacts with the state store st (its audit log).
func compactWith(ctx context.Context, st state.Store, o compactOptions, stdout io.Writer) error {
	rep, err := delivery.Compact(ctx, &delivery.CompactOptions{DataDir: o.data, Datasets: o.datasets, MinParts: o.minParts,
		Principal: o.by, Audit: st.Audit(), Progress: stdout})
	if err != nil {
		return err
	}
	if len(rep.Datasets) == 0 {
		fmt.Fprintln(stdout, "nothing to compact: no dataset is read from enough part files")
		return nil
	}
	names := make([]string, 0, len(rep.Datasets))
	for n, k := range rep.Datasets {
		names = append(names, fmt.Sprintf("%s (%d parts)", n, k))
	}
	slices.Sort(names)
	fmt.Fprintf(stdout, "compacted %s in %.1fs: version %d, %d rows rewritten, the same data (audited); `statgate prune` removes the old part files once servers have switched\n",
		strings.Join(names, ", "), rep.Elapsed.Seconds(), rep.Version, rep.Rows)
	return nil
}

// pruneOptions are the flags of `statgate prune`.
type pruneOptions struct {
	data   string
	grace  time.Duration
	dryRun bool
}

func runPrune(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o pruneOptions
	fs := newFlags("prune", "prune [--grace DURATION] [--dry-run]", stderr,
		"statgate prune --dry-run            # list the part files no version uses any more",
		"statgate prune --grace 1h           # on a file system several hosts share")
	fs.StringVar(&o.data, "data", defaultData, "data directory holding the extracts (env STATGATE_DATA)")
	fs.DurationVar(&o.grace, "grace", 10*time.Minute, "how long the current version must have been live first (every replica has switched)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "list what would be removed, remove nothing")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	rep, err := exec.Prune(ctx, &exec.PruneOptions{DataDir: o.data, Grace: o.grace, DryRun: o.dryRun})
	if err != nil {
		return err
	}
	if rep.Wait > 0 {
		fmt.Fprintf(stdout, "the current version is younger than --grace %s: nothing removed; try again in %s\n", o.grace, rep.Wait.Round(time.Second))
		return nil
	}
	verb := "removed"
	if o.dryRun {
		verb = "would remove"
	}
	for _, f := range rep.Removed {
		fmt.Fprintf(stdout, "%s %s\n", verb, f)
	}
	for _, l := range rep.Opening {
		fmt.Fprintf(stdout, "kept the parts of %s (a server is opening it)\n", l)
	}
	for _, l := range rep.Stale {
		fmt.Fprintf(stdout, "ignored %s (left by a process that no longer runs; remove it)\n", l)
	}
	fmt.Fprintf(stdout, "%s %d part files, %.1f MB\n", verb, len(rep.Removed), float64(rep.Bytes)/1e6)
	return nil
}
