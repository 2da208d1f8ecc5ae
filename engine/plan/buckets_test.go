package plan

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/query"
)

// bucketsOf counts the person buckets of a plan's SQL (1: none).
func bucketsOf(sqlText string) int {
	return max(len(regexp.MustCompile(`(?m)^kept\d+ AS \(`).FindAllString(sqlText, -1)), 1)
}

func TestPersonBuckets(t *testing.T) {
	perCode := &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("icd10", nprICD)},
		Aggs: []query.Aggregate{countStar("n")}}
	bySex := &query.Query{From: from("population", "population"), Keys: []query.GroupKey{key("sex", popSex)},
		Aggs: []query.Aggregate{countStar("n")}}
	tests := []struct {
		desc string
		q    *query.Query
		rows map[string]int64
		want int
	}{
		{"sizes unknown", perCode, nil, 1},
		// Sizes count as the data map publishes them (two significant
		// figures): 12,449,999 is "about 12,000,000", 12,500,000 "about
		// 13,000,000".
		{"published at the bucket size or under", perCode, map[string]int64{"npr": 12_449_999}, 1},
		{"published over the bucket size", perCode, map[string]int64{"npr": 12_500_000}, 2},
		{"100 M rows", perCode, map[string]int64{"npr": 100_000_000}, 8},
		{"capped", perCode, map[string]int64{"npr": 1 << 50}, MaxPersonBuckets},
		{"datasets not read do not count", perCode, map[string]int64{"lmr": 1 << 40}, 1},
		{"no L0 step, no buckets", bySex, map[string]int64{"population": 1 << 40}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			p, err := Bound(tc.q, testPolicy(), &Options{Seed: 5, TableRows: tc.rows})
			if err != nil {
				t.Fatal(err)
			}
			if got := bucketsOf(p.SQL); got != tc.want {
				t.Errorf("%d buckets, want %d:\n%s", got, tc.want, p.SQL)
			}
			if tc.want > 1 && !strings.Contains(p.SQL, fmt.Sprintf(`hash("npr"."pid") %% %d = %d`, tc.want, tc.want-1)) {
				t.Errorf("no filter for the last bucket:\n%s", p.SQL)
			}
			// Each bucket's rows are read once: a CTE referenced twice
			// DuckDB may materialise, holding every bucket's rows until
			// the query ends (out of memory at 100 M rows and a 2.5 GB
			// limit).
			for i := range tc.want {
				src := "src"
				if tc.want > 1 {
					src += fmt.Sprint(i)
				}
				if n := len(regexp.MustCompile(`\bFROM `+src+`\b`).FindAllString(p.SQL, -1)); n != 1 {
					t.Errorf("%s is read %d times, want once:\n%s", src, n, p.SQL)
				}
			}
		})
	}
}

// canonical renders result rows order-independently (lists sorted).
func canonical(t testing.TB, rows []map[string]any) []string {
	t.Helper()
	out := make([]string, len(rows))
	for i, r := range rows {
		cols := make([]string, 0, len(r))
		for c := range r {
			cols = append(cols, c)
		}
		sort.Strings(cols)
		var b strings.Builder
		for _, c := range cols {
			v := r[c]
			if l, ok := v.([]any); ok {
				fs := toFloats(t, l)
				slices.Sort(fs)
				v = fs
			}
			fmt.Fprintf(&b, "%s=%v;", c, v)
		}
		out[i] = b.String()
	}
	slices.Sort(out)
	return out
}

