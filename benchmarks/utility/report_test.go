package utility

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func TestReportTargets(t *testing.T) {
	r := &Report{
		Outcomes: []*Outcome{{Question: Question{Name: "a"}, Stats: Stats{MedianBias: -0.59}}, {Question: Question{Name: "b"}, Stats: Stats{MedianBias: 0.01}}},
		Overall:  Stats{MedianAbsErr: 0.017, SmallShare: 0.225, Coverage: 0.95, MeanAbsErr: math.NaN()},
		Worst:    0,
	}
	got := r.Targets()
	want := []struct {
		now string
		met bool
	}{{"-59.0 % (a)", false}, {"1.7 %", true}, {"22.5 %", false}, {"95.0 %", true}, {"–", false}}
	for i, w := range want {
		if got[i].Now != w.now || got[i].Met != w.met {
			t.Errorf("target %q = %q met %v, want %q met %v", got[i].Figure, got[i].Now, got[i].Met, w.now, w.met)
		}
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	r := &Report{
		Started:  time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
		Commit:   "commit abc1234",
		Data:     &Data{Persons: 100000, Seed: 11},
		Reps:     5,
		Outcomes: []*Outcome{{Question: Question{Name: "a"}, Stats: Stats{MedianBias: -0.5, BiasSE: 0.01}}},
		Overall:  Stats{MedianAbsErr: 0.046, SmallShare: 0.004, Coverage: 0.861, MeanAbsErr: 1},
		Worst:    0,
	}
	row := r.HistoryRow("before item 5 | x")
	want := "| 2026-12-01 | before item 5 \\| x | commit abc1234 | 100000 | 5 | -50.0 % (a) | 4.6 % | 0.4 % | 86.1 % | 100.0 % |"
	if row != want {
		t.Fatalf("HistoryRow =\n%s\nwant\n%s", row, want)
	}
	r.History = []string{"| 2026-11-30 | earlier | – | 100000 | 1 | x | x | x | x | x |", row}
	var b bytes.Buffer
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "| median \\|error\\|, count cells truth ≥ 100 | 4.6 % | ≤ 3 % | no |") {
		t.Errorf("the targets table does not escape | in a figure's name:\n%s", b.String())
	}
	got := ParseHistory(b.String())
	if strings.Join(got, "\n") != strings.Join(r.History, "\n") {
		t.Errorf("ParseHistory(WriteMarkdown) =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(r.History, "\n"))
	}
	if strings.Contains(b.String(), "holdout") {
		t.Errorf("the main workload's report names the holdout:\n%s", b.String())
	}
	r.Holdout = true
	b.Reset()
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "# Utility benchmark: the holdout\n") || !strings.Contains(b.String(), "never used to choose the engine's rules") {
		t.Errorf("the holdout's report does not say it is the holdout:\n%s", b.String())
	}
	if rows := ParseHistory("# no history\n\n| a | b |\n"); len(rows) != 0 {
		t.Errorf("ParseHistory of a report without history = %v", rows)
	}
}
