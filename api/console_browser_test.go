package api_test

// The web console in a real browser: chromedp drives Debian's chromium
// against the end-to-end server (the shipped policy on the checked-in
// extract). Without a chromium the test skips, unless
// STATGATE_BROWSER_TESTS=1 (set by .ci/run, which installs it) makes a
// missing browser a failure. go test ./api -run Console -console.screenshots
// rewrites the screenshots in docs/ that the README shows.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/statgate/statgate/api"
	"github.com/statgate/statgate/policies"
)

var screenshots = flag.Bool("console.screenshots", false, "write the console test's screenshots into ../docs (committed, shown in the README)")

// chromium finds the browser: $STATGATE_CHROMIUM, else chromium or
// chromium-browser on PATH.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("STATGATE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("STATGATE_BROWSER_TESTS") == "1" {
		t.Fatal("STATGATE_BROWSER_TESTS=1 but no chromium on PATH (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH; apt-get install chromium to run the browser tests")
	return ""
}

// browserLog records what the page asked for and any uncaught JavaScript error.
type browserLog struct {
	mu         sync.Mutex
	requests   []string
	exceptions []string
	errors     []string // the browser's error-level log: CSP violations, failed loads (not API refusals)
}

func (l *browserLog) add(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		l.requests = append(l.requests, e.Request.URL)
	case *cdplog.EventEntryAdded:
		// An API refusal (a 4xx of /v1/…) is logged too; the page renders it.
		if u, err := url.Parse(e.Entry.URL); e.Entry.Level == cdplog.EntryLevelError &&
			(e.Entry.Source != cdplog.EntrySourceNetwork || err != nil || !strings.HasPrefix(u.Path, "/v1/")) {
			l.errors = append(l.errors, string(e.Entry.Source)+": "+e.Entry.Text)
		}
	case *runtime.EventExceptionThrown:
		l.exceptions = append(l.exceptions, (&chromedp.ExceptionError{ExceptionDetails: e.ExceptionDetails}).Error())
	}
}

func (l *browserLog) snapshot() (requests, exceptions, errors []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.requests), slices.Clone(l.exceptions), slices.Clone(l.errors)
}

// void drops an action's value.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

