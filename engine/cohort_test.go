package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/differential-privacy/go/v3/noise"

	"github.com/statgate/statgate/engine/internal/testkit"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/result"
)

// cohortCase is one block of the cohort corpus (format: see its header).
type cohortCase struct {
	line    int
	name    string
	project string
	spec    CohortSpec
	plain   string // SQL: the breakdown keys, then n
}

// readCohortCorpus reads cohortCorpus, which holds cohort specifications
// and their exact answers.
func readCohortCorpus(t *testing.T) []cohortCase {
	t.Helper()
	var out []cohortCase
	for _, b := range testkit.ReadBlocks(t, cohortCorpus) {
		if len(b.Directive) != 2 || b.Directive[0] != "cohort" {
			t.Fatalf("%s:%d: bad directive %q", cohortCorpus, b.Line, b.Head)
		}
		c := cohortCase{line: b.Line, name: b.Directive[1], project: cmp.Or(b.Project, "diabetes-2026")}
		sep := slices.Index(b.Body, "----")
		if sep < 0 || sep == len(b.Body)-1 {
			t.Fatalf("%s:%d: cohort %s has no ---- and SQL", cohortCorpus, c.line, c.name)
		}
		dec := json.NewDecoder(strings.NewReader(strings.Join(b.Body[:sep], "\n")))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c.spec); err != nil {
			t.Fatalf("%s:%d: cohort %s: %v", cohortCorpus, c.line, c.name, err)
		}
		c.plain = strings.Join(b.Body[sep+1:], "\n")
		out = append(out, c)
	}
	if len(out) < 10 {
		t.Fatalf("%d cohort cases; the corpus should have more", len(out))
	}
	return out
}

// groupKey joins a row's first n values as the key of its group.
func groupKey(row []any, n int) string {
	parts := make([]string, n)
	for i := range n {
		parts[i] = fmt.Sprint(row[i])
	}
	return strings.Join(parts, "|")
}

// TestCohortCorpusEqualsPlain: every cohort of the corpus is compiled into
// a query and planned by plan.Bound with L0 = 1 and no L0 step; its
// bounded SQL gives exactly the distinct-person counts of plain DuckDB,
// and the engine (with fake noise) releases those counts rounded to 5,
// or suppresses them below the release threshold, under the columns the
// breakdown names and "persons".
func TestCohortCorpusEqualsPlain(t *testing.T) {
	e := openEngine(t, func(o *Options) { o.Noise = testkit.FakeNoise{Noise: noise.Laplace()} })
	db := openPlainDB(t)
	ctx := context.Background()
	for _, tc := range readCohortCorpus(t) {
		t.Run(tc.name, func(t *testing.T) {
			req := Request{Project: tc.project, Cohort: &tc.spec}
			c, err := e.prepare(ctx, e.current(), ingrid, req)
			if err != nil {
				t.Fatalf("line %d: %v", tc.line, err)
			}
			p := c.plan
			if p.Bounds.L0Step != plan.L0OneGroupPerPerson || p.Bounds.MaxGroupsPerPerson != 1 || p.PersonsL0 != 1 || p.PersonsLInf != 1 {
				t.Errorf("bounds %+v, persons L0 %d LInf %g; want one group per person", p.Bounds, p.PersonsL0, p.PersonsLInf)
			}
			if len(tc.spec.Breakdown) > 0 && p.Datasets[0] != "population" {
				t.Errorf("datasets %v: a breakdown counts persons in the persons register", p.Datasets)
			}
			for _, cr := range append(slices.Clone(tc.spec.Include), tc.spec.Exclude...) {
				if !slices.Contains(p.Datasets, cr.Dataset) {
					t.Errorf("datasets %v lack the criterion's %s", p.Datasets, cr.Dataset)
				}
			}
			nk := len(tc.spec.Breakdown)
			want := map[string]int64{}
			var total int64
			for _, row := range mustQuery(t, db, tc.plain).rows {
				n := int64(mustFloat(t, fmt.Sprint(row[nk])))
				want[groupKey(row, nk)] = n
				total += n
			}
			if total == 0 {
				t.Fatalf("line %d: the plain query counts nobody; the comparison proves nothing", tc.line)
			}
			bounded := mustQuery(t, db, p.SQL)
			persons := bounded.col(t, "persons")
			got := map[string]int64{}
			for _, row := range bounded.rows {
				got[groupKey(row, nk)] = int64(mustFloat(t, fmt.Sprint(row[persons])))
			}
			for k, n := range want {
				if got[k] != n {
					t.Errorf("group %q: bounded %d persons, plain %d", k, got[k], n)
				}
			}
			for k, n := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("group %q: bounded %d persons, none in plain DuckDB", k, n)
				}
			}

			if stripped, ok := withoutTemporal(tc.spec); ok {
				// The temporal conditions must matter on this data, or the
				// comparison would not tell them from none.
				c, err := e.prepare(ctx, e.current(), ingrid, Request{Project: tc.project, Cohort: &stripped})
				if err != nil {
					t.Fatal(err)
				}
				rows := mustQuery(t, db, c.plan.SQL)
				var plainTotal int64
				for _, row := range rows.rows {
					plainTotal += int64(mustFloat(t, fmt.Sprint(row[rows.col(t, "persons")])))
				}
				if plainTotal == total {
					t.Errorf("without its temporal conditions the cohort counts the same %d persons", total)
				}
			}

			res, err := e.Query(ctx, ingrid, req)
			if err != nil {
				t.Fatal(err)
			}
			if got, wantCols := testkit.ColumnNames(res), strings.Join(append(slices.Clone(tc.spec.Breakdown), "persons"), ","); got != wantCols {
				t.Errorf("columns %s, want %s", got, wantCols)
			}
			checkReleased(t, res, nk, want)
		})
	}
}

