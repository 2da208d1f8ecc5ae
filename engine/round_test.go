package engine

import (
	"math"
	"testing"
)

// TestRoundOfAnAggregate: round(avg(x), 1) beside avg(x) is the same noisy
// value (one aggregate, released once) rounded half away from zero, its
// interval the unrounded one's widened outward to tenths; the split spends
// ε on one mean only.
func TestRoundOfAnAggregate(t *testing.T) {
	e := openEngine(t, nil)
	res, err := e.Query(t.Context(), ingrid, Request{Project: "diabetes-2026",
		SQL: "SELECT contact_type, round(avg(length_of_stay_days), 1) AS mean_stay, avg(length_of_stay_days) AS raw FROM npr GROUP BY 1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Columns) != 3 || res.Columns[1].Name != "mean_stay" || res.Columns[2].Name != "raw" {
		t.Fatalf("columns %+v", res.Columns)
	}
	means := 0
	for _, sp := range res.Meta.Split {
		if sp.Purpose == "mean_stay" || sp.Purpose == "raw" {
			means++
		}
	}
	if means != 1 {
		t.Errorf("split %+v: want one share for the one mean", res.Meta.Split)
	}
	released := 0
	for _, r := range res.Rows {
		m, raw := r.Cells[1], r.Cells[2]
		if raw.Value == nil {
			if m.Value != nil {
				t.Errorf("%v: rounded %v of a suppressed mean", r.Cells[0].Value, m.Value)
			}
			continue
		}
		released++
		x, v := raw.Value.(float64), m.Value.(float64)
		if v != math.Round(x*10)/10 {
			t.Errorf("%v: round(%v, 1) released as %v", r.Cells[0].Value, x, v)
		}
		if m.CI == nil || raw.CI == nil || m.CI[0] > raw.CI[0] || m.CI[1] < raw.CI[1] ||
			m.CI[0] != math.Floor(raw.CI[0]*10)/10 || m.CI[1] != math.Ceil(raw.CI[1]*10)/10 {
			t.Errorf("%v: interval %v of the unrounded %v, want it widened outward to tenths", r.Cells[0].Value, m.CI, raw.CI)
		}
	}
	if released == 0 {
		t.Fatal("no mean was released: the test says nothing")
	}
}
