package consist

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/protect"
	"github.com/statgate/statgate/engine/result"
)

// noisy2x3 is a 2 × 3 table with its row, column and grand totals, every
// value noisy (sd 2) and none consistent with the others.
func noisy2x3() *result.Result {
	v := map[[2]any]float64{
		{"a1", "b1"}: 10.3, {"a1", "b2"}: 20.7, {"a1", "b3"}: 30.2,
		{"a2", "b1"}: 5.6, {"a2", "b2"}: 14.1, {"a2", "b3"}: 25.4,
		{"a1", nil}: 62.0, {"a2", nil}: 44.5,
		{nil, "b1"}: 14.8, {nil, "b2"}: 35.9, {nil, "b3"}: 56.1,
		{nil, nil}: 104.9,
	}
	return cube([]string{"a1", "a2"}, []string{"b1", "b2", "b3"}, func(a, b any) result.Cell { return rel(v[[2]any{a, b}], 2) })
}

// rollup builds ROLLUP(a, b) over a ∈ {x, y}, b ∈ {p, q, r} with one
// count column, cells given by f.
func rollup(f func(a, b any) result.Cell) *result.Result {
	var rows []tableRow
	for _, a := range []string{"x", "y"} {
		for _, b := range []string{"p", "q", "r"} {
			rows = append(rows, tableRow{keys: []any{a, b}, cells: []result.Cell{f(a, b)}})
		}
		rows = append(rows, tableRow{keys: []any{a, nil}, cells: []result.Cell{f(a, nil)}, margin: true})
	}
	rows = append(rows, tableRow{keys: []any{nil, nil}, cells: []result.Cell{f(nil, nil)}, margin: true})
	return build([]string{"a", "b"}, [][2]string{{"n", "count_star"}}, rows)
}

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		desc string
		in   func() *result.Result
		unit float64
		// want, when set, are column 2's expected values.
		want []any
		// adjusted says whether the margins must be made consistent.
		adjusted bool
		// check checks more.
		check func(t *testing.T, in, out *result.Result)
	}{
		{
			desc: "2x3 table with row, column and grand totals", in: noisy2x3, unit: 1, adjusted: true,
			check: func(t *testing.T, in, out *result.Result) {
				for i := range in.Rows {
					before, after := in.Rows[i].Cells[2].Value.(float64), out.Rows[i].Cells[2].Value.(float64)
					if math.Abs(before-after) > 4 {
						t.Errorf("row %d moved from %g to %g, more than 2 sd", i, before, after)
					}
				}
			},
		},
		{
			desc: "consistent whole numbers are kept", unit: 1, adjusted: true,
			in: func() *result.Result {
				v := map[[2]any]float64{{"a1", "b1"}: 3, {"a1", "b2"}: 0, {"a2", "b1"}: 7, {"a2", "b2"}: 12,
					{"a1", nil}: 3, {"a2", nil}: 19, {nil, "b1"}: 10, {nil, "b2"}: 12, {nil, nil}: 22}
				return cube([]string{"a1", "a2"}, []string{"b1", "b2"}, func(a, b any) result.Cell { return rel(v[[2]any{a, b}], 1.5) })
			},
			want: []any{3.0, 0.0, 7.0, 12.0, 3.0, 19.0, 10.0, 12.0, 22.0},
			check: func(t *testing.T, in, out *result.Result) {
				for i, r := range out.Rows {
					ci := in.Rows[i].Cells[2].CI
					if want := [2]float64{math.Floor(ci[0]), math.Ceil(ci[1])}; *r.Cells[2].CI != want {
						t.Errorf("row %d: interval %v, want %v (only widened to whole numbers)", i, *r.Cells[2].CI, want)
					}
				}
			},
		},
		{
			desc: "rollup with suppressed cells", unit: 1, adjusted: true,
			in: func() *result.Result {
				v := map[[2]any]float64{{"x", "r"}: 40.6, {"y", "p"}: 22.2, {"y", "q"}: 31.9, {"y", "r"}: 18.4,
					{"x", nil}: 49.1, {"y", nil}: 70.3, {nil, nil}: 121.7}
				return rollup(func(a, b any) result.Cell {
					if a == "x" && (b == "p" || b == "q") {
						return sup(protect.ReasonMinCellCount)
					}
					return rel(v[[2]any{a, b}], 3)
				})
			},
			check: func(t *testing.T, in, out *result.Result) {
				for i := range in.Rows {
					if in.Rows[i].Cells[2].Suppressed != out.Rows[i].Cells[2].Suppressed {
						t.Errorf("row %d: suppression changed", i)
					}
				}
				x, xr := out.Rows[3].Cells[2].Value.(float64), out.Rows[2].Cells[2].Value.(float64)
				if x < xr {
					t.Errorf("margin x = %g below its one released cell %g", x, xr)
				}
			},
		},
		{
			desc: "cube with a 2x2 block suppressed", unit: 1, adjusted: true,
			in: func() *result.Result {
				return cube([]string{"a1", "a2", "a3"}, []string{"b1", "b2", "b3"}, func(a, b any) result.Cell {
					if (a == "a1" || a == "a2") && (b == "b1" || b == "b2") {
						r := protect.ReasonMinCellCount
						if a == "a2" {
							r = protect.ReasonSecondary
						}
						return sup(r)
					}
					switch {
					case a == nil && b == nil:
						return rel(301.3, 4)
					case a == nil || b == nil:
						return rel(99.2, 4)
					}
					return rel(33.6, 4)
				})
			},
		},
		{
			desc: "all zeros", unit: 1, adjusted: true,
			in: func() *result.Result {
				return cube([]string{"a1", "a2"}, []string{"b1", "b2"}, func(a, b any) result.Cell { return rel(0, 3) })
			},
			want: []any{0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0},
			check: func(t *testing.T, _, out *result.Result) {
				for i, r := range out.Rows {
					if *r.Cells[2].CI != [2]float64{0, 6} {
						t.Errorf("row %d: interval %v, want [0 6]", i, *r.Cells[2].CI)
					}
				}
			},
		},
		{
			desc: "negative noisy counts", unit: 1, adjusted: true,
			in: func() *result.Result {
				v := map[[2]any]float64{{"a1", "b1"}: -3.2, {"a1", "b2"}: 1.4, {"a2", "b1"}: -0.7, {"a2", "b2"}: 8.9,
					{"a1", nil}: -5.5, {"a2", nil}: 6.1, {nil, "b1"}: -2.2, {nil, "b2"}: 11.3, {nil, nil}: 4.4}
				return cube([]string{"a1", "a2"}, []string{"b1", "b2"}, func(a, b any) result.Cell {
					c := rel(0, 2)
					c.Value = v[[2]any{a, b}]
					c.CI = &[2]float64{v[[2]any{a, b}] - 4, v[[2]any{a, b}] + 4}
					return c
				})
			},
		},
		{
			desc: "round_to 5", unit: 5, adjusted: true,
			in: func() *result.Result {
				v := map[[2]any]float64{{"a1", "b1"}: 10, {"a1", "b2"}: 20, {"a1", "b3"}: 5,
					{"a2", "b1"}: 15, {"a2", "b2"}: 0, {"a2", "b3"}: 25,
					{"a1", nil}: 45, {"a2", nil}: 35, {nil, "b1"}: 20, {nil, "b2"}: 15, {nil, "b3"}: 35, {nil, nil}: 85}
				res := cube([]string{"a1", "a2"}, []string{"b1", "b2", "b3"}, func(a, b any) result.Cell {
					x := v[[2]any{a, b}]
					return result.Cell{Value: x, StdDev: 4, CI: &[2]float64{math.Max(math.Floor((x-8)/5)*5, 0), math.Ceil((x+8)/5) * 5}}
				})
				res.Meta.RoundTo = 5
				return res
			},
		},
		{
			desc: "distinct persons with several groups per person: margins only rounded", unit: 1,
			in: func() *result.Result {
				res := noisy2x3()
				res.Columns[2].Aggregate = "count_persons"
				res.Meta.Bounding.MaxGroupsPerPerson = 4
				return res
			},
			want: []any{10.0, 21.0, 30.0, 6.0, 14.0, 25.0, 62.0, 45.0, 15.0, 36.0, 56.0, 105.0},
		},
		{
			desc: "distinct persons, one group per person", unit: 1, adjusted: true,
			in: func() *result.Result {
				res := noisy2x3()
				res.Columns[2].Aggregate = "count_persons"
				return res
			},
		},
		{
			desc: "partition selection: margins only rounded", unit: 1,
			in: func() *result.Result {
				res := noisy2x3()
				res.Meta.Groups = protect.GroupsPartitionSelection
				return res
			},
			want: []any{10.0, 21.0, 30.0, 6.0, 14.0, 25.0, 62.0, 45.0, 15.0, 36.0, 56.0, 105.0},
		},
		{
			desc: "a NULL key value among the finest cells: margins only rounded", unit: 1,
			in: func() *result.Result {
				// b1 is NULL, a value of b's domain: its margin (nil, nil)
				// looks like the grand total.
				res := noisy2x3()
				for _, r := range []int{0, 3, 8} {
					res.Rows[r].Cells[1].Value = nil
				}
				return res
			},
			want: []any{10.0, 21.0, 30.0, 6.0, 14.0, 25.0, 62.0, 45.0, 15.0, 36.0, 56.0, 105.0},
		},
		{
			desc: "no margins", unit: 1,
			in: func() *result.Result {
				return build([]string{"a"}, [][2]string{{"n", "count"}, {"m", "avg"}}, []tableRow{
					{keys: []any{"x"}, cells: []result.Cell{rel(2.4, 1), rel(3.75, 1)}},
					{keys: []any{"y"}, cells: []result.Cell{{Value: -1.0, StdDev: 1, CI: &[2]float64{-3, 1}}, rel(-0.5, 1)}},
					{keys: []any{"z"}, cells: []result.Cell{rel(7.6, 1), rel(8.25, 1)}},
				})
			},
			check: func(t *testing.T, in, out *result.Result) {
				if got, want := values(out, 1), []any{2.0, 0.0, 8.0}; !reflect.DeepEqual(got, want) {
					t.Errorf("counts %v, want %v", got, want)
				}
				for i := range in.Rows {
					if !reflect.DeepEqual(in.Rows[i].Cells[2], out.Rows[i].Cells[2]) {
						t.Errorf("row %d: avg changed from %+v to %+v", i, in.Rows[i].Cells[2], out.Rows[i].Cells[2])
					}
				}
				if *out.Rows[1].Cells[1].CI != [2]float64{0, 2} {
					t.Errorf("interval of the negative count: %v, want [0 2]", *out.Rows[1].Cells[1].CI)
				}
			},
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			in, orig := tc.in(), tc.in()
			out := Apply(in)
			if !reflect.DeepEqual(in, orig) {
				t.Fatal("Apply modified its input")
			}
			if len(out.Columns) != 3 || out.Columns[2].Role != result.RoleMeasure {
				return // the no-margins case checks itself
			}
			if tc.want != nil {
				if got := values(out, 2); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("values %v, want %v", got, tc.want)
				}
			}
			if tc.adjusted {
				checkTable(t, out, 2, 2, tc.unit)
			}
			if !slices.Equal(out.Meta.Notes[:1], []string{"protect note"}) || len(out.Meta.Notes) < 2 ||
				!strings.Contains(out.Meta.Notes[1], "no privacy cost") {
				t.Errorf("notes %q: want protect's, then the post-processing note", out.Meta.Notes)
			}
			consistent := slices.ContainsFunc(out.Meta.Notes, func(n string) bool { return strings.Contains(n, "equal the sums of their cells") })
			if consistent != tc.adjusted {
				t.Errorf("notes say margins adjusted = %v, want %v: %q", consistent, tc.adjusted, out.Meta.Notes)
			}
			if tc.check != nil {
				tc.check(t, orig, out)
			}
		})
	}
}

