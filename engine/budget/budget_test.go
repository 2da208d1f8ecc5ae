package budget

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/statgate/statgate/engine/refusal"
	"github.com/statgate/statgate/engine/statedb"
	"github.com/statgate/statgate/policies"
)

// budgets is a Limits backed by a mutable map, so tests can lower a budget.
type budgets struct {
	mu sync.Mutex
	m  map[string]policies.Budget // "project/dataset"
}

func newBudgets(entries map[string]policies.Budget) *budgets {
	return &budgets{m: entries}
}

func (b *budgets) set(key string, v policies.Budget) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[key] = v
}

func (b *budgets) limits(project, dataset string) (policies.Budget, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[project+"/"+dataset]
	return v, ok
}

// openState opens a state store in dir (a fresh temp dir when "").
func openState(t *testing.T, dir string) *sql.DB {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	db, err := statedb.Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("statedb.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newLedger(t *testing.T, db *sql.DB, b *budgets) *SQLLedger {
	t.Helper()
	l, err := NewSQLLedger(db, b.limits)
	if err != nil {
		t.Fatalf("NewSQLLedger: %v", err)
	}
	return l
}

func remaining(t *testing.T, l Ledger, project, dataset string) Balance {
	t.Helper()
	b, err := l.Remaining(context.Background(), project, dataset)
	if err != nil {
		t.Fatalf("Remaining(%s, %s): %v", project, dataset, err)
	}
	return b
}

// spentUnits reads the exact integer ε and δ spent.
func spentUnits(t *testing.T, db *sql.DB, project, dataset string) (eps, del int64) {
	t.Helper()
	eps, del, err := spent(context.Background(), db, project, dataset)
	if err != nil {
		t.Fatal(err)
	}
	return eps, del
}

func TestUnits(t *testing.T) {
	tests := []struct {
		desc      string
		x, scale  float64
		cost, lim int64
	}{
		{"hundredth of ε", 0.01, epsilonScale, 10_000_000, 10_000_000},
		{"tenth of ε", 0.1, epsilonScale, 100_000_000, 100_000_000},
		{"ε budget of 10", 10, epsilonScale, 10_000_000_000, 10_000_000_000},
		{"third of ε rounds cost up, limit down", 1.0 / 3, epsilonScale, 333_333_334, 333_333_333},
		{"ε below one unit costs one unit", 1e-12, epsilonScale, 1, 0},
		{"δ 1e-6", 1e-6, deltaScale, 1_000_000_000, 1_000_000_000},
		{"δ 1e-8", 1e-8, deltaScale, 10_000_000, 10_000_000},
		{"zero δ", 0, deltaScale, 0, 0},
		{"large ε", 123456.789, epsilonScale, 123_456_789_000_000, 123_456_789_000_000},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if got := costUnits(tc.x, tc.scale); got != tc.cost {
				t.Errorf("costUnits(%v) = %d, want %d", tc.x, got, tc.cost)
			}
			if got := limitUnits(tc.x, tc.scale); got != tc.lim {
				t.Errorf("limitUnits(%v) = %d, want %d", tc.x, got, tc.lim)
			}
		})
	}
}

func TestNewSQLLedgerArgs(t *testing.T) {
	db := openState(t, "")
	if _, err := NewSQLLedger(nil, newBudgets(nil).limits); err == nil {
		t.Error("NewSQLLedger(nil db) succeeded")
	}
	if _, err := NewSQLLedger(db, nil); err == nil {
		t.Error("NewSQLLedger(nil limits) succeeded")
	}
}

