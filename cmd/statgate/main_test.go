package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/result"
	"github.com/statgate/statgate/engine/state/sqlite"
)

// testPolicy is the shipped policy; the tests point its sources elsewhere
// with --extracts.
const testPolicy = "../../policies/norway-synthetic.yaml"

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runCmd runs the command line args and returns the exit code, stdout and stderr.
func runCmd(ctx context.Context, args ...string) (int, string, string) {
	var stdout, stderr syncBuffer
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestRunUsage(t *testing.T) {
	tests := []struct {
		desc       string
		args       []string
		code       int
		wantStdout string
		wantStderr string
	}{
		{"no command", nil, 0, "Commands:", ""},
		{"help", []string{"help"}, 0, "Commands:", ""},
		{"--help", []string{"--help"}, 0, "audit", ""},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"demo --help", []string{"demo", "--help"}, 0, "", "Usage: statgate demo"},
		{"serve --help", []string{"serve", "--help"}, 0, "", "-max-body"},
		{"serve --help shows the metrics listener", []string{"serve", "--help"}, 0, "", "-metrics-addr"},
		{"gen --help", []string{"gen", "--help"}, 0, "", "-persons"},
		{"load --help", []string{"load", "--help"}, 0, "", "-extracts"},
		{"query --help", []string{"query", "--help"}, 0, "", "-epsilon"},
		{"token create --help", []string{"token", "create", "--help"}, 0, "", "-ttl"},
		{"token list --help", []string{"token", "list", "--help"}, 0, "", "-data"},
		{"token revoke --help", []string{"token", "revoke", "--help"}, 0, "", "-id"},
		{"budget show --help", []string{"budget", "show", "--help"}, 0, "", "-project"},
		{"audit verify --help", []string{"audit", "verify", "--help"}, 0, "", "-data"},
		{"audit tail --help", []string{"audit", "tail", "--help"}, 0, "", "-n"},
		{"bad flag", []string{"gen", "--nope"}, 2, "", "flag provided but not defined: -nope"},
		{"bad flag value", []string{"gen", "--persons", "many", "--out", "x"}, 2, "", `invalid value "many" for flag -persons`},
		{"gen without --out", []string{"gen"}, 2, "", "--out is required"},
		{"query without SQL", []string{"query", "--project", "p", "--as", "a"}, 2, "", "exactly one SQL argument"},
		{"query with an unknown format", []string{"query", "--project", "p", "--as", "a", "--format", "xml", "SELECT 1"}, 2, "", "table, json or csv"},
		{"load with an argument", []string{"load", "extra"}, 2, "", `unexpected argument "extra"`},
		{"serve with an argument", []string{"serve", "extra"}, 2, "", `unexpected argument "extra"`},
		{"demo with zero persons", []string{"demo", "--persons", "0"}, 2, "", "--persons must be positive"},
		{"token without subcommand", []string{"token"}, 2, "", "Usage: statgate token create"},
		{"token create without principal", []string{"token", "create", "--data", "x"}, 2, "", "Usage: statgate token create"},
		{"budget without show", []string{"budget", "spend"}, 2, "", "Usage: statgate budget show"},
		{"audit without subcommand", []string{"audit"}, 2, "", "Usage: statgate audit"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			code, stdout, stderr := runCmd(context.Background(), tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if !strings.Contains(stdout, tc.wantStdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.wantStdout, stdout)
			}
			if !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantStderr, stderr)
			}
		})
	}
}

