package main

import (
	"testing"

	"github.com/statgate/statgate/benchmarks/utility"
)

func TestCommandLine(t *testing.T) {
	got := commandLine([]string{"--persons", "100000", "--history", "before item 5", "--questions", "a,b"})
	want := "go run ./benchmarks/cmd/utility --persons 100000 --history 'before item 5' --questions a,b"
	if got != want {
		t.Errorf("commandLine = %q, want %q", got, want)
	}
}

func TestSelectQuestions(t *testing.T) {
	qs, err := selectQuestions("main", "mean_los_by_hospital, a10b_persons_by_year")
	if err != nil {
		t.Fatal(err)
	}
	// Workload order, not the flag's.
	if len(qs) != 2 || qs[0].Name != "a10b_persons_by_year" || qs[1].Name != "mean_los_by_hospital" {
		t.Errorf("selectQuestions = %v", qs)
	}
	if _, err := selectQuestions("main", "no_such_question"); err == nil {
		t.Error("an unknown name is not an error")
	}
	if qs, err := selectQuestions("main", ""); qs != nil || err != nil {
		t.Errorf("selectQuestions(\"\") = %v, %v; want the whole workload (nil)", qs, err)
	}
	// The holdout: all of it, or the named ones; another workload is an error.
	if qs, err := selectQuestions("holdout", ""); err != nil || len(qs) != len(utility.Holdout()) {
		t.Errorf("selectQuestions(holdout) = %d questions, %v; want all %d", len(qs), err, len(utility.Holdout()))
	}
	if qs, err := selectQuestions("holdout", "h_alive_by_sex"); err != nil || len(qs) != 1 {
		t.Errorf("selectQuestions(holdout, h_alive_by_sex) = %v, %v", qs, err)
	}
	if _, err := selectQuestions("holdout", "mean_los_by_hospital"); err == nil {
		t.Error("a main question is found in the holdout")
	}
	if _, err := selectQuestions("other", ""); err == nil {
		t.Error("an unknown workload is not an error")
	}
}
