package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/differential-privacy/go/v3/noise"

	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/exec"
	"github.com/statgate/statgate/engine/internal/testkit"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/state/sqlite"
	"github.com/statgate/statgate/policies"
)

// The corpora the engine's tests read (testkit.ReadQueries,
// testkit.ReadBlocks; the format is described in each file's header).
const (
	acceptedCorpus = "../testdata/queries/accepted.txt"
	rejectedCorpus = "../testdata/queries/rejected.txt"
	cohortCorpus   = "../testdata/queries/cohorts.txt"
)

// policyPath is the shipped policy; its sources are the checked-in extract
// in testdata/registries.
const policyPath = "../policies/norway-synthetic.yaml"

// loadedDir is a data directory with the testdata extract loaded once for
// the package; each test copies it so budgets and audit logs start empty.
var loadedDir string

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "engine tests:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "statgate-engine-test-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	pol, err := policies.Load(policyPath)
	if err != nil {
		return 0, err
	}
	if _, err := exec.Load(context.Background(), &exec.LoadOptions{Policy: pol, DataDir: dir}); err != nil {
		return 0, err
	}
	loadedDir = dir
	return m.Run(), nil
}

// openEngine opens an engine on a fresh copy of the loaded data directory.
func openEngine(t *testing.T, mutate func(*Options)) *Engine {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile(exec.ExtractsPath(loadedDir))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exec.ExtractsPath(dir), src, 0o600); err != nil {
		t.Fatal(err)
	}
	pol, err := policies.Load(policyPath)
	if err != nil {
		t.Fatal(err)
	}
	o := &Options{Policy: pol, DataDir: dir, Threads: 2}
	if mutate != nil {
		mutate(o)
	}
	return newEngine(t, o)
}

