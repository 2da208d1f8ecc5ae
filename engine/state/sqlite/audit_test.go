package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/state/statetest"
)

// openLog opens a fresh store and returns its audit log and database.
func openLog(t *testing.T) (*auditLog, *sql.DB) {
	t.Helper()
	s := openStore(t, t.TempDir(), nil)
	return s.audit, s.db
}

// rawExec runs raw SQL statements as an attacker with write access would,
// after dropping the append-only triggers.
func rawExec(t *testing.T, db *sql.DB, stmts ...string) {
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
func insertRaw(t *testing.T, db *sql.DB, e audit.Entry) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := (auditTx{&wtx{Tx: tx}}).Insert(context.Background(), e.Raw()); err != nil {
		t.Fatalf("insert forged entry: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// forge returns a well-formed entry at seq linking to prev.
func forge(seq int64, prev string) audit.Entry {
	e := statetest.Entry(999)
	e.Seq, e.Time, e.PrevHash = seq, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), prev
	e.Principal = "mallory"
	e.Hash = e.ComputeHash()
	return e
}

func TestVerifyDetectsTampering(t *testing.T) {
	const n = 10
	tests := []struct {
		desc     string
		tamper   func(t *testing.T, db *sql.DB, es []audit.Entry)
		problem  string // "" for OK
		firstBad int64
	}{
		{"intact", func(*testing.T, *sql.DB, []audit.Entry) {}, "", 0},
		{"content changed", func(t *testing.T, db *sql.DB, _ []audit.Entry) {
			rawExec(t, db, `UPDATE audit_log SET outcome = 'refused' WHERE seq = 5`)
		}, audit.ProblemChanged, 5},
		{"epsilon changed", func(t *testing.T, db *sql.DB, _ []audit.Entry) {
			rawExec(t, db, `UPDATE audit_log SET epsilon = 0.05 WHERE seq = 3`)
		}, audit.ProblemChanged, 3},
		{"time changed to garbage", func(t *testing.T, db *sql.DB, _ []audit.Entry) {
			rawExec(t, db, `UPDATE audit_log SET time = 'yesterday' WHERE seq = 7`)
		}, audit.ProblemChanged, 7},
		{"first entry changed", func(t *testing.T, db *sql.DB, _ []audit.Entry) {
			rawExec(t, db, `UPDATE audit_log SET principal = 'mallory' WHERE seq = 1`)
		}, audit.ProblemChanged, 1},
		{"content changed and rehashed", func(t *testing.T, db *sql.DB, es []audit.Entry) {
			e := es[4]
			e.Principal = "mallory"
			rawExec(t, db, `DELETE FROM audit_log WHERE seq = 5`)
			e.Hash = e.ComputeHash()
			insertRaw(t, db, e)
		}, audit.ProblemChanged, 5},
		{"last entry changed and rehashed", func(t *testing.T, db *sql.DB, es []audit.Entry) {
			e := es[n-1]
			e.Outcome = audit.OutcomeRefused
			rawExec(t, db, `DELETE FROM audit_log WHERE seq = 10`)
			e.Hash = e.ComputeHash()
			insertRaw(t, db, e)
		}, audit.ProblemChanged, 10},
		{"removed from the middle", func(t *testing.T, db *sql.DB, _ []audit.Entry) {
			rawExec(t, db, `DELETE FROM audit_log WHERE seq = 5`)
		}, audit.ProblemRemoved, 5},
		{"removed and the rest renumbered", func(t *testing.T, db *sql.DB, _ []audit.Entry) {
			rawExec(t, db, `DELETE FROM audit_log WHERE seq = 5`,
				`UPDATE audit_log SET seq = seq - 1 WHERE seq > 5`,
				`UPDATE audit_head SET seq = seq - 1`)
		}, audit.ProblemRemoved, 5},
		{"tail truncated", func(t *testing.T, db *sql.DB, _ []audit.Entry) {
			rawExec(t, db, `DELETE FROM audit_log WHERE seq > 7`)
		}, audit.ProblemRemoved, 8},
		{"head record removed", func(t *testing.T, db *sql.DB, _ []audit.Entry) {
			rawExec(t, db, `DELETE FROM audit_head`)
		}, audit.ProblemRemoved, 0},
		{"inserted in the middle", func(t *testing.T, db *sql.DB, es []audit.Entry) {
			rawExec(t, db, `UPDATE audit_log SET seq = seq + 100 WHERE seq >= 5`,
				`UPDATE audit_log SET seq = seq - 99 WHERE seq >= 105`,
				`UPDATE audit_head SET seq = seq + 1`)
			insertRaw(t, db, forge(5, es[3].Hash))
		}, audit.ProblemInserted, 5},
		{"inserted at the end", func(t *testing.T, db *sql.DB, es []audit.Entry) {
			insertRaw(t, db, forge(n+1, es[n-1].Hash))
		}, audit.ProblemInserted, n + 1},
		{"inserted at the end with the head moved", func(t *testing.T, db *sql.DB, es []audit.Entry) {
			f := forge(n+1, es[n-1].Hash)
			insertRaw(t, db, f)
			rawExec(t, db, `UPDATE audit_head SET seq = 11, hash = '`+f.Hash+`'`)
		}, "", 0}, // indistinguishable from an Append: what external anchoring is for
		{"two entries swapped", func(t *testing.T, db *sql.DB, _ []audit.Entry) {
			rawExec(t, db, `UPDATE audit_log SET seq = -1 WHERE seq = 5`,
				`UPDATE audit_log SET seq = 5 WHERE seq = 6`,
				`UPDATE audit_log SET seq = 6 WHERE seq = -1`)
		}, audit.ProblemReordered, 5},
		{"distant entries swapped", func(t *testing.T, db *sql.DB, _ []audit.Entry) {
			rawExec(t, db, `UPDATE audit_log SET seq = -1 WHERE seq = 2`,
				`UPDATE audit_log SET seq = 2 WHERE seq = 9`,
				`UPDATE audit_log SET seq = 9 WHERE seq = -1`)
		}, audit.ProblemReordered, 2},
		{"head hash changed", func(t *testing.T, db *sql.DB, _ []audit.Entry) {
			rawExec(t, db, `UPDATE audit_head SET hash = '`+strings.Repeat("f", 64)+`'`)
		}, audit.ProblemChanged, n},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			ctx := context.Background()
			l, db := openLog(t)
			es := statetest.AppendN(t, l, n)
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

func TestTriggersBlockAccidentalEdits(t *testing.T) {
	l, db := openLog(t)
	statetest.AppendN(t, l, 2)
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
			l, db := openLog(t)
			statetest.AppendN(t, l, 3)
			rawExec(t, db, tc.tamper...)
			if _, err := l.Append(ctx, statetest.Entry(4)); !errors.Is(err, audit.ErrBroken) {
				t.Errorf("Append = %v, want audit.ErrBroken", err)
			}
		})
	}
}

// TestCheckAnchorCatchesRewrite: a consistent rewrite of the whole log
// passes Verify but not an anchor recorded before it.
func TestCheckAnchorCatchesRewrite(t *testing.T) {
	ctx := context.Background()
	l, db := openLog(t)
	es := statetest.AppendN(t, l, 3)
	if ok, err := l.CheckAnchor(ctx, 3, es[2].Hash); !ok || err != nil {
		t.Fatalf("CheckAnchor of the head = %v, %v", ok, err)
	}
	rawExec(t, db, `DELETE FROM audit_log`, `DELETE FROM audit_head`)
	for i := range 5 {
		e := statetest.Entry(i + 1)
		e.Principal = "mallory"
		if _, err := l.Append(ctx, e); err != nil {
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
