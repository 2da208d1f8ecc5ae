package utility

import (
	"context"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/result"
)

func ci(lo, hi float64) *[2]float64 { return &[2]float64{lo, hi} }

// fakeResult is a released table by year and sex with a person count and a
// mean: one matched row, one suppressed row, one public-domain row without
// data, and a margin; the exact answer also has a group the result leaves
// out.
func fakeResult() (*result.Result, *Table) {
	res := &result.Result{
		Columns: []result.Column{
			{Name: "year", Role: result.RoleKey, Type: result.TypeInteger},
			{Name: "sex", Role: result.RoleKey, Type: result.TypeString},
			{Name: "persons", Role: result.RoleMeasure, Type: result.TypeNumber, Aggregate: "count_persons"},
			{Name: "mean_stay", Role: result.RoleMeasure, Type: result.TypeNumber, Aggregate: "avg"},
		},
		Rows: []result.Row{
			{Cells: []result.Cell{{Value: int64(2020)}, {Value: "F"}, {Value: 110.0, StdDev: 5, CI: ci(100, 120)}, {Value: 5.0, CI: ci(4, 5.5)}}},
			{Cells: []result.Cell{{Value: int64(2020)}, {Value: "M"}, {Suppressed: true, Reason: "min_cell_count"}, {Suppressed: true, Reason: "min_cell_count"}}},
			{Cells: []result.Cell{{Value: int64(2021)}, {Value: "F"}, {Value: 10.0, CI: ci(0, 20)}, {Value: 3.0, CI: ci(0, 90)}}},
			{Margin: true, Cells: []result.Cell{{Value: nil}, {Value: nil}, {Value: 200.0, StdDev: 20.15, CI: ci(150, 180)}, {Value: 4.0, CI: ci(3, 5)}}},
		},
		Meta: result.Meta{MinCellCount: 5, Groups: "public_domain"},
	}
	ex := &Table{
		Columns: []string{"YEAR", "sex", "persons", "mean_stay"}, // names match case-insensitively
		Rows: [][]any{
			{int32(2020), "F", int64(100), 4.5},
			{int32(2020), "M", int64(3), 7.0},
			{int32(2022), "F", big.NewInt(300), 6.0}, // not released
			{nil, nil, int64(403), 5.0},              // the grand total
		},
	}
	return res, ex
}

func TestMatch(t *testing.T) {
	res, ex := fakeResult()
	cells, err := Match(res, ex)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		status          Status
		value, truth    float64
		hasTruth, hasCI bool
	}
	wants := map[string]want{
		"2020 | F/persons":   {Released, 110, 100, true, true},
		"2020 | F/mean_stay": {Released, 5, 4.5, true, true},
		"2020 | M/persons":   {Suppressed, 0, 3, true, false},
		"2020 | M/mean_stay": {Suppressed, 0, 7, true, false},
		"2021 | F/persons":   {Released, 10, 0, true, true}, // public domain, no data: truth 0
		"2021 | F/mean_stay": {Released, 3, 0, false, true}, // nothing to compare with
		"∅ | ∅/persons":      {Released, 200, 403, true, true},
		"∅ | ∅/mean_stay":    {Released, 4, 5, true, true},
		"2022 | F/persons":   {NotReleased, 0, 300, true, false},
		"2022 | F/mean_stay": {NotReleased, 0, 6, true, false},
	}
	if len(cells) != len(wants) {
		t.Fatalf("got %d cells, want %d: %+v", len(cells), len(wants), cells)
	}
	for _, c := range cells {
		id := c.Key + "/" + c.Measure
		w, ok := wants[id]
		if !ok {
			t.Errorf("unexpected cell %s", id)
			continue
		}
		if c.Status != w.status || c.HasTruth != w.hasTruth || c.Truth != w.truth || c.HasCI != w.hasCI ||
			(c.Status == Released && c.Value != w.value) {
			t.Errorf("cell %s = %+v, want %+v", id, c, w)
		}
		if c.Key == "∅ | ∅" && !c.Margin {
			t.Errorf("cell %s: not marked as a margin", id)
		}
		if c.MinCellCount != 5 {
			t.Errorf("cell %s: min cell count %d, want 5", id, c.MinCellCount)
		}
	}
}

