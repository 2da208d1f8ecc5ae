package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SchemaVersion is the schema version this binary writes and understands:
// the number of migration steps (a test checks they agree).
const SchemaVersion = 5

// Advisory lock keys (pg_advisory_xact_lock's two-int form: the first int
// is statgate's, the second says what is locked).
const (
	lockSpace = 0x5354 // "ST"
	// AuditLockKey serialises audit appends across every replica.
	AuditLockKey = 1
	// migrateLockKey serialises migrations of replicas starting together.
	migrateLockKey = 2
)

// migrations[i] brings the schema from version i to version i+1. Append
// new steps; never edit a released one. The tables mirror the SQLite
// store's (engine/state/sqlite), so that both keep the same records.
var migrations = [][]string{
	{ // 1: budget ledger (ε, δ and ρ), audit log, tokens with expiry.

		// The ledger: what each project has spent on each dataset, in
		// budget.Cost's exact integer units (ε 1e-9, δ 1e-15, ρ 1e-12),
		// and one row per dataset debited.
		`CREATE TABLE budget_spent (
			project       text   NOT NULL,
			dataset       text   NOT NULL,
			epsilon_units bigint NOT NULL CHECK (epsilon_units >= 0),
			delta_units   bigint NOT NULL CHECK (delta_units >= 0),
			rho_units     bigint NOT NULL DEFAULT 0 CHECK (rho_units >= 0),
			PRIMARY KEY (project, dataset)
		)`,
		`CREATE TABLE budget_entries (
			id            bigserial PRIMARY KEY,
			time          text   NOT NULL,
			query_id      text   NOT NULL,
			project       text   NOT NULL,
			principal     text   NOT NULL,
			dataset       text   NOT NULL,
			epsilon_units bigint NOT NULL,
			delta_units   bigint NOT NULL,
			rho_units     bigint NOT NULL DEFAULT 0
		)`,
		`CREATE INDEX budget_entries_project ON budget_entries (project, id)`,

		// The audit log as audit.Raw holds it, and its head.
		`CREATE TABLE audit_log (
			seq           bigint PRIMARY KEY,
			time          text   NOT NULL,
			query_id      text   NOT NULL,
			principal     text   NOT NULL,
			project       text   NOT NULL,
			datasets      text   NOT NULL,
			kind          text   NOT NULL,
			query         text   NOT NULL,
			template      text   NOT NULL,
			params        text   NOT NULL,
			plan_hash     text   NOT NULL,
			epsilon       double precision NOT NULL,
			delta         double precision NOT NULL,
			outcome       text   NOT NULL,
			reason        text   NOT NULL,
			result_digest text   NOT NULL,
			prev_hash     text   NOT NULL,
			hash          text   NOT NULL
		)`,
		`CREATE INDEX audit_log_project ON audit_log (project, seq)`,
		`CREATE INDEX audit_log_principal ON audit_log (principal, seq)`,
		`CREATE TABLE audit_head (
			id   integer PRIMARY KEY CHECK (id = 1),
			seq  bigint  NOT NULL,
			hash text    NOT NULL
		)`,
		// Guards against accidental edits; a deliberate attacker drops
		// them, which the hash chain then catches.
		`CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$`,
		`CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
			FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`,
		`CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
			FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()`,

		// The tokens: only the SHA-256 of a token is stored.
		`CREATE TABLE tokens (
			id         text  PRIMARY KEY,
			hash       bytea NOT NULL UNIQUE,
			principal  text  NOT NULL,
			created_at text  NOT NULL,
			revoked_at text,
			last_used  text,
			expires_at text
		)`,
	},
	{ // 2: the zCDP account's additive δ (budget.Cost.ZDelta) beside ρ, as
		// SQLite's migration 4. A debit recorded without ρ is charged
		// ρ = ε²/2 (rounded up) with all of its δ additive, what every
		// (ε, δ)-DP query satisfies, so zCDP accounting never reads it as free.
		`ALTER TABLE budget_spent ADD COLUMN zdelta_units bigint NOT NULL DEFAULT 0 CHECK (zdelta_units >= 0)`,
		`ALTER TABLE budget_entries ADD COLUMN zdelta_units bigint NOT NULL DEFAULT 0`,
		`UPDATE budget_entries SET
			rho_units = CASE WHEN rho_units = 0 AND epsilon_units > 0
				THEN ceil(epsilon_units::float8 * epsilon_units * 5e-7)::bigint
				ELSE rho_units END,
			zdelta_units = delta_units`,
		`UPDATE budget_spent s SET
			rho_units = coalesce((SELECT sum(e.rho_units) FROM budget_entries e
				WHERE e.project = s.project AND e.dataset = s.dataset), s.rho_units),
			zdelta_units = coalesce((SELECT sum(e.zdelta_units) FROM budget_entries e
				WHERE e.project = s.project AND e.dataset = s.dataset), s.delta_units)`,
	},
	{ // 3: the result cache, as SQLite's migration 5.
		`CREATE TABLE result_cache (
			project  text  NOT NULL,
			key      text  NOT NULL,
			query_id text  NOT NULL,
			time     text  NOT NULL,
			body     bytea NOT NULL,
			PRIMARY KEY (project, key)
		)`,
	},
	{ // 4: one row per debit, as SQLite's migration 6.
		`CREATE TABLE budget_debits (
			id            bigserial PRIMARY KEY,
			time          text   NOT NULL,
			query_id      text   NOT NULL,
			project       text   NOT NULL,
			principal     text   NOT NULL,
			kind          text   NOT NULL,
			datasets      text   NOT NULL,
			epsilon_units bigint NOT NULL,
			delta_units   bigint NOT NULL,
			rho_units     bigint NOT NULL,
			zdelta_units  bigint NOT NULL
		)`,
		`CREATE INDEX budget_debits_project ON budget_debits (project, id)`,
		`INSERT INTO budget_debits (time, query_id, project, principal, kind, datasets, epsilon_units, delta_units, rho_units, zdelta_units)
			SELECT min(time), query_id, project, min(principal), '', string_agg(dataset, ',' ORDER BY dataset),
				max(epsilon_units), max(delta_units), max(rho_units), max(zdelta_units)
			FROM budget_entries GROUP BY project, query_id ORDER BY min(id)`,
	},
	{ // 5: every account a debit is charged to, and grants, as SQLite's
		// migration 7.
		`CREATE TABLE budget_accounts (
			scope                 text   NOT NULL,
			project               text   NOT NULL,
			dataset               text   NOT NULL,
			principal             text   NOT NULL,
			epsilon_units         bigint NOT NULL CHECK (epsilon_units >= 0),
			delta_units           bigint NOT NULL CHECK (delta_units >= 0),
			rho_units             bigint NOT NULL CHECK (rho_units >= 0),
			zdelta_units          bigint NOT NULL CHECK (zdelta_units >= 0),
			granted_epsilon_units bigint NOT NULL DEFAULT 0 CHECK (granted_epsilon_units >= 0),
			granted_delta_units   bigint NOT NULL DEFAULT 0 CHECK (granted_delta_units >= 0),
			PRIMARY KEY (scope, project, dataset, principal)
		)`,
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
			id            bigserial PRIMARY KEY,
			time          text   NOT NULL,
			scope         text   NOT NULL,
			project       text   NOT NULL,
			dataset       text   NOT NULL,
			principal     text   NOT NULL,
			epsilon_units bigint NOT NULL CHECK (epsilon_units > 0),
			delta_units   bigint NOT NULL CHECK (delta_units >= 0),
			granted_by    text   NOT NULL,
			reason        text   NOT NULL
		)`,
	},
}

// migrate brings the schema to SchemaVersion in one transaction under an
// advisory lock, so that replicas starting at once apply each step once.
func migrate(ctx context.Context, pool *pgxpool.Pool) (err error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if _, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockSpace, migrateLockKey); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err = tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var version int
	if err = tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&version); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if version > SchemaVersion {
		err = fmt.Errorf("migrate: the state store has schema version %d, newer than this statgate understands (%d); upgrade statgate", version, SchemaVersion)
		return err
	}
	if version == SchemaVersion {
		return tx.Commit(ctx)
	}
	if err = apply(ctx, tx, version); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// apply runs the migration steps after version and records SchemaVersion.
func apply(ctx context.Context, tx pgx.Tx, version int) error {
	for v := version; v < SchemaVersion; v++ {
		for _, stmt := range migrations[v] {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("migrate to version %d: %w", v+1, err)
			}
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM schema_version`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, SchemaVersion); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
