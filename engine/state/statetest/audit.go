package statetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/state"
)

// TestAuditLog tests a backend's state.AuditLog: the chain Append builds,
// what it stores, List's filters, appends from two handles, Verify and
// CheckAnchor. Tampering with the stored log is backend-specific and
// tested by each backend.
func TestAuditLog(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"AppendBuildsChain", auditAppendBuildsChain},
		{"AppendNormalizes", auditAppendNormalizes},
		{"AppendRejectsInvalid", auditAppendRejectsInvalid},
		{"List", auditList},
		{"ConcurrentAppendsKeepTheChain", auditConcurrent},
		{"VerifyEmptyLog", auditVerifyEmpty},
		{"CheckAnchor", auditCheckAnchor},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}

// Entry returns a typical released SQL entry numbered i, as the engine
// would append it.
func Entry(i int) audit.Entry {
	return audit.Entry{
		QueryID:      fmt.Sprintf("q_%d", i),
		Principal:    "ingrid",
		Project:      "diabetes-2026",
		Datasets:     []string{"npr", "population"},
		Kind:         audit.KindSQL,
		Query:        fmt.Sprintf("SELECT sex, count(*) FROM npr JOIN population USING (pid) WHERE %d = %d GROUP BY sex", i, i),
		PlanHash:     strings.Repeat("ab", 32),
		Epsilon:      0.5,
		Delta:        1e-8,
		Outcome:      audit.OutcomeReleased,
		ResultDigest: strings.Repeat("cd", 32),
	}
}

// AppendN appends Entry(1) … Entry(n) to l and returns the stored entries.
func AppendN(t *testing.T, l state.AuditLog, n int) []audit.Entry {
	t.Helper()
	out := make([]audit.Entry, n)
	for i := range n {
		e, err := l.Append(context.Background(), Entry(i+1))
		if err != nil {
			t.Fatalf("Append %d: %v", i+1, err)
		}
		out[i] = e
	}
	return out
}

func seqs(es []audit.Entry) []int64 {
	var out []int64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func auditAppendBuildsChain(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	l := s.Audit()
	before := time.Now().Add(-time.Second)
	got := AppendN(t, l, 3)
	prev := audit.Genesis
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

func auditAppendNormalizes(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	l := s.Audit()
	in := audit.Entry{Principal: "p", Kind: audit.KindTemplate, Template: "t", Outcome: audit.OutcomeRefused, Reason: "budget_exhausted",
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

func auditAppendRejectsInvalid(t *testing.T, b Backend) {
	s, _ := open(t, b)
	l := s.Audit()
	tests := []struct {
		desc   string
		modify func(*audit.Entry)
	}{
		{"unknown outcome", func(e *audit.Entry) { e.Outcome = "maybe" }},
		{"no outcome", func(e *audit.Entry) { e.Outcome = "" }},
		{"no kind", func(e *audit.Entry) { e.Kind = "" }},
		{"NaN epsilon", func(e *audit.Entry) { e.Epsilon = math.NaN() }},
		{"negative delta", func(e *audit.Entry) { e.Delta = -1 }},
		{"infinite epsilon", func(e *audit.Entry) { e.Epsilon = math.Inf(1) }},
		{"params not JSON", func(e *audit.Entry) { e.Params = json.RawMessage(`{oops`) }},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			e := Entry(1)
			tc.modify(&e)
			if _, err := l.Append(context.Background(), e); !errors.Is(err, audit.ErrInvalidEntry) {
				t.Errorf("Append = %v, want ErrInvalidEntry", err)
			}
		})
	}
	rep, err := l.Verify(context.Background())
	if err != nil || !rep.OK || rep.Entries != 0 {
		t.Errorf("after invalid appends: Verify = %+v, %v; want an empty, intact log", rep, err)
	}
}

func auditList(t *testing.T, b Backend) {
	ctx := context.Background()
	clk := newClock()
	t0 := clk.Now()
	s, _ := b(t, func() time.Time { return clk.Advance(time.Hour) })
	l := s.Audit()
	add := func(principal, project, outcome string, datasets ...string) {
		e := Entry(0)
		e.Principal, e.Project, e.Outcome, e.Datasets = principal, project, outcome, datasets
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	add("ingrid", "a", audit.OutcomeReleased, "npr")              // 1, t0+1h
	add("ola", "a", audit.OutcomeRefused, "lmr", "npr")           // 2, t0+2h
	add("ingrid", "b", audit.OutcomeReleased, "lmr")              // 3, t0+3h
	add("kari", "a", audit.OutcomeFailed, "cancer", "population") // 4, t0+4h
	tests := []struct {
		desc   string
		filter audit.Filter
		want   []int64
	}{
		{"everything", audit.Filter{}, []int64{1, 2, 3, 4}},
		{"principal", audit.Filter{Principal: "ingrid"}, []int64{1, 3}},
		{"project", audit.Filter{Project: "a"}, []int64{1, 2, 4}},
		{"dataset", audit.Filter{Dataset: "npr"}, []int64{1, 2}},
		{"dataset prefix does not match", audit.Filter{Dataset: "np"}, nil},
		{"outcome", audit.Filter{Outcome: audit.OutcomeRefused}, []int64{2}},
		{"since", audit.Filter{Since: t0.Add(3 * time.Hour)}, []int64{3, 4}},
		{"until is exclusive", audit.Filter{Until: t0.Add(2 * time.Hour)}, []int64{1}},
		{"after seq and limit", audit.Filter{AfterSeq: 1, Limit: 2}, []int64{2, 3}},
		{"any of projects", audit.Filter{Projects: []string{"a", "zzz"}}, []int64{1, 2, 4}},
		{"newest of a project", audit.Filter{Project: "a", Limit: 2, Newest: true}, []int64{2, 4}},
		{"combined", audit.Filter{Project: "a", Dataset: "npr", Outcome: audit.OutcomeReleased}, []int64{1}},
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

func auditConcurrent(t *testing.T, b Backend) {
	ctx := context.Background()
	s, reopen := open(t, b)
	l1, l2 := s.Audit(), reopen(t).Audit() // a second handle, as a second process would have
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
				if _, err := l.Append(ctx, Entry(g*100+i)); err != nil {
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

func auditVerifyEmpty(t *testing.T, b Backend) {
	s, _ := open(t, b)
	rep, err := s.Audit().Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Entries != 0 || rep.HeadSeq != 0 {
		t.Errorf("Verify(empty) = %+v", rep)
	}
}

func auditCheckAnchor(t *testing.T, b Backend) {
	ctx := context.Background()
	s, reopen := open(t, b)
	l := s.Audit()
	es := AppendN(t, l, 3)
	rep, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Entries != 3 || rep.HeadSeq != 3 || rep.HeadHash != es[2].Hash {
		t.Fatalf("Verify = %+v, want OK with head 3 %s", rep, es[2].Hash)
	}
	AppendN(t, reopen(t).Audit(), 2) // later appends, from another handle, keep an old anchor valid
	tests := []struct {
		desc string
		seq  int64
		hash string
		want bool
	}{
		{"recorded head", 3, es[2].Hash, true},
		{"wrong hash", 3, es[1].Hash, false},
		{"missing entry", 99, es[2].Hash, false},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := l.CheckAnchor(ctx, tc.seq, tc.hash)
			if err != nil || got != tc.want {
				t.Errorf("CheckAnchor = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if rep, err := l.Verify(ctx); err != nil || !rep.OK || rep.Entries != 5 || rep.HeadSeq != 5 {
		t.Errorf("Verify after appends from two handles = %+v, %v", rep, err)
	}
}
