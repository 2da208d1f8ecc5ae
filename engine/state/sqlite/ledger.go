package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/statgate/statgate/engine/audit"
	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/state"
)

// ledger is the state.Ledger of a Store. budget_spent holds each project ×
// dataset's sum of costs and budget_entries one row per dataset debited,
// both in budget.Cost's integer units, so sums are exact.
type ledger struct{ st *Store }

// Debit implements state.Ledger: the check and the debit are one write
// transaction, so concurrent debits serialise on the file's write lock.
func (l *ledger) Debit(ctx context.Context, s budget.Spend, a state.Admitter) error {
	s, err := s.Normalize()
	if err != nil {
		return fmt.Errorf("sqlite.Debit: %w", err)
	}
	if a == nil {
		return errors.New("sqlite.Debit: nil admitter")
	}
	var refused error
	accounts := s.Accounts()
	err = l.st.write(ctx, func(ctx context.Context, tx *wtx) error {
		st := make(map[budget.Account]budget.Standing, len(accounts))
		for _, acc := range accounts {
			c, err := standingOf(ctx, tx, acc)
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
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO budget_accounts (scope, project, dataset, principal, epsilon_units, delta_units, rho_units, zdelta_units)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (scope, project, dataset, principal) DO UPDATE SET
					epsilon_units = epsilon_units + excluded.epsilon_units,
					delta_units = delta_units + excluded.delta_units,
					rho_units = rho_units + excluded.rho_units,
					zdelta_units = zdelta_units + excluded.zdelta_units`,
				string(acc.Scope), acc.Project, acc.Dataset, acc.Principal, eps, del, rho, zdel); err != nil {
				return fmt.Errorf("record spent on %s: %w", acc, err)
			}
		}
		for _, d := range s.Datasets {
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO budget_spent (project, dataset, epsilon_units, delta_units, rho_units, zdelta_units) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (project, dataset) DO UPDATE SET
					epsilon_units = epsilon_units + excluded.epsilon_units,
					delta_units = delta_units + excluded.delta_units,
					rho_units = rho_units + excluded.rho_units,
					zdelta_units = zdelta_units + excluded.zdelta_units`,
				s.Project, d, eps, del, rho, zdel); err != nil {
				return fmt.Errorf("record spent: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO budget_entries (time, query_id, project, principal, dataset, epsilon_units, delta_units, rho_units, zdelta_units)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				now, s.QueryID, s.Project, s.Principal, d, eps, del, rho, zdel); err != nil {
				return fmt.Errorf("record entry: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO budget_debits (time, query_id, project, principal, kind, datasets, epsilon_units, delta_units, rho_units, zdelta_units)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
		return fmt.Errorf("sqlite.Debit: %w", err)
	}
}

// querier is what spentOn needs of a *sql.DB or *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// spentOn returns what a project has spent on a dataset (zero when nothing).
func spentOn(ctx context.Context, q querier, project, dataset string) (budget.Cost, error) {
	var eps, del, rho, zdel int64
	err := q.QueryRowContext(ctx,
		`SELECT epsilon_units, delta_units, rho_units, zdelta_units FROM budget_spent WHERE project = ? AND dataset = ?`,
		project, dataset).Scan(&eps, &del, &rho, &zdel)
	if errors.Is(err, sql.ErrNoRows) {
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
	c, err := spentOn(ctx, l.st.db, project, dataset)
	if err != nil {
		return budget.Cost{}, fmt.Errorf("sqlite.Spent: %w", err)
	}
	return c, nil
}

// History implements state.Ledger.
func (l *ledger) History(ctx context.Context, project string, limit int) ([]budget.Entry, error) {
	q := `SELECT id, time, query_id, project, principal, dataset, epsilon_units, delta_units, rho_units, zdelta_units
		FROM budget_entries WHERE project = ? ORDER BY id DESC`
	args := []any{project}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := l.st.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite.History: %w", err)
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
			return nil, fmt.Errorf("sqlite.History: %w", err)
		}
		if e.Time, err = parseTime(t); err != nil {
			return nil, fmt.Errorf("sqlite.History: entry %d: %w", e.ID, err)
		}
		if e.Cost, err = budget.CostOfUnits(eps, del, rho, zdel); err != nil {
			return nil, fmt.Errorf("sqlite.History: entry %d: %w", e.ID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite.History: %w", err)
	}
	return out, nil
}

// Debits implements state.Ledger.
func (l *ledger) Debits(ctx context.Context, project string, p budget.Page) ([]budget.Debit, error) {
	q := `SELECT id, time, query_id, project, principal, kind, datasets, epsilon_units, delta_units, rho_units, zdelta_units
		FROM budget_debits WHERE project = ?`
	args := []any{project}
	if p.Before > 0 {
		q += ` AND id < ?`
		args = append(args, p.Before)
	}
	q += ` ORDER BY id DESC`
	if p.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, p.Limit)
	}
	rows, err := l.st.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite.Debits: %w", err)
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
			return nil, fmt.Errorf("sqlite.Debits: %w", err)
		}
		if d.Time, err = parseTime(t); err != nil {
			return nil, fmt.Errorf("sqlite.Debits: debit %d: %w", d.ID, err)
		}
		if d.Cost, err = budget.CostOfUnits(eps, del, rho, zdel); err != nil {
			return nil, fmt.Errorf("sqlite.Debits: debit %d: %w", d.ID, err)
		}
		d.Datasets = budget.SplitDatasets(ds)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite.Debits: %w", err)
	}
	return out, nil
}

// standingOf returns account a's standing (zero when nothing).
func standingOf(ctx context.Context, q querier, a budget.Account) (budget.Standing, error) {
	var eps, del, rho, zdel, geps, gdel int64
	err := q.QueryRowContext(ctx, `
		SELECT epsilon_units, delta_units, rho_units, zdelta_units, granted_epsilon_units, granted_delta_units
		FROM budget_accounts WHERE scope = ? AND project = ? AND dataset = ? AND principal = ?`,
		string(a.Scope), a.Project, a.Dataset, a.Principal).Scan(&eps, &del, &rho, &zdel, &geps, &gdel)
	if errors.Is(err, sql.ErrNoRows) {
		return budget.Standing{}, nil
	}
	if err != nil {
		return budget.Standing{}, fmt.Errorf("read %s: %w", a, err)
	}
	return budget.StandingOfUnits(eps, del, rho, zdel, geps, gdel)
}

// Standing implements state.Ledger.
func (l *ledger) Standing(ctx context.Context, a budget.Account) (budget.Standing, error) {
	st, err := standingOf(ctx, l.st.db, a)
	if err != nil {
		return budget.Standing{}, fmt.Errorf("sqlite.Standing: %w", err)
	}
	return st, nil
}

// Grant implements state.Ledger.
func (l *ledger) Grant(ctx context.Context, g budget.Grant, entry func(budget.Grant) (audit.Entry, error)) (budget.Grant, audit.Entry, error) {
	eps, del, _, _ := g.Amount.Units()
	if eps <= 0 {
		return budget.Grant{}, audit.Entry{}, fmt.Errorf("sqlite.Grant: %w: a grant without ε", budget.ErrInvalidCost)
	}
	var stored audit.Entry
	g.Time = l.st.now().UTC()
	a := g.Account
	err := l.st.write(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `
			INSERT INTO budget_grants (time, scope, project, dataset, principal, epsilon_units, delta_units, granted_by, reason)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			formatTime(g.Time), string(a.Scope), a.Project, a.Dataset, a.Principal, eps, del, g.Principal, g.Reason)
		if err != nil {
			return fmt.Errorf("record grant: %w", err)
		}
		if g.ID, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("record grant: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO budget_accounts (scope, project, dataset, principal, epsilon_units, delta_units, rho_units, zdelta_units, granted_epsilon_units, granted_delta_units)
			VALUES (?, ?, ?, ?, 0, 0, 0, 0, ?, ?)
			ON CONFLICT (scope, project, dataset, principal) DO UPDATE SET
				granted_epsilon_units = granted_epsilon_units + excluded.granted_epsilon_units,
				granted_delta_units = granted_delta_units + excluded.granted_delta_units`,
			string(a.Scope), a.Project, a.Dataset, a.Principal, eps, del); err != nil {
			return fmt.Errorf("raise %s: %w", a, err)
		}
		// The audit entry in the same transaction (savepoint): it fails,
		// the grant is undone with it.
		stored, err = state.AppendGrantEntry(ctx, auditTx{tx}, g, entry, l.st.now)
		return err
	})
	if err != nil {
		return budget.Grant{}, audit.Entry{}, fmt.Errorf("sqlite.Grant: %w", err)
	}
	return g, stored, nil
}

// Grants implements state.Ledger.
func (l *ledger) Grants(ctx context.Context, project string) ([]budget.Grant, error) {
	rows, err := l.st.db.QueryContext(ctx, `
		SELECT id, time, scope, project, dataset, principal, epsilon_units, delta_units, granted_by, reason
		FROM budget_grants WHERE ? = '' OR project = ? ORDER BY id`, project, project)
	if err != nil {
		return nil, fmt.Errorf("sqlite.Grants: %w", err)
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
			return nil, fmt.Errorf("sqlite.Grants: %w", err)
		}
		g.Account.Scope = budget.Scope(scope)
		if g.Time, err = parseTime(t); err != nil {
			return nil, fmt.Errorf("sqlite.Grants: grant %d: %w", g.ID, err)
		}
		if g.Amount, err = budget.CostOfUnits(eps, del, 0, 0); err != nil {
			return nil, fmt.Errorf("sqlite.Grants: grant %d: %w", g.ID, err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite.Grants: %w", err)
	}
	return out, nil
}
