package budget

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/statgate/statgate/policies"
)

// childDirEnv names the state directory of TestHelperDebitChild.
const childDirEnv = "STATGATE_BUDGET_CRASH_CHILD_DIR"

// TestHelperDebitChild is not a test: TestDebitSurvivesKill runs the test
// binary again with childDirEnv set, and this function becomes the child
// process. It debits ε 0.01 in a loop and prints "debited" after each
// Debit that returned nil, until it is killed.
func TestHelperDebitChild(t *testing.T) {
	dir := os.Getenv(childDirEnv)
	if dir == "" {
		t.Skip("helper process of TestDebitSurvivesKill")
	}
	db := openState(t, dir)
	l := newLedger(t, db, newBudgets(map[string]policies.Budget{"p/a": {Epsilon: 1e6}}))
	os.Stdout.WriteString("ready\n")
	deadline := time.Now().Add(20 * time.Second) // never outlive a lost parent for long
	for time.Now().Before(deadline) {
		if err := l.Debit(context.Background(), Spend{QueryID: "q", Project: "p", Principal: "child", Datasets: []string{"a"}, Epsilon: 0.01}); err != nil {
			t.Fatalf("Debit: %v", err)
		}
		os.Stdout.WriteString("debited\n")
	}
}

// TestDebitSurvivesKill kills a debiting child process with SIGKILL at
// random moments, then reopens the ledger: it must be readable, consistent,
// and show at least every debit the child saw succeed (and at most one
// more, the one in flight).
func TestDebitSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	const unit = int64(0.01 * epsilonScale)
	var spentBefore int64
	for round := range 5 {
		reported := runAndKill(t, dir, time.Duration(20+rand.IntN(181))*time.Millisecond)

		db := openState(t, dir)
		var check string
		if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
			t.Fatalf("round %d: integrity_check = %q, %v", round, check, err)
		}
		eps, _ := spentUnits(t, db, "p", "a")
		var entries int64
		if err := db.QueryRow(`SELECT count(*) FROM budget_entries`).Scan(&entries); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if eps != entries*unit {
			t.Errorf("round %d: spent %d units but %d entries: the two tables disagree", round, eps, entries)
		}
		debited := (eps - spentBefore) / unit
		t.Logf("round %d: child reported %d debits, ledger shows %d", round, reported, debited)
		if debited < reported || debited > reported+1 {
			t.Errorf("round %d: child reported %d successful debits, ledger shows %d (want %d or %d)",
				round, reported, debited, reported, reported+1)
		}
		spentBefore = eps
	}
	// The ledger the child left behind takes the next debit.
	l := newLedger(t, openState(t, dir), newBudgets(map[string]policies.Budget{"p/a": {Epsilon: 1e6}}))
	if err := l.Debit(context.Background(), Spend{Project: "p", Datasets: []string{"a"}, Epsilon: 0.01}); err != nil {
		t.Fatalf("Debit after the kills: %v", err)
	}
	if got := remaining(t, l, "p", "a").SpentEpsilon; got != float64(spentBefore+unit)/epsilonScale {
		t.Errorf("spent after one more debit = %v, want %v", got, float64(spentBefore+unit)/epsilonScale)
	}
}

// runAndKill starts the child on dir, kills it after wait once it is
// debiting, and returns how many debits it reported as successful.
func runAndKill(t *testing.T, dir string, wait time.Duration) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDebitChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child did not start: %q %v", lines.Text(), lines.Err())
	}
	time.AfterFunc(wait, func() { cmd.Process.Kill() })
	var n int64
	for lines.Scan() { // until the killed child's end of the pipe closes
		if lines.Text() == "debited" {
			n++
		}
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("child exited normally; it should have been killed")
	}
	return n
}
