package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// rareKey is a group with a single person, which DP partition selection
// must drop (it passes only with probability about δ).
const rareKey = "Z99"

// smallInput writes a CSV of 8,000 rows, 2 for each of 4,000 persons, over
// 20 groups (≈ 390 persons per group; every 10th length of stay NULL) plus one row of
// rareKey, and returns its path and the exact statistics of the 20 groups.
func smallInput(t *testing.T) (string, map[string]*groupTruth) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "npr.csv")
	truth := writeSyntheticCSV(t, path, synthSpec{rows: 8000, persons: 4000, groups: 20, nullEvery: 10, seed: 1})
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("999999," + rareKey + ",5\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, truth
}

func TestRun(t *testing.T) {
	input, truth := smallInput(t)
	// Large ε keeps the noise small enough for value checks; L0 = M = 2
	// (every person has exactly 2 rows, the rare one 1) so bounding drops
	// nothing and the released values estimate the exact ones.
	args := func(extra ...string) []string {
		return append([]string{"--input", input, "--epsilon", "20", "--delta", "1e-5",
			"--max-partitions", "2", "--max-per-partition", "2", "--lo", "0", "--hi", "30"}, extra...)
	}
	for _, tc := range []struct {
		desc  string
		extra []string
	}{
		{desc: "staged per-aggregate laplace"},
		{desc: "staged shared gaussian", extra: []string{"--partitions", "shared", "--noise", "gaussian"}},
		{desc: "staged shared laplace pre-threshold", extra: []string{"--partitions", "shared", "--pre-threshold", "5"}},
		{desc: "single per-aggregate laplace", extra: []string{"--plan", "single"}},
		{desc: "single shared gaussian", extra: []string{"--plan", "single", "--partitions", "shared", "--noise", "gaussian"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "table.csv")
			var stdout, stderr bytes.Buffer
			if err := run(context.Background(), args(append(tc.extra, "--out", out)...), &stdout, &stderr); err != nil {
				t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
			}
			var rep report
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatalf("stdout %q is not one JSON report: %v", stdout.String(), err)
			}
			if strings.Count(stdout.String(), "\n") != 1 {
				t.Errorf("stdout has %d lines, want 1", strings.Count(stdout.String(), "\n"))
			}
			if rep.RowsIn != 8001 {
				t.Errorf("rows_in = %d, want 8001", rep.RowsIn)
			}
			if rep.GroupsOut != 20 || rep.GroupsPersons != 20 || rep.GroupsRows != 20 || rep.GroupsMean != 20 {
				t.Errorf("groups out/persons/rows/mean = %d/%d/%d/%d, want 20 each (the 20 large groups, not %s)",
					rep.GroupsOut, rep.GroupsPersons, rep.GroupsRows, rep.GroupsMean, rareKey)
			}
			if !(rep.Seconds > 0) {
				t.Errorf("seconds = %v, want > 0", rep.Seconds)
			}
			checkStages(t, rep)
			checkTable(t, out, truth)
		})
	}
}

// checkStages checks the stages of the report against its plan: none for
// the single plan; for the staged plan persons, rows and mean after a
// select stage in shared mode, each timed, adding up to at most Seconds.
func checkStages(t *testing.T, rep report) {
	t.Helper()
	var want []string
	if rep.Plan == planStaged {
		if rep.Partitions == partitionsShared {
			want = append(want, stageSelect)
		}
		want = append(want, stagePersons, stageRows, stageMean)
	}
	var names []string
	var sum float64
	for _, st := range rep.Stages {
		names = append(names, st.Name)
		if !(st.Seconds > 0) {
			t.Errorf("stage %s took %v s, want > 0", st.Name, st.Seconds)
		}
		sum += st.Seconds
	}
	if !slices.Equal(names, want) {
		t.Errorf("stages %v, want %v", names, want)
	}
	if sum > rep.Seconds {
		t.Errorf("stages add up to %v s, more than the run's %v s", sum, rep.Seconds)
	}
}

// checkTable compares the released table with the exact statistics. At
// ε = 20 the tolerances are 25 or more Laplace scales (persons 0.3, rows
// 1.2, mean ≈ 0.1) and 6 or more Gaussian σ (persons ≈ 1.5, rows ≈ 6,
// mean ≈ 0.25) in shared mode.
func checkTable(t *testing.T, path string, truth map[string]*groupTruth) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(truth) {
		t.Errorf("table has %d lines, want %d", len(recs), len(truth))
	}
	for _, r := range recs {
		g, ok := truth[r[0]]
		if !ok {
			t.Errorf("table releases group %q, which is not one of the large groups", r[0])
			continue
		}
		checkNear(t, r[0]+" persons", r[1], float64(len(g.persons)), 10)
		checkNear(t, r[0]+" rows", r[2], float64(g.rows), 50)
		checkNear(t, r[0]+" mean_los", r[3], g.losSum/float64(g.losN), 2)
	}
}

// checkNear reports when field does not parse or is farther than tol from want.
func checkNear(t *testing.T, what, field string, want, tol float64) {
	t.Helper()
	got, err := strconv.ParseFloat(field, 64)
	if err != nil {
		t.Errorf("%s = %q, want a number near %v", what, field, want)
		return
	}
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %v, want %v ± %v", what, got, want, tol)
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	malformed := filepath.Join(dir, "malformed.csv")
	if err := os.WriteFile(malformed, []byte("pid,icd3,length_of_stay_days\n1,J45,2\nnot-a-pid,J45,3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	common := []string{"--epsilon", "1", "--delta", "1e-6", "--max-partitions", "2", "--max-per-partition", "2", "--lo", "0", "--hi", "30"}
	for _, tc := range []struct {
		desc    string
		args    []string
		wantErr string
	}{
		{desc: "invalid options", args: []string{"--input", malformed}, wantErr: "--epsilon"},
		{desc: "missing input file", args: append([]string{"--input", filepath.Join(dir, "absent.csv")}, common...), wantErr: "readLayout"},
		{desc: "malformed line fails the pipeline", args: append([]string{"--input", malformed}, common...), wantErr: "malformed input line"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("run error = %v, want one containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "not-a-pid") {
				t.Errorf("run error echoes the input line: %v", err)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing on error", stdout.String())
			}
		})
	}
}

// TestMain sends glog (used by privacy-on-beam) to stderr: once the test
// binary has parsed flags, glog would otherwise leave log files in the
// system temporary directory on every run.
func TestMain(m *testing.M) {
	flag.Parse()
	if err := flag.Set("logtostderr", "true"); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}
