package protect

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/differential-privacy/go/v3/noise"
	"github.com/statgate/statgate/engine/internal/testkit"
	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/result"
)

var (
	personsAgg  = countAgg(query.AggCountDistinct, "persons")
	contactsAgg = countAgg(query.AggCountStar, "contacts")
	staySum     = plan.Agg{Kind: query.AggSum, Name: "stay_sum", L0: 1, LInf: 90, Bounds: [2]float64{0, 90}}
	stayAvg     = plan.Agg{Kind: query.AggAvg, Name: "stay_avg", L0: 1, LInf: 1, NormLInf: 45, Bounds: [2]float64{0, 90}}
)

// applyRows runs Apply on rows laid out for p.
func applyRows(t *testing.T, p *plan.Plan, rows []map[string]any, o *Options) *result.Result {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rr := reader(t, mem, batchFor(p, rows))
	defer rr.Release()
	res, err := prepareAndApply(context.Background(), p, rr, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// prepareAndApply is Prepare then Apply, as the engine calls them around the debit.
func prepareAndApply(ctx context.Context, p *plan.Plan, rr array.RecordReader, o *Options) (*result.Result, error) {
	r, err := Prepare(p, o)
	if err != nil {
		return nil, err
	}
	return r.Apply(ctx, rr)
}

// values returns the cells of column name, by row.
func values(t *testing.T, res *result.Result, name string) []result.Cell {
	t.Helper()
	i := slices.IndexFunc(res.Columns, func(c result.Column) bool { return c.Name == name })
	if i < 0 {
		t.Fatalf("no column %q", name)
	}
	var out []result.Cell
	for _, r := range res.Rows {
		out = append(out, r.Cells[i])
	}
	return out
}

func exact(o Options) *Options {
	o.Noise = testkit.FakeNoise{Noise: noise.Laplace()}
	return &o
}

func TestApplyPublicDomain(t *testing.T) {
	p := testPlan([]plan.Key{sexKey, yearKey}, []plan.Agg{personsAgg, contactsAgg, staySum, stayAvg}, nil)
	rows := []map[string]any{
		{"sex": "F", "year": 2020, "persons": 10, "contacts": 14.0, "stay_sum": 70.0, "stay_avg_count": 14.0, "stay_avg_norm": 70.0 - 14*45},
		{"sex": "M", "year": 2022, "persons": 20, "contacts": 25.0, "stay_sum": 500.0, "stay_avg_count": 25.0, "stay_avg_norm": 500.0 - 25*45},
		{"sex": nil, "year": 2021, "persons": 3, "contacts": 3.0, "stay_sum": 9.0, "stay_avg_count": 3.0, "stay_avg_norm": 9.0 - 3*45},
	}
	res := applyRows(t, p, rows, exact(Options{Epsilon: 1}))

	wantCols := []result.Column{
		{Name: "sex", Role: result.RoleKey, Type: result.TypeString},
		{Name: "year", Role: result.RoleKey, Type: result.TypeInteger},
		{Name: "persons", Role: result.RoleMeasure, Type: result.TypeNumber, Aggregate: "count_persons"},
		{Name: "contacts", Role: result.RoleMeasure, Type: result.TypeNumber, Aggregate: "count_star"},
		{Name: "stay_sum", Role: result.RoleMeasure, Type: result.TypeNumber, Aggregate: "sum"},
		{Name: "stay_avg", Role: result.RoleMeasure, Type: result.TypeNumber, Aggregate: "avg"},
	}
	if !reflect.DeepEqual(res.Columns, wantCols) {
		t.Errorf("columns %+v", res.Columns)
	}
	type row struct {
		sex                    string
		year                   int64
		persons, contacts, sum float64
		avg                    float64
	}
	want := []row{
		{"F", 2020, 10, 14, 70, 5},
		{"F", 2021, 0, 0, 0, 45}, // an empty group's mean is the midpoint
		{"F", 2022, 0, 0, 0, 45},
		{"M", 2020, 0, 0, 0, 45},
		{"M", 2021, 0, 0, 0, 45},
		{"M", 2022, 20, 25, 500, 20},
	}
	if len(res.Rows) != len(want) {
		t.Fatalf("%d rows, want %d (every combination of the domains, NULL left out)", len(res.Rows), len(want))
	}
	for i, w := range want {
		c := res.Rows[i].Cells
		got := row{c[0].Value.(string), c[1].Value.(int64), c[2].Value.(float64), c[3].Value.(float64), c[4].Value.(float64), c[5].Value.(float64)}
		if math.Abs(got.avg-w.avg) < 1e-9 {
			got.avg = w.avg
		}
		if got != w {
			t.Errorf("row %d: %+v, want %+v", i, got, w)
		}
		if res.Rows[i].Margin {
			t.Errorf("row %d is flagged as a margin", i)
		}
		for j, cell := range c[2:] {
			if cell.CI == nil || !(cell.CI[0] <= cell.Value.(float64) && cell.Value.(float64) <= cell.CI[1]) || !(cell.StdDev > 0) {
				t.Errorf("row %d measure %d: value %v, sd %g, CI %v", i, j, cell.Value, cell.StdDev, cell.CI)
			}
		}
		for _, cell := range c[:2] {
			if cell.CI != nil || cell.StdDev != 0 {
				t.Errorf("row %d: key cell carries a CI or sd", i)
			}
		}
	}
	if res.Meta.Groups != GroupsPublicDomain || res.Meta.SuppressedCells != 0 {
		t.Errorf("meta groups %q, suppressed %d", res.Meta.Groups, res.Meta.SuppressedCells)
	}
}

func TestApplySuppressionAndRounding(t *testing.T) {
	tests := []struct {
		desc string
		aggs []plan.Agg
	}{
		{"count_persons decides suppression", []plan.Agg{personsAgg, contactsAgg, staySum}},
		{"a hidden persons count decides suppression", []plan.Agg{contactsAgg, staySum}},
	}
	rows := []map[string]any{
		{"sex": "F", "year": 2020, "persons": 3, "contacts": 40.0, "stay_sum": 70.0},
		{"sex": "F", "year": 2021, "persons": 60, "contacts": 23.0, "stay_sum": 71.5},
		{"sex": "M", "year": 2021, "persons": 40, "contacts": 7.0, "stay_sum": 10.0},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			p := testPlan([]plan.Key{sexKey, yearKey}, tc.aggs, nil)
			res := applyRows(t, p, rows, exact(Options{Epsilon: 1, MinCellCount: 5, RoundTo: 5}))
			if slices.ContainsFunc(res.Columns, func(c result.Column) bool { return c.Name == "persons" }) != (len(tc.aggs) == 3) {
				t.Errorf("columns %+v: the person count is released only when the query asks for it", res.Columns)
			}
			contacts, sums := values(t, res, "contacts"), values(t, res, "stay_sum")
			// Rows in domain order: F2020 (3 persons), F2021, F2022 (empty),
			// M2020 (empty), M2021 (40 persons), M2022 (empty). The release
			// threshold is 4 + the 99 % quantile of Laplace noise at ε 1/3,
			// about 15.7: see TestReleaseThreshold.
			wantSuppressed := []bool{true, false, true, true, false, true}
			measures := 0
			for i, r := range res.Rows {
				for _, c := range r.Cells[2:] {
					measures++
					if c.Suppressed != wantSuppressed[i] {
						t.Errorf("row %d: suppressed %v, want %v", i, c.Suppressed, wantSuppressed[i])
					}
					if c.Suppressed && (c.Value != nil || c.CI != nil || c.StdDev != 0 || c.Reason != ReasonMinCellCount) {
						t.Errorf("row %d: suppressed cell shows %+v", i, c)
					}
				}
			}
			if want := 4 * (len(tc.aggs)); res.Meta.SuppressedCells != want {
				t.Errorf("SuppressedCells %d, want %d", res.Meta.SuppressedCells, want)
			}
			if contacts[1].Value != 25.0 || contacts[4].Value != 5.0 {
				t.Errorf("rounded contacts %v, %v; want 25, 5", contacts[1].Value, contacts[4].Value)
			}
			for _, c := range []result.Cell{contacts[1], contacts[4]} {
				if math.Mod(c.CI[0], 5) != 0 || math.Mod(c.CI[1], 5) != 0 || c.CI[0] < 0 {
					t.Errorf("count interval %v is not rounded outward to multiples of 5", *c.CI)
				}
			}
			if sums[1].Value != 71.5 {
				t.Errorf("sum %v: sums are not rounded", sums[1].Value)
			}
			if res.Meta.RoundTo != 5 || res.Meta.MinCellCount != 5 {
				t.Errorf("meta round_to %d, min_cell_count %d", res.Meta.RoundTo, res.Meta.MinCellCount)
			}
		})
	}
}

