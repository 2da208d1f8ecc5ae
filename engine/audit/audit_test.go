package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statgate/statgate/engine/statedb"
)

func openLog(t *testing.T, dir string) (*Log, *sql.DB) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	db, err := statedb.Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("statedb.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	l, err := NewLog(db)
	if err != nil {
		t.Fatal(err)
	}
	return l, db
}

// entry returns a typical released SQL entry numbered i.
func entry(i int) Entry {
	return Entry{
		QueryID:      fmt.Sprintf("q_%d", i),
		Principal:    "ingrid",
		Project:      "diabetes-2026",
		Datasets:     []string{"npr", "population"},
		Kind:         KindSQL,
		Query:        fmt.Sprintf("SELECT sex, count(*) FROM npr JOIN population USING (pid) WHERE %d = %d GROUP BY sex", i, i),
		PlanHash:     strings.Repeat("ab", 32),
		Epsilon:      0.5,
		Delta:        1e-8,
		Outcome:      OutcomeReleased,
		ResultDigest: strings.Repeat("cd", 32),
	}
}

func appendN(t *testing.T, l *Log, n int) []Entry {
	t.Helper()
	out := make([]Entry, n)
	for i := range n {
		e, err := l.Append(context.Background(), entry(i+1))
		if err != nil {
			t.Fatalf("Append %d: %v", i+1, err)
		}
		out[i] = e
	}
	return out
}

func TestNewLogNilDB(t *testing.T) {
	if _, err := NewLog(nil); err == nil {
		t.Error("NewLog(nil) succeeded")
	}
}

