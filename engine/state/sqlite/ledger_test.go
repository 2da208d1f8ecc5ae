package sqlite

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/statgate/statgate/engine/budget"
)

// childDirEnv names the state directory of TestHelperDebitChild.
const childDirEnv = "STATGATE_BUDGET_CRASH_CHILD_DIR"

// crashSpend is what the child debits in a loop.
func crashSpend(t testing.TB) budget.Spend {
	c, err := budget.NewCost(0.01, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return budget.Spend{QueryID: "q", Project: "p", Principal: "child", Datasets: []string{"a"}, Cost: c}
}

// TestHelperDebitChild is not a test: TestDebitSurvivesKill runs the test
// binary again with childDirEnv set, and this function becomes the child
// process. It debits ε 0.01 in a loop and prints "debited" after each
// Debit that returned nil, until it is killed.
func TestHelperDebitChild(t *testing.T) {
	dir := os.Getenv(childDirEnv)
	if dir == "" {
		t.Skip("helper process of TestDebitSurvivesKill")
	}
	l := openStore(t, dir, nil).Ledger()
	os.Stdout.WriteString("ready\n")
	deadline := time.Now().Add(20 * time.Second) // never outlive a lost parent for long
	for time.Now().Before(deadline) {
		if err := l.Debit(context.Background(), crashSpend(t), admitAll{}); err != nil {
			t.Fatalf("Debit: %v", err)
		}
		os.Stdout.WriteString("debited\n")
	}
}

// spentUnits reads the exact integer ε a project has spent on a dataset.
func spentUnits(t *testing.T, s *Store, project, dataset string) int64 {
	t.Helper()
	c, err := spentOn(context.Background(), s.db, project, dataset)
	if err != nil {
		t.Fatal(err)
	}
	eps, _, _, _ := c.Units()
	return eps
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
	unit, _, _, _ := crashSpend(t).Cost.Units()
	var spentBefore int64
	for round := range 5 {
		reported := runAndKill(t, dir, time.Duration(20+rand.IntN(181))*time.Millisecond)

		s, err := Open(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		var check string
		if err := s.db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
			t.Fatalf("round %d: integrity_check = %q, %v", round, check, err)
		}
		eps := spentUnits(t, s, "p", "a")
		var entries int64
		if err := s.db.QueryRow(`SELECT count(*) FROM budget_entries`).Scan(&entries); err != nil {
			t.Fatal(err)
		}
		s.Close()
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
	s := openStore(t, dir, nil)
	if err := s.Ledger().Debit(context.Background(), crashSpend(t), admitAll{}); err != nil {
		t.Fatalf("Debit after the kills: %v", err)
	}
	if got := spentUnits(t, s, "p", "a"); got != spentBefore+unit {
		t.Errorf("spent after one more debit = %d units, want %d", got, spentBefore+unit)
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