func TestMatchErrors(t *testing.T) {
	for _, tc := range []struct {
		desc string
		edit func(*result.Result, *Table)
		want string
	}{
		{"missing column", func(_ *result.Result, ex *Table) { ex.Columns[3] = "avg_stay" }, `no column "mean_stay"`},
		{"duplicate exact key", func(_ *result.Result, ex *Table) { ex.Rows[1][1] = "F" }, "two rows"},
		{"unknown aggregate", func(r *result.Result, _ *Table) { r.Columns[3].Aggregate = "max" }, "unknown aggregate"},
		{"non-numeric truth", func(_ *result.Result, ex *Table) { ex.Rows[0][2] = "many" }, "not a number"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			res, ex := fakeResult()
			tc.edit(res, ex)
			if _, err := Match(res, ex); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Match error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestKeyString(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{int64(2020), "2020"},
		{int32(2020), "2020"},
		{2020.0, "2020"},
		{1920.5, "1920.5"},
		{"2020-01-01", "2020-01-01"},
		{time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), "2020-01-01"},
		{true, "true"},
		{nil, "∅"},
	} {
		if got := keyString(tc.v); got != tc.want {
			t.Errorf("keyString(%#v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestSummarizeFakeResult(t *testing.T) {
	res, ex := fakeResult()
	cells, err := Match(res, ex)
	if err != nil {
		t.Fatal(err)
	}
	s := Summarize(cells)
	// Released: 2020|F ×2, 2021|F ×2, total ×2. Count cells with truth ≥ 100:
	// 2020|F (+10 %) and the total (200 vs 403: −50.4 %).
	checks := []struct {
		name      string
		got, want float64
	}{
		{"cells", float64(s.Cells), 10},
		{"released", float64(s.Released), 6},
		{"suppressed", float64(s.Suppressed), 2},
		{"not released", float64(s.NotReleased), 2},
		{"not released groups", float64(s.NotReleasedGroups), 1},
		{"largest not released", s.MaxNotReleased, 300},
		{"count cells", float64(s.CountCells), 3},
		{"large", float64(s.Large), 2},
		{"median |err|", s.MedianAbsErr, (0.1 + 203.0/403) / 2},
		{"median bias", s.MedianBias, (0.1 - 203.0/403) / 2},
		// Both large cells have a noise sd of 5 % of their truth.
		{"bias SE", s.BiasSE, math.Sqrt(math.Pi/2) * 0.05 / math.Sqrt(2)},
		// 2021|F persons has truth 0 < 5.
		{"small", float64(s.Small), 1},
		{"small share", s.SmallShare, 1.0 / 3},
		// Intervals with a truth: 2020|F both in; 2021|F persons [0, 20] ∋ 0;
		// total persons [150, 180] ∌ 403, total mean [3, 5] ∋ 5. The
		// no-data mean has no truth.
		{"coverage cells", float64(s.CoverageCells), 5},
		{"covered", float64(s.Covered), 4},
		{"coverage", s.Coverage, 0.8},
		// Means: 5 vs 4.5 (11.1 %) and 4 vs 5 (20 %).
		{"mean cells", float64(s.MeanCells), 2},
		{"mean |err|", s.MeanAbsErr, (0.5/4.5 + 0.2) / 2},
		{"no data", float64(s.NoData), 1},
		{"suppressed share", s.SuppressedShare, 2.0 / 8},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !math.IsNaN(s.SumAbsErr) || s.SumCells != 0 {
		t.Errorf("sum figures = %d, %v; want none", s.SumCells, s.SumAbsErr)
	}
}

func TestSummarizeEmpty(t *testing.T) {
	s := Summarize(nil)
	for name, v := range map[string]float64{"median |err|": s.MedianAbsErr, "bias": s.MedianBias,
		"coverage": s.Coverage, "small": s.SmallShare, "mean": s.MeanAbsErr, "suppressed": s.SuppressedShare} {
		if !math.IsNaN(v) {
			t.Errorf("%s = %v, want NaN", name, v)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{-1}, -1},
	} {
		in := append([]float64(nil), tc.xs...)
		if got := Median(tc.xs); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.xs[i] {
				t.Errorf("Median modified its input")
			}
		}
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil) is not NaN")
	}
}

func TestWorst(t *testing.T) {
	outs := []*Outcome{
		{Stats: Stats{MedianBias: -0.2, BiasSE: 0.01}},
		{Stats: Stats{MedianBias: math.NaN(), BiasSE: math.NaN()}},
		{Stats: Stats{MedianBias: 0.3, BiasSE: 0.02}},
		{Stats: Stats{MedianBias: 0.01, BiasSE: 0.001}},
		{Stats: Stats{MedianBias: 1.3, BiasSE: 1.7}}, // one noisy cell
	}
	if got := Worst(outs, math.Inf(1)); got != 4 {
		t.Errorf("Worst of all = %d, want 4", got)
	}
	if got := Worst(outs, BiasPrecision); got != 2 {
		t.Errorf("Worst of the precise = %d, want 2", got)
	}
	if got := Worst([]*Outcome{{Stats: Stats{MedianBias: math.NaN()}}}, math.Inf(1)); got != -1 {
		t.Errorf("Worst without biases = %d, want -1", got)
	}
}

// fakeAsker refuses its first request, fails its second and then releases res.
type fakeAsker struct {
	n   int
	res *result.Result
}

func (f *fakeAsker) Query(context.Context, engine.Principal, engine.Request) (*result.Result, error) {
	f.n++
	switch f.n {
	case 1:
		return nil, refusal.New(refusal.BudgetExhausted, "no budget left", "")
	case 2:
		return nil, errors.New("engine: internal error\nsecond line")
	}
	return f.res, nil
}

func TestAskPoolsRepetitions(t *testing.T) {
	res, ex := fakeResult()
	q := &Question{Name: "fake", Project: "p", Principal: "x", SQL: "SELECT 1", Exact: "SELECT 1"}
	out, err := ask(context.Background(), &fakeAsker{res: res}, q, ex, 4)
	if err != nil {
		t.Fatal(err)
	}
	if out.Runs != 4 || out.Answered != 2 || out.Refused["budget_exhausted"] != 1 || len(out.Failed) != 1 {
		t.Fatalf("outcome = runs %d answered %d refused %v failed %v", out.Runs, out.Answered, out.Refused, out.Failed)
	}
	if out.Failed[0] != "engine: internal error" {
		t.Errorf("failure = %q, want its first line", out.Failed[0])
	}
	if want := "answered 2, refused 1 (budget_exhausted), failed 1"; out.Status() != want {
		t.Errorf("Status = %q, want %q", out.Status(), want)
	}
	if len(out.Cells) != 20 || out.Stats.Released != 12 || out.Stats.Large != 4 {
		t.Errorf("pooled %d cells, %d released, %d large; want 20, 12, 4", len(out.Cells), out.Stats.Released, out.Stats.Large)
	}
	if out.Meta.MinCellCount != 5 {
		t.Errorf("meta not kept from the first released result")
	}
}
