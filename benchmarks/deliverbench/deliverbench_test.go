package deliverbench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunSmall runs the whole benchmark on a small registry: the delivery
// becomes visible with every answer through the switch a success, on
// both versions, and the refused delivery changes nothing.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("generates two registries")
	}
	dir := t.TempDir()
	r, err := Run(context.Background(), Options{Cache: dir + "/cache", Scratch: dir + "/scratch", Rows: 20000, DeliveryRows: 2000,
		Groups: 20, Seed: 3, Clients: 2, Watch: 50 * time.Millisecond, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 0 || r.Old < 2 || r.New < 2 || r.Answers != r.Old+r.New {
		t.Errorf("answers %d (old %d, new %d), errors %d (%s): want answers on both versions and no error", r.Answers, r.Old, r.New, r.Errors, r.FirstError)
	}
	if r.Visible < r.Deliver || r.Deliver <= 0 || r.LoadAlone <= 0 || r.Copy <= 0 || r.FirstAnswer < r.Visible {
		t.Errorf("times %+v: want visible after the delivery, the first new answer after that", r)
	}
	if r.VisibleIdle < r.DeliverIdle || r.DeliverIdle <= 0 || r.LoadAloneIdle <= 0 || r.CopyIdle <= 0 {
		t.Errorf("idle times %+v: want each measured, visible after the delivery", r)
	}
	if !r.RefusedSame || !strings.Contains(r.Refused, "column pid: row ") {
		t.Errorf("refused delivery %q, unchanged %v; want a refusal naming the pid row and nothing changed", r.Refused, r.RefusedSame)
	}
	s := r.Section("deliver")
	if !strings.HasPrefix(s, SectionBegin+"\n") || !strings.HasSuffix(s, SectionEnd+"\n") || !strings.Contains(s, "0 errors ✓") {
		t.Errorf("section:\n%s", s)
	}
}
