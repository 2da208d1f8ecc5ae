package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/state/postgres"
	"github.com/statgate/statgate/engine/state/postgres/pgtest"
)

// envExecMain makes the test binary run statgate's main instead of the
// tests, so that the replica tests start real `statgate serve` processes
// (and can SIGKILL them) without building the binary first.
const envExecMain = "STATGATE_TEST_EXEC_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envExecMain) == "1" {
		main()
		return
	}
	pgtest.Main(m)
}

// replicaQuery asks for a population count at ε 0.5: one debit of 0.5 on
// population in diabetes-2026.
const replicaQuery = `{"project":"diabetes-2026","sql":"SELECT sex, count(*) AS persons FROM population GROUP BY 1","epsilon":0.5}`

// cluster is one PostgreSQL schema, one data directory with the extracts,
// a policy whose diabetes-2026 budget is ε budget, a token for ingrid, and
// the serve processes started on them.
type cluster struct {
	t              *testing.T
	stateURL, data string
	policy, token  string
	replicas       []*replica
}

// replica is one `statgate serve` process.
type replica struct {
	cmd  *osexec.Cmd
	base string
	log  *syncBuffer
	done chan struct{}
}

func newCluster(t *testing.T, budget float64) *cluster {
	t.Helper()
	ctx := context.Background()
	c := &cluster{t: t, stateURL: pgtest.NewSchema(t)}
	dir := t.TempDir()
	src, err := os.ReadFile(testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	const line = "budget: {epsilon: 10, delta: 1.0e-5}"
	if !bytes.Contains(src, []byte(line)) {
		t.Fatalf("%s no longer has diabetes-2026's %q", testPolicy, line)
	}
	pol := bytes.Replace(src, []byte(line), fmt.Appendf(nil, "budget: {epsilon: %g, delta: 1.0e-5}", budget), 1)
	c.policy = filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(c.policy, pol, 0o600); err != nil {
		t.Fatal(err)
	}
	// The code lists the policy names, beside it.
	if err := os.CopyFS(filepath.Join(dir, "codelists"), os.DirFS(filepath.Join(filepath.Dir(testPolicy), "codelists"))); err != nil {
		t.Fatal(err)
	}
	c.data = filepath.Join(dir, "data")
	registries, err := filepath.Abs("../../testdata/registries")
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCmd(ctx, "load", "--policy", c.policy, "--data", c.data, "--extracts", registries); code != 0 {
		t.Fatalf("load: %d %s %s", code, out, errOut)
	}
	code, out, errOut := runCmd(ctx, "token", "create", "--principal", "ingrid", "--state", c.stateURL)
	if code != 0 {
		t.Fatalf("token create --state: %d %s", code, errOut)
	}
	c.token = strings.TrimSpace(out)
	return c
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start starts n replicas and waits until each answers /readyz.
func (c *cluster) start(n int) {
	c.t.Helper()
	for range n {
		addr := freeAddr(c.t)
		r := &replica{base: "http://" + addr, log: &syncBuffer{}, done: make(chan struct{})}
		r.cmd = osexec.Command(os.Args[0], "serve", "--addr", addr, "--metrics-addr", "", "--policy", c.policy,
			"--data", c.data, "--state", c.stateURL, "--threads", "1", "--max-concurrent", "64", "--max-per-principal", "64",
			"--watch-extracts", "200ms", "--repeats=false")
		r.cmd.Env = append(os.Environ(), envExecMain+"=1")
		r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
		if err := r.cmd.Start(); err != nil {
			c.t.Fatal(err)
		}
		go func() { r.cmd.Wait(); close(r.done) }()
		c.replicas = append(c.replicas, r)
		c.t.Cleanup(func() {
			r.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-r.done:
			case <-time.After(20 * time.Second):
				r.cmd.Process.Kill()
				<-r.done
			}
			if c.t.Failed() {
				c.t.Logf("replica %s log:\n%s", r.base, r.log.String())
			}
		})
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, r := range c.replicas {
		for {
			resp, err := http.Get(r.base + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-r.done:
				c.t.Fatalf("replica %s exited:\n%s", r.base, r.log.String())
			default:
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("replica %s not ready: %v\n%s", r.base, err, r.log.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// answer is one HTTP exchange of a client.
type answer struct {
	status  int // 0: no HTTP answer (connection refused or reset)
	code    string
	queryID string
	extract string
	replica int // which of the cluster's replicas was asked
}

var client = &http.Client{Timeout: 60 * time.Second}

// ask posts replicaQuery to the replica at base.
func (c *cluster) ask(base string) answer {
	req, err := http.NewRequest("POST", base+"/v1/query", strings.NewReader(replicaQuery))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return answer{}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}
	}
	a := answer{status: resp.StatusCode}
	var v struct {
		Code string `json:"code"`
		Meta struct {
			QueryID string `json:"query_id"`
			Extract string `json:"extract"`
		} `json:"meta"`
	}
	_ = json.Unmarshal(body, &v)
	a.code, a.queryID, a.extract = v.Code, v.Meta.QueryID, v.Meta.Extract
	return a
}

// load runs clients concurrent clients, each asking perClient questions of
// the replicas in turn, and returns every answer. during, if set, runs
// once a quarter of the questions have been answered, while the others
// are in flight.
func (c *cluster) load(clients, perClient int, during func()) []answer {
	var (
		mu       sync.Mutex
		out      []answer
		answered atomic.Int64
		once     sync.Once
		wg       sync.WaitGroup
	)
	total := int64(clients * perClient)
	for i := range clients {
		wg.Go(func() {
			for j := range perClient {
				k := (i + j) % len(c.replicas)
				a := c.ask(c.replicas[k].base)
				a.replica = k
				if n := answered.Add(1); during != nil && n == total/4 {
					once.Do(during)
				}
				mu.Lock()
				out = append(out, a)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// openPG opens the cluster's state store directly, as an operator would.
func (c *cluster) openPG() *postgres.Store {
	c.t.Helper()
	st, err := postgres.Open(context.Background(), c.stateURL)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { st.Close() })
	return st
}

// TestReplicasShareOneBudget: three serve processes on one PostgreSQL and
// one extracts file, 60 concurrent clients spread over them, a budget that
// covers exactly 12 questions: exactly 12 answers, every other question
// refused budget_exhausted, no 5xx, the ledger spent exactly the budget,
// and one intact audit chain with an entry per question.
func TestReplicasShareOneBudget(t *testing.T) {
	const n, eps = 12, 0.5
	c := newCluster(t, n*eps)
	c.start(3)
	answers := c.load(60, 2, nil)

	released, refused := 0, 0
	for _, a := range answers {
		switch {
		case a.status == http.StatusOK:
			released++
		case a.status == http.StatusConflict && a.code == "budget_exhausted":
			refused++
		default:
			t.Errorf("answer %d %s, want 200 or 409 budget_exhausted", a.status, a.code)
		}
	}
	if released > n {
		t.Errorf("%d answers released on a budget covering %d", released, n)
	}
	if released != n {
		t.Errorf("%d answers released, want exactly %d: the budget was not all usable", released, n)
	}
	ctx := context.Background()
	st := c.openPG()
	spent, err := st.Ledger().Spent(ctx, "diabetes-2026", "population")
	if err != nil {
		t.Fatal(err)
	}
	if got := spent.Epsilon(); got > n*eps+1e-9 || got < n*eps-1e-9 {
		t.Errorf("ledger spent ε %g, want exactly the budget %g", got, n*eps)
	}
	rep, err := st.Audit().Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Entries != int64(len(answers)) {
		t.Errorf("audit verify = %+v, want an intact chain of %d entries", rep, len(answers))
	}
	// The operator commands see the same, through --state.
	if code, out, errOut := runCmd(ctx, "audit", "verify", "--state", c.stateURL); code != 0 || !strings.Contains(out, "intact") {
		t.Errorf("audit verify --state: %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCmd(ctx, "budget", "show", "--policy", c.policy, "--state", c.stateURL, "--project", "diabetes-2026"); code != 0 || !strings.Contains(out, "population") {
		t.Errorf("budget show --state: %d\n%s%s", code, out, errOut)
	}
}

// TestReplicaKilledMidLoad: one of three replicas is SIGKILLed while 60
// clients load them. No answer the clients received lacks its debit or its
// audit entry, no debit is lost from the ledger's sum, the audit chain has
// no gap and verifies, and the survivors answer without a 5xx. Then a
// `statgate load` of other data next to the running replicas: each
// survivor switches to it, and its answers name the new extracts version.
func TestReplicaKilledMidLoad(t *testing.T) {
	c := newCluster(t, 1000)
	c.start(3)
	victim := c.replicas[1]
	answers := c.load(60, 4, func() {
		if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Error(err)
		}
	})
	<-victim.done
	ctx := context.Background()
	st := c.openPG()

	var ok []answer
	lost, victimAnswered := 0, 0
	for _, a := range answers {
		switch {
		case a.status == http.StatusOK:
			ok = append(ok, a)
			if a.replica == 1 {
				victimAnswered++
			}
		case a.status == 0 && a.replica == 1:
			lost++ // the killed replica's connections
		default:
			t.Errorf("answer %d %s, want 200 (or no answer from the killed replica)", a.status, a.code)
		}
	}
	if len(ok) < len(answers)/2 {
		t.Fatalf("only %d of %d questions answered", len(ok), len(answers))
	}
	t.Logf("%d answered (%d by the killed replica before it died), %d without an answer", len(ok), victimAnswered, lost)
	if victimAnswered == 0 || lost == 0 {
		t.Errorf("the kill was not mid-load: the victim answered %d and left %d unanswered", victimAnswered, lost)
	}

	entries, err := st.Ledger().History(ctx, "diabetes-2026", 0)
	if err != nil {
		t.Fatal(err)
	}
	debited := map[string]bool{}
	var sum float64
	for _, e := range entries {
		debited[e.QueryID] = true
		sum += e.Cost.Epsilon()
	}
	spent, err := st.Ledger().Spent(ctx, "diabetes-2026", "population")
	if err != nil {
		t.Fatal(err)
	}
	if d := spent.Epsilon() - sum; d > 1e-9 || d < -1e-9 {
		t.Errorf("ledger spent ε %g but its entries sum to %g", spent.Epsilon(), sum)
	}
	logged, err := st.Audit().List(ctx, audit.Filter{Outcome: audit.OutcomeReleased})
	if err != nil {
		t.Fatal(err)
	}
	inAudit := map[string]bool{}
	for _, e := range logged {
		inAudit[e.QueryID] = true
	}
	for _, a := range ok {
		if !debited[a.queryID] {
			t.Errorf("answer %s was released without a debit in the ledger", a.queryID)
		}
		if !inAudit[a.queryID] {
			t.Errorf("answer %s was released without a released audit entry", a.queryID)
		}
	}
	if len(entries) < len(ok) {
		t.Errorf("%d ledger entries for %d answers", len(entries), len(ok))
	}
	rep, err := st.Audit().Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.HeadSeq != rep.Entries {
		t.Errorf("audit verify after the kill = %+v, want an intact chain without gaps", rep)
	}

	// A new load next to the running survivors.
	before := ok[0].extract
	if len(before) != 32 {
		t.Fatalf("answers name extract %q, want a version ID", before)
	}
	gen := t.TempDir()
	if code, _, errOut := runCmd(ctx, "gen", "--persons", "1500", "--seed", "5", "--out", gen); code != 0 {
		t.Fatalf("gen: %s", errOut)
	}
	if code, _, errOut := runCmd(ctx, "load", "--policy", c.policy, "--data", c.data, "--extracts", gen); code != 0 {
		t.Fatalf("load next to the replicas: %s", errOut)
	}
	for _, r := range []*replica{c.replicas[0], c.replicas[2]} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			a := c.ask(r.base)
			if a.status != http.StatusOK {
				t.Fatalf("replica %s after the load: %d %s", r.base, a.status, a.code)
			}
			if a.extract != before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %s still answers from extract %s after the load", r.base, before)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if rep, err := st.Audit().Verify(ctx); err != nil || !rep.OK {
		t.Errorf("audit verify at the end = %+v, %v", rep, err)
	}
}

// TestBackendsAgree runs the same operator session on the SQLite store
// and on PostgreSQL (table-driven over the backends): the same answers
// released and refused, the same budget table, the same audit outcomes,
// and an intact chain on both.
func TestBackendsAgree(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t, 1.5) // three questions at ε 0.5
	backends := []struct {
		name  string
		state []string // the --state flag, or none for state.db under --data
	}{
		{"sqlite", nil},
		{"postgres", []string{"--state", c.stateURL}},
	}
	type session struct{ outcomes, budget, verify string }
	var got []session
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			data := t.TempDir()
			if err := os.Link(filepath.Join(c.data, "extracts.duckdb"), filepath.Join(data, "extracts.duckdb")); err != nil {
				t.Fatal(err)
			}
			// cmd runs the subcommand sub with the backend's flags, then args.
			cmd := func(sub []string, args ...string) (int, string, string) {
				all := append(append(append(sub, "--data", data), b.state...), args...)
				return runCmd(ctx, all...)
			}
			var s session
			for i := range 5 {
				code, _, errOut := cmd([]string{"query"}, "--policy", c.policy, "--project", "diabetes-2026", "--as", "ingrid", "--epsilon", "0.5", "--format", "json", "--repeats=false",
					"SELECT sex, count(*) AS persons FROM population GROUP BY 1")
				reason := "released"
				switch {
				case code == 0:
				case strings.Contains(errOut, "budget"):
					reason = "refused: budget"
				default:
					reason = "failed: " + errOut
				}
				s.outcomes += fmt.Sprintf("%d %s\n", i, reason)
			}
			code, out, errOut := cmd([]string{"budget", "show"}, "--policy", c.policy, "--project", "diabetes-2026")
			if code != 0 {
				t.Fatalf("budget show: %s", errOut)
			}
			s.budget = out
			code, out, errOut = cmd([]string{"audit", "verify"})
			if code != 0 {
				t.Fatalf("audit verify: %s%s", out, errOut)
			}
			// The head hash differs (times and query ids differ); the counts must not.
			s.verify = out[:strings.Index(out, "head")]
			got = append(got, s)
		})
	}
	if len(got) != 2 {
		t.Fatal("a backend's session failed")
	}
	if want := "0 released\n1 released\n2 released\n3 refused: budget\n4 refused: budget\n"; got[0].outcomes != want {
		t.Errorf("sqlite outcomes:\n%s\nwant:\n%s", got[0].outcomes, want)
	}
	if !strings.Contains(got[1].budget, "population") || !strings.Contains(got[1].verify, "5") {
		t.Errorf("postgres session says nothing: budget\n%s\nverify\n%s", got[1].budget, got[1].verify)
	}
	for _, f := range []struct{ name, a, b string }{
		{"outcomes", got[0].outcomes, got[1].outcomes},
		{"budget show", got[0].budget, got[1].budget},
		{"audit verify", got[0].verify, got[1].verify},
	} {
		if f.a != f.b {
			t.Errorf("%s differs:\nsqlite:\n%s\npostgres:\n%s", f.name, f.a, f.b)
		}
	}
}

// TestReplicasSwitchToADelivery: `statgate deliver` next to two running
// replicas while 16 clients keep asking: no request fails, both replicas
// switch to the delivered version (the same ID and counter on both), and
// the delivery is in the audit log, which verifies.
func TestReplicasSwitchToADelivery(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t, 1e6)
	c.start(2)
	before := c.version(c.replicas[0].base)
	gen := t.TempDir()
	if code, _, errOut := runCmd(ctx, "gen", "--persons", "800", "--seed", "5", "--out", gen); code != 0 {
		t.Fatalf("gen: %s", errOut)
	}
	var out, errOut string
	var code int
	answers := c.load(16, 30, func() {
		code, out, errOut = runCmd(ctx, "deliver", "--policy", c.policy, "--data", c.data, "--state", c.stateURL,
			"--dataset", "population", "--by", "registry-ops", filepath.Join(gen, "population.parquet"))
	})
	if code != 0 {
		t.Fatalf("deliver: %d %s %s", code, out, errOut)
	}
	if !strings.Contains(out, "upserted") || !strings.Contains(out, fmt.Sprintf("version %d", before.counter+1)) {
		t.Errorf("deliver said %q, want an upsert as version %d", out, before.counter+1)
	}
	fromOld := 0
	for _, a := range answers {
		if a.status != http.StatusOK {
			t.Fatalf("a request failed during the delivery: %d %s (replica %d)", a.status, a.code, a.replica)
		}
		if a.extract == before.id {
			fromOld++
		}
	}
	// The switch happened under load: answers from both versions.
	if fromOld == 0 || fromOld == len(answers) {
		t.Errorf("%d of %d answers came from the old version, want some from each", fromOld, len(answers))
	}
	var after []versionMeta
	for _, r := range c.replicas {
		deadline := time.Now().Add(30 * time.Second)
		for {
			v := c.version(r.base)
			if v.id != before.id {
				after = append(after, v)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %s still answers from version %d after the delivery", r.base, before.counter)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if after[0] != after[1] || after[0].counter != before.counter+1 {
		t.Errorf("after the delivery the replicas answer from %+v and %+v, want one version %d", after[0], after[1], before.counter+1)
	}
	code, tail, _ := runCmd(ctx, "audit", "tail", "-n", "400", "--state", c.stateURL)
	if code != 0 || !strings.Contains(tail, "delivery") || !strings.Contains(tail, "registry-ops") {
		t.Errorf("audit tail does not show the delivery:\n%s", tail)
	}
	st := c.openPG()
	defer st.Close()
	if rep, err := st.Audit().Verify(ctx); err != nil || !rep.OK {
		t.Errorf("audit verify = %+v, %v", rep, err)
	}
}

// versionMeta is what an answer's meta says of the extracts version.
type versionMeta struct {
	id      string
	counter int64
}

// version asks replicaQuery at base and returns the version it names.
func (c *cluster) version(base string) versionMeta {
	c.t.Helper()
	req, err := http.NewRequest("POST", base+"/v1/query", strings.NewReader(replicaQuery))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		Meta struct {
			Extract        string `json:"extract"`
			ExtractVersion int64  `json:"extract_version"`
		} `json:"meta"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK {
		c.t.Fatalf("replica %s: %d %v", base, resp.StatusCode, err)
	}
	return versionMeta{v.Meta.Extract, v.Meta.ExtractVersion}
}
