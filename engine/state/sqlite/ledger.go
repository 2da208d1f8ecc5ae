package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
	err = l.st.write(ctx, func(tx *sql.Tx) error {
		spent := make(map[string]budget.Cost, len(s.Datasets))
		for _, d := range s.Datasets {
			c, err := spentOn(ctx, tx, s.Project, d)
			if err != nil {
				return err
			}
			spent[d] = c
		}
		if refused = a.Admit(s, spent); refused != nil {
			return refused
		}
		eps, del, rho, zdel := s.Cost.Units()
		now := formatTime(l.st.now())
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