func TestDebitRejectsInvalidSpend(t *testing.T) {
	db := openState(t, "")
	l := newLedger(t, db, newBudgets(map[string]policies.Budget{"p/a": {Epsilon: 10, Delta: 1e-6}}))
	ok := Spend{QueryID: "q", Project: "p", Principal: "ingrid", Datasets: []string{"a"}, Epsilon: 1}
	tests := []struct {
		desc   string
		modify func(*Spend)
	}{
		{"NaN ε", func(s *Spend) { s.Epsilon = math.NaN() }},
		{"infinite ε", func(s *Spend) { s.Epsilon = math.Inf(1) }},
		{"negative ε", func(s *Spend) { s.Epsilon = -0.5 }},
		{"zero ε", func(s *Spend) { s.Epsilon = 0 }},
		{"absurd ε", func(s *Spend) { s.Epsilon = 1e12 }},
		{"NaN δ", func(s *Spend) { s.Delta = math.NaN() }},
		{"negative δ", func(s *Spend) { s.Delta = -1e-9 }},
		{"δ above 1", func(s *Spend) { s.Delta = 2 }},
		{"no project", func(s *Spend) { s.Project = "" }},
		{"no datasets", func(s *Spend) { s.Datasets = nil }},
		{"empty dataset name", func(s *Spend) { s.Datasets = []string{"a", ""} }},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			s := ok
			tc.modify(&s)
			err := l.Debit(context.Background(), s)
			if !errors.Is(err, ErrInvalidSpend) {
				t.Fatalf("Debit = %v, want ErrInvalidSpend", err)
			}
			if _, isRefusal := refusal.As(err); isRefusal {
				t.Errorf("invalid spend reported as a refusal: %v", err)
			}
		})
	}
	if eps, del := spentUnits(t, db, "p", "a"); eps != 0 || del != 0 {
		t.Errorf("invalid spends spent ε %d δ %d units, want 0", eps, del)
	}
	if err := l.Debit(context.Background(), ok); err != nil {
		t.Errorf("valid spend: %v", err)
	}
}

