package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

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

// memLog is a log held in memory: Tx and Snapshot at once, so that the
// chain's rules are tested apart from any store (engine/state/statetest
// and each backend test the stores).
type memLog struct {
	rows     []Raw // in Seq order
	headSeq  int64
	headHash string
	haveHead bool
}

func (m *memLog) Head(context.Context) (int64, string, bool, error) {
	return m.headSeq, m.headHash, m.haveHead, nil
}

func (m *memLog) Last(context.Context) (int64, string, bool, error) {
	if len(m.rows) == 0 {
		return 0, "", false, nil
	}
	r := m.rows[len(m.rows)-1]
	return r.Seq, r.Hash, true, nil
}

func (m *memLog) Insert(_ context.Context, r Raw) error {
	m.rows = append(m.rows, r)
	return nil
}

func (m *memLog) SetHead(_ context.Context, seq int64, hash string) error {
	m.headSeq, m.headHash, m.haveHead = seq, hash, true
	return nil
}

func (m *memLog) Count(context.Context) (int64, error) { return int64(len(m.rows)), nil }

func (m *memLog) Walk(_ context.Context, fn func(Raw) bool) error {
	for _, r := range m.rows {
		if !fn(r) {
			break
		}
	}
	return nil
}

func (m *memLog) HasHash(_ context.Context, hash string) (bool, error) {
	return slices.ContainsFunc(m.rows, func(r Raw) bool { return r.Hash == hash }), nil
}

// fill appends entry(1) … entry(n) to m.
func (m *memLog) fill(t *testing.T, n int) []Entry {
	t.Helper()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]Entry, n)
	for i := range n {
		e, err := Append(context.Background(), m, entry(i+1), func() time.Time { clock = clock.Add(time.Second); return clock })
		if err != nil {
			t.Fatalf("Append %d: %v", i+1, err)
		}
		out[i] = e
	}
	return out
}

func TestAppendChainsAndRawRoundTrips(t *testing.T) {
	m := &memLog{}
	es := m.fill(t, 3)
	prev := Genesis
	for i, e := range es {
		if e.Seq != int64(i+1) || e.PrevHash != prev || e.Hash != e.ComputeHash() || e.Time.Location() != time.UTC {
			t.Errorf("entry %d = %+v", i+1, e)
		}
		back, err := m.rows[i].Entry()
		if err != nil {
			t.Fatal(err)
		}
		if back.ComputeHash() != e.Hash || !back.Time.Equal(e.Time) || !slices.Equal(back.Datasets, e.Datasets) {
			t.Errorf("Raw.Entry of entry %d = %+v, want %+v", i+1, back, e)
		}
		prev = e.Hash
	}
	if m.headSeq != 3 || m.headHash != es[2].Hash {
		t.Errorf("head = %d %s, want 3 %s", m.headSeq, m.headHash, es[2].Hash)
	}
	if _, err := (Raw{Time: "yesterday", Datasets: "[]"}).Entry(); err == nil {
		t.Error("Raw.Entry of an unreadable time succeeded")
	}
}

func TestAppendRefusesBrokenLog(t *testing.T) {
	tests := []struct {
		desc   string
		tamper func(*memLog)
	}{
		{"tail truncated", func(m *memLog) { m.rows = m.rows[:2] }},
		{"head removed", func(m *memLog) { m.haveHead, m.headSeq, m.headHash = false, 0, "" }},
		{"head rewritten", func(m *memLog) { m.headHash = "x" }},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			m := &memLog{}
			m.fill(t, 3)
			tc.tamper(m)
			n := len(m.rows)
			if _, err := Append(context.Background(), m, entry(4), time.Now); !errors.Is(err, ErrBroken) {
				t.Errorf("Append = %v, want ErrBroken", err)
			}
			if len(m.rows) != n {
				t.Error("Append stored an entry on a broken log")
			}
		})
	}
	if _, err := Append(context.Background(), &memLog{}, Entry{Kind: KindSQL, Outcome: "maybe"}, time.Now); !errors.Is(err, ErrInvalidEntry) {
		t.Errorf("Append(unknown outcome) = %v, want ErrInvalidEntry", err)
	}
}