// newEngine opens an engine with o, on the SQLite state store in
// o.DataDir, as `statgate serve` does; both close when t ends.
func newEngine(t testing.TB, o *Options) *Engine {
	t.Helper()
	o.State = openState(t, o.DataDir)
	e, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// openState opens the SQLite state store in dir, closed when t ends.
func openState(t testing.TB, dir string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var (
	ingrid  = Principal{Name: "ingrid"}
	analyst = Principal{Name: "pharma-analyst"}
	admin   = Principal{Name: "registry-admin"}
)

func spent(t *testing.T, e *Engine, project, dataset string) float64 {
	t.Helper()
	b, err := e.book.Balance(context.Background(), e.ledger, project, dataset)
	if err != nil {
		t.Fatal(err)
	}
	return b.SpentEpsilon
}

func lastAudit(t *testing.T, e *Engine) audit.Entry {
	t.Helper()
	es, err := e.audit.Tail(context.Background(), 1)
	if err != nil || len(es) != 1 {
		t.Fatalf("audit tail: %v %v", es, err)
	}
	return es[0]
}

func TestQueryReleasesProtectedResult(t *testing.T) {
	e := openEngine(t, nil)
	ctx := context.Background()
	res, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026",
		SQL: "SELECT p.sex AS sex, count(DISTINCT pid) AS persons, avg(n.length_of_stay_days) AS mean_los FROM npr n JOIN population p USING (pid) WHERE n.icd10 LIKE 'E11%' GROUP BY 1 ORDER BY 1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := testkit.ColumnNames(res); got != "sex,persons,mean_los" {
		t.Fatalf("columns = %s", got)
	}
	if len(res.Rows) != 2 || res.Rows[0].Cells[0].Value != "F" || res.Rows[1].Cells[0].Value != "M" {
		t.Fatalf("want the two public sex groups in order, got %+v", res.Rows)
	}
	for _, row := range res.Rows {
		for i, c := range row.Cells[1:] {
			if c.Suppressed {
				continue
			}
			if c.CI == nil || c.StdDev <= 0 {
				t.Errorf("measure %d of %v has no interval: %+v", i+1, row.Cells[0].Value, c)
			}
		}
	}
	m := res.Meta
	if m.Epsilon != 0.5 || m.QueryID == "" || m.Groups != "public_domain" || m.Mechanism != "laplace" {
		t.Errorf("meta = %+v", m)
	}
	if got := spent(t, e, "diabetes-2026", "npr"); got != 0.5 {
		t.Errorf("npr spent %g, want 0.5", got)
	}
	if got := spent(t, e, "diabetes-2026", "population"); got != 0.5 {
		t.Errorf("population spent %g, want 0.5", got)
	}
	if got := spent(t, e, "diabetes-2026", "lmr"); got != 0 {
		t.Errorf("lmr spent %g, want 0", got)
	}
	a := lastAudit(t, e)
	if a.Outcome != "released" || a.QueryID != m.QueryID || a.ResultDigest == "" || a.PlanHash == "" || a.Epsilon != 0.5 {
		t.Errorf("audit = %+v", a)
	}
}

func TestRefusalsDebitNothing(t *testing.T) {
	e := openEngine(t, nil)
	ctx := context.Background()
	tests := []struct {
		desc string
		p    Principal
		req  Request
		kind refusal.Kind
		code string
	}{
		{"select star", ingrid, Request{Project: "diabetes-2026", SQL: "SELECT * FROM npr"}, refusal.KindQuery, ""},
		{"min is refused", ingrid, Request{Project: "diabetes-2026", SQL: "SELECT min(ddd) FROM lmr"}, refusal.KindQuery, ""},
		{"dataset outside project", ingrid, Request{Project: "diabetes-2026", SQL: "SELECT count(*) FROM cancer"}, refusal.KindForbidden, "dataset_not_in_project"},
		{"unknown dataset", ingrid, Request{Project: "diabetes-2026", SQL: "SELECT count(*) FROM kpr"}, refusal.KindNotFound, "unknown_dataset"},
		{"epsilon above max", ingrid, Request{Project: "diabetes-2026", SQL: "SELECT count(*) FROM npr", Epsilon: 5}, refusal.KindQuery, "epsilon_too_large"},
		{"analyst may not write SQL", analyst, Request{Project: "diabetes-2026", SQL: "SELECT count(*) FROM npr"}, refusal.KindForbidden, "role_not_allowed"},
		{"not a member", Principal{Name: "mallory"}, Request{Project: "diabetes-2026", SQL: "SELECT count(*) FROM npr"}, refusal.KindForbidden, "not_a_member"},
		{"unknown project", ingrid, Request{Project: "nope", SQL: "SELECT count(*) FROM npr"}, refusal.KindNotFound, "unknown_project"},
		{"two request kinds", ingrid, Request{Project: "diabetes-2026", SQL: "SELECT count(*) FROM npr", Template: "x"}, refusal.KindBadRequest, "bad_request"},
		{"template bad parameter", analyst, Request{Project: "diabetes-2026", Template: "prescriptions_by_atc_year", Params: map[string]any{"atc_prefix": "A10B'; DROP"}}, refusal.KindBadRequest, "bad_parameter"},
		{"template missing parameter", analyst, Request{Project: "diabetes-2026", Template: "prescriptions_by_atc_year"}, refusal.KindBadRequest, "missing_parameter"},
		{"template unknown parameter", analyst, Request{Project: "diabetes-2026", Template: "prescriptions_by_atc_year", Params: map[string]any{"atc_prefix": "A10B%", "x": 1.0}}, refusal.KindBadRequest, "unknown_parameter"},
		{"template outside project", analyst, Request{Project: "diabetes-2026", Template: "cancer_incidence_by_site_year", Params: map[string]any{"sex": "F"}}, refusal.KindForbidden, "template_not_in_project"},
		{"cohort without include", ingrid, Request{Project: "diabetes-2026", Cohort: &CohortSpec{}}, refusal.KindBadRequest, "cohort_needs_include"},
		{"cohort where injection", ingrid, Request{Project: "diabetes-2026", Cohort: &CohortSpec{Include: []Criterion{{Dataset: "npr", Where: "1=1) UNION SELECT pid FROM npr --"}}}}, refusal.KindQuery, ""},
		{"cohort bad breakdown", ingrid, Request{Project: "diabetes-2026", Cohort: &CohortSpec{Include: []Criterion{{Dataset: "npr"}}, Breakdown: []string{"pid"}}}, refusal.KindBadRequest, "cohort_bad_breakdown"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := e.Query(ctx, tc.p, tc.req)
			r, ok := refusal.As(err)
			if !ok {
				t.Fatalf("want a refusal, got %v", err)
			}
			if r.Kind() != tc.kind || (tc.code != "" && r.Code.String() != tc.code) {
				t.Fatalf("refusal = %+v, want kind %v code %q", r, tc.kind, tc.code)
			}
			if a := lastAudit(t, e); a.Outcome != "refused" || a.Reason != r.Code.String() || a.Epsilon != 0 {
				t.Errorf("audit = %+v", a)
			}
		})
	}
	for _, d := range []string{"npr", "lmr", "population", "death_causes"} {
		if got := spent(t, e, "diabetes-2026", d); got != 0 {
			t.Errorf("%s: refused requests spent %g", d, got)
		}
	}
}

