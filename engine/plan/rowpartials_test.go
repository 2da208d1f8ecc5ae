package plan

import (
	"slices"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/query"
)

// TestRowPartialsEqualGroupedPartials: over one-row-per-person datasets
// the partials computed from each row (writeRowPartials) give the same
// result as the partials aggregated per (person, keys) (writePartials):
// counts of rows and values, NULL values, values outside their clamp, a
// clamp narrower than the declared bounds, keys outside their domain,
// inner and LEFT JOINs of one-row datasets, [NOT] EXISTS conditions on a
// many-rows dataset, and margins.
func TestRowPartialsEqualGroupedPartials(t *testing.T) {
	const data = `
		INSERT INTO population
			SELECT i, CASE WHEN i % 11 = 0 THEN NULL ELSE 1900 + ((i * 37) % 131)::INTEGER END,
				['M', 'F', 'X'][1 + i % 3], ['0301', '1103', '4601'][1 + i % 3],
				CASE WHEN i % 4 = 0 THEN DATE '2015-01-01' + i::INTEGER END
			FROM range(600) r(i);
		INSERT INTO death_causes
			SELECT i, DATE '2015-01-01' + i::INTEGER, CASE WHEN i % 8 = 0 THEN NULL ELSE chr((65 + i % 26)::INTEGER) || '10' END
			FROM range(600) r(i) WHERE i % 4 = 0;
		INSERT INTO npr
			SELECT i, DATE '2016-01-01' + j::INTEGER, chr((65 + (i + j) % 5)::INTEGER) || '11', 'inpatient', 'Helse Bergen', j
			FROM range(600) r(i), range(3) s(j) WHERE i % 5 <> 1 AND j <= i % 4`
	dDate := ref("d", "death_causes", "death_date", query.TypeDate)
	year := call("year", query.TypeInteger, dDate)
	left := from("population", "population", "death_causes", "d")
	left[1].Left = true
	hasA := exists("npr", "c0", popPID, &query.Like{X: ref("c0", "npr", "icd10", query.TypeString), Pattern: lit("A%")}, false)
	noDeath := exists("death_causes", "c1", popPID, nil, true)
	queries := []struct {
		desc string
		q    *query.Query
	}{
		{"by sex with a margin", &query.Query{From: from("population", "population"), Keys: []query.GroupKey{key("sex", popSex)},
			GroupingSets: [][]int{{0}, {}},
			Aggs: []query.Aggregate{countStar("n"), countPersons("persons"), {Kind: query.AggCount, Name: "nb", Arg: popBirth},
				numAgg(query.AggSum, "s", popBirth, 1915, 2024), numAgg(query.AggAvg, "a", popBirth, 1915, 2024)}}},
		{"no keys, a clamp inside the bounds", &query.Query{From: from("population", "population"),
			Aggs: []query.Aggregate{countStar("n"), numAgg(query.AggSum, "s", popBirth, 1950, 2000), numAgg(query.AggAvg, "a", popBirth, 1950, 2000)}}},
		{"joined to deaths", &query.Query{From: from("population", "population", "death_causes", "d"), Keys: []query.GroupKey{key("sex", popSex)},
			Aggs: []query.Aggregate{countStar("n"), {Kind: query.AggCount, Name: "nd", Arg: dDate}, numAgg(query.AggAvg, "a", year, 2010, 2024)}}},
		{"LEFT JOIN, by municipality", &query.Query{From: left, Keys: []query.GroupKey{key("m", ref("population", "population", "municipality", query.TypeString))},
			Aggs: []query.Aggregate{countStar("n"), {Kind: query.AggCount, Name: "nd", Arg: dDate}, numAgg(query.AggSum, "s", year, 2010, 2024)}}},
		{"with EXISTS", &query.Query{From: from("population", "population"), Keys: []query.GroupKey{key("sex", popSex)},
			Where: and(hasA, noDeath),
			Aggs:  []query.Aggregate{countPersons("persons"), numAgg(query.AggAvg, "a", popBirth, 1915, 2024)}}},
	}
	db := openDB(t, testPolicy())
	execAll(t, db, data)
	for _, tc := range queries {
		t.Run(tc.desc, func(t *testing.T) {
			p := mustBound(t, tc.q, 5)
			if p.Bounds.L0Step != L0OneGroupPerPerson {
				t.Fatalf("L0 step %s, want %s", p.Bounds.L0Step, L0OneGroupPerPerson)
			}
			rowPartials = false
			grouped := mustBound(t, tc.q, 5)
			rowPartials = true
			if strings.Contains(p.SQL, "GROUP BY person") || !strings.Contains(grouped.SQL, "GROUP BY person") {
				t.Fatalf("the two plans do not differ in their partials:\n%s\n---\n%s", p.SQL, grouped.SQL)
			}
			got, want := canonical(t, queryRows(t, db, p.SQL)), canonical(t, queryRows(t, db, grouped.SQL))
			slices.Sort(got)
			slices.Sort(want)
			if len(want) < 2 && tc.q.Keys != nil {
				t.Fatalf("only %d groups: the data do not exercise the query", len(want))
			}
			if !slices.Equal(got, want) {
				t.Errorf("partials from rows differ from grouped partials:\n rows   %v\ngrouped %v", got, want)
			}
		})
	}
}