// TestVerify covers each problem Verify reports on a log in memory; the
// backends' tests tamper with their stored logs the way an attacker would.
func TestVerify(t *testing.T) {
	const n = 6
	tests := []struct {
		desc     string
		tamper   func(m *memLog, es []Entry)
		problem  string // "" for OK
		firstBad int64
	}{
		{"intact", func(*memLog, []Entry) {}, "", 0},
		{"content changed", func(m *memLog, _ []Entry) { m.rows[2].Outcome = OutcomeRefused }, ProblemChanged, 3},
		{"time text changed", func(m *memLog, _ []Entry) { m.rows[1].Time = "yesterday" }, ProblemChanged, 2},
		{"content changed and rehashed", func(m *memLog, es []Entry) {
			e := es[3]
			e.Principal = "mallory"
			e.Hash = e.ComputeHash()
			m.rows[3] = e.Raw()
		}, ProblemChanged, 4},
		{"removed from the middle", func(m *memLog, _ []Entry) { m.rows = slices.Delete(m.rows, 2, 3) }, ProblemRemoved, 3},
		{"tail truncated", func(m *memLog, _ []Entry) { m.rows = m.rows[:4] }, ProblemRemoved, 5},
		{"head record removed", func(m *memLog, _ []Entry) { m.haveHead, m.headSeq, m.headHash = false, 0, "" }, ProblemRemoved, 0},
		{"inserted at the end", func(m *memLog, es []Entry) {
			e := es[n-1]
			e.Seq, e.PrevHash = n+1, es[n-1].Hash
			e.Hash = e.ComputeHash()
			m.rows = append(m.rows, e.Raw())
		}, ProblemInserted, n + 1},
		{"two entries swapped", func(m *memLog, _ []Entry) {
			m.rows[1], m.rows[2] = m.rows[2], m.rows[1]
			m.rows[1].Seq, m.rows[2].Seq = 2, 3
		}, ProblemReordered, 2},
		{"head hash changed", func(m *memLog, _ []Entry) { m.headHash = strings.Repeat("f", 64) }, ProblemChanged, n},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			m := &memLog{}
			tc.tamper(m, m.fill(t, n))
			rep, err := Verify(context.Background(), m)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK != (tc.problem == "") || rep.Problem != tc.problem || rep.FirstBad != tc.firstBad {
				t.Errorf("Verify = OK %v problem %q at %d (%s), want problem %q at %d",
					rep.OK, rep.Problem, rep.FirstBad, rep.Detail, tc.problem, tc.firstBad)
			}
		})
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

func TestWriteEntries(t *testing.T) {
	e := Entry{Seq: 7, Time: time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC), Principal: "ingrid", Project: "p",
		Datasets: []string{"lmr", "npr"}, Kind: KindSQL,
		Query:   "SELECT   year(dispensed_date) AS year,\n count(DISTINCT pid) FROM lmr WHERE atc LIKE 'A10%' GROUP BY 1",
		Epsilon: 0.5, Delta: 1e-8, Outcome: OutcomeRefused, Reason: "budget_exhausted", Hash: "0123456789abcdef0123"}
	tmpl := Entry{Seq: 8, Time: e.Time, Principal: "ola", Project: "p", Datasets: []string{"lmr"}, Kind: KindTemplate,
		Template: "by_atc", Params: []byte(`{"atc":"A10%"}`), Epsilon: 1, Outcome: OutcomeReleased, Hash: "fedcba9876543210"}
	var buf bytes.Buffer
	if err := WriteEntries(&buf, []Entry{e, tmpl}); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"SEQ  TIME                  PRINCIPAL  PROJECT  KIND      OUTCOME                     ε    δ      DATASETS  REQUEST                                                       HASH\n" +
		"7    2026-02-03 04:05:06Z  ingrid     p        sql       refused (budget_exhausted)  0.5  1e-08  lmr,npr   SELECT year(dispensed_date) AS year, count(DISTINCT pid) FR…  0123456789ab\n" +
		"8    2026-02-03 04:05:06Z  ola        p        template  released                    1    0      lmr       by_atc {\"atc\":\"A10%\"}                                         fedcba987654\n"
	if buf.String() != want {
		t.Errorf("WriteEntries:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestWriteReport(t *testing.T) {
	tests := []struct {
		desc string
		rep  Report
		want []string
	}{
		{"ok", Report{OK: true, Entries: 12, HeadSeq: 12, HeadHash: "abc"},
			[]string{"audit log OK: 12 entries", "head: seq 12 hash abc", "entry 12 still has this hash"}},
		{"tampered", Report{Entries: 11, Problem: ProblemRemoved, FirstBad: 5, Detail: "entries 5 to 5 are missing", HeadSeq: 12, HeadHash: "abc"},
			[]string{"TAMPERED (removed at entry 5): entries 5 to 5 are missing", "11 entries", "head: seq 12 hash abc"}},
		{"empty", Report{OK: true}, []string{"audit log OK: 0 entries"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteReport(&buf, tc.rep); err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.want {
				if !strings.Contains(buf.String(), s) {
					t.Errorf("report %q lacks %q", buf.String(), s)
				}
			}
		})
	}
}