func TestFailedExecutionKeepsDebit(t *testing.T) {
	e := openEngine(t, func(o *Options) { o.QueryTimeout = time.Nanosecond })
	req := Request{Project: "diabetes-2026", SQL: "SELECT icd10_chapter(icd10) AS chapter, count(*) FROM npr GROUP BY 1"}
	dry := req
	dry.DryRun = true
	preview, err := e.Query(context.Background(), ingrid, dry)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	_, err = e.Query(context.Background(), ingrid, req)
	slog.SetDefault(prev)
	if !errors.Is(err, ErrInternal) {
		t.Fatalf("want ErrInternal, got %v", err)
	}
	// The caller sees the stage only; the operators' log has the cause.
	if strings.Contains(err.Error(), "deadline") {
		t.Errorf("the caller's message names the cause: %v", err)
	}
	if l := logged.String(); !strings.Contains(l, "stage=execute") || !strings.Contains(l, "deadline exceeded") || !strings.Contains(l, "charged_epsilon=0.5") {
		t.Errorf("log of the failure = %q, want its stage, cause and charge", l)
	}
	// The ledger holds the debit the dry run announced (under zCDP the
	// stated ε may be below the 0.5 asked: the parts' Gaussian noise).
	bal, berr := e.book.Balance(context.Background(), e.ledger, "diabetes-2026", "npr")
	if want := preview.Meta.DryRun.BudgetAfter[0].RemainingEpsilon; berr != nil || bal.SpentEpsilon <= 0 || bal.RemainingEpsilon != want {
		t.Errorf("balance %+v (%v) after a failed execution, want the debit kept: %g left, as the dry run said", bal, berr, want)
	}
	if got := ChargedEpsilon(err); got != 0.5 {
		t.Errorf("ChargedEpsilon = %g, want the 0.5 kept", got)
	}
	if got := ChargedEpsilon(&refusal.Error{Code: refusal.SelectStar}); got != 0 {
		t.Errorf("ChargedEpsilon of a refusal = %g", got)
	}
	if a := lastAudit(t, e); a.Outcome != "failed" || a.Epsilon != 0.5 || a.ResultDigest != "" {
		t.Errorf("audit = %+v", a)
	}
}