// TestApplyFilteredPersons: a count(DISTINCT pid) FILTER (WHERE c) reads
// the count column of its own, not the persons, and does not decide its
// row's suppression (it counts only the persons with c): the unfiltered
// person count does when the query has one, a hidden persons count
// otherwise. It is a count of persons, so min_cell_count withholds it on
// its own when it is small, in a row that is released.
func TestApplyFilteredPersons(t *testing.T) {
	dead := countAgg(query.AggCountDistinct, "dead")
	rows := []map[string]any{
		{"sex": "F", "persons": 60, "dead": 30.0},
		{"sex": "M", "persons": 2, "dead": 2.0},
	}
	for _, tc := range []struct {
		desc    string
		aggs    []plan.Agg
		purpose string // of the spend that pays for suppression
	}{
		{"alone: a hidden persons count decides suppression", []plan.Agg{dead}, PurposePersons},
		{"after the person count, which decides suppression", []plan.Agg{personsAgg, dead}, "persons"},
		{"before the person count, which decides suppression", []plan.Agg{dead, personsAgg}, "persons"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			p := testPlan([]plan.Key{sexKey}, tc.aggs, nil)
			i := slices.IndexFunc(tc.aggs, func(a plan.Agg) bool { return a.Name == "dead" })
			p.Columns = append(p.Columns, plan.Column{Name: "dead", Role: plan.RoleCount, Index: i})
			if got := personsAggregate(p); got != slices.IndexFunc(tc.aggs, func(a plan.Agg) bool { return a.Name == "persons" }) {
				t.Errorf("personsAggregate %d", got)
			}
			res := applyRows(t, p, rows, exact(Options{Epsilon: 1, MinCellCount: 5}))
			cells := values(t, res, "dead")
			if cells[0].Suppressed || cells[0].Value != 30.0 {
				t.Errorf("F: dead %+v, want 30, its own column, released (60 persons)", cells[0])
			}
			if !cells[1].Suppressed {
				t.Errorf("M: dead %+v, want suppressed (2 persons)", cells[1])
			}
			if !slices.ContainsFunc(res.Meta.Split, func(s result.Spend) bool { return s.Purpose == tc.purpose }) {
				t.Errorf("split %+v: no %q part pays for suppression", res.Meta.Split, tc.purpose)
			}
			// 3 of 60 persons: the row is released, the small count of
			// persons with c is withheld.
			small := applyRows(t, p, []map[string]any{{"sex": "F", "persons": 60, "dead": 3.0}}, exact(Options{Epsilon: 1, MinCellCount: 5}))
			if c := values(t, small, "dead")[0]; !c.Suppressed || c.Reason != ReasonMinCellCount {
				t.Errorf("F: dead %+v of 60 persons, want withheld (3 persons)", c)
			}
			if i := slices.IndexFunc(tc.aggs, func(a plan.Agg) bool { return a.Name == "persons" }); i >= 0 {
				if c := values(t, small, "persons")[0]; c.Suppressed {
					t.Errorf("F: persons %+v, want released (60)", c)
				}
			}
		})
	}
}

