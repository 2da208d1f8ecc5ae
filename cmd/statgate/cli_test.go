package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/statgate/statgate/engine/state/sqlite"
)

// Every command's --help shows an example of its use.
func TestHelpShowsAnExample(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{
		{"demo"}, {"serve"}, {"gen"}, {"load"}, {"query"}, {"compact"}, {"prune"},
		{"token", "create"}, {"token", "list"}, {"token", "revoke"}, {"token"},
		{"budget", "show"}, {"budget"}, {"audit", "tail"}, {"audit", "verify"}, {"audit"},
		{"catalog", "export"}, {"catalog"},
	} {
		code, _, errOut := runCmd(ctx, append(args, "--help")...)
		if code != 0 {
			t.Errorf("%v --help: exit %d", args, code)
		}
		if !regexp.MustCompile(`(?m)^Example:\n  statgate ` + args[0] + ` `).MatchString(errOut) {
			t.Errorf("%v --help shows no example:\n%s", args, errOut)
		}
	}
}

// Commands that only read the state refuse a directory without one, and
// do not leave an empty state file behind: `audit verify` once created
// state.db in the wrong directory and reported "audit log OK: 0 entries".
func TestReadCommandsNeedAState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"audit", "verify"}, {"audit", "tail"}, {"budget", "show", "--policy", testPolicy}, {"token", "list"}, {"token", "revoke", "--id", "x"},
	} {
		code, out, errOut := runCmd(ctx, append(args, "--data", dir)...)
		if code != 1 || strings.Contains(out, "OK") || !strings.Contains(errOut, "no state store at "+sqlite.Path(dir)) {
			t.Errorf("%v on an empty directory: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
	}
	code, _, errOut := runCmd(ctx, "query", "--policy", testPolicy, "--data", dir, "--project", "diabetes-2026", "--as", "ingrid", "SELECT sex, count(*) AS n FROM population GROUP BY 1")
	if code != 1 || !strings.Contains(errOut, "no extracts at ") {
		t.Errorf("query on an empty directory: exit %d, stderr %s", code, errOut)
	}
	// Without loaded extracts the catalogue is still exported, without sizes.
	code, out, errOut := runCmd(ctx, "catalog", "export", "--policy", testPolicy, "--data", dir)
	if code != 0 || !strings.Contains(errOut, "no number of records") || strings.Contains(out, "numberOfRecords") || !strings.Contains(out, `"dcat:Catalog"`) {
		t.Errorf("catalog export without extracts: exit %d\n%.200s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(sqlite.Path(dir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a read command created %s (%v)", sqlite.Path(dir), err)
	}
}

// The demo loads into the default data directory, the one every operator
// command reads without --data: what the demo serves, `budget show`,
// `audit verify` and `query` see. They once defaulted to different
// directories.
func TestDemoAndOperatorCommandsShareTheData(t *testing.T) {
	ctx := context.Background()
	policy, err := filepath.Abs(testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("STATGATE_DATA") != "" {
		t.Skip("STATGATE_DATA is set: the default data directory is not the one tested")
	}
	t.Chdir(t.TempDir())
	if code, _, errOut := runCmd(ctx, "gen", "--persons", "1500", "--seed", "3", "--out", filepath.Join(".statgate", "demo", "extracts")); code != 0 {
		t.Fatalf("gen: %s", errOut)
	}
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stdout, stderr syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- run(dctx, []string{"demo", "--policy", policy, "--addr", "127.0.0.1:0", "--metrics-addr", "", "--threads", "2",
			"--base-url", "https://statgate.example.org/"}, &stdout, &stderr)
	}()
	addr := waitServing(t, &stderr, &stdout, exit)
	// The served catalogue's IRIs hang from --base-url, whatever Host the
	// request names, so a shared cache may keep it.
	creq, err := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/catalog.jsonld", nil)
	if err != nil {
		t.Fatal(err)
	}
	creq.Host = "attacker.example"
	cresp, err := http.DefaultClient.Do(creq)
	if err != nil {
		t.Fatal(err)
	}
	cbody, _ := io.ReadAll(cresp.Body)
	cresp.Body.Close()
	if cresp.StatusCode != http.StatusOK || !strings.Contains(string(cbody), `"https://statgate.example.org/v1/datasets/npr"`) ||
		strings.Contains(string(cbody), "attacker.example") || cresp.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Errorf("catalogue through the demo with --base-url: status %d, Cache-Control %q\n%.400s",
			cresp.StatusCode, cresp.Header.Get("Cache-Control"), cbody)
	}
	m := regexp.MustCompile(`export RESEARCHER=(\S+)`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("demo printed no researcher token:\n%s", stdout.String())
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/query", strings.NewReader(
		`{"project":"diabetes-2026","sql":"SELECT sex, count(DISTINCT pid) AS persons FROM population GROUP BY 1"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+m[1])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("query through the demo: status %d", resp.StatusCode)
	}

	code, out, errOut := runCmd(ctx, "budget", "show", "--policy", policy, "--project", "diabetes-2026")
	if code != 0 || !regexp.MustCompile(`(?m)^diabetes-2026\s+population\s+0\.5\s`).MatchString(out) {
		t.Errorf("budget show without --data does not see the demo's query: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCmd(ctx, "audit", "verify")
	if code != 0 || !strings.Contains(out, "audit log OK: 1 entries") {
		t.Errorf("audit verify without --data: exit %d\n%s%s", code, out, errOut)
	}
	// The command line asks the same data, next to the running demo, as CSV.
	code, out, errOut = runCmd(ctx, "query", "--policy", policy, "--project", "diabetes-2026", "--as", "ingrid", "--format", "csv",
		"SELECT sex, count(DISTINCT pid) AS persons FROM population GROUP BY 1")
	if code != 0 {
		t.Fatalf("query --format csv: exit %d\n%s", code, errOut)
	}
	cr := csv.NewReader(strings.NewReader(out))
	cr.Comment = '#' // the API's CSV leads with "#" lines: ε, notes
	recs, err := cr.ReadAll()
	if err != nil {
		t.Fatalf("query --format csv is not CSV: %v\n%s", err, out)
	}
	if len(recs) != 3 || strings.Join(recs[0], ",") != "sex,persons,persons_stddev,persons_ci_low,persons_ci_high,suppressed" {
		t.Errorf("query --format csv:\n%s", out)
	}
	code, out, _ = runCmd(ctx, "query", "--policy", policy, "--project", "diabetes-2026", "--as", "ingrid", "--format", "json",
		"SELECT sex, count(DISTINCT pid) AS persons FROM population WHERE sex = 'X' GROUP BY 1")
	var res struct {
		Rows []json.RawMessage `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || res.Rows == nil || !strings.Contains(out, `"rows": []`) {
		t.Errorf("query --format json of an empty result: exit %d, %v\n%s", code, err, out)
	}
	// The catalogue export reads the same data: rounded sizes, never exact ones.
	code, out, errOut = runCmd(ctx, "catalog", "export", "--policy", policy, "--base-url", "https://statgate.example.org")
	var cat struct {
		Type     string `json:"@type"`
		Datasets []struct {
			ID      string `json:"dct:identifier"`
			Records *struct {
				Value string `json:"@value"`
			} `json:"healthdcatap:numberOfRecords"`
		} `json:"dcat:dataset"`
	}
	if err := json.Unmarshal([]byte(out), &cat); code != 0 || err != nil || cat.Type != "dcat:Catalog" || len(cat.Datasets) != 5 {
		t.Fatalf("catalog export: exit %d, %v\n%.300s%s", code, err, out, errOut)
	}
	for _, d := range cat.Datasets {
		if d.ID == "population" && (d.Records == nil || d.Records.Value != "1500") {
			t.Errorf("population's number of records %+v, want the data map's 1500", d.Records)
		}
	}
	if !strings.Contains(out, `"https://statgate.example.org/v1/datasets/npr"`) {
		t.Error("catalog export ignores --base-url")
	}
	cancel()
	select {
	case <-exit:
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop")
	}
}

// waitServing waits until the server logs its bound address and returns it.
func waitServing(t *testing.T, stderr, stdout *syncBuffer, exit <-chan int) string {
	t.Helper()
	listening := regexp.MustCompile(`msg=serving addr=(127\.0\.0\.1:[1-9][0-9]*)`)
	for deadline := time.Now().Add(60 * time.Second); ; {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-exit:
			t.Fatalf("exited %d before serving\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving after 60s\nstderr: %s", stderr.String())
		}
	}
}

