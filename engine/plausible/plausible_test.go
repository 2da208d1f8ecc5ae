package plausible

import (
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/plan"
	"github.com/statgate/statgate/engine/query"
	"github.com/statgate/statgate/engine/result"
)

func TestWidth(t *testing.T) {
	s := Sizes{Persons: 20_000, Rows: 330_000}
	tests := []struct {
		agg  plan.Agg
		want float64
	}{
		{plan.Agg{Kind: query.AggCountDistinct}, 20_000},
		{plan.Agg{Kind: query.AggCountStar}, 330_000},
		{plan.Agg{Kind: query.AggCount}, 330_000},
		{plan.Agg{Kind: query.AggSum, Bounds: [2]float64{-3, 90}}, 330_000 * 90},
		{plan.Agg{Kind: query.AggAvg, Bounds: [2]float64{0, 90}}, 90},
		{plan.Agg{Kind: query.AggQuantile, Bounds: [2]float64{10, 30}}, 20},
		{plan.Agg{Kind: query.AggStddev, Bounds: [2]float64{0, 90}}, 45},
		{plan.Agg{Kind: query.AggVariance, Bounds: [2]float64{0, 90}}, 45 * 45},
	}
	for _, tc := range tests {
		got, what := Width(tc.agg, s)
		if got != tc.want || what == "" {
			t.Errorf("Width(%s %v) = %g %q, want %g", tc.agg.Kind, tc.agg.Bounds, got, what, tc.want)
		}
	}
}

// released builds a result with a key and the measures named, one row per
// stddev given (the same stddev for every measure of the row).
func released(measures []string, sds []float64, suppressed []bool) *result.Result {
	res := &result.Result{Columns: []result.Column{{Name: "sex", Role: result.RoleKey}}}
	for _, m := range measures {
		res.Columns = append(res.Columns, result.Column{Name: m, Role: result.RoleMeasure})
	}
	for i, sd := range sds {
		row := result.Row{Cells: []result.Cell{{Value: "F"}}}
		for range measures {
			c := result.Cell{Value: 1.0, StdDev: sd}
			if suppressed[i] {
				c = result.Cell{Suppressed: true, Reason: "min_cell_count", StdDev: sd}
			}
			row.Cells = append(row.Cells, c)
		}
		res.Rows = append(res.Rows, row)
	}
	return res
}

func TestWarnings(t *testing.T) {
	s := Sizes{Persons: 20_000, Rows: 330_000}
	aggs := []plan.Agg{
		{Name: "persons", Kind: query.AggCountDistinct},
		{Name: "mean_los", Kind: query.AggAvg, Bounds: [2]float64{0, 90}},
	}
	// ε = 1e-9: a count's noise sd is in the billions.
	got := Warnings(released([]string{"persons", "mean_los"}, []float64{2.8e9}, []bool{false}), aggs, s)
	if len(got) != 2 || !strings.HasPrefix(got[0], "persons is mostly noise") || !strings.Contains(got[0], "20,000 persons") ||
		!strings.HasPrefix(got[1], "mean_los is mostly noise") || !strings.Contains(got[1], "0 to 90") {
		t.Fatalf("warnings = %q", got)
	}
	// The mean's sd (100) exceeds its range (90), the count's does not.
	got = Warnings(released([]string{"persons", "mean_los"}, []float64{100, 3}, []bool{false, false}), aggs, s)
	if len(got) != 1 || !strings.HasPrefix(got[0], "mean_los") {
		t.Fatalf("warnings = %q, want mean_los only", got)
	}
	// At the range exactly, and on suppressed cells, nothing is said.
	if got := Warnings(released([]string{"mean_los"}, []float64{90, 1e6}, []bool{false, true}), aggs, s); got != nil {
		t.Errorf("warnings = %q, want none", got)
	}
	// A column with no aggregate of that name is not judged.
	if got := Warnings(released([]string{"other"}, []float64{1e12}, []bool{false}), aggs, s); got != nil {
		t.Errorf("warnings = %q, want none", got)
	}
}

func TestWarningsOnTheReleaseThreshold(t *testing.T) {
	s := Sizes{Persons: 20_000, Rows: 330_000}
	res := released([]string{"persons"}, []float64{0}, []bool{true})
	res.Meta.SuppressBelow = 1.956e6
	got := Warnings(res, []plan.Agg{{Name: "persons", Kind: query.AggCountDistinct}}, s)
	if len(got) != 1 || !strings.Contains(got[0], "reaches 1,956,000, more than the about 20,000 persons") {
		t.Fatalf("warnings = %q", got)
	}
	res.Meta.SuppressBelow = 19_999
	if got := Warnings(res, nil, s); got != nil {
		t.Errorf("threshold under the persons: warnings = %q, want none", got)
	}
}