// TestApplyMargins runs a CUBE over two public keys with one small cell:
// margins carry nil keys and the Margin flag, and after secondary
// suppression no suppressed cell can be solved for from the released
// cells and the totals.
func TestApplyMargins(t *testing.T) {
	p := testPlan([]plan.Key{sexKey, yearKey}, []plan.Agg{personsAgg, staySum}, [][]int{{0, 1}, {0}, {1}, {}})
	detail := map[string]int{"F2020": 30, "F2021": 2, "F2022": 40, "M2020": 35, "M2021": 50, "M2022": 45}
	var rows []map[string]any
	add := func(gid int, sex any, year any, persons int) {
		rows = append(rows, map[string]any{"sex": sex, "year": year, "grouping_id": gid, "persons": persons, "stay_sum": float64(persons)})
	}
	bySex, byYear, total := map[string]int{}, map[int]int{}, 0
	for _, sex := range []string{"F", "M"} {
		for _, year := range []int{2020, 2021, 2022} {
			n := detail[fmt.Sprint(sex, year)]
			add(0, sex, year, n)
			bySex[sex] += n
			byYear[year] += n
			total += n
		}
	}
	for sex, n := range bySex {
		add(1, sex, nil, n)
	}
	for year, n := range byYear {
		add(2, nil, year, n)
	}
	add(3, nil, nil, total)

	res := applyRows(t, p, rows, exact(Options{Epsilon: 1, MinCellCount: 5}))
	if len(res.Rows) != 6+2+3+1 {
		t.Fatalf("%d rows, want 12", len(res.Rows))
	}
	for i, r := range res.Rows {
		rolled := r.Cells[0].Value == nil || r.Cells[1].Value == nil
		if r.Margin != rolled {
			t.Errorf("row %d: margin %v, keys %v, %v", i, r.Margin, r.Cells[0].Value, r.Cells[1].Value)
		}
	}
	var primary, secondary int
	for _, r := range res.Rows {
		switch r.Cells[2].Reason {
		case ReasonMinCellCount:
			primary++
		case ReasonSecondary:
			secondary++
		}
	}
	if primary != 1 || secondary < 3 {
		t.Errorf("%d primary and %d secondary suppressions; want 1 and at least 3 (its row, its column and their crossing)", primary, secondary)
	}
	if leaks := derivableInResult(res); len(leaks) > 0 {
		t.Errorf("suppressed rows %v can be derived from released rows and totals", leaks)
	}
}

