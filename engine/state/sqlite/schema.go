package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// SchemaVersion is the schema version this binary writes and understands:
// the number of migration steps (a test checks they agree).
const SchemaVersion = 7

// migrations[i] brings the schema from version i to version i+1. Append
// new steps; never edit a released one.
var migrations = [][]string{
	{ // 1: budget ledger, audit log, tokens.

		// The ledger: what each project has spent on each dataset, as the
		// exact units of budget.Cost (ε in 1e-9, δ in 1e-15), and one row
		// per debit.
		`CREATE TABLE budget_spent (
			project       TEXT    NOT NULL,
			dataset       TEXT    NOT NULL,
			epsilon_units INTEGER NOT NULL CHECK (epsilon_units >= 0),
			delta_units   INTEGER NOT NULL CHECK (delta_units >= 0),
			PRIMARY KEY (project, dataset)
		) STRICT`,
		`CREATE TABLE budget_entries (
			id            INTEGER PRIMARY KEY AUTOINCREMENT,
			time          TEXT    NOT NULL,
			query_id      TEXT    NOT NULL,
			project       TEXT    NOT NULL,
			principal     TEXT    NOT NULL,
			dataset       TEXT    NOT NULL,
			epsilon_units INTEGER NOT NULL,
			delta_units   INTEGER NOT NULL
		) STRICT`,
		`CREATE INDEX budget_entries_project ON budget_entries (project, id)`,

		// The audit log: the hash chain as audit.Raw holds it and its head
		// (last seq and hash), updated in the same transaction as each
		// append.
		`CREATE TABLE audit_log (
			seq           INTEGER PRIMARY KEY,
			time          TEXT    NOT NULL,
			query_id      TEXT    NOT NULL,
			principal     TEXT    NOT NULL,
			project       TEXT    NOT NULL,
			datasets      TEXT    NOT NULL,
			kind          TEXT    NOT NULL,
			query         TEXT    NOT NULL,
			template      TEXT    NOT NULL,
			params        TEXT    NOT NULL,
			plan_hash     TEXT    NOT NULL,
			epsilon       REAL    NOT NULL,
			delta         REAL    NOT NULL,
			outcome       TEXT    NOT NULL,
			reason        TEXT    NOT NULL,
			result_digest TEXT    NOT NULL,
			prev_hash     TEXT    NOT NULL,
			hash          TEXT    NOT NULL
		) STRICT`,
		`CREATE INDEX audit_log_project ON audit_log (project, seq)`,
		`CREATE INDEX audit_log_principal ON audit_log (principal, seq)`,
		`CREATE TABLE audit_head (
			id   INTEGER PRIMARY KEY CHECK (id = 1),
			seq  INTEGER NOT NULL,
			hash TEXT    NOT NULL
		) STRICT`,
		// Guards against accidental edits; a deliberate attacker drops them,
		// which the hash chain then catches.
		`CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
			BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END`,
		`CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
			BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END`,

		// The tokens: only the SHA-256 of a token is stored.
		`CREATE TABLE tokens (
			id         TEXT PRIMARY KEY,
			hash       BLOB NOT NULL UNIQUE,
			principal  TEXT NOT NULL,
			created_at TEXT NOT NULL,
			revoked_at TEXT,
			last_used  TEXT
		) STRICT`,
	},
	{ // 2: optional token expiry (`statgate token create --ttl`). A token
		// created before has no expiry (NULL) and keeps working.
		`ALTER TABLE tokens ADD COLUMN expires_at TEXT`,
	},
	{ // 3: ρ (zCDP) beside ε and δ in the ledger, in budget.Cost's units of
		// 1e-12. Debits recorded before spent no ρ.
		`ALTER TABLE budget_spent ADD COLUMN rho_units INTEGER NOT NULL DEFAULT 0 CHECK (rho_units >= 0)`,
		`ALTER TABLE budget_entries ADD COLUMN rho_units INTEGER NOT NULL DEFAULT 0`,
	},
	{ // 4: the zCDP account's additive δ (budget.Cost.ZDelta) beside ρ. A
		// debit recorded before carried no ρ of its own: it is charged ρ =
		// ε²/2 with all of its δ additive, what every (ε, δ)-DP query
		// satisfies (budget.NewCost), so that switching to zCDP accounting
		// never reads it as free, rounded up to a whole unit.
		`ALTER TABLE budget_spent ADD COLUMN zdelta_units INTEGER NOT NULL DEFAULT 0 CHECK (zdelta_units >= 0)`,
		`ALTER TABLE budget_entries ADD COLUMN zdelta_units INTEGER NOT NULL DEFAULT 0`,
		`UPDATE budget_entries SET
			rho_units = CASE WHEN rho_units = 0 AND epsilon_units > 0
				THEN CAST(CAST(epsilon_units AS REAL) * epsilon_units * 5e-7 AS INTEGER)
					+ (CAST(epsilon_units AS REAL) * epsilon_units * 5e-7 > CAST(CAST(epsilon_units AS REAL) * epsilon_units * 5e-7 AS INTEGER))
				ELSE rho_units END,
			zdelta_units = delta_units`,
		`UPDATE budget_spent SET
			rho_units = coalesce((SELECT sum(e.rho_units) FROM budget_entries e
				WHERE e.project = budget_spent.project AND e.dataset = budget_spent.dataset), rho_units),
			zdelta_units = coalesce((SELECT sum(e.zdelta_units) FROM budget_entries e
				WHERE e.project = budget_spent.project AND e.dataset = budget_spent.dataset), delta_units)`,
	},
	{ // 5: the result cache: a released answer per project × question
		// key, as the engine's JSON of the result.
		`CREATE TABLE result_cache (
			project  TEXT NOT NULL,
			key      TEXT NOT NULL,
			query_id TEXT NOT NULL,
			time     TEXT NOT NULL,
			body     BLOB NOT NULL,
			PRIMARY KEY (project, key)
		) STRICT`,
	},
	{ // 6: one row per debit (a query over three datasets is one row), with
		// the request's kind, for the budget history. Debits recorded before
		// are rebuilt from budget_entries (one per query id and project,
		// the same cost on every dataset), kind unknown ('').
		`CREATE TABLE budget_debits (
			id            INTEGER PRIMARY KEY AUTOINCREMENT,
			time          TEXT    NOT NULL,
			query_id      TEXT    NOT NULL,
			project       TEXT    NOT NULL,
			principal     TEXT    NOT NULL,
			kind          TEXT    NOT NULL,
			datasets      TEXT    NOT NULL,
			epsilon_units INTEGER NOT NULL,
			delta_units   INTEGER NOT NULL,
			rho_units     INTEGER NOT NULL,
			zdelta_units  INTEGER NOT NULL
		) STRICT`,
		`CREATE INDEX budget_debits_project ON budget_debits (project, id)`,
		`INSERT INTO budget_debits (time, query_id, project, principal, kind, datasets, epsilon_units, delta_units, rho_units, zdelta_units)
			SELECT min(time), query_id, project, min(principal), '', group_concat(dataset, ','),
				max(epsilon_units), max(delta_units), max(rho_units), max(zdelta_units)
			FROM budget_entries GROUP BY project, query_id ORDER BY min(id)`,
	},
	{ // 7: every account a debit is charged to (budget.Spend.Accounts):
		// project × dataset, project-wide, member, dataset lifetime, each
		// with its spending and its grants; and the grants themselves.
		// Existing spending is carried over: project × dataset from
		// budget_spent, lifetime as its sum over projects, project-wide and
		// member from budget_debits (each query once), so a cap added to a
		// policy starts from what was really spent.
		`CREATE TABLE budget_accounts (
			scope                 TEXT    NOT NULL,
			project               TEXT    NOT NULL,
			dataset               TEXT    NOT NULL,
			principal             TEXT    NOT NULL,
			epsilon_units         INTEGER NOT NULL CHECK (epsilon_units >= 0),
			delta_units           INTEGER NOT NULL CHECK (delta_units >= 0),
			rho_units             INTEGER NOT NULL CHECK (rho_units >= 0),
			zdelta_units          INTEGER NOT NULL CHECK (zdelta_units >= 0),
			granted_epsilon_units INTEGER NOT NULL DEFAULT 0 CHECK (granted_epsilon_units >= 0),
			granted_delta_units   INTEGER NOT NULL DEFAULT 0 CHECK (granted_delta_units >= 0),
			PRIMARY KEY (scope, project, dataset, principal)
		) STRICT`,
		`INSERT INTO budget_accounts (scope, project, dataset, principal, epsilon_units, delta_units, rho_units, zdelta_units)
			SELECT 'dataset', project, dataset, '', epsilon_units, delta_units, rho_units, zdelta_units FROM budget_spent`,
		`INSERT INTO budget_accounts (scope, project, dataset, principal, epsilon_units, delta_units, rho_units, zdelta_units)
			SELECT 'lifetime', '', dataset, '', sum(epsilon_units), sum(delta_units), sum(rho_units), sum(zdelta_units)
			FROM budget_spent GROUP BY dataset`,
		`INSERT INTO budget_accounts (scope, project, dataset, principal, epsilon_units, delta_units, rho_units, zdelta_units)
			SELECT 'project', project, '', '', sum(epsilon_units), sum(delta_units), sum(rho_units), sum(zdelta_units)
			FROM budget_debits GROUP BY project`,
		`INSERT INTO budget_accounts (scope, project, dataset, principal, epsilon_units, delta_units, rho_units, zdelta_units)
			SELECT 'member', project, '', principal, sum(epsilon_units), sum(delta_units), sum(rho_units), sum(zdelta_units)
			FROM budget_debits WHERE principal <> '' GROUP BY project, principal`,
		`CREATE TABLE budget_grants (
			id            INTEGER PRIMARY KEY AUTOINCREMENT,
			time          TEXT    NOT NULL,
			scope         TEXT    NOT NULL,
			project       TEXT    NOT NULL,
			dataset       TEXT    NOT NULL,
			principal     TEXT    NOT NULL,
			epsilon_units INTEGER NOT NULL CHECK (epsilon_units > 0),
			delta_units   INTEGER NOT NULL CHECK (delta_units >= 0),
			granted_by    TEXT    NOT NULL,
			reason        TEXT    NOT NULL
		) STRICT`,
	},
}

// migrate brings the schema to SchemaVersion in one write transaction, so
// two processes opening a new store at once do not both apply a step.
func migrate(ctx context.Context, db *sql.DB) (err error) {
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see dsn)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if _, err = tx.ExecContext(ctx,
		`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var version int
	if err = tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&version); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if version > SchemaVersion {
		err = fmt.Errorf("migrate: the state store has schema version %d, newer than this statgate understands (%d); upgrade statgate", version, SchemaVersion)
		return err
	}
	if version == SchemaVersion {
		return tx.Commit()
	}
	for v := version; v < SchemaVersion; v++ {
		for _, stmt := range migrations[v] {
			if _, err = tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migrate to version %d: %w", v+1, err)
			}
		}
	}
	if _, err = tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err = tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, SchemaVersion); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
