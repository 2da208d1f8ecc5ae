package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/statgate/statgate/engine/budget"
	"github.com/statgate/statgate/engine/state"
)

// ledger is the state.Ledger of a Store. budget_spent holds each project ×
// dataset's sum of costs and budget_entries one row per dataset debited,
// both in budget.Cost's integer units, so sums are exact.
type ledger struct{ st *Store }

// Debit implements state.Ledger: in one transaction it makes sure the
// project × dataset rows exist, locks them in dataset order (s.Normalize
// sorts the datasets) with SELECT … FOR UPDATE, asks a, and records the
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
	err = l.st.write(ctx, func(tx pgx.Tx) error {
		refused = nil
		spent := make(map[string]budget.Cost, len(s.Datasets))
		for _, d := range s.Datasets {
			if _, err := tx.Exec(ctx, `
				INSERT INTO budget_spent (project, dataset, epsilon_units, delta_units, rho_units, zdelta_units)
				VALUES ($1, $2, 0, 0, 0, 0) ON CONFLICT (project, dataset) DO NOTHING`, s.Project, d); err != nil {
				return fmt.Errorf("create the row of %s × %s: %w", s.Project, d, err)
			}
			c, err := spentOn(ctx, tx, s.Project, d, " FOR UPDATE")
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
			if _, err := tx.Exec(ctx, `
				UPDATE budget_spent SET
					epsilon_units = epsilon_units + $3,
					delta_units = delta_units + $4,
					rho_units = rho_units + $5,
					zdelta_units = zdelta_units + $6
				WHERE project = $1 AND dataset = $2`,
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
