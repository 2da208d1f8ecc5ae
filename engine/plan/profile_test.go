package plan

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/query"
)

// tallyRows adds up the rows of a profile's result (queryRows) into its
// histograms with Profile.Tally, as protect.ReadProfile does.
func tallyRows(t *testing.T, p *Profile, rows []map[string]any) map[string][]int64 {
	t.Helper()
	hists := map[string][]int64{}
	for name, n := range p.Lengths() {
		hists[name] = make([]int64, n)
	}
	cols := []string{"g", "m"}
	for j := range p.Values {
		cols = append(cols, fmt.Sprintf("lo%d", j), fmt.Sprintf("hi%d", j))
	}
	for _, r := range rows {
		vals, valid := make([]int64, len(cols)), make([]bool, len(cols))
		for i, c := range cols {
			v, present := r[c]
			if !present {
				t.Fatalf("profile result has no column %s: %v", c, r)
			}
			if v != nil {
				vals[i], valid[i] = int64(toFloat(t, v)), true
			}
		}
		p.Tally(hists, vals, valid, int64(toFloat(t, r["persons"])))
	}
	return hists
}

// caseProfileSQL is the profile as it was written until session 6: one
// UNION ALL branch per histogram over the per-person CTE, each bucket by
// a CASE over the edges. It is the reference the new form must equal.
func caseProfileSQL(p *Profile) string {
	head := p.SQL[:strings.LastIndex(p.SQL, "SELECT least(g,")]
	bucket := func(v string, edges []int) string {
		if len(edges) <= 1 {
			return "1"
		}
		var b strings.Builder
		b.WriteString("CASE")
		for j := len(edges) - 1; j >= 1; j-- {
			fmt.Fprintf(&b, " WHEN %s >= %d THEN %d", v, edges[j], j+1)
		}
		b.WriteString(" ELSE 1 END")
		return b.String()
	}
	var s strings.Builder
	s.WriteString(head)
	fmt.Fprintf(&s, "SELECT '%s' AS what, (%s)::BIGINT AS bucket, count(*)::BIGINT AS persons FROM per GROUP BY 2\n", ProfileGroups, bucket("g", p.GroupEdges()))
	fmt.Fprintf(&s, "UNION ALL\nSELECT '%s' AS what, (%s)::BIGINT AS bucket, count(*)::BIGINT AS persons FROM per GROUP BY 2\n", ProfileRows, bucket("m", p.RowEdges()))
	for j, v := range p.Values {
		w := (v.Hi - v.Lo) / float64(v.Buckets)
		for _, h := range []struct{ name, col string }{{ProfileLow, fmt.Sprintf("plo%d", j)}, {ProfileHigh, fmt.Sprintf("phi%d", j)}} {
			b := fmt.Sprintf("1 + least(greatest(floor((%s - %s) / %s), 0), %d)::BIGINT", h.col, renderFloat(v.Lo), renderFloat(w), v.Buckets-1)
			fmt.Fprintf(&s, "UNION ALL\nSELECT %s AS what, %s AS bucket, count(*)::BIGINT AS persons FROM per WHERE %s IS NOT NULL AND isfinite(%s) GROUP BY 2\n",
				quoteString(h.name+v.Column), b, h.col, h.col)
		}
	}
	return s.String()
}

// TestProfileHistogramsEqualTheCaseForm: the profile's joint counts,
// bucketed in Go by Tally, give exactly the histograms of the former
// CASE-per-bucket SQL, for queries with and without value profiles, L0
// caps, persons over every cap and NULL values; and they are the
// histograms counted by hand from the rows.
func TestProfileHistogramsEqualTheCaseForm(t *testing.T) {
	db := openDB(t, testPolicy())
	// 3,000 persons with 1–60 rows over up to 40 codes; every 7th person's
	// stays are NULL, so some have no value at all.
	mustExec(t, db, `INSERT INTO npr
		SELECT pid, DATE '2015-01-01' + r::INTEGER, 'C' || ((pid * 7 + r * 13) % (1 + pid % 40)),
			['inpatient', 'outpatient', 'day'][1 + (pid + r) % 3], 'Helse Bergen',
			CASE WHEN pid % 7 = 0 THEN NULL ELSE (pid * r) % 97 END
		FROM range(3000) p(pid), range(60) s(r)
		WHERE r <= (pid * 31) % 60`)
	queries := map[string]*query.Query{
		"icd10, counts and two value columns": {From: from("npr", "npr"), Keys: []query.GroupKey{key("icd10", nprICD)},
			Aggs: []query.Aggregate{countStar("n"), losBounded(query.AggSum, "s"), numAgg(query.AggAvg, "a", nprLOS, -10, 200)}},
		"contact type, counts only": {From: from("npr", "npr"), Keys: []query.GroupKey{key("type", nprType)},
			Aggs: []query.Aggregate{countStar("n"), countPersons("p")}},
		"icd10, persons only": {From: from("npr", "npr"), Keys: []query.GroupKey{key("icd10", nprICD)},
			Aggs: []query.Aggregate{countPersons("p")}},
		"no keys, median": {From: from("npr", "npr"), Aggs: []query.Aggregate{losBounded(query.AggQuantile, "med")}},
	}
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			p := mustBound(t, q, 5)
			if p.Profile == nil {
				t.Fatal("no profile")
			}
			if strings.Contains(p.Profile.SQL, "CASE WHEN g") || strings.Contains(p.Profile.SQL, "UNION ALL") {
				t.Fatalf("the profile still buckets in SQL:\n%s", p.Profile.SQL)
			}
			got := tallyRows(t, p.Profile, queryRows(t, db, p.Profile.SQL))
			want := map[string][]int64{}
			for name, n := range p.Profile.Lengths() {
				want[name] = make([]int64, n)
			}
			for _, r := range queryRows(t, db, caseProfileSQL(p.Profile)) {
				if h, held := want[r["what"].(string)]; held { // HasGroups, HasRows
					h[int(toFloat(t, r["bucket"]))-1] += int64(toFloat(t, r["persons"]))
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("histograms differ from the CASE form:\n got %v\nwant %v", got, want)
			}
			var persons int64
			for _, n := range append(got[ProfileGroups], got[ProfileRows]...) {
				persons += n
			}
			if p.Profile.HasGroups() && p.Profile.HasRows() {
				persons /= 2
			}
			if persons < 2500 {
				t.Fatalf("%d persons in the groups histogram, want nearly 3,000", persons)
			}
			if len(p.Profile.Values) > 0 {
				var valued int64
				for _, n := range got[ProfileLow+p.Profile.Values[0].Column] {
					valued += n
				}
				if valued >= persons || valued < persons*3/4 {
					t.Errorf("%d of %d persons in the low-value histogram: persons without a value are counted, or too few are", valued, persons)
				}
			}
		})
	}
}