func TestParseTTL(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "90d", want: 90 * day},
		{in: "1d", want: day},
		{in: "1d12h", want: day + 12*time.Hour},
		{in: "36h", want: 36 * time.Hour},
		{in: "90m", want: 90 * time.Minute},
		{in: "1h30m", want: 90 * time.Minute},
		{in: " 7d ", want: 7 * day},
		{in: "36500d", want: 36500 * day},
		{in: "", wantErr: true},
		{in: "d", wantErr: true},
		{in: "0", wantErr: true},
		{in: "0d", wantErr: true},
		{in: "0s", wantErr: true},
		{in: "-1d", wantErr: true},
		{in: "+1d", wantErr: true},
		{in: "-5h", wantErr: true},
		{in: "1d-2h", wantErr: true},
		{in: "1.5d", wantErr: true},
		{in: "90", wantErr: true},
		{in: "90days", wantErr: true},
		{in: "1w", wantErr: true},
		{in: "36501d", wantErr: true},
		{in: "36500d2562047h", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseTTL(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseTTL(%q) = %s, %v; wantErr %v", tc.in, got, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("parseTTL(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

// TestRunPipeline drives the operator's workflow through run on a small
// generated extract: gen, load, query, budget show, audit verify, token
// create/list/revoke, and finally demo serving that same directory.
func TestRunPipeline(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	extracts, data := filepath.Join(dir, "extracts"), filepath.Join(dir, "data")

	mustRun := func(t *testing.T, args ...string) (string, string) {
		t.Helper()
		code, stdout, stderr := runCmd(ctx, args...)
		if code != 0 {
			t.Fatalf("statgate %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
		}
		return stdout, stderr
	}

	t.Run("gen", func(t *testing.T) {
		out, _ := mustRun(t, "gen", "--persons", "2000", "--seed", "7", "--out", extracts)
		for _, want := range []string{"wrote " + extracts, "population 2000 rows", "npr ", "lmr ", "cancer ", "death_causes "} {
			if !strings.Contains(out, want) {
				t.Errorf("gen output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("load", func(t *testing.T) {
		out, _ := mustRun(t, "load", "--policy", testPolicy, "--data", data, "--extracts", extracts)
		if !strings.Contains(out, "loaded "+filepath.Join(data, "extracts.duckdb")) || !strings.Contains(out, "5 datasets") {
			t.Errorf("load output:\n%s", out)
		}
	})

	const sql = "SELECT contact_type, count(*) AS contacts FROM npr GROUP BY 1"
	t.Run("query as JSON", func(t *testing.T) {
		out, _ := mustRun(t, "query", "--policy", testPolicy, "--data", data, "--project", "diabetes-2026", "--as", "ingrid", "--format", "json", sql)
		var res result.Result
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("query output is not a JSON result: %v\n%s", err, out)
		}
		if len(res.Rows) != 3 || res.Meta.Epsilon != 0.5 || res.Meta.Project != "diabetes-2026" {
			t.Errorf("%d rows, meta %+v", len(res.Rows), res.Meta)
		}
	})
	t.Run("query as table", func(t *testing.T) {
		out, _ := mustRun(t, "query", "--policy", testPolicy, "--data", data, "--project", "diabetes-2026", "--as", "ingrid", "--epsilon", "0.25", sql)
		for _, want := range []string{"contact_type", "contacts", "inpatient", "3 rows; ε 0.25"} {
			if !strings.Contains(out, want) {
				t.Errorf("table lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("query refused", func(t *testing.T) {
		code, out, errOut := runCmd(ctx, "query", "--policy", testPolicy, "--data", data, "--project", "diabetes-2026", "--as", "ingrid",
			"SELECT * FROM npr WHERE icd10 = 'Z99SECRET'")
		if code != 1 || out != "" || !strings.Contains(errOut, "select_star") || strings.Contains(errOut, "Z99SECRET") {
			t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
		}
	})

	t.Run("budget show", func(t *testing.T) {
		out, _ := mustRun(t, "budget", "show", "--policy", testPolicy, "--data", data, "--project", "diabetes-2026")
		// Two answered queries on npr: 0.5 + 0.25.
		if !regexp.MustCompile(`(?m)^diabetes-2026\s+npr\s+0\.75\s+9\.25\s+10\s`).MatchString(out) {
			t.Errorf("budget table lacks npr spent 0.75 of 10:\n%s", out)
		}
		if !regexp.MustCompile(`(?m)^diabetes-2026\s+lmr\s+0\s+10\s+10\s`).MatchString(out) {
			t.Errorf("budget table lacks lmr untouched:\n%s", out)
		}
		if strings.Contains(out, "cancer-survival") {
			t.Errorf("--project diabetes-2026 shows another project:\n%s", out)
		}
		if code, _, errOut := runCmd(ctx, "budget", "show", "--policy", testPolicy, "--data", data, "--project", "nope"); code != 1 || !strings.Contains(errOut, `no project "nope"`) {
			t.Errorf("unknown project: exit %d, stderr %s", code, errOut)
		}
	})

	t.Run("audit verify", func(t *testing.T) {
		out, _ := mustRun(t, "audit", "verify", "--data", data)
		// Two released queries and one refused.
		if !strings.Contains(out, "audit log OK: 3 entries") || !strings.Contains(out, "head: seq 3 hash ") {
			t.Errorf("audit verify:\n%s", out)
		}
		tail, _ := mustRun(t, "audit", "tail", "-n", "5", "--data", data)
		if !strings.Contains(tail, "select_star") || !strings.Contains(tail, "ingrid") {
			t.Errorf("audit tail:\n%s", tail)
		}
	})

	t.Run("budget grant", func(t *testing.T) {
		out, _ := mustRun(t, "budget", "grant", "--policy", testPolicy, "--data", data, "--project", "diabetes-2026",
			"--dataset", "npr", "--epsilon", "2", "--delta", "1e-6", "--reason", "period 2027", "--by", "registry-admin")
		if !strings.Contains(out, `granted ε 2 δ 1e-06 to project "diabetes-2026"'s budget on dataset "npr" (grant 1, audit entry 4)`) {
			t.Errorf("grant output:\n%s", out)
		}
		// npr's budget is raised (0.75 spent of 12), lmr's is not.
		show, _ := mustRun(t, "budget", "show", "--policy", testPolicy, "--data", data, "--project", "diabetes-2026")
		if !regexp.MustCompile(`(?m)^diabetes-2026\s+npr\s+0\.75\s+11\.25\s+12\s`).MatchString(show) ||
			!regexp.MustCompile(`(?m)^diabetes-2026\s+lmr\s+0\s+10\s+10\s`).MatchString(show) {
			t.Errorf("budget show after the grant:\n%s", show)
		}
		// The per-person guarantee: the sum of the datasets' budgets (no
		// project_budget in the shipped policy), the grant included.
		if !regexp.MustCompile(`(?m)^diabetes-2026\s+42\s+4\.1e-05\s+datasets\s+0\.75\s`).MatchString(show) {
			t.Errorf("budget show lacks the per-person guarantee ε 42 from the datasets, 0.75 spent:\n%s", show)
		}
		// The shipped policy has no project_budget to raise: refused, nothing recorded.
		code, _, errOut := runCmd(ctx, "budget", "grant", "--policy", testPolicy, "--data", data, "--project", "diabetes-2026", "--epsilon", "1")
		if code != 1 || !strings.Contains(errOut, "declares no project \"diabetes-2026\"'s project-wide budget to raise") {
			t.Errorf("grant to an undeclared budget: exit %d, stderr %s", code, errOut)
		}
		if code, _, errOut := runCmd(ctx, "budget", "grant", "--policy", testPolicy, "--data", data, "--project", "diabetes-2026", "--dataset", "npr"); code != 2 || !strings.Contains(errOut, "--epsilon above 0") {
			t.Errorf("grant without ε: exit %d, stderr %s", code, errOut)
		}
		list, _ := mustRun(t, "budget", "grants", "--data", data)
		if !regexp.MustCompile(`(?m)^1\s.*dataset "npr"\s+2\s+1e-06\s+registry-admin\s+period 2027\s+yes$`).MatchString(list) || strings.Count(list, "\n") != 2 {
			t.Errorf("budget grants:\n%s", list)
		}
		if out, _ := mustRun(t, "audit", "verify", "--data", data); !strings.Contains(out, "audit log OK: 4 entries") {
			t.Errorf("audit verify after the grant:\n%s", out)
		}
		// A grant written to the ledger behind the audit log's back is
		// caught: budget grants marks it and fails.
		st, err := sqlite.Open(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		amount, _ := budget.NewGrant(50, 0)
		if _, _, err := st.Ledger().Grant(ctx, budget.Grant{Account: budget.Account{Scope: budget.ScopeDataset, Project: "diabetes-2026", Dataset: "lmr"}, Amount: amount}, nil); err != nil {
			t.Fatal(err)
		}
		st.Close()
		code, list, errOut = runCmd(ctx, "budget", "grants", "--data", data, "--project", "diabetes-2026")
		if code != 1 || !regexp.MustCompile(`(?m)^2\s.*dataset "lmr"\s+50\s.*\sno$`).MatchString(list) || !strings.Contains(errOut, "grants [2] have no matching audit entry") {
			t.Errorf("an unaudited grant: exit %d\n%s%s", code, list, errOut)
		}
	})

	t.Run("tokens", func(t *testing.T) {
		out, errOut := mustRun(t, "token", "create", "--principal", "ingrid", "--data", data)
		tok := strings.TrimSpace(out)
		m := regexp.MustCompile(`^token (\S+) for ingrid`).FindStringSubmatch(errOut)
		if tok == "" || strings.Contains(tok, "\n") || m == nil {
			t.Fatalf("token create: stdout %q, stderr %q", out, errOut)
		}
		id := m[1]
		if p, ok := lookup(t, data, tok); !ok || p != "ingrid" {
			t.Fatalf("the printed token resolves to %q, %v", p, ok)
		}
		list, _ := mustRun(t, "token", "list", "--data", data)
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(id) + `\s+ingrid\s.*active$`).MatchString(list) {
			t.Errorf("token list lacks %s as active:\n%s", id, list)
		}
		if strings.Contains(list, tok) {
			t.Error("token list shows the token itself")
		}
		out, _ = mustRun(t, "token", "revoke", "--id", id, "--data", data)
		if strings.TrimSpace(out) != "revoked "+id {
			t.Errorf("token revoke: %q", out)
		}
		if _, ok := lookup(t, data, tok); ok {
			t.Error("a revoked token still authenticates")
		}
		list, _ = mustRun(t, "token", "list", "--data", data)
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(id) + `\s+ingrid\s.*revoked `).MatchString(list) {
			t.Errorf("token list lacks %s as revoked:\n%s", id, list)
		}
		if code, _, errOut := runCmd(ctx, "token", "revoke", "--id", "000000000000", "--data", data); code != 1 || errOut == "" {
			t.Errorf("revoking an unknown id: exit %d, stderr %q", code, errOut)
		}

		// A token with a lifetime shows its expiry when created and listed.
		out, errOut = mustRun(t, "token", "create", "--principal", "ola", "--ttl", "90d", "--data", data)
		m = regexp.MustCompile(`^token (\S+) for ola, expires (\S+) `).FindStringSubmatch(errOut)
		if m == nil {
			t.Fatalf("token create --ttl 90d: stderr %q", errOut)
		}
		expires, err := time.Parse(time.RFC3339, m[2])
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Until(expires); d < 89*24*time.Hour || d > 91*24*time.Hour {
			t.Errorf("--ttl 90d expires in %s", d)
		}
		if p, ok := lookup(t, data, strings.TrimSpace(out)); !ok || p != "ola" {
			t.Fatalf("the token with a TTL resolves to %q, %v", p, ok)
		}
		list, _ = mustRun(t, "token", "list", "--data", data)
		want := `(?m)^` + regexp.QuoteMeta(m[1]) + `\s+ola\s+\S+ \S+\s+` + regexp.QuoteMeta(expires.UTC().Format("2006-01-02 15:04Z")) + `\s+\S+ \S+\s+active$`
		if !regexp.MustCompile(want).MatchString(list) {
			t.Errorf("token list lacks %s with its expiry and last use:\n%s", m[1], list)
		}
		if !strings.Contains(list, "EXPIRES") || !strings.Contains(list, "LAST USED") {
			t.Errorf("token list header:\n%s", list)
		}
		if code, _, errOut := runCmd(ctx, "token", "create", "--principal", "ola", "--ttl", "soon", "--data", data); code != 2 || !strings.Contains(errOut, "-ttl") {
			t.Errorf("token create --ttl soon: exit %d, stderr %q", code, errOut)
		}
	})

	t.Run("demo serves the cached extract", func(t *testing.T) {
		dctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var stdout, stderr syncBuffer
		exit := make(chan int, 1)
		go func() {
			exit <- run(dctx, []string{"demo", "--dir", dir, "--data", data, "--policy", testPolicy, "--addr", "127.0.0.1:0",
				"--metrics-addr", "127.0.0.1:0", "--threads", "2"}, &stdout, &stderr)
		}()
		// ServeListener logs the bound address once it listens.
		listening := regexp.MustCompile(`msg=serving addr=(127\.0\.0\.1:[1-9][0-9]*)`)
		var addr string
		for deadline := time.Now().Add(60 * time.Second); addr == ""; {
			if m := listening.FindStringSubmatch(stderr.String()); m != nil {
				addr = m[1]
				break
			}
			select {
			case code := <-exit:
				t.Fatalf("demo exited %d before serving\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("demo is not serving after 60s\nstderr: %s", stderr.String())
			}
		}
		out := stdout.String()
		if strings.Contains(out, "generating") || strings.Contains(out, "loading") {
			t.Errorf("demo regenerated or reloaded a cached extract:\n%s", out)
		}
		m := regexp.MustCompile(`export RESEARCHER=(\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("demo printed no researcher token:\n%s", out)
		}
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/projects/diabetes-2026/budget", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+m[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("budget with the demo's researcher token: status %d", resp.StatusCode)
		}
		// The metrics are on their own listener, not on the API's.
		mm := regexp.MustCompile(`msg=serving listener=metrics addr=(127\.0\.0\.1:[1-9][0-9]*)`).FindStringSubmatch(stderr.String())
		if mm == nil {
			t.Fatalf("demo serves no metrics listener:\n%s", stderr.String())
		}
		for _, c := range []struct {
			url    string
			status int
		}{{"http://" + addr + "/metrics", http.StatusNotFound}, {"http://" + mm[1] + "/metrics", http.StatusOK}} {
			resp, err := http.Get(c.url)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Errorf("GET %s: status %d, want %d", c.url, resp.StatusCode, c.status)
			}
		}
		cancel()
		select {
		case code := <-exit:
			if code != 0 {
				t.Errorf("demo exited %d after its context ended\nstderr: %s", code, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("demo did not stop after its context ended")
		}
	})
}

// lookup resolves a token through the state store, as the server does.
func lookup(t *testing.T, data, token string) (string, bool) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, ok, err := st.Tokens().Lookup(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return p, ok
}

func TestStateFlagRejectsOtherURLs(t *testing.T) {
	ctx := context.Background()
	code, _, errOut := runCmd(ctx, "audit", "verify", "--state", "mysql://u:secret@h/db")
	if code != 1 || !strings.Contains(errOut, "want a postgres:// (or postgresql://) URL") || strings.Contains(errOut, "secret") {
		t.Errorf("audit verify --state mysql://… = %d, %q; want exit 1 naming the accepted URLs, without the password", code, errOut)
	}
}
