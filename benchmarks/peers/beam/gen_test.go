package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// synthSpec describes a synthetic npr-like CSV: rows dealt round-robin to
// persons (rows/persons each, give or take one), each row in a uniformly
// random group, as in the bounding-cost probe
// (notes/bounding-plan-costs.md: ~10 rows per person over ~10 groups).
type synthSpec struct {
	rows, persons, groups int
	// nullEvery makes every nullEvery-th row's length of stay NULL (empty);
	// 0 for none.
	nullEvery int
	seed      uint64
}

// groupTruth is the exact answer for one group of a synthetic file.
type groupTruth struct {
	persons map[int64]bool
	rows    int64
	losSum  float64
	losN    int64
}

// groupCode is the 3-character code of group g: A00, A01, …, Z99.
func groupCode(g int) string {
	return fmt.Sprintf("%c%02d", 'A'+rune(g/100%26), g%100)
}

// writeSyntheticCSV writes a CSV with header pid,icd3,length_of_stay_days
// (the shape of the harness's DuckDB export) to path and returns the exact
// per-group statistics.
func writeSyntheticCSV(tb testing.TB, path string, spec synthSpec) map[string]*groupTruth {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(spec.seed, 1))
	truth := map[string]*groupTruth{}
	fmt.Fprintln(w, "pid,icd3,length_of_stay_days")
	for i := 0; i < spec.rows; i++ {
		pid := int64(i%spec.persons) + 1
		key := groupCode(r.IntN(spec.groups))
		g := truth[key]
		if g == nil {
			g = &groupTruth{persons: map[int64]bool{}}
			truth[key] = g
		}
		g.persons[pid] = true
		g.rows++
		los := ""
		if spec.nullEvery == 0 || i%spec.nullEvery != 0 {
			v := r.IntN(31)
			los = strconv.Itoa(v)
			g.losSum += float64(v)
			g.losN++
		}
		fmt.Fprintf(w, "%d,%s,%s\n", pid, key, los)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return truth
}

// TestWriteBenchInputs writes the throughput inputs npr-100k.csv and
// npr-1m.csv (10 rows per person, 200 groups) into the directory named by
// BEAM_PEER_GEN_DIR. It is a tool for README measurements, skipped
// unless that variable is set.
func TestWriteBenchInputs(t *testing.T) {
	dir := os.Getenv("BEAM_PEER_GEN_DIR")
	if dir == "" {
		t.Skip("set BEAM_PEER_GEN_DIR to write the throughput inputs")
	}
	for _, tc := range []struct {
		name string
		rows int
	}{
		{"npr-100k.csv", 100_000},
		{"npr-1m.csv", 1_000_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			truth := writeSyntheticCSV(t, filepath.Join(dir, tc.name), synthSpec{
				rows: tc.rows, persons: tc.rows / 10, groups: 200, nullEvery: 50, seed: 7,
			})
			if len(truth) != 200 {
				t.Errorf("wrote %d groups, want 200", len(truth))
			}
		})
	}
}
