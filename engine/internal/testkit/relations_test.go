package testkit

import (
	"fmt"
	"slices"
	"testing"

	"github.com/statgate/statgate/engine/result"
)

func TestRelations(t *testing.T) {
	// Keys a and b with both margins and the grand total:
	// rows 0–3 the cells, 4–5 the margins of a, 6–7 those of b, 8 the total.
	row := func(a, b any, n float64, suppressed bool) result.Row {
		c := result.Cell{Value: n, Suppressed: suppressed}
		if suppressed {
			c.Value = nil
		}
		return result.Row{Cells: []result.Cell{{Value: a}, {Value: b}, c}}
	}
	res := &result.Result{Rows: []result.Row{
		row("x", "1", 1, false), row("x", "2", 2, false), row("y", "1", 3, true), row("y", "2", 4, false),
		row("x", nil, 3, false), row("y", nil, 7, false),
		row(nil, "1", 4, false), row(nil, "2", 6, false),
		row(nil, nil, 10, false),
	}}
	var got []string
	for _, rl := range Relations(res, 2) {
		d := slices.Clone(rl.Details)
		slices.Sort(d)
		s, sum := rl.Tally(res, 2)
		got = append(got, fmt.Sprintf("%d%v:%d,%g", rl.Margin, d, s, sum))
	}
	slices.Sort(got)
	want := []string{
		"4[0 1]:0,3", "5[2 3]:1,4", "6[0 2]:1,1", "7[1 3]:0,6",
		"8[0 1 2 3]:1,7", "8[4 5]:0,10", "8[6 7]:0,10",
	}
	if !slices.Equal(got, want) {
		t.Errorf("relations (margin[details]:suppressed,sum)\n got %v\nwant %v", got, want)
	}
}