// TestTallyBucketsByEdges: a count goes to the last bucket whose edge is
// at most it, counts past the last edge to the last bucket; NULLs and
// buckets out of range add nothing.
func TestTallyBucketsByEdges(t *testing.T) {
	p := &Profile{GroupsCap: 12, RowsCap: 1, Values: []ValueProfile{{Column: "x", Lo: 0, Hi: 10, Buckets: 4}}}
	edges := p.GroupEdges() // 1..8, 10, 12, 14, 16, 20, 24, …, 48
	hists := map[string][]int64{}
	for name, n := range p.Lengths() {
		hists[name] = make([]int64, n)
	}
	cases := []struct {
		g      int64
		bucket int
	}{{1, 1}, {8, 8}, {9, 8}, {10, 9}, {11, 9}, {47, len(edges) - 1}, {48, len(edges)}, {1000, len(edges)}}
	for _, c := range cases {
		h := hists[ProfileGroups]
		before := h[c.bucket-1]
		p.Tally(hists, []int64{c.g, 1, 2, 9}, []bool{true, true, true, true}, 3)
		if h[c.bucket-1] != before+3 {
			t.Errorf("g = %d: not in bucket %d (edges %v): %v", c.g, c.bucket, edges, h)
		}
	}
	p.Tally(hists, []int64{1, 1, 0, 5}, []bool{true, true, false, true}, 100) // NULL lo, hi out of range
	p.Tally(hists, []int64{1, 1}, []bool{true, true}, 1000)                   // wrong shape
	if lo, hi := hists[ProfileLow+"x"], hists[ProfileHigh+"x"]; !reflect.DeepEqual(lo, []int64{0, 24, 0, 0}) || !reflect.DeepEqual(hi, []int64{0, 0, 0, 0}) {
		t.Errorf("value histograms %v %v, want only the 8 valid rows ×3 in lo bucket 2", lo, hi)
	}
	if rows, held := hists[ProfileRows]; held {
		t.Errorf("rows histogram %v held: with L∞ 1 and no mean there is nothing to choose (HasRows)", rows)
	}
	p.RowsCap, p.Rows = 4, true
	hists[ProfileRows] = make([]int64, p.Lengths()[ProfileRows])
	p.Tally(hists, []int64{1, 1, 0, 5}, []bool{true, true, false, true}, 100)
	p.Tally(hists, []int64{1, 1}, []bool{true, true}, 1000) // wrong shape
	if rows := hists[ProfileRows]; rows[0] != 100 {
		t.Errorf("rows histogram %v, want 100 in bucket 1 (the wrong-shaped row skipped)", rows)
	}
}

// TestGroupEdgesStopAtThePublicGroups: with a public number of groups
// under the cap, the groups histogram ends there (nobody is in more
// groups than there are), so no bucket that must be empty is noised.
func TestGroupEdgesStopAtThePublicGroups(t *testing.T) {
	cases := []struct {
		cap, groups, last int
	}{{24, 3, 3}, {24, 0, 96}, {6, 200, 24}, {4, 10, 10}}
	for _, c := range cases {
		p := &Profile{GroupsCap: c.cap, Groups: c.groups}
		e := p.GroupEdges()
		if e[len(e)-1] != c.last {
			t.Errorf("cap %d, %d public groups: edges %v, want the last at %d", c.cap, c.groups, e, c.last)
		}
	}
	// One public group in all: everyone is in it, so there is no groups
	// histogram to noise, and its share goes to the rows histogram.
	one := &Profile{GroupsCap: 24, Groups: 1, RowsCap: 10, Rows: true}
	if one.HasGroups() || one.Histograms() != 1 {
		t.Errorf("one public group: HasGroups %v, %d histograms, want none of groups and one in all", one.HasGroups(), one.Histograms())
	}
}