// TestBucketsDoNotChangeTheResult: with the same seed, the bucketed plan
// returns exactly what the plan without buckets returns, persons over L0
// included.
func TestBucketsDoNotChangeTheResult(t *testing.T) {
	db := openDB(t, testPolicy())
	// 400 persons with 1–12 rows over 20 shared codes: most exceed L0 = 4.
	mustExec(t, db, `INSERT INTO npr
		SELECT pid, DATE '2015-01-01' + r::INTEGER, 'C' || ((pid * 7 + r * 13) % 20),
			['inpatient', 'outpatient', 'day'][1 + (pid + r) % 3], 'Helse Bergen', (pid * r) % 120
		FROM range(400) p(pid), range(12) s(r)
		WHERE r <= pid % 12`)
	queries := []struct {
		desc string
		q    *query.Query
		// cells counts the (person, finest group) pairs without bounding.
		cells string
	}{
		{"per code", &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("icd10", nprICD)},
			Aggs: []query.Aggregate{countStar("n"), countPersons("persons"), losBounded(query.AggAvg, "a"), losBounded(query.AggQuantile, "q")}},
			"SELECT count(DISTINCT (pid, icd10)) AS n FROM npr"},
		{"code by type with margins", &query.Query{From: from("npr", "npr"),
			Keys:         []query.GroupKey{key("icd10", nprICD), key("contact_type", nprType)},
			GroupingSets: [][]int{{0, 1}, {0}, {1}, {}},
			Aggs:         []query.Aggregate{countPersons("persons"), losBounded(query.AggSum, "s")}},
			"SELECT count(DISTINCT (pid, icd10, contact_type)) AS n FROM npr"},
	}
	for _, tc := range queries {
		t.Run(tc.desc, func(t *testing.T) {
			plain, err := Bound(tc.q, testPolicy(), &Options{Seed: 9})
			if err != nil {
				t.Fatal(err)
			}
			bucketed, err := Bound(tc.q, testPolicy(), &Options{Seed: 9, TableRows: map[string]int64{"npr": 36_000_000}})
			if err != nil {
				t.Fatal(err)
			}
			if bucketsOf(plain.SQL) != 1 || bucketsOf(bucketed.SQL) != 3 {
				t.Fatalf("buckets %d and %d, want 1 and 3", bucketsOf(plain.SQL), bucketsOf(bucketed.SQL))
			}
			want, got := canonical(t, queryRows(t, db, plain.SQL)), canonical(t, queryRows(t, db, bucketed.SQL))
			if len(want) < 20 {
				t.Fatalf("only %d rows: the data do not exercise the plan", len(want))
			}
			if !slices.Equal(got, want) {
				t.Errorf("bucketed result differs:\n got %v\nwant %v", got, want)
			}
			// The L0 step did drop groups: fewer (person, group) cells than without bounding.
			var persons, cells float64
			for _, r := range queryRows(t, db, bucketed.SQL) {
				if tc.q.GroupingSets == nil || toFloat(t, r["gid"]) == 0 {
					persons += toFloat(t, r["persons"])
				}
			}
			for _, r := range queryRows(t, db, tc.cells) {
				cells = toFloat(t, r["n"])
			}
			if persons >= cells || persons == 0 {
				t.Errorf("%g (person, group) cells after bounding, %g without: want fewer but some", persons, cells)
			}
		})
	}
}

// TestBucketsFromTheMemoryLimit: a memory limit under which one bucket's
// estimated memory passes half the limit adds buckets; a large limit
// keeps the buckets of the table size.
func TestBucketsFromTheMemoryLimit(t *testing.T) {
	perCode := &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("icd10", nprICD)},
		Aggs: []query.Aggregate{countStar("n")}}
	for _, tc := range []struct {
		rows, limit int64
		want        int
	}{
		{100_000_000, 0, 8},
		{100_000_000, 100 << 30, 8},
		{100_000_000, 2_500_000_000, 8},
		{100_000_000, 1_000_000_000, 20},
		{10_000_000, 1_000_000_000, 2},
		{10_000_000, 4_000_000_000, 1},
		{100_000_000, 1 << 20, MaxPersonBuckets},
	} {
		p, err := Bound(perCode, testPolicy(), &Options{Seed: 5, TableRows: map[string]int64{"npr": tc.rows}, MemoryLimit: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		if got := bucketsOf(p.SQL); got != tc.want {
			t.Errorf("%d rows, limit %d: %d buckets, want %d", tc.rows, tc.limit, got, tc.want)
		}
	}
}