// withoutTemporal is spec without the temporal conditions of its criteria,
// and whether it had any.
func withoutTemporal(spec CohortSpec) (CohortSpec, bool) {
	had := false
	strip := func(cs []Criterion) []Criterion {
		out := slices.Clone(cs)
		for i := range out {
			if out[i].After != nil || out[i].Before != nil || out[i].NoneWithinDaysBefore != nil || out[i].AgeAtIndex != nil {
				had = true
			}
			out[i].After, out[i].Before, out[i].NoneWithinDaysBefore, out[i].AgeAtIndex = nil, nil, nil, nil
		}
		return out
	}
	spec.Include, spec.Exclude = strip(spec.Include), strip(spec.Exclude)
	return spec, had
}

// checkReleased compares a result released with fake noise with the exact
// counts: rounded to 5 when released, below the threshold when suppressed.
func checkReleased(t *testing.T, res *result.Result, nk int, want map[string]int64) {
	t.Helper()
	released := 0
	for _, row := range res.Rows {
		vals := make([]any, nk)
		for i := range nk {
			vals[i] = row.Cells[i].Value
		}
		w := want[groupKey(vals, nk)]
		c := row.Cells[nk]
		if c.Suppressed {
			if float64(w) >= res.Meta.SuppressBelow {
				t.Errorf("group %v: %d persons suppressed, threshold %g", vals, w, res.Meta.SuppressBelow)
			}
			continue
		}
		released++
		if got := c.Value.(float64); got != float64(5*((w+2)/5)) {
			t.Errorf("group %v: released %g, true count %d", vals, got, w)
		}
	}
	if released == 0 {
		t.Error("nothing released: the comparison proves nothing")
	}
}

// TestCohortAgeBandNote: a breakdown by age_band says in the result what
// the age is measured at; other cohorts carry no such note.
func TestCohortAgeBandNote(t *testing.T) {
	e := openEngine(t, func(o *Options) { o.Noise = testkit.FakeNoise{Noise: noise.Laplace()} })
	ctx := context.Background()
	spec := CohortSpec{Include: []Criterion{{Dataset: "npr", Where: "icd10 LIKE 'E11%'"}}, Breakdown: []string{"age_band"}}
	res, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026", Cohort: &spec})
	if err != nil {
		t.Fatal(err)
	}
	want := "age_band is the age in whole years at the end of the persons register's date range: 2024 − population.birth_year (2024 is the last year of population.death_date), also for persons who have died"
	if !slices.ContainsFunc(res.Meta.Notes, func(n string) bool { return strings.HasPrefix(n, want) }) {
		t.Errorf("notes %q lack %q", res.Meta.Notes, want)
	}
	spec.Breakdown = []string{"sex"}
	if res, err = e.Query(ctx, ingrid, Request{Project: "diabetes-2026", Cohort: &spec}); err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(res.Meta.Notes, func(n string) bool { return strings.Contains(n, "age_band") }) {
		t.Errorf("a breakdown by sex has an age_band note: %q", res.Meta.Notes)
	}
}