func TestDebitRefusals(t *testing.T) {
	ctx := context.Background()
	db := openState(t, "")
	l := newLedger(t, db, newBudgets(map[string]policies.Budget{
		"p/a":    {Epsilon: 1, Delta: 1e-6},
		"p/b":    {Epsilon: 1, Delta: 1e-6},
		"pure/a": {Epsilon: 1},
	}))
	tests := []struct {
		desc     string
		spend    Spend
		kind     refusal.Kind
		code     string
		inMsg    []string
		notInMsg []string
	}{
		{
			desc:  "ε above the budget",
			spend: Spend{Project: "p", Datasets: []string{"a"}, Epsilon: 1.5},
			kind:  refusal.KindBudget, code: CodeExhausted,
			inMsg: []string{`project "p"`, "a has ε 1 and δ 1e-06 left"},
		},
		{
			desc:  "δ above the budget",
			spend: Spend{Project: "p", Datasets: []string{"a"}, Epsilon: 0.1, Delta: 1e-5},
			kind:  refusal.KindBudget, code: CodeExhausted,
			inMsg: []string{"δ 1e-05", "a has ε 1 and δ 1e-06 left"},
		},
		{
			desc:  "δ on a pure-ε budget",
			spend: Spend{Project: "pure", Datasets: []string{"a"}, Epsilon: 0.1, Delta: 1e-9},
			kind:  refusal.KindBudget, code: CodeExhausted,
			inMsg: []string{"a has ε 1 and δ 0 left"},
		},
		{
			desc:  "dataset outside the project",
			spend: Spend{Project: "pure", Datasets: []string{"a", "b"}, Epsilon: 0.1},
			kind:  refusal.KindForbidden, code: CodeNoBudget,
			inMsg: []string{`"pure"`, `"b"`},
		},
		{
			desc:  "unknown project",
			spend: Spend{Project: "nope", Datasets: []string{"a"}, Epsilon: 0.1},
			kind:  refusal.KindForbidden, code: CodeNoBudget,
			inMsg: []string{`"nope"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			err := l.Debit(ctx, tc.spend)
			r, ok := refusal.As(err)
			if !ok {
				t.Fatalf("Debit = %v, want a refusal", err)
			}
			if r.Kind != tc.kind || r.Code != tc.code {
				t.Errorf("refusal kind %d code %q, want %d %q", r.Kind, r.Code, tc.kind, tc.code)
			}
			for _, s := range tc.inMsg {
				if !strings.Contains(r.Message, s) {
					t.Errorf("message %q does not contain %q", r.Message, s)
				}
			}
		})
	}
	for _, key := range [][2]string{{"p", "a"}, {"p", "b"}, {"pure", "a"}} {
		if eps, del := spentUnits(t, db, key[0], key[1]); eps != 0 || del != 0 {
			t.Errorf("%s × %s: refused debits spent ε %d δ %d units", key[0], key[1], eps, del)
		}
	}
	if _, err := l.Remaining(ctx, "nope", "a"); refusal.CodeOf(err) != CodeNotFound {
		t.Errorf("Remaining(unknown) = %v, want %s", err, CodeNotFound)
	}
}

func TestDebitAllOrNothing(t *testing.T) {
	ctx := context.Background()
	db := openState(t, "")
	b := newBudgets(map[string]policies.Budget{
		"p/a": {Epsilon: 1},
		"p/b": {Epsilon: 1},
		"p/c": {Epsilon: 1},
	})
	l := newLedger(t, db, b)
	// Spend most of b only.
	if err := l.Debit(ctx, Spend{Project: "p", Datasets: []string{"b"}, Epsilon: 0.8}); err != nil {
		t.Fatal(err)
	}
	err := l.Debit(ctx, Spend{Project: "p", Datasets: []string{"a", "b", "c"}, Epsilon: 0.5})
	if refusal.CodeOf(err) != CodeExhausted {
		t.Fatalf("Debit = %v, want %s", err, CodeExhausted)
	}
	r, _ := refusal.As(err)
	if !strings.Contains(r.Message, "b has ε 0.2") || strings.Contains(r.Message, "a has") || strings.Contains(r.Message, "c has") {
		t.Errorf("message %q should name b (0.2 left) and only b", r.Message)
	}
	want := map[string]float64{"a": 0, "b": 0.8, "c": 0}
	for d, w := range want {
		if got := remaining(t, l, "p", d).SpentEpsilon; got != w {
			t.Errorf("spent on %s = %v, want %v", d, got, w)
		}
	}
	// A spend all three can cover is taken from each.
	if err := l.Debit(ctx, Spend{Project: "p", Datasets: []string{"c", "a", "b", "a"}, Epsilon: 0.2}); err != nil {
		t.Fatal(err)
	}
	want = map[string]float64{"a": 0.2, "b": 1, "c": 0.2}
	for d, w := range want {
		if got := remaining(t, l, "p", d).SpentEpsilon; got != w {
			t.Errorf("spent on %s = %v, want %v", d, got, w)
		}
	}
	h, err := l.History(ctx, "p", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 4 {
		t.Errorf("history has %d entries, want 4 (one, then three with the duplicate paid once)", len(h))
	}
}

func TestLoweredBudgetShowsZeroRemaining(t *testing.T) {
	ctx := context.Background()
	db := openState(t, "")
	b := newBudgets(map[string]policies.Budget{"p/a": {Epsilon: 10, Delta: 1e-6}})
	l := newLedger(t, db, b)
	if err := l.Debit(ctx, Spend{Project: "p", Datasets: []string{"a"}, Epsilon: 5, Delta: 5e-7}); err != nil {
		t.Fatal(err)
	}
	b.set("p/a", policies.Budget{Epsilon: 3, Delta: 1e-7})
	got := remaining(t, l, "p", "a")
	want := Balance{Project: "p", Dataset: "a",
		TotalEpsilon: 3, SpentEpsilon: 5, RemainingEpsilon: 0,
		TotalDelta: 1e-7, SpentDelta: 5e-7, RemainingDelta: 0}
	if got != want {
		t.Errorf("Remaining = %+v, want %+v", got, want)
	}
	if err := l.Debit(ctx, Spend{Project: "p", Datasets: []string{"a"}, Epsilon: 0.001}); refusal.CodeOf(err) != CodeExhausted {
		t.Errorf("Debit over a lowered budget = %v, want %s", err, CodeExhausted)
	}
	// Raising it again makes the difference available.
	b.set("p/a", policies.Budget{Epsilon: 6, Delta: 1e-6})
	if got := remaining(t, l, "p", "a"); got.RemainingEpsilon != 1 || got.RemainingDelta != 5e-7 {
		t.Errorf("after raising: remaining ε %v δ %v, want 1 and 5e-07", got.RemainingEpsilon, got.RemainingDelta)
	}
}

func TestHistory(t *testing.T) {
	ctx := context.Background()
	db := openState(t, "")
	l := newLedger(t, db, newBudgets(map[string]policies.Budget{
		"p/a": {Epsilon: 10}, "p/b": {Epsilon: 10}, "other/a": {Epsilon: 10},
	}))
	spends := []Spend{
		{QueryID: "q1", Project: "p", Principal: "ingrid", Datasets: []string{"a"}, Epsilon: 0.5},
		{QueryID: "q2", Project: "other", Principal: "ola", Datasets: []string{"a"}, Epsilon: 1},
		{QueryID: "q3", Project: "p", Principal: "kari", Datasets: []string{"b"}, Epsilon: 0.25},
	}
	for _, s := range spends {
		if err := l.Debit(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		desc    string
		project string
		limit   int
		want    []string // query ids, newest first
	}{
		{"all of p", "p", 0, []string{"q3", "q1"}},
		{"limited", "p", 1, []string{"q3"}},
		{"other project", "other", 10, []string{"q2"}},
		{"no debits", "none", 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			h, err := l.History(ctx, tc.project, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range h {
				got = append(got, e.QueryID)
				if e.Project != tc.project || e.Time.IsZero() || e.ID == 0 {
					t.Errorf("entry %+v: wrong project or missing time/id", e)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("History = %v, want %v", got, tc.want)
			}
		})
	}
	h, _ := l.History(ctx, "p", 1)
	if e := h[0]; e.Principal != "kari" || e.Dataset != "b" || e.Epsilon != 0.25 || e.Delta != 0 {
		t.Errorf("newest entry = %+v", e)
	}
}

// raceDebits runs n debits of ε 0.01 on p × a from g goroutines spread over
// ledgers, and returns how many succeeded. Any error but budget_exhausted
// fails the test.
func raceDebits(t *testing.T, ledgers []*SQLLedger, g, n int) int64 {
	t.Helper()
	var (
		next, ok atomic.Int64
		wg       sync.WaitGroup
	)
	errs := make(chan error, g)
	for i := range g {
		l := ledgers[i%len(ledgers)]
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				err := l.Debit(context.Background(), Spend{QueryID: "q", Project: "p", Principal: "x", Datasets: []string{"a"}, Epsilon: 0.01})
				switch {
				case err == nil:
					ok.Add(1)
				case refusal.CodeOf(err) == CodeExhausted:
				default:
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Debit: %v", err)
	}
	return ok.Load()
}

func TestConcurrentDebitsSpendExactlyTheBudget(t *testing.T) {
	tests := []struct {
		desc    string
		handles int // *sql.DB handles on one file: separate "processes"
	}{
		{"one handle, 64 goroutines", 1},
		{"two handles on one file", 2},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			dir := t.TempDir()
			b := newBudgets(map[string]policies.Budget{"p/a": {Epsilon: 10}})
			var ledgers []*SQLLedger
			for range tc.handles {
				ledgers = append(ledgers, newLedger(t, openState(t, dir), b))
			}
			if got := raceDebits(t, ledgers, 64, 5000); got != 1000 {
				t.Errorf("%d debits succeeded, want exactly 1000", got)
			}
			db := ledgers[0].db
			if eps, _ := spentUnits(t, db, "p", "a"); eps != 10*epsilonScale {
				t.Errorf("spent %d units, want exactly %d", eps, int64(10*epsilonScale))
			}
			var entries int
			if err := db.QueryRow(`SELECT count(*) FROM budget_entries`).Scan(&entries); err != nil {
				t.Fatal(err)
			}
			if entries != 1000 {
				t.Errorf("%d ledger entries, want 1000", entries)
			}
			bal := remaining(t, ledgers[0], "p", "a")
			if bal.SpentEpsilon != 10 || bal.RemainingEpsilon != 0 {
				t.Errorf("balance spent %v remaining %v, want 10 and 0", bal.SpentEpsilon, bal.RemainingEpsilon)
			}
		})
	}
}
