package audit

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/statgate/statgate/engine/statedb"
)

// exec runs raw SQL statements as an attacker with write access would,
// after dropping the append-only triggers.
func exec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	stmts = append([]string{
		`DROP TRIGGER IF EXISTS audit_log_no_update`,
		`DROP TRIGGER IF EXISTS audit_log_no_delete`,
	}, stmts...)
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// insertRaw stores e as it is, as a forger would.
func insertRaw(t *testing.T, db *sql.DB, e Entry) {
	t.Helper()
	if _, err := db.Exec(`INSERT INTO audit_log (`+columns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, statedb.FormatTime(e.Time), e.QueryID, e.Principal, e.Project, datasetsJSON(e.Datasets),
		e.Kind, e.Query, e.Template, string(e.Params), e.PlanHash, e.Epsilon, e.Delta,
		e.Outcome, e.Reason, e.ResultDigest, e.PrevHash, e.Hash); err != nil {
		t.Fatalf("insert forged entry: %v", err)
	}
}

// forge returns a well-formed entry at seq linking to prev.
func forge(seq int64, prev string) Entry {
	e := entry(999)
	e.Seq, e.Time, e.PrevHash = seq, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), prev
	e.Principal = "mallory"
	e.Hash = e.ComputeHash()
	return e
}

func TestVerifyDetectsTampering(t *testing.T) {
	const n = 10
	tests := []struct {
		desc     string
		tamper   func(t *testing.T, db *sql.DB, es []Entry)
		problem  string // "" for OK
		firstBad int64
	}{
		{"intact", func(*testing.T, *sql.DB, []Entry) {}, "", 0},
		{"content changed", func(t *testing.T, db *sql.DB, _ []Entry) {
			exec(t, db, `UPDATE audit_log SET outcome = 'refused' WHERE seq = 5`)
		}, ProblemChanged, 5},
		{"epsilon changed", func(t *testing.T, db *sql.DB, _ []Entry) {
			exec(t, db, `UPDATE audit_log SET epsilon = 0.05 WHERE seq = 3`)
		}, ProblemChanged, 3},
		{"time changed to garbage", func(t *testing.T, db *sql.DB, _ []Entry) {
			exec(t, db, `UPDATE audit_log SET time = 'yesterday' WHERE seq = 7`)
		}, ProblemChanged, 7},
		{"first entry changed", func(t *testing.T, db *sql.DB, _ []Entry) {
			exec(t, db, `UPDATE audit_log SET principal = 'mallory' WHERE seq = 1`)
		}, ProblemChanged, 1},
		{"content changed and rehashed", func(t *testing.T, db *sql.DB, es []Entry) {
			e := es[4]
			e.Principal = "mallory"
			exec(t, db, `DELETE FROM audit_log WHERE seq = 5`)
			e.Hash = e.ComputeHash()
			insertRaw(t, db, e)
		}, ProblemChanged, 5},
		{"last entry changed and rehashed", func(t *testing.T, db *sql.DB, es []Entry) {
			e := es[n-1]
			e.Outcome = OutcomeRefused
			exec(t, db, `DELETE FROM audit_log WHERE seq = 10`)
			e.Hash = e.ComputeHash()
			insertRaw(t, db, e)
		}, ProblemChanged, 10},
		{"removed from the middle", func(t *testing.T, db *sql.DB, _ []Entry) {
			exec(t, db, `DELETE FROM audit_log WHERE seq = 5`)
		}, ProblemRemoved, 5},
		{"removed and the rest renumbered", func(t *testing.T, db *sql.DB, _ []Entry) {
			exec(t, db, `DELETE FROM audit_log WHERE seq = 5`,
				`UPDATE audit_log SET seq = seq - 1 WHERE seq > 5`,
				`UPDATE audit_head SET seq = seq - 1`)
		}, ProblemRemoved, 5},
		{"tail truncated", func(t *testing.T, db *sql.DB, _ []Entry) {
			exec(t, db, `DELETE FROM audit_log WHERE seq > 7`)
		}, ProblemRemoved, 8},
		{"head record removed", func(t *testing.T, db *sql.DB, _ []Entry) {
			exec(t, db, `DELETE FROM audit_head`)
		}, ProblemRemoved, 0},
		{"inserted in the middle", func(t *testing.T, db *sql.DB, es []Entry) {
			exec(t, db, `UPDATE audit_log SET seq = seq + 100 WHERE seq >= 5`,
				`UPDATE audit_log SET seq = seq - 99 WHERE seq >= 105`,
				`UPDATE audit_head SET seq = seq + 1`)
			insertRaw(t, db, forge(5, es[3].Hash))
		}, ProblemInserted, 5},
		{"inserted at the end", func(t *testing.T, db *sql.DB, es []Entry) {
			insertRaw(t, db, forge(n+1, es[n-1].Hash))
		}, ProblemInserted, n + 1},
		{"inserted at the end with the head moved", func(t *testing.T, db *sql.DB, es []Entry) {
			f := forge(n+1, es[n-1].Hash)
			insertRaw(t, db, f)
			exec(t, db, `UPDATE audit_head SET seq = 11, hash = '`+f.Hash+`'`)
		}, "", 0}, // indistinguishable from an Append: what external anchoring is for
		{"two entries swapped", func(t *testing.T, db *sql.DB, _ []Entry) {
			exec(t, db, `UPDATE audit_log SET seq = -1 WHERE seq = 5`,
				`UPDATE audit_log SET seq = 5 WHERE seq = 6`,
				`UPDATE audit_log SET seq = 6 WHERE seq = -1`)
		}, ProblemReordered, 5},
		{"distant entries swapped", func(t *testing.T, db *sql.DB, _ []Entry) {
			exec(t, db, `UPDATE audit_log SET seq = -1 WHERE seq = 2`,
				`UPDATE audit_log SET seq = 2 WHERE seq = 9`,
				`UPDATE audit_log SET seq = 9 WHERE seq = -1`)
		}, ProblemReordered, 2},
		{"head hash changed", func(t *testing.T, db *sql.DB, _ []Entry) {
			exec(t, db, `UPDATE audit_head SET hash = '`+strings.Repeat("f", 64)+`'`)
		}, ProblemChanged, n},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			ctx := context.Background()
			l, db := openLog(t, "")
			es := appendN(t, l, n)
			tc.tamper(t, db, es)
			rep, err := l.Verify(ctx)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if rep.OK != (tc.problem == "") || rep.Problem != tc.problem || rep.FirstBad != tc.firstBad {
				t.Errorf("Verify = OK %v problem %q at %d (%s), want problem %q at %d",
					rep.OK, rep.Problem, rep.FirstBad, rep.Detail, tc.problem, tc.firstBad)
			}
			if !rep.OK && rep.Detail == "" {
				t.Error("a problem without a detail")
			}
		})
	}
}