// TestApplyWeights checks that the fit moves the noisier values: a margin
// known almost exactly keeps its value and its cells absorb the
// difference, and the other way round.
func TestApplyWeights(t *testing.T) {
	oneKey := func(cellSD, totalSD float64) *result.Result {
		return build([]string{"a"}, [][2]string{{"n", "count_star"}}, []tableRow{
			{keys: []any{"x"}, cells: []result.Cell{rel(10, cellSD)}},
			{keys: []any{"y"}, cells: []result.Cell{rel(10, cellSD)}},
			{keys: []any{nil}, cells: []result.Cell{rel(30, totalSD)}, margin: true},
		})
	}
	for _, tc := range []struct {
		desc            string
		cellSD, totalSD float64
		want            []any
	}{
		{"precise total", 10, 0.1, []any{15.0, 15.0, 30.0}},
		{"precise cells", 0.1, 10, []any{10.0, 10.0, 20.0}},
		{"equal", 1, 1, []any{nil}}, // checked below
	} {
		t.Run(tc.desc, func(t *testing.T) {
			out := Apply(oneKey(tc.cellSD, tc.totalSD))
			got := values(out, 1)
			if tc.want[0] == nil {
				// The fit: cells 13⅓, total 26⅔; rounded, cells of 13 or 14 and their sum.
				if x, y, tot := got[0].(float64), got[1].(float64), got[2].(float64); x+y != tot || tot < 26 || tot > 27 || math.Abs(x-y) > 1 {
					t.Errorf("values %v, want cells of 13 or 14 and their sum", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("values %v, want %v", got, tc.want)
			}
		})
	}
}

// TestApplyNotes checks the notes of tables whose margins are not
// adjusted, and the results Apply returns as they are.
func TestApplyNotes(t *testing.T) {
	res := noisy2x3()
	res.Meta.Groups = protect.GroupsPartitionSelection
	if notes := Apply(res).Meta.Notes; !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, "partition selection") }) {
		t.Errorf("partition selection: notes %q", notes)
	}
	res = noisy2x3()
	res.Columns[2].Aggregate = "count_persons"
	res.Meta.Bounding.MaxGroupsPerPerson = 3
	if notes := Apply(res).Meta.Notes; !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, "max_groups_per_person 3") }) {
		t.Errorf("distinct persons: notes %q", notes)
	}
	res = noisy2x3()
	for _, r := range []int{0, 3, 8} {
		res.Rows[r].Cells[1].Value = nil
	}
	if notes := Apply(res).Meta.Notes; !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, "lists NULL") }) {
		t.Errorf("NULL key: notes %q", notes)
	}
	res = build([]string{"a"}, [][2]string{{"m", "avg"}}, []tableRow{{keys: []any{"x"}, cells: []result.Cell{rel(2.5, 1)}}})
	if out := Apply(res); out != res {
		t.Error("a result without counts is returned as it is")
	}
	if Apply(nil) != nil {
		t.Error("Apply(nil) != nil")
	}
}

// TestApplyMalformed checks that a result Apply does not understand comes
// back unchanged in the parts it cannot read.
func TestApplyMalformed(t *testing.T) {
	res := noisy2x3()
	res.Rows[1].Cells = res.Rows[1].Cells[:2]
	if out := Apply(res); out != res {
		t.Error("rows with missing cells: want the result unchanged")
	}
	res = noisy2x3()
	res.Rows[4].Cells[2].Value = math.NaN()
	out := Apply(res)
	if v := out.Rows[4].Cells[2].Value.(float64); !math.IsNaN(v) {
		t.Errorf("a NaN count became %g", v)
	}
	if v := out.Rows[0].Cells[2].Value.(float64); v != 10 {
		t.Errorf("the other counts are rounded on their own: got %g, want 10", v)
	}
}