func TestTemplateRun(t *testing.T) {
	e := openEngine(t, func(o *Options) { o.Noise = testkit.FakeNoise{Noise: noise.Laplace()} })
	res, err := e.Query(context.Background(), analyst, Request{Project: "diabetes-2026", Template: "prescriptions_by_atc_year",
		Params: map[string]any{"atc_prefix": "A10B%"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := testkit.ColumnNames(res); got != "year,persons" {
		t.Fatalf("columns = %s", got)
	}
	if len(res.Rows) != 15 {
		t.Errorf("want the 15 public years 2010–2024, got %d rows", len(res.Rows))
	}
	if res.Meta.Epsilon != 0.5 {
		t.Errorf("template ε %g, want its fixed 0.5", res.Meta.Epsilon)
	}
	released := 0
	for _, r := range res.Rows {
		if !r.Cells[1].Suppressed {
			released++
			if v := r.Cells[1].Value.(float64); v < 5 || int(v)%5 != 0 {
				t.Errorf("released count %v is below the minimum cell count or not rounded to 5", v)
			}
		}
	}
	if released == 0 {
		t.Error("no year released: the synthetic extract should have metformin users every year")
	}
}

func TestCohortEstimate(t *testing.T) {
	e := openEngine(t, func(o *Options) { o.Noise = testkit.FakeNoise{Noise: noise.Laplace()} })
	res, err := e.Query(context.Background(), ingrid, Request{Project: "diabetes-2026", Cohort: &CohortSpec{
		Include:   []Criterion{{Dataset: "npr", Where: "icd10 LIKE 'E11%'"}, {Dataset: "lmr", Where: "atc LIKE 'A10B%'", From: "2015-01-01"}},
		Exclude:   []Criterion{{Dataset: "death_causes", Where: "year(death_date) < 2020"}},
		Breakdown: []string{"sex"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 2 {
		t.Fatalf("want one row per sex, got %+v", res.Rows)
	}
	got := map[string]bool{"npr": false, "lmr": false, "death_causes": false, "population": false}
	for _, d := range res.Meta.Datasets {
		got[d] = true
	}
	for d, ok := range got {
		if !ok {
			t.Errorf("cohort did not debit %s: %v", d, res.Meta.Datasets)
		}
	}
}

// plainCount runs SQL returning (key string, n BIGINT) rows on the
// engine's extracts, bypassing protection: tests only.
func plainCount(t *testing.T, e *Engine, sql string) map[string]int64 {
	t.Helper()
	rr, err := e.current().db.QueryArrow(context.Background(), sql)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	out := map[string]int64{}
	for rr.Next() {
		rec := rr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			out[strings.Clone(rec.Column(0).ValueStr(i))] += int64(mustFloat(t, rec.Column(1).ValueStr(i)))
		}
	}
	return out
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	var f float64
	if _, err := fmt.Sscan(s, &f); err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return f
}

func TestCohortMatchesPlainCount(t *testing.T) {
	e := openEngine(t, func(o *Options) { o.Noise = testkit.FakeNoise{Noise: noise.Laplace()} })
	res, err := e.Query(context.Background(), ingrid, Request{Project: "diabetes-2026", Cohort: &CohortSpec{
		Include:   []Criterion{{Dataset: "npr", Where: "icd10 LIKE 'E11%'"}, {Dataset: "lmr", Where: "atc LIKE 'A10B%'"}},
		Exclude:   []Criterion{{Dataset: "death_causes"}},
		Breakdown: []string{"sex"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := plainCount(t, e, `SELECT p.sex, count(*) FROM population p
		WHERE pid IN (SELECT pid FROM npr WHERE icd10 LIKE 'E11%')
		  AND pid IN (SELECT pid FROM lmr WHERE atc LIKE 'A10B%')
		  AND pid NOT IN (SELECT pid FROM death_causes) GROUP BY 1`)
	for _, row := range res.Rows {
		sex := row.Cells[0].Value.(string)
		c := row.Cells[1]
		w := want[sex]
		if c.Suppressed {
			if w >= 5 {
				t.Errorf("%s: %d persons suppressed without noise", sex, w)
			}
			continue
		}
		// Without noise the released value is the true count rounded to 5.
		if got := c.Value.(float64); got != float64(5*((w+2)/5)) {
			t.Errorf("%s: released %g, true count %d", sex, got, w)
		}
	}
}

// TestRuntimeErrorsAreNoSideChannel: an expression that overflows only on
// some rows must not make the query fail, or success would reveal whether
// such a row exists.
func TestRuntimeErrorsAreNoSideChannel(t *testing.T) {
	e := openEngine(t, nil)
	for _, sql := range []string{
		"SELECT count(*) AS n FROM population WHERE (CASE WHEN birth_year = 1950 AND sex = 'F' THEN 9223372036854775807 ELSE 0 END) + birth_year > 0",
		"SELECT count(*) AS n FROM population WHERE (CASE WHEN birth_year = 1800 THEN 9223372036854775807 ELSE 0 END) + birth_year > 0",
		"SELECT (CASE WHEN birth_year = 1950 THEN 9223372036854775807 ELSE 0 END) + birth_year > 0 AS k, count(*) AS n FROM population GROUP BY 1",
		"SELECT count(*) AS n FROM npr WHERE contact_date + (CASE WHEN icd10 = 'E11.9' THEN 2147483000 ELSE 0 END) > DATE '2000-01-01'",
	} {
		if _, err := e.Query(context.Background(), ingrid, Request{Project: "diabetes-2026", SQL: sql}); err != nil {
			if _, ok := refusal.As(err); !ok {
				t.Errorf("%s\nfailed at run time: %v", sql, err)
			}
		}
	}
}

// TestInternalErrorsHideTheCause: a failure after the debit prints only the
// stage, never the execution error's text (DuckDB's can quote data values).
func TestInternalErrorsHideTheCause(t *testing.T) {
	cause := errors.New("Overflow in addition of INT64 (9223372036854775807 + 1950)")
	err := internal("execute", cause)
	if !errors.Is(err, ErrInternal) || !errors.Is(err, cause) {
		t.Fatalf("errors.Is lost ErrInternal or the cause: %v", err)
	}
	if strings.Contains(err.Error(), "1950") || !strings.Contains(err.Error(), "execute") {
		t.Errorf("message %q leaks the cause or omits the stage", err.Error())
	}
}

// TestLargeTablesArePlannedInPersonBuckets checks that the engine plans with
// the extracts' row counts: a dataset above plan.RowsPerPersonBucket rows
// gets an L0 step in person buckets (without them DuckDB runs out of memory
// on 100 M rows), a small one none. That buckets leave the answer unchanged
// for a given seed is plan.TestBucketsDoNotChangeTheResult.
func TestLargeTablesArePlannedInPersonBuckets(t *testing.T) {
	e := openEngine(t, nil)
	ctx := context.Background()
	req := Request{Project: "diabetes-2026", SQL: "SELECT substr(icd10, 1, 3) AS icd3, count(*) AS contacts FROM npr GROUP BY 1"}
	run := func() (string, int) {
		t.Helper()
		c, err := e.prepare(ctx, e.current(), ingrid, req)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Query(ctx, ingrid, req)
		if err != nil {
			t.Fatal(err)
		}
		// Which groups pass partition selection is DP-chosen; the columns are not.
		return c.plan.SQL, len(res.Columns)
	}
	small, smallRows := run()
	if c := strings.Count(small, "kept"); c == 0 || strings.Contains(small, "kept1") {
		t.Fatalf("small npr: want one L0 step without buckets, plan:\n%s", small)
	}
	e.current().sizes["npr"] = 3*plan.RowsPerPersonBucket + 1
	large, largeRows := run()
	if !strings.Contains(large, "kept3") || strings.Contains(large, "kept4") {
		t.Fatalf("npr of %d rows: want 4 person buckets, plan:\n%s", e.current().sizes["npr"], large)
	}
	if smallRows == 0 || largeRows == 0 {
		t.Errorf("result columns: %d without buckets, %d with", smallRows, largeRows)
	}
}
