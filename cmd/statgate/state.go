package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/state"
	"github.com/statgate/statgate/engine/state/sqlite"
	"github.com/statgate/statgate/engine/tokens"
	"github.com/statgate/statgate/policies"
)

// These subcommands open only the state store (state.db under --data, or
// the PostgreSQL database of --state), so an operator can run them next to
// live servers.

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "list" && args[0] != "revoke") {
		fmt.Fprintln(stderr, "Usage: statgate token create --principal NAME [--ttl 90d] | token list | token revoke --id ID   [--data DIR]")
		writeExamples(stderr, tokenExamples)
		return helpOrUsage(args)
	}
	sub := args[0]
	var (
		data, stateURL, principal, id string
		ttl                           ttlFlag
	)
	fs := newFlags("token "+sub, "token "+sub+" [--data DIR | --state URL] [--principal NAME] [--ttl DURATION] [--id ID]", stderr, tokenExamples...)
	fs.StringVar(&data, "data", defaultData, "data directory (env STATGATE_DATA)")
	stateFlag(fs, &stateURL)
	if sub == "create" {
		fs.StringVar(&principal, "principal", "", "principal the token authenticates, as named in the policy (required)")
		fs.Var(&ttl, "ttl", "lifetime of the token, e.g. 90d, 36h or 1d12h (default: no expiry)")
	}
	if sub == "revoke" {
		fs.StringVar(&id, "id", "", "token id from `token list` (required)")
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if (sub == "create" && principal == "") || (sub == "revoke" && id == "") || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	open := openExistingState
	if sub == "create" {
		open = openState
	}
	st, err := open(ctx, stateURL, data)
	if err != nil {
		return err
	}
	defer st.Close()
	store := st.Tokens()
	switch sub {
	case "create":
		tok, info, err := store.Create(ctx, principal, &tokens.CreateOptions{TTL: time.Duration(ttl)})
		if err != nil {
			return err
		}
		expiry := "does not expire"
		if !info.ExpiresAt.IsZero() {
			expiry = "expires " + info.ExpiresAt.Format(time.RFC3339)
		}
		fmt.Fprintf(stderr, "token %s for %s, %s (shown once; only its hash is stored):\n", info.ID, principal, expiry)
		fmt.Fprintln(stdout, tok)
	case "list":
		infos, err := store.List(ctx)
		if err != nil {
			return err
		}
		return tokens.WriteList(stdout, infos)
	case "revoke":
		if err := store.Revoke(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", id)
	}
	return nil
}

func runBudget(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "grant" {
		return runBudgetGrant(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "grants" {
		return runBudgetGrants(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "show" {
		fmt.Fprintln(stderr, "Usage: statgate budget show [--policy FILE] [--data DIR] [--project P]")
		fmt.Fprintln(stderr, "       statgate budget grant --project P [--dataset D] --epsilon E [--delta D] [--reason TEXT]")
		fmt.Fprintln(stderr, "       statgate budget grants [--project P]")
		writeExamples(stderr, append(budgetExamples, budgetGrantExamples...))
		return helpOrUsage(args)
	}
	var policy, data, stateURL, project string
	fs := newFlags("budget show", "budget show [--policy FILE] [--data DIR | --state URL] [--project P]", stderr, budgetExamples...)
	fs.StringVar(&policy, "policy", defaultPolicy, "policy file with the budgets (env STATGATE_POLICY)")
	fs.StringVar(&data, "data", defaultData, "data directory (env STATGATE_DATA)")
	stateFlag(fs, &stateURL)
	fs.StringVar(&project, "project", "", "only this project")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	pol, err := policies.Load(policy)
	if err != nil {
		return err
	}
	if project != "" {
		if _, ok := pol.Projects[project]; !ok {
			return fmt.Errorf("no project %q in %s", project, pol.Path)
		}
	}
	st, err := openExistingState(ctx, stateURL, data)
	if err != nil {
		return err
	}
	defer st.Close()
	acct, err := budget.ForAccounting(pol.Accounting)
	if err != nil {
		return err
	}
	book, err := budget.NewPolicyBook(pol, acct)
	if err != nil {
		return err
	}
	balances, err := book.Balances(ctx, st.Ledger(), pol, project)
	if err != nil {
		return err
	}
	if err := budget.WriteTable(stdout, balances); err != nil {
		return err
	}
	ids := []string{project}
	if project == "" {
		ids = ids[:0]
		for id := range pol.Projects {
			ids = append(ids, id)
		}
		slices.Sort(ids)
	}
	var caps []budget.Balance
	var guarantees []budget.Guarantee
	for _, id := range ids {
		c, err := book.CapBalances(ctx, st.Ledger(), pol, id)
		if err != nil {
			return err
		}
		caps = append(caps, c...)
		g, err := book.Guarantee(ctx, st.Ledger(), pol, id)
		if err != nil {
			return err
		}
		guarantees = append(guarantees, g)
	}
	return budget.WriteCaps(stdout, caps, guarantees)
}

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "tail" && args[0] != "verify") {
		fmt.Fprintln(stderr, "Usage: statgate audit tail [-n N] [--data DIR] | audit verify [--data DIR]")
		writeExamples(stderr, auditExamples)
		return helpOrUsage(args)
	}
	sub := args[0]
	var data, stateURL string
	var n int
	fs := newFlags("audit "+sub, "audit "+sub+" [--data DIR | --state URL]", stderr, auditExamples...)
	fs.StringVar(&data, "data", defaultData, "data directory (env STATGATE_DATA)")
	stateFlag(fs, &stateURL)
	if sub == "tail" {
		fs.IntVar(&n, "n", 20, "number of entries")
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	st, err := openExistingState(ctx, stateURL, data)
	if err != nil {
		return err
	}
	defer st.Close()
	log := st.Audit()
	if sub == "tail" {
		entries, err := log.Tail(ctx, n)
		if err != nil {
			return err
		}
		return audit.WriteEntries(stdout, entries)
	}
	rep, err := log.Verify(ctx)
	if err != nil {
		return err
	}
	if err := audit.WriteReport(stdout, rep); err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("audit log NOT intact: entry %d %s", rep.FirstBad, rep.Problem)
	}
	return nil
}

// Examples of the state commands' usage texts.
var (
	tokenExamples = []string{
		"statgate token create --principal ingrid --ttl 90d",
		"statgate token list",
		"statgate token revoke --id 3f9c0a1b2d4e",
	}
	budgetExamples      = []string{"statgate budget show --project diabetes-2026"}
	budgetGrantExamples = []string{
		"statgate budget grant --project diabetes-2026 --epsilon 5 --delta 1e-5 --reason 'budget period 2027'",
		"statgate budget grant --project diabetes-2026 --dataset npr --epsilon 2",
		"statgate budget grants --project diabetes-2026",
	}
	auditExamples = []string{"statgate audit tail -n 5", "statgate audit verify"}
)

// requireState returns an error unless dataDir holds a state store.
// Commands that only read the state (budget show, audit, token list and
// revoke) must not create an empty one in a wrong directory and report
// on it as if it were the server's.
func requireState(dataDir string) error {
	p := sqlite.Path(dataDir)
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no state store at %s: %s is not the data directory of a server that has run (pass the server's --data, or set STATGATE_DATA; the default, for serve and demo alike, is %s)", p, dataDir, defaultData)
		}
		return fmt.Errorf("state store %s: %w", p, err)
	}
	return nil
}

// openExistingState opens the state store like openState, but refuses a
// data directory without state.db (when url is empty) rather than create
// one.
func openExistingState(ctx context.Context, url, dataDir string) (state.Store, error) {
	if url == "" {
		if err := requireState(dataDir); err != nil {
			return nil, err
		}
	}
	return openState(ctx, url, dataDir)
}

// requireExtracts returns an error unless dataDir holds loaded extracts.
func requireExtracts(dataDir string) error {
	p := exec.ExtractsPath(dataDir)
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no extracts at %s: %s is not a loaded data directory (run `statgate load` or `statgate demo` first, or pass the server's --data; the default is %s)", p, dataDir, defaultData)
		}
		return fmt.Errorf("extracts %s: %w", p, err)
	}
	return nil
}

// helpOrUsage returns flag.ErrHelp (exit 0) when args ask for help, and
// errUsage (exit 2) otherwise.
func helpOrUsage(args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help") {
		return flag.ErrHelp
	}
	return errUsage
}

