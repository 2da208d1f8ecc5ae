package main

import "testing"

func TestCommandLine(t *testing.T) {
	got := commandLine([]string{"--persons", "100000", "--history", "before item 5", "--questions", "a,b"})
	want := "go run ./benchmarks/cmd/utility --persons 100000 --history 'before item 5' --questions a,b"
	if got != want {
		t.Errorf("commandLine = %q, want %q", got, want)
	}
}

func TestSelectQuestions(t *testing.T) {
	qs, err := selectQuestions("mean_los_by_hospital, a10b_persons_by_year")
	if err != nil {
		t.Fatal(err)
	}
	// Workload order, not the flag's.
	if len(qs) != 2 || qs[0].Name != "a10b_persons_by_year" || qs[1].Name != "mean_los_by_hospital" {
		t.Errorf("selectQuestions = %v", qs)
	}
	if _, err := selectQuestions("no_such_question"); err == nil {
		t.Error("an unknown name is not an error")
	}
	if qs, err := selectQuestions(""); qs != nil || err != nil {
		t.Errorf("selectQuestions(\"\") = %v, %v; want the whole workload (nil)", qs, err)
	}
}