// derivableInResult rebuilds the total relations of a result from its
// rows alone (a margin equals the sum of the rows that agree with it on
// its keys and group by a superset of them) and lists the suppressed rows
// they determine.
func derivableInResult(res *result.Result) []int {
	nk := slices.IndexFunc(res.Columns, func(c result.Column) bool { return c.Role == result.RoleMeasure })
	grouped := func(r result.Row) []int {
		var ks []int
		for k := range nk {
			if r.Cells[k].Value != nil {
				ks = append(ks, k)
			}
		}
		return ks
	}
	var rows []*outRow
	for _, r := range res.Rows {
		rows = append(rows, &outRow{suppressed: r.Cells[nk].Suppressed})
	}
	var rels [][]int
	for m, mr := range res.Rows {
		mk := grouped(mr)
		parts := map[string][]int{}
		for d, dr := range res.Rows {
			dk := grouped(dr)
			if len(dk) <= len(mk) {
				continue
			}
			agree := true
			for _, k := range mk {
				agree = agree && slices.Contains(dk, k) && dr.Cells[k].Value == mr.Cells[k].Value
			}
			if agree {
				parts[fmt.Sprint(dk)] = append(parts[fmt.Sprint(dk)], d)
			}
		}
		for _, ds := range parts {
			rels = append(rels, append([]int{m}, ds...))
		}
	}
	return derivable(rows, rels)
}

func TestApplyPartitionSelection(t *testing.T) {
	p := testPlan([]plan.Key{codeKey}, []plan.Agg{contactsAgg}, nil)
	rows := []map[string]any{
		{"icd10": "J45", "persons": 1000, "contacts": 1500.0},
		{"icd10": "C50", "persons": 1, "contacts": 1.0},
		{"icd10": "E11", "persons": 1200, "contacts": 2000.0},
	}
	res := applyRows(t, p, rows, exact(Options{Epsilon: 1, Delta: 1e-6, MinCellCount: 5}))
	var got []any
	for _, r := range res.Rows {
		got = append(got, r.Cells[0].Value)
	}
	if !reflect.DeepEqual(got, []any{"E11", "J45"}) {
		t.Errorf("groups %v, want [E11 J45] (the one-person group dropped, without a flag)", got)
	}
	if res.Meta.Groups != GroupsPartitionSelection || res.Meta.SuppressedCells != 0 {
		t.Errorf("meta groups %q, suppressed %d", res.Meta.Groups, res.Meta.SuppressedCells)
	}
	if res.Meta.Delta != 1e-6 || res.Meta.Split[len(res.Meta.Split)-1].Purpose != PurposeSelection {
		t.Errorf("meta delta %g, split %+v", res.Meta.Delta, res.Meta.Split)
	}
}

func TestApplySingleGroup(t *testing.T) {
	p := testPlan(nil, []plan.Agg{personsAgg, stayAvg}, nil)
	res := applyRows(t, p, []map[string]any{{"persons": 40, "stay_avg_count": 50.0, "stay_avg_norm": -50.0}}, exact(Options{Epsilon: 1, MinCellCount: 5}))
	if len(res.Rows) != 1 || res.Meta.Groups != GroupsSingle {
		t.Fatalf("%d rows, groups %q", len(res.Rows), res.Meta.Groups)
	}
	if c := res.Rows[0].Cells; c[0].Value != 40.0 || math.Abs(c[1].Value.(float64)-44) > 1e-9 {
		t.Errorf("cells %+v, want persons 40 and avg 44", c)
	}
	// Without data the single group is still released (suppressed).
	res = applyRows(t, p, nil, exact(Options{Epsilon: 1, MinCellCount: 5}))
	if len(res.Rows) != 1 || !res.Rows[0].Cells[0].Suppressed {
		t.Errorf("empty input: %+v", res.Rows)
	}
}