func TestAppendBuildsChain(t *testing.T) {
	ctx := context.Background()
	l, _ := openLog(t, "")
	before := time.Now().Add(-time.Second)
	got := appendN(t, l, 3)
	prev := Genesis
	for i, e := range got {
		if e.Seq != int64(i+1) {
			t.Errorf("entry %d: Seq = %d", i, e.Seq)
		}
		if e.PrevHash != prev {
			t.Errorf("entry %d: PrevHash = %s, want %s", i, e.PrevHash, prev)
		}
		if e.Hash != e.ComputeHash() || len(e.Hash) != 64 {
			t.Errorf("entry %d: Hash %q is not its ComputeHash", i, e.Hash)
		}
		if e.Time.Before(before) || e.Time.Location() != time.UTC {
			t.Errorf("entry %d: Time = %v", i, e.Time)
		}
		prev = e.Hash
	}
	tail, err := l.Tail(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tail, got) {
		t.Errorf("Tail = %+v\nwant %+v", tail, got)
	}
	tail, err = l.Tail(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(tail) != 2 || tail[0].Seq != 2 || tail[1].Seq != 3 {
		t.Errorf("Tail(2) seqs = %v, want [2 3]", seqs(tail))
	}
	if tail, _ := l.Tail(ctx, 0); len(tail) != 0 {
		t.Errorf("Tail(0) = %d entries", len(tail))
	}
}

func TestAppendNormalizes(t *testing.T) {
	ctx := context.Background()
	l, _ := openLog(t, "")
	in := Entry{Principal: "p", Kind: KindTemplate, Template: "t", Outcome: OutcomeRefused, Reason: "budget_exhausted",
		Params: json.RawMessage(`{ "atc_prefix" : "A10%" }`)}
	e, err := l.Append(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if string(e.Params) != `{"atc_prefix":"A10%"}` {
		t.Errorf("Params = %s, want compact JSON", e.Params)
	}
	if e.Datasets == nil || len(e.Datasets) != 0 {
		t.Errorf("Datasets = %#v, want empty non-nil", e.Datasets)
	}
	stored, err := l.Tail(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stored[0], e) {
		t.Errorf("stored %+v\nreturned %+v", stored[0], e)
	}
}

func TestAppendRejectsInvalid(t *testing.T) {
	l, db := openLog(t, "")
	tests := []struct {
		desc   string
		modify func(*Entry)
	}{
		{"unknown outcome", func(e *Entry) { e.Outcome = "maybe" }},
		{"no outcome", func(e *Entry) { e.Outcome = "" }},
		{"no kind", func(e *Entry) { e.Kind = "" }},
		{"NaN epsilon", func(e *Entry) { e.Epsilon = math.NaN() }},
		{"negative delta", func(e *Entry) { e.Delta = -1 }},
		{"infinite epsilon", func(e *Entry) { e.Epsilon = math.Inf(1) }},
		{"params not JSON", func(e *Entry) { e.Params = json.RawMessage(`{oops`) }},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			e := entry(1)
			tc.modify(&e)
			if _, err := l.Append(context.Background(), e); !errors.Is(err, ErrInvalidEntry) {
				t.Errorf("Append = %v, want ErrInvalidEntry", err)
			}
		})
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM audit_log`).Scan(&n); err != nil || n != 0 {
		t.Errorf("log has %d entries (%v), want 0", n, err)
	}
}

// TestComputeHashEncoding pins the documented canonical encoding.
func TestComputeHashEncoding(t *testing.T) {
	e := Entry{
		Seq: 12, Time: time.Date(2026, 5, 1, 8, 0, 0, 5, time.UTC), QueryID: "q_1", Principal: "ola",
		Project: "p", Datasets: []string{"npr"}, Kind: "sql", Query: "SELECT 1", Params: nil,
		Epsilon: 0.1, Delta: 1e-8, Outcome: "refused", Reason: "select_star", PrevHash: Genesis,
	}
	canonical := "statgate-audit-v1\n" +
		"2:12\n" + "30:2026-05-01T08:00:00.000000005Z\n" + "3:q_1\n" + "3:ola\n" + "1:p\n" +
		"7:[\"npr\"]\n" + "3:sql\n" + "8:SELECT 1\n" + "0:\n" + "0:\n" + "0:\n" +
		"3:0.1\n" + "5:1e-08\n" + "7:refused\n" + "11:select_star\n" + "0:\n" + "64:" + Genesis + "\n"
	sum := sha256.Sum256([]byte(canonical))
	if got, want := e.ComputeHash(), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("ComputeHash = %s, want %s", got, want)
	}
}

func TestComputeHashCoversEveryField(t *testing.T) {
	base := entry(1)
	base.Seq, base.Time, base.PrevHash = 1, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Genesis
	base.Template, base.Params, base.Reason = "t", json.RawMessage(`{"a":1}`), "r"
	tests := []struct {
		desc   string
		modify func(*Entry)
	}{
		{"seq", func(e *Entry) { e.Seq = 2 }},
		{"time", func(e *Entry) { e.Time = e.Time.Add(time.Nanosecond) }},
		{"query id", func(e *Entry) { e.QueryID = "q_x" }},
		{"principal", func(e *Entry) { e.Principal = "mallory" }},
		{"project", func(e *Entry) { e.Project = "other" }},
		{"datasets", func(e *Entry) { e.Datasets = []string{"npr"} }},
		{"kind", func(e *Entry) { e.Kind = KindCohort }},
		{"query", func(e *Entry) { e.Query += " " }},
		{"template", func(e *Entry) { e.Template = "u" }},
		{"params", func(e *Entry) { e.Params = json.RawMessage(`{"a":2}`) }},
		{"plan hash", func(e *Entry) { e.PlanHash = "00" }},
		{"epsilon", func(e *Entry) { e.Epsilon = math.Nextafter(e.Epsilon, 1) }},
		{"delta", func(e *Entry) { e.Delta = 0 }},
		{"outcome", func(e *Entry) { e.Outcome = OutcomeFailed }},
		{"reason", func(e *Entry) { e.Reason = "" }},
		{"result digest", func(e *Entry) { e.ResultDigest = "" }},
		{"prev hash", func(e *Entry) { e.PrevHash = strings.Repeat("1", 64) }},
		// Moving bytes between adjacent fields must change the hash too.
		{"field boundary", func(e *Entry) { e.Principal, e.Project = e.Principal+e.Project[:1], e.Project[1:] }},
	}
	h := base.ComputeHash()
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			e := base
			e.Datasets = append([]string(nil), base.Datasets...)
			tc.modify(&e)
			if e.ComputeHash() == h {
				t.Errorf("changing %s leaves the hash unchanged", tc.desc)
			}
		})
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	l, _ := openLog(t, "")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := t0
	l.now = func() time.Time { clock = clock.Add(time.Hour); return clock }
	add := func(principal, project, outcome string, datasets ...string) {
		e := entry(0)
		e.Principal, e.Project, e.Outcome, e.Datasets = principal, project, outcome, datasets
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	add("ingrid", "a", OutcomeReleased, "npr")              // 1, 01:00
	add("ola", "a", OutcomeRefused, "lmr", "npr")           // 2, 02:00
	add("ingrid", "b", OutcomeReleased, "lmr")              // 3, 03:00
	add("kari", "a", OutcomeFailed, "cancer", "population") // 4, 04:00
	tests := []struct {
		desc   string
		filter Filter
		want   []int64
	}{
		{"everything", Filter{}, []int64{1, 2, 3, 4}},
		{"principal", Filter{Principal: "ingrid"}, []int64{1, 3}},
		{"project", Filter{Project: "a"}, []int64{1, 2, 4}},
		{"dataset", Filter{Dataset: "npr"}, []int64{1, 2}},
		{"dataset prefix does not match", Filter{Dataset: "np"}, nil},
		{"outcome", Filter{Outcome: OutcomeRefused}, []int64{2}},
		{"since", Filter{Since: t0.Add(3 * time.Hour)}, []int64{3, 4}},
		{"until is exclusive", Filter{Until: t0.Add(2 * time.Hour)}, []int64{1}},
		{"after seq and limit", Filter{AfterSeq: 1, Limit: 2}, []int64{2, 3}},
		{"combined", Filter{Project: "a", Dataset: "npr", Outcome: OutcomeReleased}, []int64{1}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := l.List(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(seqs(got), tc.want) {
				t.Errorf("List = %v, want %v", seqs(got), tc.want)
			}
		})
	}
}

func seqs(es []Entry) []int64 {
	var out []int64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func TestConcurrentAppendsKeepTheChain(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l1, _ := openLog(t, dir)
	l2, _ := openLog(t, dir) // a second handle, as a second process would have
	const goroutines, each = 16, 15
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		l := l1
		if g%2 == 1 {
			l = l2
		}
		wg.Go(func() {
			for i := range each {
				if _, err := l.Append(ctx, entry(g*100+i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Append: %v", err)
	}
	rep, err := l1.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Entries != goroutines*each || rep.HeadSeq != goroutines*each {
		t.Errorf("Verify = %+v, want OK with %d entries", rep, goroutines*each)
	}
}