// ttlFlag is the --ttl of `token create`: a Go duration ("36h", "90m"),
// optionally led by whole days ("90d", "1d12h"). It must be positive.
type ttlFlag time.Duration

func (f *ttlFlag) String() string {
	if f == nil || *f == 0 {
		return ""
	}
	return time.Duration(*f).String()
}

func (f *ttlFlag) Set(s string) error {
	d, err := parseTTL(s)
	if err != nil {
		return err
	}
	*f = ttlFlag(d)
	return nil
}

// maxTTLDays keeps a TTL in days within time.Duration (about 292 years).
const maxTTLDays = 100 * 365

// parseTTL parses a token lifetime: "<N>d" whole days, a Go duration, or
// both ("1d12h").
func parseTTL(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var total time.Duration
	if days, rest, ok := strings.Cut(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || days == "" || days[0] == '+' {
			return 0, fmt.Errorf("want whole days before \"d\", as in 90d or 1d12h")
		}
		if n > maxTTLDays {
			return 0, fmt.Errorf("at most %dd", maxTTLDays)
		}
		total = time.Duration(n) * 24 * time.Hour
		s = rest
	} else if s == "" {
		return 0, fmt.Errorf("want a duration such as 90d, 36h or 1d12h")
	}
	if s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("want a duration such as 90d, 36h or 1d12h")
		}
		if d < 0 {
			return 0, fmt.Errorf("must be positive")
		}
		if d > time.Duration(math.MaxInt64)-total {
			return 0, fmt.Errorf("too long")
		}
		total += d
	}
	if total <= 0 {
		return 0, fmt.Errorf("must be positive")
	}
	return total, nil
}