func TestApplyMeta(t *testing.T) {
	p := testPlan([]plan.Key{sexKey}, []plan.Agg{contactsAgg, stayAvg}, nil)
	p.Bounds = plan.Bounds{MaxGroupsPerPerson: 4, MaxRowsPerPersonPerGroup: 10, L0Step: "domain_within_limit"}
	o := &Options{Epsilon: 0.9, Delta: 1e-6, Mechanism: Gaussian, MinCellCount: 5, RoundTo: 5}
	res := applyRows(t, p, nil, o)
	r, err := Prepare(p, o)
	if err != nil {
		t.Fatal(err)
	}
	split := r.Spends()
	m := res.Meta
	if m.Epsilon != 0.9 || m.Delta != 1e-6 || m.Mechanism != Gaussian || !reflect.DeepEqual(m.Split, split) {
		t.Errorf("epsilon %g delta %g mechanism %q split %+v", m.Epsilon, m.Delta, m.Mechanism, m.Split)
	}
	wantBounding := result.Bounding{MaxGroupsPerPerson: 4, MaxRowsPerPersonPerGroup: 10, L0Step: "domain_within_limit",
		Bounds: map[string][2]float64{"stay_avg": {0, 90}}}
	if !reflect.DeepEqual(m.Bounding, wantBounding) {
		t.Errorf("bounding %+v", m.Bounding)
	}
	if m.QueryID != "" || m.Project != "" || !m.Time.IsZero() {
		t.Error("Apply filled fields the caller owns")
	}
	notes := strings.Join(m.Notes, "\n")
	for _, want := range []string{"gaussian", "public domain", "not released", "avg"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes do not mention %q:\n%s", want, notes)
		}
	}
}

func TestApplyErrors(t *testing.T) {
	mem := memory.NewGoAllocator()
	p := testPlan([]plan.Key{codeKey}, []plan.Agg{contactsAgg}, nil)
	good := batchFor(p, []map[string]any{{"icd10": "E11", "persons": 10, "contacts": 12.0}})

	t.Run("refusal passes through", func(t *testing.T) {
		rr := reader(t, mem, good)
		defer rr.Release()
		_, err := prepareAndApply(context.Background(), p, rr, &Options{Epsilon: 1})
		if !errors.Is(err, &refusal.Error{Code: refusal.NeedsPublicDomain}) {
			t.Errorf("error %v, want needs_public_domain", err)
		}
	})
	t.Run("canceled context", func(t *testing.T) {
		rr := reader(t, mem, good)
		defer rr.Release()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := prepareAndApply(ctx, p, rr, &Options{Epsilon: 1, Delta: 1e-6})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
	t.Run("batch unlike the plan", func(t *testing.T) {
		rr := reader(t, mem, good[:2])
		defer rr.Release()
		_, err := prepareAndApply(context.Background(), p, rr, &Options{Epsilon: 1, Delta: 1e-6})
		if err == nil || !strings.HasPrefix(err.Error(), "protect.Apply: ") {
			t.Errorf("error %v, want a wrapped internal error", err)
		}
		if _, ok := refusal.As(err); ok {
			t.Error("an internal error came back as a refusal")
		}
	})
}

// TestApplyFilteredPersonsWithMargins: with grouping sets, a small count of
// persons with a condition withholds its whole row, so that secondary
// suppression keeps it from being recomputed as the margin minus the
// released rows (F 3 of 60 dead, M 40 of 70, total 43 of 130).
func TestApplyFilteredPersonsWithMargins(t *testing.T) {
	dead := countAgg(query.AggCountDistinct, "dead")
	p := testPlan([]plan.Key{sexKey}, []plan.Agg{personsAgg, dead}, [][]int{{0}, {}})
	p.Columns = append(p.Columns, plan.Column{Name: "dead", Role: plan.RoleCount, Index: 1})
	rows := []map[string]any{
		{"sex": "F", "grouping_id": 0, "persons": 60, "dead": 3.0},
		{"sex": "M", "grouping_id": 0, "persons": 70, "dead": 40.0},
		{"sex": nil, "grouping_id": 1, "persons": 130, "dead": 43.0},
	}
	res := applyRows(t, p, rows, exact(Options{Epsilon: 1, MinCellCount: 5}))
	released := 0
	for _, r := range res.Rows {
		c := r.Cells[2]
		if r.Cells[0].Value == "F" && !(c.Suppressed && r.Cells[1].Suppressed) {
			t.Errorf("F: persons %+v, dead %+v: want the whole row withheld", r.Cells[1], c)
		}
		if !c.Suppressed {
			released++
		}
	}
	if released > 1 {
		t.Errorf("%d of M's and the total's dead released: F's 3 is their difference", released)
	}
}