func TestPublicBaseURL(t *testing.T) {
	for _, tc := range []struct {
		desc, addr, flag, want string
	}{
		{desc: "the default listen address", addr: "127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{desc: "a named host", addr: "stats.example.org:80", want: "http://stats.example.org:80"},
		{desc: "every interface, port only", addr: ":8080", want: "http://localhost:8080"},
		{desc: "every IPv4 interface", addr: "0.0.0.0:8080", want: "http://localhost:8080"},
		{desc: "every IPv6 interface", addr: "[::]:8080", want: "http://localhost:8080"},
		{desc: "an IPv6 host", addr: "[::1]:8080", want: "http://[::1]:8080"},
		{desc: "a port chosen when listening: per request", addr: "127.0.0.1:0", want: ""},
		{desc: "--base-url wins", addr: "0.0.0.0:8080", flag: "https://statgate.example.org", want: "https://statgate.example.org"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if got := (serveOptions{addr: tc.addr, baseURL: tc.flag}).publicBaseURL(); got != tc.want {
				t.Errorf("publicBaseURL(%q, %q) = %q, want %q", tc.addr, tc.flag, got, tc.want)
			}
		})
	}
}

// TestDeliverExample runs the README's delivery example: an npr append
// and a population upsert onto a load, each a new version with its audit
// entry; then a refused delivery, which names file, row and column and
// leaves the version as it was.
func TestDeliverExample(t *testing.T) {
	ctx := context.Background()
	data, gen := filepath.Join(t.TempDir(), "data"), t.TempDir()
	if code, _, errOut := runCmd(ctx, "gen", "--persons", "2000", "--seed", "9", "--out", gen); code != 0 {
		t.Fatalf("gen: %s", errOut)
	}
	registries, _ := filepath.Abs("../../testdata/registries")
	if code, _, errOut := runCmd(ctx, "load", "--policy", testPolicy, "--data", data, "--extracts", registries, "--through", "npr=2024-12"); code != 0 {
		t.Fatalf("load: %s", errOut)
	}
	code, out, errOut := runCmd(ctx, "deliver", "--policy", testPolicy, "--data", data, "--dataset", "npr", "--through", "2024-12", filepath.Join(gen, "npr.parquet"))
	if code != 0 || !strings.Contains(out, "version 2, ") || !strings.Contains(out, "rows appended") {
		t.Fatalf("deliver npr: %d %s %s", code, out, errOut)
	}
	code, out, errOut = runCmd(ctx, "deliver", "--policy", testPolicy, "--data", data, "--dataset", "population", "--by", "registry-ops", filepath.Join(gen, "population.parquet"))
	if code != 0 || !strings.Contains(out, "version 3, 2000 rows upserted (2000 replaced, 0 new persons)") {
		t.Fatalf("deliver population: %d %s %s", code, out, errOut)
	}
	// Refused: npr's dates after a declared end.
	code, out, errOut = runCmd(ctx, "deliver", "--policy", testPolicy, "--data", data, "--dataset", "npr", "--through", "2012-06", filepath.Join(gen, "npr.parquet"))
	if code != 1 || !strings.Contains(errOut, "npr.parquet: column contact_date: row ") || !strings.Contains(errOut, "after the declared end 2012-06-30") {
		t.Errorf("a late date: %d %s %s; want a refusal naming the file, the column and the row", code, out, errOut)
	}
	// Refused: npr's deliveries declare their period (since the load), so
	// one without --through would leave "data up to" behind.
	code, out, errOut = runCmd(ctx, "deliver", "--policy", testPolicy, "--data", data, "--dataset", "npr", filepath.Join(gen, "npr.parquet"))
	if code != 1 || !strings.Contains(errOut, "give --through for this one too") || !strings.Contains(errOut, "2024-12-31") {
		t.Errorf("npr without --through: %d %s %s; want refused naming the last declared end", code, out, errOut)
	}
	code, tail, _ := runCmd(ctx, "audit", "tail", "-n", "6", "--data", data)
	if code != 0 || strings.Count(tail, "delivery  released") != 2 || strings.Count(tail, "delivery  refused") != 2 || !strings.Contains(tail, "registry-ops") {
		t.Errorf("audit tail:\n%s", tail)
	}
	if code, out, _ := runCmd(ctx, "audit", "verify", "--data", data); code != 0 {
		t.Errorf("audit verify: %s", out)
	}
	// The next delivery is version 4: the refused one made none.
	code, out, _ = runCmd(ctx, "deliver", "--policy", testPolicy, "--data", data, "--dataset", "cancer", filepath.Join(gen, "cancer.parquet"))
	if code != 0 || !strings.Contains(out, "version 4, ") {
		t.Errorf("deliver cancer: %s", out)
	}
	// Compaction: npr and cancer are read from their base and a delivery.
	code, out, errOut = runCmd(ctx, "compact", "--data", data, "--by", "ops")
	if code != 0 || !strings.Contains(out, "compacted cancer (2 parts), npr (2 parts)") || !strings.Contains(out, "version 5, ") {
		t.Fatalf("compact: %d %s %s", code, out, errOut)
	}
	if code, out, _ := runCmd(ctx, "compact", "--data", data); code != 0 || !strings.Contains(out, "nothing to compact") {
		t.Errorf("a second compact: %s", out)
	}
	if code, out, _ := runCmd(ctx, "prune", "--data", data); code != 0 || !strings.Contains(out, "younger than --grace 10m0s: nothing removed") {
		t.Errorf("prune right after: %s", out)
	}
	// Left: the base (its population table was replaced by the upsert's
	// part, but deaths and lmr still read it), the population upsert, the
	// two merged parts; gone: npr's and cancer's delivery parts.
	code, out, _ = runCmd(ctx, "prune", "--data", data, "--grace", "0s")
	if code != 0 || strings.Count(out, "removed parts/") != 2 || !strings.Contains(out, "-npr-") || !strings.Contains(out, "-cancer-") || strings.Contains(out, "compact") {
		t.Errorf("prune: %s", out)
	}
	if code, tail, _ := runCmd(ctx, "audit", "tail", "-n", "1", "--data", data); code != 0 || !strings.Contains(tail, "compaction  released") {
		t.Errorf("audit tail after compact:\n%s", tail)
	}
	if code, out, _ := runCmd(ctx, "query", "--policy", testPolicy, "--data", data, "--project", "diabetes-2026", "--as", "ingrid", "SELECT count(*) AS n FROM npr"); code != 0 {
		t.Errorf("a query on the compacted, pruned extracts: %s", out)
	}
}
