package benchmarks

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
)

// TestMain lets the test binary serve as a benchmark child (see
// ChildMain), so that TestCompareTiny runs the real child processes.
func TestMain(m *testing.M) {
	if IsChild() {
		os.Exit(ChildMain(context.Background()))
	}
	code := m.Run()
	if tinyDir != "" {
		os.RemoveAll(tinyDir)
	}
	os.Exit(code)
}

// tiny is a 10,000-row registry shared by the tests, prepared once.
var (
	tinyOnce sync.Once
	tinyDir  string
	tinyData *Data
	tinyErr  error
)

// tinySpec is the shared test registry: 10,000 npr rows over 20 groups.
var tinySpec = Spec{Rows: 10_000, Groups: 20, Seed: 7}

func tiny(t *testing.T) *Data {
	t.Helper()
	tinyOnce.Do(func() {
		if tinyDir, tinyErr = os.MkdirTemp("", "statgate-bench-test-"); tinyErr != nil {
			return
		}
		tinyData, tinyErr = Prepare(context.Background(), tinyDir, tinySpec, true, nil)
	})
	if tinyErr != nil {
		t.Fatal(fmt.Errorf("preparing the test registry: %w", tinyErr))
	}
	return tinyData
}
