package plan

import (
	"fmt"
	"slices"
	"testing"

	"github.com/statgate/statgate/engine/query"
)

// TestL0StepKeepsTheSmallestHashes checks the plan's L0 step against
// a reference that states the rule directly: per person, rank the distinct
// groups by hash(person, keys, seed) with a row_number() window and keep
// the first L0. The bounded result over all rows must equal the bounded
// result over only the rows of the kept (person, group) pairs, where no
// person exceeds L0 and the step removes nothing; with and without person
// buckets, with one key and with two keys and their margins.
func TestL0StepKeepsTheSmallestHashes(t *testing.T) {
	// 400 persons with 1–12 rows over 20 shared codes and 3 contact
	// types: most exceed L0 = 4, and many have several rows per group.
	const data = `INSERT INTO npr
		SELECT pid, DATE '2015-01-01' + r::INTEGER, 'C' || ((pid * 7 + (r // 2) * 13) % 20),
			['inpatient', 'outpatient', 'day'][1 + (pid + r // 3) % 3], 'Helse Bergen', (pid * r) % 120
		FROM range(400) p(pid), range(12) s(r)
		WHERE r <= pid % 12`
	queries := []struct {
		desc string
		q    *query.Query
		// keys are the npr columns of the finest group, in key order.
		keys string
	}{
		{"per code", &query.Query{From: from("npr", "npr"), Keys: []query.GroupKey{key("icd10", nprICD)},
			Aggs: []query.Aggregate{countStar("n"), countPersons("persons"), {Kind: query.AggCount, Name: "nx", Arg: nprLOS},
				losBounded(query.AggSum, "s"), losBounded(query.AggAvg, "a"), losBounded(query.AggQuantile, "q")}},
			"icd10"},
		{"code by type with margins", &query.Query{From: from("npr", "npr"),
			Keys:         []query.GroupKey{key("icd10", nprICD), key("contact_type", nprType)},
			GroupingSets: [][]int{{0, 1}, {0}, {1}, {}},
			Aggs:         []query.Aggregate{countPersons("persons"), countStar("n"), losBounded(query.AggSum, "s")}},
			"icd10, contact_type"},
	}
	for _, tc := range queries {
		for _, rows := range []int64{0, 3 * RowsPerPersonBucket} {
			for _, seed := range []uint64{7, 1 << 40} {
				t.Run(fmt.Sprintf("%s/rows=%d/seed=%d", tc.desc, rows, seed), func(t *testing.T) {
					db := openDB(t, testPolicy())
					mustExec(t, db, data)
					p, err := Bound(tc.q, testPolicy(), &Options{Seed: seed, TableRows: map[string]int64{"npr": rows}})
					if err != nil {
						t.Fatal(err)
					}
					if p.Bounds.L0Step != L0Applied || p.Bounds.MaxGroupsPerPerson != 4 {
						t.Fatalf("L0 step %s with L0 %d, want applied with 4", p.Bounds.L0Step, p.Bounds.MaxGroupsPerPerson)
					}
					all := canonical(t, queryRows(t, db, p.SQL))
					var over float64
					for _, r := range queryRows(t, db, fmt.Sprintf(
						`SELECT count(*) AS n FROM (SELECT pid FROM npr GROUP BY pid HAVING count(DISTINCT (%s)) > 4)`, tc.keys)) {
						over = toFloat(t, r["n"])
					}
					if over < 100 {
						t.Fatalf("only %g persons over L0: the data do not exercise the step", over)
					}
					mustExec(t, db, fmt.Sprintf(`DELETE FROM npr WHERE (pid, %[1]s) NOT IN (
						SELECT (pid, %[1]s) FROM (
							SELECT pid, %[1]s, row_number() OVER (PARTITION BY pid ORDER BY hash(pid, %[1]s, %[2]d::UBIGINT)) AS rank
							FROM (SELECT DISTINCT pid, %[1]s FROM npr))
						WHERE rank <= 4)`, tc.keys, seed))
					kept := canonical(t, queryRows(t, db, p.SQL))
					slices.Sort(all)
					slices.Sort(kept)
					if !slices.Equal(all, kept) {
						t.Errorf("the L0 step kept other groups than the 4 smallest hashes per person:\n all rows %v\nkept rows %v", all, kept)
					}
				})
			}
		}
	}
}
