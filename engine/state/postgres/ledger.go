package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/state"
)

// ledger is the state.Ledger of a Store. budget_spent holds each project ×
// dataset's sum of costs and budget_entries one row per dataset debited,
// both in budget.Cost's integer units, so sums are exact.
type ledger struct{ st *Store }

// Debit implements state.Ledger: in one transaction it makes sure the rows
// of every account the debit is charged to exist, locks them in
// Account.Compare order with SELECT … FOR UPDATE, asks a, and records the
// debit. A concurrent debit on any of those rows, from this process or
// another replica, waits for the commit and then reads what this one
// spent.
func (l *ledger) Debit(ctx context.Context, s budget.Spend, a state.Admitter) error {
	s, err := s.Normalize()
	if err != nil {
		return fmt.Errorf("postgres.Debit: %w", err)
	}
	if a == nil {
		return errors.New("postgres.Debit: nil admitter")
	}
	var refused error
	accounts := s.Accounts()
	err = l.st.write(ctx, func(tx pgx.Tx) error {
		refused = nil
		st := make(map[budget.Account]budget.Standing, len(accounts))
		for _, acc := range accounts { // in Account.Compare order: no lock cycles
			if _, err := tx.Exec(ctx, `
				INSERT INTO budget_accounts (scope, project, dataset, principal, epsilon_units, delta_units, rho_units, zdelta_units)
				VALUES ($1, $2, $3, $4, 0, 0, 0, 0) ON CONFLICT (scope, project, dataset, principal) DO NOTHING`,
				string(acc.Scope), acc.Project, acc.Dataset, acc.Principal); err != nil {
				return fmt.Errorf("create the row of %s: %w", acc, err)
			}
			c, err := standingOf(ctx, tx, acc, " FOR UPDATE")
			if err != nil {
				return err
			}
			st[acc] = c
		}
		if refused = a.Admit(s, st); refused != nil {
			return refused
		}
		eps, del, rho, zdel := s.Cost.Units()
		now := formatTime(l.st.now())
		for _, acc := range accounts {
			if _, err := tx.Exec(ctx, `
				UPDATE budget_accounts SET
					epsilon_units = epsilon_units + $5,
					delta_units = delta_units + $6,
					rho_units = rho_units + $7,
					zdelta_units = zdelta_units + $8
				WHERE scope = $1 AND project = $2 AND dataset = $3 AND principal = $4`,
				string(acc.Scope), acc.Project, acc.Dataset, acc.Principal, eps, del, rho, zdel); err != nil {
				return fmt.Errorf("record spent on %s: %w", acc, err)
			}
		}
		for _, d := range s.Datasets {
			// The project × dataset row is guarded by its account's lock.
			if _, err := tx.Exec(ctx, `
				INSERT INTO budget_spent (project, dataset, epsilon_units, delta_units, rho_units, zdelta_units)
				VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (project, dataset) DO UPDATE SET
					epsilon_units = budget_spent.epsilon_units + excluded.epsilon_units,
					delta_units = budget_spent.delta_units + excluded.delta_units,
					rho_units = budget_spent.rho_units + excluded.rho_units,
					zdelta_units = budget_spent.zdelta_units + excluded.zdelta_units`,
				s.Project, d, eps, del, rho, zdel); err != nil {
				return fmt.Errorf("record spent: %w", err)
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO budget_entries (time, query_id, project, principal, dataset, epsilon_units, delta_units, rho_units, zdelta_units)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				now, s.QueryID, s.Project, s.Principal, d, eps, del, rho, zdel); err != nil {
				return fmt.Errorf("record entry: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO budget_debits (time, query_id, project, principal, kind, datasets, epsilon_units, delta_units, rho_units, zdelta_units)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			now, s.QueryID, s.Project, s.Principal, s.Kind, budget.JoinDatasets(s.Datasets), eps, del, rho, zdel); err != nil {
			return fmt.Errorf("record debit: %w", err)
		}
		return nil
	})
	switch {
	case err == nil:
		return nil
	case refused != nil:
		return refused // the admitter's refusal, as it is
	default:
		return fmt.Errorf("postgres.Debit: %w", err)
	}
}

// querier is what spentOn needs of a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// spentOn returns what a project has spent on a dataset (zero when
// nothing); lock is appended to the SELECT (" FOR UPDATE" or "").
func spentOn(ctx context.Context, q querier, project, dataset, lock string) (budget.Cost, error) {
	var eps, del, rho, zdel int64
	err := q.QueryRow(ctx,
		`SELECT epsilon_units, delta_units, rho_units, zdelta_units FROM budget_spent WHERE project = $1 AND dataset = $2`+lock,
		project, dataset).Scan(&eps, &del, &rho, &zdel)
	if errors.Is(err, pgx.ErrNoRows) {
		return budget.Cost{}, nil
	}
	if err != nil {
		return budget.Cost{}, fmt.Errorf("read spent of %s × %s: %w", project, dataset, err)
	}
	c, err := budget.CostOfUnits(eps, del, rho, zdel)
	if err != nil {
		return budget.Cost{}, fmt.Errorf("spent of %s × %s: %w", project, dataset, err)
	}
	return c, nil
}

// Spent implements state.Ledger.
func (l *ledger) Spent(ctx context.Context, project, dataset string) (budget.Cost, error) {
	c, err := spentOn(ctx, l.st.pool, project, dataset, "")
	if err != nil {
		return budget.Cost{}, fmt.Errorf("postgres.Spent: %w", err)
	}
	return c, nil
}

// History implements state.Ledger.
func (l *ledger) History(ctx context.Context, project string, limit int) ([]budget.Entry, error) {
	q := `SELECT id, time, query_id, project, principal, dataset, epsilon_units, delta_units, rho_units, zdelta_units
		FROM budget_entries WHERE project = $1 ORDER BY id DESC`
	args := []any{project}
	if limit > 0 {
		q += ` LIMIT $2`
		args = append(args, limit)
	}
	rows, err := l.st.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres.History: %w", err)
	}
	defer rows.Close()
	var out []budget.Entry
	for rows.Next() {
		var (
			e                   budget.Entry
			t                   string
			eps, del, rho, zdel int64
		)
		if err := rows.Scan(&e.ID, &t, &e.QueryID, &e.Project, &e.Principal, &e.Dataset, &eps, &del, &rho, &zdel); err != nil {
			return nil, fmt.Errorf("postgres.History: %w", err)
		}
		if e.Time, err = parseTime(t); err != nil {
			return nil, fmt.Errorf("postgres.History: entry %d: %w", e.ID, err)
		}
		if e.Cost, err = budget.CostOfUnits(eps, del, rho, zdel); err != nil {
			return nil, fmt.Errorf("postgres.History: entry %d: %w", e.ID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres.History: %w", err)
	}
	return out, nil
}

// Debits implements state.Ledger.
func (l *ledger) Debits(ctx context.Context, project string, p budget.Page) ([]budget.Debit, error) {
	q := `SELECT id, time, query_id, project, principal, kind, datasets, epsilon_units, delta_units, rho_units, zdelta_units
		FROM budget_debits WHERE project = $1`
	args := []any{project}
	if p.Before > 0 {
		args = append(args, p.Before)
		q += fmt.Sprintf(` AND id < $%d`, len(args))
	}
	q += ` ORDER BY id DESC`
	if p.Limit > 0 {
		args = append(args, p.Limit)
		q += fmt.Sprintf(` LIMIT $%d`, len(args))
	}
	rows, err := l.st.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres.Debits: %w", err)
	}
	defer rows.Close()
	var out []budget.Debit
	for rows.Next() {
		var (
			d                   budget.Debit
			t, ds               string
			eps, del, rho, zdel int64
		)
		if err := rows.Scan(&d.ID, &t, &d.QueryID, &d.Project, &d.Principal, &d.Kind, &ds, &eps, &del, &rho, &zdel); err != nil {
			return nil, fmt.Errorf("postgres.Debits: %w", err)
		}
		if d.Time, err = parseTime(t); err != nil {
			return nil, fmt.Errorf("postgres.Debits: debit %d: %w", d.ID, err)
		}
		if d.Cost, err = budget.CostOfUnits(eps, del, rho, zdel); err != nil {
			return nil, fmt.Errorf("postgres.Debits: debit %d: %w", d.ID, err)
		}
		d.Datasets = budget.SplitDatasets(ds)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres.Debits: %w", err)
	}
	return out, nil
}

// standingOf returns account a's standing (zero when nothing); lock is
// appended to the SELECT (" FOR UPDATE" or "").
func standingOf(ctx context.Context, q querier, a budget.Account, lock string) (budget.Standing, error) {
	var eps, del, rho, zdel, geps, gdel int64
	err := q.QueryRow(ctx, `
		SELECT epsilon_units, delta_units, rho_units, zdelta_units, granted_epsilon_units, granted_delta_units
		FROM budget_accounts WHERE scope = $1 AND project = $2 AND dataset = $3 AND principal = $4`+lock,
		string(a.Scope), a.Project, a.Dataset, a.Principal).Scan(&eps, &del, &rho, &zdel, &geps, &gdel)
	if errors.Is(err, pgx.ErrNoRows) {
		return budget.Standing{}, nil
	}
	if err != nil {
		return budget.Standing{}, fmt.Errorf("read %s: %w", a, err)
	}
	return budget.StandingOfUnits(eps, del, rho, zdel, geps, gdel)
}

// Standing implements state.Ledger.
func (l *ledger) Standing(ctx context.Context, a budget.Account) (budget.Standing, error) {
	st, err := standingOf(ctx, l.st.pool, a, "")
	if err != nil {
		return budget.Standing{}, fmt.Errorf("postgres.Standing: %w", err)
	}
	return st, nil
}

// Grant implements state.Ledger: the account's row is raised under its
// row lock, so a grant serialises with the debits on that account.
func (l *ledger) Grant(ctx context.Context, g budget.Grant, entry func(budget.Grant) (audit.Entry, error)) (budget.Grant, audit.Entry, error) {
	eps, del, _, _ := g.Amount.Units()
	if eps <= 0 {
		return budget.Grant{}, audit.Entry{}, fmt.Errorf("postgres.Grant: %w: a grant without ε", budget.ErrInvalidCost)
	}
	g.Time = l.st.now().UTC()
	a := g.Account
	var stored audit.Entry
	err := l.st.write(ctx, func(tx pgx.Tx) error {
		if entry != nil {
			// The log's lock first, as every append takes it (debits take
			// none, so no cycle with their account locks).
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockSpace, AuditLockKey); err != nil {
				return fmt.Errorf("lock the log: %w", err)
			}
		}
		if err := tx.QueryRow(ctx, `
			INSERT INTO budget_grants (time, scope, project, dataset, principal, epsilon_units, delta_units, granted_by, reason)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			formatTime(g.Time), string(a.Scope), a.Project, a.Dataset, a.Principal, eps, del, g.Principal, g.Reason).Scan(&g.ID); err != nil {
			return fmt.Errorf("record grant: %w", err)
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO budget_accounts (scope, project, dataset, principal, epsilon_units, delta_units, rho_units, zdelta_units, granted_epsilon_units, granted_delta_units)
			VALUES ($1, $2, $3, $4, 0, 0, 0, 0, $5, $6)
			ON CONFLICT (scope, project, dataset, principal) DO UPDATE SET
				granted_epsilon_units = budget_accounts.granted_epsilon_units + excluded.granted_epsilon_units,
				granted_delta_units = budget_accounts.granted_delta_units + excluded.granted_delta_units`,
			string(a.Scope), a.Project, a.Dataset, a.Principal, eps, del); err != nil {
			return fmt.Errorf("raise %s: %w", a, err)
		}
		// The audit entry in the same transaction: it fails, the grant is
		// rolled back with it.
		var err error
		stored, err = state.AppendGrantEntry(ctx, auditTx{tx}, g, entry, l.st.now)
		return err
	})
	if err != nil {
		return budget.Grant{}, audit.Entry{}, fmt.Errorf("postgres.Grant: %w", err)
	}
	return g, stored, nil
}

// Grants implements state.Ledger.
func (l *ledger) Grants(ctx context.Context, project string) ([]budget.Grant, error) {
	rows, err := l.st.pool.Query(ctx, `
		SELECT id, time, scope, project, dataset, principal, epsilon_units, delta_units, granted_by, reason
		FROM budget_grants WHERE $1 = '' OR project = $1 ORDER BY id`, project)
	if err != nil {
		return nil, fmt.Errorf("postgres.Grants: %w", err)
	}
	defer rows.Close()
	var out []budget.Grant
	for rows.Next() {
		var (
			g        budget.Grant
			t, scope string
			eps, del int64
		)
		if err := rows.Scan(&g.ID, &t, &scope, &g.Account.Project, &g.Account.Dataset, &g.Account.Principal, &eps, &del, &g.Principal, &g.Reason); err != nil {
			return nil, fmt.Errorf("postgres.Grants: %w", err)
		}
		g.Account.Scope = budget.Scope(scope)
		if g.Time, err = parseTime(t); err != nil {
			return nil, fmt.Errorf("postgres.Grants: grant %d: %w", g.ID, err)
		}
		if g.Amount, err = budget.CostOfUnits(eps, del, 0, 0); err != nil {
			return nil, fmt.Errorf("postgres.Grants: grant %d: %w", g.ID, err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres.Grants: %w", err)
	}
	return out, nil
}
