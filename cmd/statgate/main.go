// Command statgate is the one binary of statgate: it generates synthetic
// registries, loads extracts, answers protected aggregate queries from the
// command line, serves the HTTP API, and manages tokens, budgets and the
// audit log. Run `statgate help` for the subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"demo":    {"generate a small synthetic extract if none is cached, load it, create demo tokens and serve on 127.0.0.1:8080", runDemo},
		"serve":   {"serve the HTTP API", runServe},
		"gen":     {"generate synthetic Norwegian-style registries as Parquet", runGen},
		"load":    {"load the policy's extracts into the data directory", runLoad},
		"deliver": {"append (or, one row per person, upsert) a delivery to a dataset as a new version", runDeliver},
		"compact": {"merge a dataset's delivery part files into one, as a new version of the same data", runCompact},
		"prune":   {"remove the part files no version uses any more (after compact, upserts or a load)", runPrune},
		"query":   {"answer one aggregate SQL query with protection, from the command line", runQuery},
		"token":   {"create, list or revoke API tokens (token create|list|revoke)", runToken},
		"budget":  {"show privacy budgets, raise one, list the grants (budget show|grant|grants)", runBudget},
		"audit":   {"show or verify the audit log (audit tail|verify)", runAudit},
		"catalog": {"export the data map as a DCAT-AP / HealthDCAT-AP catalogue in JSON-LD (catalog export)", runCatalog},
	}
}

// errUsage marks an error whose usage text was already printed.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "statgate: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "statgate %s: %v\n", args[0], err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "statgate — privacy-preserving aggregate statistics over registry extracts")
	fmt.Fprintln(w, "\nUsage: statgate <command> [flags]    (statgate <command> --help for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-7s %s\n", n, commands[n].summary)
	}
}

// newFlags returns a flag set that prints its usage, with the examples
// given, to stderr and returns errors instead of exiting.
func newFlags(name, synopsis string, stderr io.Writer, examples ...string) *flag.FlagSet {
	fs := flag.NewFlagSet("statgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: statgate %s\n", synopsis)
		writeExamples(stderr, examples)
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// writeExamples prints a usage text's examples.
func writeExamples(w io.Writer, examples []string) {
	if len(examples) == 0 {
		return
	}
	fmt.Fprintln(w, "\nExample:")
	for _, e := range examples {
		fmt.Fprintln(w, "  "+e)
	}
}

// parseFlags parses args and maps flag errors to errUsage (the flag
// package already printed what was wrong and the usage).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// parseFlagsOnly is parseFlags for a command that takes flags and no
// arguments: an argument is a usage error naming it.
func parseFlagsOnly(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	return nil
}

// envOr returns the environment variable's value, or def when unset.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Defaults shared by the subcommands, demo included, so that every
// operator command finds the data the server (or the demo) uses;
// STATGATE_POLICY and STATGATE_DATA override them.
var (
	defaultPolicy = envOr("STATGATE_POLICY", "policies/norway-synthetic.yaml")
	defaultData   = envOr("STATGATE_DATA", ".statgate/data")
)

func logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
