package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/state"
)

// demoDatasets are the extract files `statgate gen` writes.
var demoDatasets = []string{"population", "npr", "lmr", "cancer", "death_causes"}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		o       serveOptions
		dir     string
		persons int
	)
	fs := newFlags("demo", "demo [--dir DIR] [--data DIR] [--persons N] [--addr HOST:PORT]", stderr,
		"statgate demo                  # then, in another shell: statgate budget show; statgate audit verify",
		"statgate demo --addr 127.0.0.1:8081 --metrics-addr ''")
	o.register(fs)
	fs.StringVar(&dir, "dir", ".statgate/demo", "cache directory for the generated extract (Parquet files)")
	fs.IntVar(&persons, "persons", 20_000, "synthetic persons to generate when no extract is cached")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 || persons <= 0 {
		fmt.Fprintln(stderr, "statgate demo: takes no arguments; --persons must be positive")
		return errUsage
	}
	// The demo loads into the data directory every other command reads by
	// default (--data, STATGATE_DATA), so that `statgate budget show`,
	// `audit verify` and `query` see what the demo serves.
	extracts := filepath.Join(dir, "extracts")
	if !haveExtracts(extracts) {
		fmt.Fprintf(stdout, "generating %d synthetic persons into %s …\n", persons, extracts)
		if err := generate(ctx, genOptions{persons: persons, seed: 1, out: extracts}, stdout); err != nil {
			return err
		}
	}
	if _, err := os.Stat(exec.ExtractsPath(o.data)); err != nil {
		fmt.Fprintf(stdout, "loading %s into %s …\n", extracts, o.data)
		if err := load(ctx, loadOptions{policy: o.policy, data: o.data, extracts: extracts}, stdout); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "serving the extracts already loaded in %s (remove it, or pass --data, to load the demo's afresh)\n", o.data)
	}
	return serve(ctx, o, func(ts state.Tokens) error { return printDemo(ctx, ts, o.addr, stdout) }, stdout, stderr)
}

func haveExtracts(dir string) bool {
	for _, d := range demoDatasets {
		if _, err := os.Stat(filepath.Join(dir, d+".parquet")); err != nil {
			return false
		}
	}
	return true
}

// printDemo creates a token for the demo analyst and the demo researcher
// and prints commands to paste.
func printDemo(ctx context.Context, ts state.Tokens, addr string, w io.Writer) error {
	analyst, _, err := ts.Create(ctx, "pharma-analyst", nil)
	if err != nil {
		return err
	}
	researcher, _, err := ts.Create(ctx, "ingrid", nil)
	if err != nil {
		return err
	}
	admin, _, err := ts.Create(ctx, "registry-admin", nil)
	if err != nil {
		return err
	}
	base := "http://" + addr
	fmt.Fprintf(w, `
statgate demo is serving %[1]s (Ctrl-C stops it).
Open %[1]s/ in a browser: the data map needs no token; paste one of these
under "Sign in" to run templates (ANALYST) or SQL and cohorts (RESEARCHER).
Tokens for this run:
  export ANALYST=%[2]s      # pharma-analyst: templates in diabetes-2026
  export RESEARCHER=%[3]s   # ingrid: SQL, templates and cohorts
  export ADMIN=%[4]s        # registry-admin: audit log

Try:
  curl -s %[1]s/v1/datasets -H "Authorization: Bearer $RESEARCHER"
  curl -s '%[1]s/v1/datasets?q=diabetes' -H "Authorization: Bearer $RESEARCHER"
  curl -s %[1]s/v1/templates -H "Authorization: Bearer $ANALYST"
  curl -s %[1]s/v1/templates/prescriptions_by_atc_year/run -H "Authorization: Bearer $ANALYST" -H 'Content-Type: application/json' \
       -d '{"project":"diabetes-2026","params":{"atc_prefix":"A10B%%"}}'
  curl -s %[1]s/v1/query -H "Authorization: Bearer $RESEARCHER" -H 'Content-Type: application/json' \
       -d '{"project":"diabetes-2026","sql":"SELECT p.sex, count(DISTINCT pid) AS persons FROM npr n JOIN population p USING (pid) WHERE n.icd10 LIKE '\''E11%%'\'' GROUP BY 1"}'
  curl -s %[1]s/v1/cohorts/estimate -H "Authorization: Bearer $RESEARCHER" -H 'Content-Type: application/json' \
       -d '{"project":"diabetes-2026","include":[{"dataset":"npr","where":"icd10 LIKE '\''E11%%'\''"},{"dataset":"lmr","where":"atc LIKE '\''A10B%%'\''"}],"breakdown":["sex","age_band"]}'
  curl -s %[1]s/v1/projects/diabetes-2026/budget -H "Authorization: Bearer $RESEARCHER"
  curl -s %[1]s/v1/audit -H "Authorization: Bearer $ADMIN"
  curl -s %[1]s/v1/openapi.json

`, base, analyst, researcher, admin)
	return nil
}