// TestCohortPolicyRefusals: what the policy does not name is refused
// before any debit, with the code and a message that says what is missing.
func TestCohortPolicyRefusals(t *testing.T) {
	byE11 := []Criterion{{Dataset: "npr", Where: "icd10 LIKE 'E11%'"}}
	tests := []struct {
		desc   string
		mutate func(o *Options)
		spec   CohortSpec
		code   string
		msg    string
	}{
		{"no persons register: breakdown", func(o *Options) { o.Policy.Datasets["population"].Role = "" },
			CohortSpec{Include: byE11, Breakdown: []string{"sex"}}, "cohort_no_population", "declares no persons register (a one-row-per-person dataset with role: persons)"},
		{"no persons register: age_band", func(o *Options) { o.Policy.Datasets["population"].Role = "" },
			CohortSpec{Include: byE11, Breakdown: []string{"age_band"}}, "cohort_no_population", "role: persons"},
		{"persons register outside the project", func(o *Options) {
			o.Policy.Projects["diabetes-2026"].Datasets = []string{"npr", "lmr", "death_causes"}
		}, CohortSpec{Include: byE11, Breakdown: []string{"sex"}}, "cohort_no_population", `does not include the persons register "population"`},
		{"no birth year column", func(o *Options) { o.Policy.Datasets["population"].BirthYearColumn = "" },
			CohortSpec{Include: byE11, Breakdown: []string{"age_band"}}, "cohort_bad_breakdown", "age_band needs the persons register population to name its birth_year_column"},
		{"no date column", func(o *Options) { o.Policy.Datasets["npr"].DateColumn = "" },
			CohortSpec{Include: []Criterion{{Dataset: "npr", From: "2015-01-01"}}}, "cohort_no_date_column", `dataset "npr" has no date column for from/to`},
		{"bad date", nil, CohortSpec{Include: []Criterion{{Dataset: "npr", To: "2015-13-01"}}}, "cohort_bad_date", "to must be a date"},
		{"column without a public domain", nil, CohortSpec{Include: byE11, Breakdown: []string{"death_date"}}, "cohort_bad_breakdown", `cannot break down by "death_date"`},
		{"criterion outside the project", nil, CohortSpec{Include: []Criterion{{Dataset: "cancer"}}}, "dataset_not_in_project", `does not include dataset "cancer"`},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			e := openEngine(t, tc.mutate)
			_, err := e.Query(context.Background(), ingrid, Request{Project: "diabetes-2026", Cohort: &tc.spec})
			r, ok := refusal.As(err)
			if !ok || r.Code.String() != tc.code || !strings.Contains(r.Message, tc.msg) {
				t.Fatalf("err = %v, want refusal %s containing %q", err, tc.code, tc.msg)
			}
			if got := spent(t, e, "diabetes-2026", "npr"); got != 0 {
				t.Errorf("refused cohort spent %g on npr", got)
			}
		})
	}
	// Without a persons register a cohort without breakdown still runs:
	// it does not read the register.
	e := openEngine(t, func(o *Options) {
		o.Policy.Datasets["population"].Role = ""
		o.Noise = testkit.FakeNoise{Noise: noise.Laplace()}
	})
	res, err := e.Query(context.Background(), ingrid, Request{Project: "diabetes-2026", Cohort: &CohortSpec{Include: byE11}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Meta.Datasets, []string{"npr"}) || testkit.ColumnNames(res) != "persons" {
		t.Errorf("datasets %v, columns %s; want npr only and persons", res.Meta.Datasets, testkit.ColumnNames(res))
	}
}
