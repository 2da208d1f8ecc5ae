package engine

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/differential-privacy/go/v3/noise"

	"github.com/statgate/statgate/engine/internal/testkit"
)

// The rough edges of issue 17, each with its regression test.

// The approved template cancer_incidence_by_site_year answered "rows":
// null: the cancer site (left(icd10, 3)) had no public domain, so its
// groups went through partition selection, whose threshold no site-year
// of a small extract reaches. The ICD-10 three-character cancer
// categories are public (policy code list icd10_cancer_site): every site
// and year is listed, small cells suppressed in the open.
func TestCancerTemplateListsEverySiteAndYear(t *testing.T) {
	e := openEngine(t, func(o *Options) { o.Noise = testkit.FakeNoise{Noise: noise.Gaussian()} })
	res, err := e.Query(context.Background(), ingrid, Request{Project: "cancer-survival", Template: "cancer_incidence_by_site_year",
		Params: map[string]any{"sex": "F", "from_year": 2020, "to_year": 2024}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Meta.Groups != "public_domain" {
		t.Errorf("groups by %q, want public_domain (the ICD-10 cancer sites)", res.Meta.Groups)
	}
	const sites, years = 89, 5
	if len(res.Rows) != sites*years {
		t.Fatalf("%d rows, want %d sites × %d years", len(res.Rows), sites, years)
	}
	seen := map[string]bool{}
	for _, r := range res.Rows {
		seen[r.Cells[0].Value.(string)] = true
	}
	for _, s := range []string{"C00", "C50", "C97"} {
		if !seen[s] {
			t.Errorf("site %s not listed", s)
		}
	}
	if seen["C27"] || seen["C99"] {
		t.Error("a code that is no ICD-10 cancer category is listed")
	}
	// The bounds follow the data: a person has one or two cancers, and
	// L0 is no longer inflated by a profile of tiny groups.
	if l0 := res.Meta.Bounding.MaxGroupsPerPerson; l0 > 3 {
		t.Errorf("L0 = %d for cancer sites × years", l0)
	}
}

// An empty result is [] in JSON, never null.
func TestEmptyResultIsAnEmptyList(t *testing.T) {
	e := openEngine(t, nil)
	for _, sql := range []string{
		// partition selection over no rows at all
		"SELECT icd10, count(DISTINCT pid) AS persons FROM npr WHERE icd10 LIKE 'nothing%' GROUP BY 1",
		// every public group filtered out by HAVING
		"SELECT sex, count(DISTINCT pid) AS persons FROM population GROUP BY 1 HAVING count(DISTINCT pid) > 1000000000",
	} {
		res, err := e.Query(context.Background(), ingrid, Request{Project: "diabetes-2026", SQL: sql})
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"rows":[]`) {
			t.Errorf("%s: want \"rows\":[], got %.200s", sql, b)
		}
	}
}

// ε = 1e-9 released "2,578,057,025 men" out of 20,000 persons with no
// warning. The floor on ε is policy (epsilon_per_query.min); whatever ε a
// policy allows, an answer whose noise exceeds the plausible range says so.
func TestNoiseBeyondThePlausibleRangeWarns(t *testing.T) {
	e := openEngine(t, func(o *Options) {
		for _, d := range o.Policy.Datasets {
			d.Epsilon.Min = 1e-9
		}
	})
	ctx := context.Background()
	sql := "SELECT sex, count(DISTINCT pid) AS persons FROM population GROUP BY 1"
	res, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: sql, Epsilon: 2e-6})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Meta.Warnings) == 0 || !strings.Contains(res.Meta.Warnings[0], "the noise is larger than the data") {
		t.Errorf("ε 2e-6: warnings = %q, want one on the release threshold", res.Meta.Warnings)
	}
	res, err = e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: sql, Epsilon: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Meta.Warnings) != 0 {
		t.Errorf("ε 0.5: warnings = %q, want none", res.Meta.Warnings)
	}
}

// TestUnreadWithQueryIsNotRunOrPaid: a WITH query the outer query never
// reads is dropped from the model (query.Check keeps only the derived
// tables FROM names), so it is neither in the plan's SQL nor in the
// datasets debited (the review's over-charge: its dataset was debited).
func TestUnreadWithQueryIsNotRunOrPaid(t *testing.T) {
	e := openEngine(t, nil)
	ctx := context.Background()
	const unread = "WITH heavy AS (SELECT pid, count(*) AS n FROM lmr GROUP BY pid) SELECT sex, count(*) AS n FROM population GROUP BY 1"
	pr, err := e.prepare(ctx, e.current(), ingrid, Request{Project: "diabetes-2026", SQL: unread})
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.compiled.Query.Derived) != 0 || strings.Contains(pr.plan.SQL, `"lmr"`) || !slices.Equal(pr.plan.Datasets, []string{"population"}) {
		t.Errorf("derived %v, datasets %v, plan reads lmr: %v", pr.compiled.Query.Derived, pr.plan.Datasets, strings.Contains(pr.plan.SQL, `"lmr"`))
	}
	res, err := e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: unread})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Meta.Datasets, []string{"population"}) || spent(t, e, "diabetes-2026", "lmr") != 0 || spent(t, e, "diabetes-2026", "population") == 0 {
		t.Errorf("datasets %v, lmr spent %g", res.Meta.Datasets, spent(t, e, "diabetes-2026", "lmr"))
	}
	// Read, the same WITH query is planned and paid for.
	const read = "WITH heavy AS (SELECT pid, count(*) AS n FROM lmr GROUP BY pid) SELECT p.sex, count(*) AS n FROM population p JOIN heavy h ON h.pid = p.pid GROUP BY 1"
	res, err = e.Query(ctx, ingrid, Request{Project: "diabetes-2026", SQL: read})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Meta.Datasets, "lmr") || spent(t, e, "diabetes-2026", "lmr") == 0 {
		t.Errorf("a WITH query that is read: datasets %v, lmr spent %g", res.Meta.Datasets, spent(t, e, "diabetes-2026", "lmr"))
	}
}