func TestVerifyEmptyLog(t *testing.T) {
	l, _ := openLog(t, "")
	rep, err := l.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Entries != 0 || rep.HeadSeq != 0 {
		t.Errorf("Verify(empty) = %+v", rep)
	}
}

func TestTriggersBlockAccidentalEdits(t *testing.T) {
	l, db := openLog(t, "")
	appendN(t, l, 2)
	for _, stmt := range []string{
		`UPDATE audit_log SET principal = 'x' WHERE seq = 1`,
		`DELETE FROM audit_log WHERE seq = 2`,
	} {
		if _, err := db.Exec(stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only trigger", stmt, err)
		}
	}
}

func TestAppendRefusesBrokenLog(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		desc   string
		tamper []string
	}{
		{"tail truncated", []string{`DELETE FROM audit_log WHERE seq = 3`}},
		{"head removed", []string{`DELETE FROM audit_head`}},
		{"head rewritten", []string{`UPDATE audit_head SET hash = 'x'`}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			l, db := openLog(t, "")
			appendN(t, l, 3)
			exec(t, db, tc.tamper...)
			if _, err := l.Append(ctx, entry(4)); !errors.Is(err, ErrBroken) {
				t.Errorf("Append = %v, want ErrBroken", err)
			}
		})
	}
}

func TestCheckAnchor(t *testing.T) {
	ctx := context.Background()
	l, db := openLog(t, "")
	es := appendN(t, l, 3)
	rep, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.HeadSeq != 3 || rep.HeadHash != es[2].Hash {
		t.Fatalf("head = %d %s, want 3 %s", rep.HeadSeq, rep.HeadHash, es[2].Hash)
	}
	appendN(t, l, 2) // later appends keep an old anchor valid
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
	// A consistent rewrite of the whole log passes Verify but not the anchor.
	exec(t, db, `DELETE FROM audit_log`, `DELETE FROM audit_head`)
	l2, _ := NewLog(db)
	for i := range 5 {
		e := entry(i + 1)
		e.Principal = "mallory"
		if _, err := l2.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if rep, _ := l.Verify(ctx); !rep.OK {
		t.Fatalf("consistent rewrite: Verify = %+v, want OK", rep)
	}
	if ok, _ := l.CheckAnchor(ctx, 3, es[2].Hash); ok {
		t.Error("CheckAnchor accepted a rewritten log")
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
