package synth

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var updateTestdata = flag.Bool("update-testdata", false, "rewrite testdata/registries with the generator's current output")

// The checked-in extract: testdata/registries at the repository root.
const (
	testdataPersons = 5000
	testdataSeed    = 1
)

var testdataDir = filepath.Join("..", "..", "testdata", "registries")

// TestTestdataIsCurrent checks that testdata/registries is what the
// generator writes today; with -update-testdata it rewrites the files:
//
//	go test ./engine/synth -run TestTestdataIsCurrent -update-testdata
func TestTestdataIsCurrent(t *testing.T) {
	if *updateTestdata {
		sum, err := Generate(context.Background(), &Options{Persons: testdataPersons, Seed: testdataSeed, OutDir: testdataDir})
		if err != nil {
			t.Fatal(err)
		}
		for _, ts := range sum.Tables {
			t.Logf("wrote %s: %d rows, %d bytes", ts.Path, ts.Rows, ts.Bytes)
		}
		return
	}
	if _, err := os.Stat(filepath.Join(testdataDir, "population.parquet")); err != nil {
		t.Fatalf("%v; generate the extract with: go test ./engine/synth -run TestTestdataIsCurrent -update-testdata", err)
	}
	dir := t.TempDir()
	if _, err := Generate(context.Background(), &Options{Persons: testdataPersons, Seed: testdataSeed, OutDir: dir}); err != nil {
		t.Fatal(err)
	}
	want := hashFiles(t, dir)
	got := hashFiles(t, testdataDir)
	for _, name := range Tables() {
		if got[name] != want[name] {
			t.Errorf("testdata/registries/%s.parquet is out of date; run: go test ./engine/synth -run TestTestdataIsCurrent -update-testdata", name)
		}
	}
}