func TestConsoleInBrowser(t *testing.T) {
	path := chromium(t)
	// Repeats on, as statgate serve and demo run; diabetes-2026 with a
	// project-wide budget and a cap on the analyst, for the budget page.
	s := startE2E(t, e2eConfig{repeats: true, policy: func(p *policies.Policy) {
		pr := p.Projects["diabetes-2026"]
		pr.ProjectBudget = &policies.Budget{Epsilon: 8, Delta: 1e-5}
		for i := range pr.Members {
			if pr.Members[i].Principal == analyst {
				pr.Members[i].Budget = &policies.Budget{Epsilon: 2}
			}
		}
	}})

	// What the server's API offers, read from its OpenAPI document as the
	// console reads it: the console shows temporal criteria and the epi
	// preview only where the server accepts them.
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Ref string `json:"$ref"`
			} `json:"parameters"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	decodeJSON(t, s.must(t, call{method: http.MethodGet, path: "/v1/openapi.json"}, http.StatusOK), &doc)
	_, temporal := doc.Components.Schemas["Criterion"].Properties["after"]
	epiDryRun := slices.ContainsFunc(doc.Paths["/v1/rates"]["post"].Parameters, func(p struct {
		Ref string `json:"$ref"`
	}) bool {
		return p.Ref == "#/components/parameters/dry_run"
	})

	// The console's own headers: no request may leave this origin.
	r := s.must(t, call{method: http.MethodGet, path: "/"}, http.StatusOK)
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("console CSP %q", csp)
	}

	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	defer cancel()
	log := &browserLog{}
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithListener(log.add))
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	// submit submits the form of the element with this id as a user's
	// Enter does (chromedp.Submit calls form.submit(), which skips the
	// page's submit handler).
	submit := func(id string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf("document.getElementById(%q).form.requestSubmit()", id))
	}
	do := func(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(c, steps...); err != nil {
			c2, cancel2 := context.WithTimeout(ctx, 10*time.Second)
			defer cancel2()
			page, _ := chromedp.Run(c2, chromedp.Evaluate[string](`location.hash + "\n" + document.body.innerText`))
			t.Fatalf("%s: %v\npage %s", what, err, page)
		}
	}
	text := func(t *testing.T, sel string) string {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		v, err := chromedp.Run(c, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	shot := func(t *testing.T, name string) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if !bytes.HasPrefix(png, []byte("\x89PNG")) || len(png) < 10_000 {
			t.Fatalf("screenshot %s is not a PNG of a page (%d bytes)", name, len(png))
		}
		dir := t.TempDir()
		if *screenshots {
			dir = filepath.Join("..", "docs")
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	signIn := func(t *testing.T, principal string) {
		t.Helper()
		do(t, "sign in as "+principal,
			chromedp.Navigate(s.url+"/#/signin"),
			chromedp.WaitVisible(chromedp.ID("token")),
			chromedp.SetValue(chromedp.ID("token"), s.tokens[principal]),
			submit("token"),
			void(chromedp.Poll[bool](fmt.Sprintf("document.getElementById('principal')?.textContent === %q", principal))))
		if got := text(t, "#principal"); got != principal {
			t.Fatalf("signed in as %q, want %q", got, principal)
		}
	}
	remaining := func(t *testing.T, dataset string) string {
		t.Helper()
		do(t, "budget page", chromedp.Navigate(s.url+"/#/budget?project=diabetes-2026"),
			chromedp.WaitVisible(chromedp.CSS("#budget-table tr[data-dataset='"+dataset+"'] td.remaining")))
		return text(t, "#budget-table tr[data-dataset='"+dataset+"'] td.remaining")
	}

	t.Run("data map without a token", func(t *testing.T) {
		do(t, "open the data map", chromedp.Navigate(s.url+"/"), chromedp.WaitVisible(chromedp.CSS(".dataset")))
		do(t, "search diabetes", chromedp.SetValue(chromedp.ID("search"), "diabetes"), submit("search"),
			chromedp.WaitVisible(chromedp.CSS(".dataset .match")))
		got := text(t, "#datasets")
		for _, want := range []string{"datasets match “diabetes”", "Norwegian Patient Registry", "Norwegian Prescription Database",
			"lmr.atc label: A10 Drugs used in diabetes", "npr.icd10 label: E11 Type 2 diabetes mellitus"} {
			if !strings.Contains(got, want) {
				t.Errorf("the search page lacks %q:\n%s", want, got)
			}
		}
		shot(t, "console-data-map.png")
		do(t, "search sukkersyke", chromedp.Navigate(s.url+"/#/?q=sukkersyke"), chromedp.WaitVisible(chromedp.CSS(".dataset .match")))
		if got := text(t, "#datasets"); !strings.Contains(got, "(as diabetes)") {
			t.Errorf("sukkersyke does not say it matched as diabetes:\n%s", got)
		}
		do(t, "dataset page", chromedp.Navigate(s.url+"/#/dataset/population"), chromedp.WaitVisible(chromedp.CSS("main table")))
		if got := text(t, "main"); !strings.Contains(got, "kommunenummer (357 codes)") || !strings.Contains(got, "birth_year") {
			t.Errorf("dataset page:\n%s", got)
		}
		do(t, "code list browser", chromedp.Navigate(s.url+"/#/codelist/ATC?q=metformin"), chromedp.WaitVisible(chromedp.CSS("main table td code")))
		if got := text(t, "main table"); !strings.Contains(got, "A10BA02") || !strings.Contains(got, "metformin") {
			t.Errorf("code list page:\n%s", got)
		}
	})

	t.Run("analyst runs a template", func(t *testing.T) {
		signIn(t, analyst)
		if got := text(t, "#signin-result"); !strings.Contains(got, "diabetes-2026") || !strings.Contains(got, "analyst") {
			t.Errorf("sign-in page does not show the project and role:\n%s", got)
		}
		before := remaining(t, "lmr")
		const form = "form[data-name='prescriptions_by_atc_year']"
		do(t, "templates page", chromedp.Navigate(s.url+"/#/templates"), chromedp.WaitVisible(chromedp.CSS(form)))
		if got := text(t, form+" button[type='submit']"); got != "Run — costs ε 0.5" {
			t.Errorf("the run button says %q, want the fixed ε before running", got)
		}
		do(t, "preview the template (free)", chromedp.Click(chromedp.CSS(form+" button.preview")),
			chromedp.WaitVisible(chromedp.CSS("#preview table tbody tr")))
		if got := text(t, "#preview"); !strings.Contains(got, "nothing was spent") || !strings.Contains(got, "would cost: ε 0.5 on lmr") ||
			!strings.Contains(got, "budget can pay: yes") || !strings.Contains(got, "lmr ε 9.5") {
			t.Errorf("dry-run preview:\n%s", got)
		}
		do(t, "run the template", chromedp.Click(chromedp.CSS(form+" button[type='submit']")),
			chromedp.WaitVisible(chromedp.CSS("#result table.result tbody tr")),
			// A circle per released year (a line joins neighbouring ones; at
			// this extract's size about half the years are suppressed).
			chromedp.WaitVisible(chromedp.CSS("#result .chart svg circle")))
		if got := text(t, "#spent-epsilon"); got != "0.5" {
			t.Errorf("ε spent shown as %q", got)
		}
		rows := text(t, "#result table.result tbody")
		if !strings.Contains(rows, "2010") || !strings.Contains(rows, "2024") || !strings.Contains(rows, "95%") {
			t.Errorf("result table lacks the years or the intervals:\n%s", rows)
		}
		shot(t, "console-template.png")
		queryID := text(t, "#result .query-id")
		// The same question again is a free repeat, and says so.
		do(t, "run the template again", chromedp.Click(chromedp.CSS(form+" button[type='submit']")),
			chromedp.WaitVisible(chromedp.ID("cached-notice")))
		if got := text(t, "#cached-notice"); !strings.Contains(got, "Free repeat") || !strings.Contains(got, queryID) || text(t, "#spent-epsilon") != "0" {
			t.Errorf("a repeated template run: %q, ε spent %q", got, text(t, "#spent-epsilon"))
		}
		after := remaining(t, "lmr")
		// The template costs ε 0.5; the stated spend is the smaller of
		// basic composition's 0.5 and the zCDP bound of its noise (less
		// when its parts are Gaussian).
		if left, err := strconv.ParseFloat(after, 64); before != "10" || err != nil || left < 9.5 || left >= 10 {
			t.Errorf("lmr budget shown %q before and %q after a free preview, one run and its free repeat, want 10 then between 9.5 and 10", before, after)
		}
		// The ledger's history lists the run: who, what kind, what it cost.
		row := "#history-table tr[data-query='" + queryID + "']"
		do(t, "history row", chromedp.WaitVisible(chromedp.CSS(row)))
		got := strings.Join(strings.Fields(text(t, row)), " ")
		for _, want := range []string{analyst, "template prescriptions_by_atc_year (run in this tab)", " 0.5 ", "lmr", queryID} {
			if !strings.Contains(" "+got+" ", want) {
				t.Errorf("history row lacks %q: %s", want, got)
			}
		}
		if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#history-table tbody tr").length`)); err != nil || n != 1 {
			t.Errorf("the history lists %d debits (%v), want 1: the repeat and the preview were free", n, err)
		}
		// The caps the run was also charged to, and the per-person guarantee.
		for sel, want := range map[string]string{"#caps-table tr[data-cap='project:'] td.remaining": "7.5",
			"#caps-table tr[data-cap='member:" + analyst + "'] td.remaining": "1.5"} {
			if got := text(t, sel); got != want {
				t.Errorf("%s shows %q, want %q", sel, got, want)
			}
		}
		// The analyst's cap is written with ε alone: its δ is the
		// project-wide budget's, and says so.
		if got := text(t, "#caps-table tr[data-cap='member:"+analyst+"'] td.delta-total"); !strings.Contains(got, "0.00001") || !strings.Contains(got, "implied: the project-wide budget") {
			t.Errorf("the member cap's δ shows %q, want 1e-5 implied by the project-wide budget", got)
		}
		if got := text(t, "#per-person"); !strings.Contains(got, "At most ε 8") || !strings.Contains(got, "project-wide budget") || !strings.Contains(got, "ε 0.5") {
			t.Errorf("per-person guarantee:\n%s", got)
		}
		shot(t, "console-budget.png")
	})

	t.Run("researcher gets a refusal with its hint", func(t *testing.T) {
		signIn(t, researcher)
		do(t, "SQL console", chromedp.Navigate(s.url+"/#/sql"), chromedp.WaitVisible(chromedp.ID("sql")),
			chromedp.WaitVisible(chromedp.CSS("#reference table")))
		if got := text(t, "#reference"); !strings.Contains(got, "Generated from the checker's own allow-list") {
			t.Errorf("reference:\n%s", got)
		}
		do(t, "run min()", chromedp.SetValue(chromedp.ID("sql"), "SELECT min(ddd) AS smallest FROM lmr"),
			chromedp.Click(chromedp.ID("run-sql")), chromedp.WaitVisible(chromedp.CSS("#sql-result .problem")))
		got := text(t, "#sql-result .problem")
		for _, want := range []string{"Request not allowed (422)", "min is not allowed", "Hint: use quantile_cont(col, 0.01)", "min_max_not_allowed"} {
			if !strings.Contains(got, want) {
				t.Errorf("refusal lacks %q:\n%s", want, got)
			}
		}
		do(t, "open the refused names", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("#reference details").forEach(d => d.open = d.textContent.includes("Refused by name"))`))
		shot(t, "console-sql-refusal.png")
		do(t, "run an accepted query", chromedp.SetValue(chromedp.ID("sql"), "SELECT icd10_chapter(icd10) AS chapter, count(DISTINCT pid) AS patients FROM npr GROUP BY 1"),
			chromedp.Click(chromedp.ID("run-sql")), chromedp.WaitVisible(chromedp.CSS("#sql-result .chart svg rect")))
		if got := text(t, "#sql-result table.result"); !strings.Contains(got, "suppressed") && !strings.Contains(got, "IX") {
			t.Errorf("chapter result:\n%s", got)
		}
		// An answer with no released group says so instead of an empty table.
		do(t, "run a query nothing matches", chromedp.SetValue(chromedp.ID("sql"), "SELECT icd10, count(DISTINCT pid) AS patients FROM npr WHERE icd10 LIKE 'Z99%' GROUP BY 1"),
			chromedp.Click(chromedp.ID("run-sql")), chromedp.WaitVisible(chromedp.CSS("#sql-result #result p.empty")))
		if got := text(t, "#sql-result #result"); !strings.Contains(got, "No group was released") || !strings.Contains(got, "ε spent") {
			t.Errorf("empty result:\n%s", got)
		}
	})

	t.Run("survival and rates", func(t *testing.T) {
		// The survival form starts from a worked example, its selects
		// filled from the data map: the project's datasets, their date
		// columns and the strata a curve may be split by.
		do(t, "survival page", chromedp.Navigate(s.url+"/#/survival"), chromedp.WaitVisible(chromedp.ID("index-dataset")))
		form, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`({
			project: document.getElementById("survival-project").value,
			index: document.getElementById("index-dataset").value,
			indexColumns: [...document.getElementById("index-column").options].map(o => o.value),
			event: document.getElementById("event-dataset").value,
			eventDatasets: [...document.getElementById("event-dataset").options].map(o => o.value),
			strata: [...document.querySelectorAll("#strata input")].map(i => i.value + (i.checked ? "+" : "")),
			json: JSON.parse(document.getElementById("analysis").value)})`))
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%v %v %v %v %v", form["project"], form["index"], form["indexColumns"], form["event"], form["eventDatasets"]) !=
			"cancer-survival cancer [diagnosis_date] death_causes [cancer death_causes population]" {
			t.Errorf("survival form selects: %v", form)
		}
		if st := fmt.Sprint(form["strata"]); !strings.Contains(st, "stage+") || !strings.Contains(st, "age_band") || !strings.Contains(st, "sex") {
			t.Errorf("survival strata checkboxes %s, want stage ticked, age_band and sex offered", st)
		}
		if j, _ := form["json"].(map[string]any); j["end"] != "2024-12-31" || j["interval"] != "year" {
			t.Errorf("the advanced JSON does not follow the form: %v", form["json"])
		}
		// Form → JSON: a field's change rewrites the request.
		horizon := `(() => { const el = document.getElementById("horizon"); el.value = "4"; el.dispatchEvent(new Event("input", {bubbles: true}));
			return JSON.parse(document.getElementById("analysis").value).horizon; })()`
		if got, err := chromedp.Run(ctx, chromedp.Evaluate[float64](horizon)); err != nil || got != 4 {
			t.Errorf("horizon 4 in the form gives horizon %v in the JSON (%v)", got, err)
		}
		// JSON → form: valid JSON refills the fields; invalid JSON says so and leaves them.
		edit := func(js string) string {
			return `(() => { const ed = document.getElementById("analysis"); ` + js + `; ed.dispatchEvent(new Event("input", {bubbles: true}));
				return document.getElementById("interval").value + " " + document.getElementById("index-where").value + " | " +
					document.getElementById("analysis-json-status").textContent; })()`
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](edit(`const b = JSON.parse(ed.value); b.interval = "month"; b.horizon = 24; b.index.where = "icd10 LIKE 'C18%'"; ed.value = JSON.stringify(b)`)))
		if err != nil || !strings.HasPrefix(got, "month icd10 LIKE 'C18%' |") {
			t.Errorf("JSON edit → form: %q (%v)", got, err)
		}
		got, err = chromedp.Run(ctx, chromedp.Evaluate[string](edit(`ed.value = ed.value + ","`)))
		if err != nil || !strings.HasPrefix(got, "month icd10 LIKE 'C18%' |") || !strings.Contains(got, "Not valid JSON yet") {
			t.Errorf("broken JSON: %q (%v)", got, err)
		}
		do(t, "back to the breast cancer example", chromedp.Evaluate[chromedp.Void](edit(`const b = JSON.parse(ed.value.slice(0, -1)); b.interval = "year"; b.horizon = 5; b.index.where = "icd10 LIKE 'C50%'"; ed.value = JSON.stringify(b)`)),
			chromedp.Click(chromedp.ID("run-analysis")), chromedp.WaitVisible(chromedp.CSS("#analysis-result #result .chart svg path.step")))
		if got := text(t, "#analysis-result .meta"); !strings.Contains(got, "ε spent: 1") {
			t.Errorf("survival meta:\n%s", got)
		}
		shot(t, "console-survival.png")

		do(t, "rates page", chromedp.Navigate(s.url+"/#/rates"), chromedp.WaitVisible(chromedp.ID("rates-form"))) // not #event-dataset: the survival form has one too
		// Tick age_band as a user would: the JSON follows; untick it again.
		strata := `JSON.parse(document.getElementById("analysis").value).strata.join(",")`
		do(t, "stratify by age band", chromedp.Click(chromedp.CSS("#strata input[value='age_band']")))
		if got, err := chromedp.Run(ctx, chromedp.Evaluate[string](strata)); err != nil || got != "age_band,sex" {
			t.Errorf("strata in the JSON after ticking age_band: %q (%v)", got, err)
		}
		do(t, "not by age band after all", chromedp.Click(chromedp.CSS("#strata input[value='age_band']")))
		if got, err := chromedp.Run(ctx, chromedp.Evaluate[string](strata)); err != nil || got != "sex" {
			t.Errorf("strata in the JSON after unticking age_band: %q (%v)", got, err)
		}
		// The free preview of the rates: cost and accuracy, nothing spent
		// (offered only by a server whose /v1/rates takes dry_run).
		if epiDryRun {
			do(t, "preview the rates", chromedp.Click(chromedp.CSS("#rates-form button.preview")), chromedp.WaitVisible(chromedp.CSS("#analysis-result #preview, #analysis-result .problem")))
			if got := text(t, "#analysis-result"); !strings.Contains(got, "nothing was spent") || !strings.Contains(got, "would cost: ε 1 on") || !strings.Contains(got, "expected sd") {
				t.Errorf("rates preview:\n%s", got)
			}
		} else if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#rates-form button.preview").length`)); err != nil || n != 0 {
			t.Errorf("the server takes no dry_run on /v1/rates, yet the form offers %d preview buttons (%v)", n, err)
		}
		do(t, "run the rates", chromedp.Click(chromedp.ID("run-analysis")), chromedp.WaitVisible(chromedp.CSS("#analysis-result table.result tbody tr")))
		if got := text(t, "#analysis-result table.result"); !strings.Contains(got, "sex = F") || !strings.Contains(got, "sex = M") {
			t.Errorf("rates table:\n%s", got)
		}
		if got := text(t, "#analysis-result"); !strings.Contains(got, "Standardised (ESP 2013)") {
			t.Errorf("the standardise box is ticked but no standardised rate is shown:\n%s", got)
		}
		shot(t, "console-rates.png")
	})

	t.Run("cohort builder", func(t *testing.T) {
		do(t, "cohort page", chromedp.Navigate(s.url+"/#/cohort"), chromedp.WaitVisible(chromedp.CSS("#includes .criterion")),
			chromedp.Click(chromedp.CSS("main form button[type='submit']")), chromedp.WaitVisible(chromedp.CSS("#cohort-result table.result tbody tr")))
		if got := text(t, "#cohort-result table.result thead"); !strings.Contains(got, "sex") || !strings.Contains(got, "age_band") {
			t.Errorf("cohort result header:\n%s", got)
		}
		if !temporal {
			if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#includes details.timing").length`)); err != nil || n != 0 {
				t.Errorf("the server takes no temporal criteria, yet the builder offers %d timing boxes (%v)", n, err)
			}
			return
		}
		// Timing as a user fills it: the dispensing (#1) within 90 days
		// after the diagnosis (#0), which has a one-year washout and an
		// age at diagnosis of 40–79.
		do(t, "fill the timing", chromedp.Evaluate[chromedp.Void](`(() => {
			const rows = document.querySelectorAll("#includes .criterion");
			const set = (row, cls, v) => { const el = row.querySelector(cls); el.value = v; el.dispatchEvent(new Event("change", {bubbles: true})); };
			rows.forEach(r => r.querySelector("details.timing").open = true);
			set(rows[1], ".c-after", "0"); set(rows[1], ".c-after-days", "90");
			set(rows[0], ".c-washout", "365"); set(rows[0], ".c-age-min", "40"); set(rows[0], ".c-age-max", "79");
			document.getElementById("cohort-result").replaceChildren();
		})()`))
		after := `(() => { const s = document.querySelectorAll("#includes .criterion")[1].querySelector(".c-after"); return s.options[s.selectedIndex].textContent; })()`
		if got, err := chromedp.Run(ctx, chromedp.Evaluate[string](after)); err != nil || !strings.HasPrefix(got, "#0 npr: icd10 LIKE 'E11%'") {
			t.Errorf("the after select names %q (%v), want #0 npr: icd10 LIKE 'E11%%'", got, err)
		}
		shot(t, "console-cohort.png")
		do(t, "estimate with timing", chromedp.Click(chromedp.CSS("main form button[type='submit']")),
			chromedp.WaitVisible(chromedp.CSS("#cohort-result #result, #cohort-result .problem")))
		if got := text(t, "#cohort-result"); strings.Contains(got, "Request not allowed") || strings.Contains(got, "Refused") {
			t.Fatalf("the timed cohort was refused:\n%s", got)
		}
		qid := text(t, "#cohort-result .query-id")
		var entries api.AuditList
		decodeJSON(t, s.must(t, call{method: http.MethodGet, path: "/v1/audit?limit=50", as: admin}, http.StatusOK), &entries)
		var spec string
		for _, e := range entries.Entries {
			if e.QueryID == qid {
				spec = e.Query
			}
		}
		for _, want := range []string{`"after":{"criterion":0,"within_days":90}`, `"none_within_days_before":365`, `"age_at_index":[40,79]`} {
			if !strings.Contains(strings.ReplaceAll(spec, " ", ""), want) {
				t.Errorf("the audited cohort %s lacks %s: %s", qid, want, spec)
			}
		}
	})

	requests, exceptions, errors := log.snapshot()
	if len(exceptions) > 0 {
		t.Errorf("uncaught JavaScript errors: %v", exceptions)
	}
	// Among them the Content-Security-Policy's refusals: a style
	// attribute the policy blocks would silently lose a chart's colours.
	if len(errors) > 0 {
		t.Errorf("the browser logged errors: %q", errors)
	}
	base, _ := url.Parse(s.url)
	n := 0
	for _, r := range requests {
		u, err := url.Parse(r)
		if err != nil || (u.Host != base.Host && u.Scheme != "data" && u.Scheme != "blob" && r != "about:blank") {
			t.Errorf("the console sent a request elsewhere than its server: %s", r)
		}
		if err == nil && u.Host == base.Host {
			n++
		}
	}
	if n < 10 {
		t.Errorf("only %d requests to the server were seen; is the network log working? %v", n, requests)
	}
	fmt.Fprintf(os.Stderr, "console test: %d requests, all to %s\n", len(requests), base.Host)
}
