package plan

import (
	"fmt"
	"slices"
	"testing"

	"github.com/statgate/statgate/engine/query"
)

// TestFoldEqualsTheProfileAndTheBoundedQuery: a folded statement's profile
// rows are the profile's rows, and its result rows at each candidate L∞
// are, row for row, what the bounded SQL returns with that L∞ — for keys
// within the L0 cap, keys of one-row-per-person data, no keys (also when
// no row passes), count(*), count(x) and count(DISTINCT person).
func TestFoldEqualsTheProfileAndTheBoundedQuery(t *testing.T) {
	db := openDB(t, testPolicy())
	// 300 persons with 0–24 rows, many in one contact type: L∞ matters.
	mustExec(t, db, `INSERT INTO npr
		SELECT pid, DATE '2015-01-01' + r::INTEGER, 'E1' || (r % 7),
			['inpatient', 'outpatient', 'day'][1 + (pid * r) % 3 // 2], 'Helse Bergen',
			CASE WHEN r % 5 = 0 THEN NULL ELSE (pid + r) % 40 END
		FROM range(300) p(pid), range(24) s(r)
		WHERE r < pid % 25`)
	mustExec(t, db, `INSERT INTO population SELECT pid, 1950 + pid % 50, ['M', 'F'][1 + pid % 2], '0301', NULL FROM range(280) p(pid)`)
	nx := query.Aggregate{Kind: query.AggCount, Name: "nx", Arg: nprLOS}
	none := cmp(nprICD, "=", lit("Z99"))
	cases := []struct {
		desc string
		q    *query.Query
		step string
	}{
		{"by contact type", &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("type", nprType)},
			Aggs: []query.Aggregate{countStar("n"), countPersons("persons"), nx}}, L0DomainWithinLimit},
		{"by sex from population", &query.Query{From: from("npr", "npr", "population", "population"), Keys: []query.GroupKey{key("sex", popSex)},
			Aggs: []query.Aggregate{nx, countStar("n")}}, L0OneGroupPerPerson},
		{"no keys", &query.Query{From: from("npr", "npr"), Aggs: []query.Aggregate{countStar("n"), countPersons("persons")}}, L0OneGroupPerPerson},
		{"no keys, no rows", &query.Query{From: from("npr", "npr"), Where: none, Aggs: []query.Aggregate{countStar("n")}}, L0OneGroupPerPerson},
		{"by type, no rows", &query.Query{From: from("npr", "npr"), Where: none, Keys: []query.GroupKey{key("type", nprType)},
			Aggs: []query.Aggregate{countStar("n")}}, L0DomainWithinLimit},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			p := mustBound(t, tc.q, 9)
			if p.Bounds.L0Step != tc.step {
				t.Fatalf("L0 step %s, want %s", p.Bounds.L0Step, tc.step)
			}
			f := p.Profile.Fold
			if f == nil {
				t.Fatal("the query does not fold")
			}
			if !f.Folds(p) {
				t.Errorf("the fold does not hold the prepared plan's bounds %+v (candidates %v, %v)", p.Bounds, f.L0s, f.LInfs)
			}
			var profile []string
			results := map[[2]int][]map[string]any{}
			for _, r := range queryRows(t, db, f.SQL) {
				switch toFloat(t, r["part"]) {
				case 0:
					profile = append(profile, fmt.Sprintf("g=%v m=%v persons=%v", r["g"], r["m"], r["persons_profile"]))
				case 1:
					c := [2]int{int(toFloat(t, r["l0"])), int(toFloat(t, r["cand"]))}
					row := map[string]any{}
					for _, col := range p.Columns {
						row[col.Name] = r[col.Name]
					}
					results[c] = append(results[c], row)
				}
			}
			var want []string
			for _, r := range queryRows(t, db, p.Profile.SQL) {
				want = append(want, fmt.Sprintf("g=%v m=%v persons=%v", r["g"], r["m"], r["persons"]))
			}
			slices.Sort(profile)
			slices.Sort(want)
			if !slices.Equal(profile, want) {
				t.Errorf("profile rows differ:\nfold    %v\nprofile %v", profile, want)
			}
			if f.Seed != 9 {
				t.Errorf("fold seed %d, want the plan's 9", f.Seed)
			}
			for k := range results {
				if !f.Has(k[0], k[1]) {
					t.Errorf("a result at L0 %d, L∞ %d, not a candidate (%v, %v)", k[0], k[1], f.L0s, f.LInfs)
				}
			}
			differL0, differLInf := false, false
			first := canonical(t, results[[2]int{f.L0s[0], f.LInfs[0]}])
			for _, l0 := range f.L0s {
				for _, m := range f.LInfs {
					bounded, err := Bound(tc.q, testPolicy(), &Options{Seed: f.Seed, Bounds: &RequestBounds{MaxGroupsPerPerson: l0, MaxRowsPerPersonPerGroup: m}})
					if err != nil {
						t.Fatal(err)
					}
					if !f.Folds(bounded) {
						t.Errorf("L0 %d, L∞ %d: the fold does not cover the plan %+v", l0, m, bounded.Bounds)
					}
					got, want := canonical(t, results[[2]int{l0, m}]), canonical(t, queryRows(t, db, bounded.SQL))
					if !slices.Equal(got, want) {
						t.Errorf("L0 %d (step %s), L∞ %d:\nfold    %v\nbounded %v", l0, bounded.Bounds.L0Step, m, got, want)
					}
					if !slices.Equal(want, first) {
						differL0 = differL0 || m == f.LInfs[0]
						differLInf = differLInf || l0 == f.L0s[0]
					}
				}
			}
			if tc.q.Where == nil && !differLInf {
				t.Error("the results do not depend on L∞: the data do not exercise the caps")
			}
			if tc.q.Where == nil && len(f.L0s) > 1 && !differL0 {
				t.Error("the results do not depend on L0: the data do not exercise the L0 step")
			}
		})
	}
}

// TestWhatDoesNotFold: an L0 step, a sum, a mean, grouping sets, fixed
// bounds and one row per person leave the plan unfolded.
func TestWhatDoesNotFold(t *testing.T) {
	byType := []query.GroupKey{key("type", nprType)}
	cases := []struct {
		desc string
		q    *query.Query
		rb   *RequestBounds
	}{
		{"L0 step", &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("icd10", nprICD)}, Aggs: []query.Aggregate{countStar("n")}}, nil},
		{"sum", &query.Query{From: from("npr", "npr"), Keys: byType, Aggs: []query.Aggregate{countStar("n"), losBounded(query.AggSum, "s")}}, nil},
		{"mean", &query.Query{From: from("npr", "npr"), Keys: byType, Aggs: []query.Aggregate{losBounded(query.AggAvg, "a")}}, nil},
		{"grouping sets", &query.Query{From: from("npr", "npr"), Keys: byType, GroupingSets: [][]int{{0}, {}}, Aggs: []query.Aggregate{countStar("n")}}, nil},
		{"fixed bounds", &query.Query{From: from("npr", "npr"), Keys: byType, Aggs: []query.Aggregate{countStar("n")}}, &RequestBounds{MaxRowsPerPersonPerGroup: 3}},
		{"one row per person", &query.Query{From: from("population", "population"), Keys: []query.GroupKey{key("sex", popSex)}, Aggs: []query.Aggregate{countStar("n")}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			p, err := Bound(tc.q, testPolicy(), &Options{Seed: 1, Bounds: tc.rb})
			if err != nil {
				t.Fatal(err)
			}
			if p.Profile != nil && p.Profile.Fold != nil {
				t.Errorf("folded:\n%s", p.Profile.Fold.SQL)
			}
		})
	}
}
