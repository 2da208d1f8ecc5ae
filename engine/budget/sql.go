package budget

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/statgate/statgate/engine/statedb"
)

// SQLLedger is the embedded Ledger on the SQLite state store. Each Debit is
// one BEGIN IMMEDIATE transaction, so concurrent debits serialise on the
// store's write lock, across goroutines and across processes sharing the
// file. ε and δ are kept as integers (ε in units of 1e-9, δ of 1e-15):
// costs round up and totals round down, so sums are exact and a project
// never spends more than its budget. It is safe for concurrent use.
type SQLLedger struct {
	db     *sql.DB
	limits Limits
	now    func() time.Time
}

var _ Ledger = (*SQLLedger)(nil)

// NewSQLLedger returns the ledger kept in db, which must come from
// statedb.Open (it creates the tables and makes write transactions
// IMMEDIATE). limits gives each project × dataset its total budget; it is
// consulted on every call, so it may follow a reloaded policy.
func NewSQLLedger(db *sql.DB, limits Limits) (*SQLLedger, error) {
	if db == nil {
		return nil, errors.New("budget.NewSQLLedger: nil database")
	}
	if limits == nil {
		return nil, errors.New("budget.NewSQLLedger: nil limits")
	}
	return &SQLLedger{db: db, limits: limits, now: time.Now}, nil
}

// need is what one dataset must be able to pay, in units.
type need struct {
	dataset  string
	eps, del int64 // budget totals
}

// Debit implements Ledger.
func (l *SQLLedger) Debit(ctx context.Context, s Spend) error {
	if err := validate(s); err != nil {
		return fmt.Errorf("budget.Debit: %w", err)
	}
	eps, del := costUnits(s.Epsilon, epsilonScale), costUnits(s.Delta, deltaScale)
	datasets := slices.Clone(s.Datasets)
	slices.Sort(datasets)
	datasets = slices.Compact(datasets)
	needs := make([]need, len(datasets))
	for i, d := range datasets {
		b, ok := l.limits(s.Project, d)
		if !ok {
			return noBudget(s.Project, d)
		}
		needs[i] = need{d, limitUnits(b.Epsilon, epsilonScale), limitUnits(b.Delta, deltaScale)}
	}
	return l.debit(ctx, s, needs, eps, del)
}

// debit runs the check and the debit in one write transaction.
func (l *SQLLedger) debit(ctx context.Context, s Spend, needs []need, eps, del int64) (err error) {
	tx, err := l.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: takes the write lock now
	if err != nil {
		return fmt.Errorf("budget.Debit: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var short []shortfall
	for _, n := range needs {
		spentEps, spentDel, err := spent(ctx, tx, s.Project, n.dataset)
		if err != nil {
			return fmt.Errorf("budget.Debit: %w", err)
		}
		// Compare as remaining ≥ cost so that nothing can overflow.
		remEps, remDel := max(n.eps-spentEps, 0), max(n.del-spentDel, 0)
		if eps > remEps || del > remDel {
			short = append(short, shortfall{n.dataset, fromUnits(remEps, epsilonScale), fromUnits(remDel, deltaScale)})
		}
	}
	if len(short) > 0 {
		err = exhausted(s.Project, s.Epsilon, s.Delta, short)
		return err
	}
	now := statedb.FormatTime(l.now())
	for _, n := range needs {
		if _, err = tx.ExecContext(ctx, `
			INSERT INTO budget_spent (project, dataset, epsilon_units, delta_units) VALUES (?, ?, ?, ?)
			ON CONFLICT (project, dataset) DO UPDATE SET
				epsilon_units = epsilon_units + excluded.epsilon_units,
				delta_units = delta_units + excluded.delta_units`,
			s.Project, n.dataset, eps, del); err != nil {
			return fmt.Errorf("budget.Debit: record spent: %w", err)
		}
		if _, err = tx.ExecContext(ctx, `
			INSERT INTO budget_entries (time, query_id, project, principal, dataset, epsilon_units, delta_units)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			now, s.QueryID, s.Project, s.Principal, n.dataset, eps, del); err != nil {
			return fmt.Errorf("budget.Debit: record entry: %w", err)
		}
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("budget.Debit: commit: %w", err)
	}
	return nil
}

// validate rejects a Spend the engine should never build.
func validate(s Spend) error {
	if s.Project == "" {
		return fmt.Errorf("%w: no project", ErrInvalidSpend)
	}
	if len(s.Datasets) == 0 {
		return fmt.Errorf("%w: no datasets", ErrInvalidSpend)
	}
	for _, d := range s.Datasets {
		if d == "" {
			return fmt.Errorf("%w: empty dataset name", ErrInvalidSpend)
		}
	}
	if err := checkAmount("epsilon", s.Epsilon, maxEpsilon, false); err != nil {
		return err
	}
	return checkAmount("delta", s.Delta, maxDelta, true)
}

// querier is what spent needs of a *sql.DB or *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// spent returns the units a project has spent on a dataset (0, 0 when none).
func spent(ctx context.Context, q querier, project, dataset string) (eps, del int64, err error) {
	err = q.QueryRowContext(ctx,
		`SELECT epsilon_units, delta_units FROM budget_spent WHERE project = ? AND dataset = ?`,
		project, dataset).Scan(&eps, &del)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read spent of %s × %s: %w", project, dataset, err)
	}
	return eps, del, nil
}

// Remaining implements Ledger.
func (l *SQLLedger) Remaining(ctx context.Context, project, dataset string) (Balance, error) {
	b, ok := l.limits(project, dataset)
	if !ok {
		return Balance{}, notFound(project, dataset)
	}
	spentEps, spentDel, err := spent(ctx, l.db, project, dataset)
	if err != nil {
		return Balance{}, fmt.Errorf("budget.Remaining: %w", err)
	}
	totalEps, totalDel := limitUnits(b.Epsilon, epsilonScale), limitUnits(b.Delta, deltaScale)
	return Balance{
		Project:          project,
		Dataset:          dataset,
		TotalEpsilon:     fromUnits(totalEps, epsilonScale),
		SpentEpsilon:     fromUnits(spentEps, epsilonScale),
		RemainingEpsilon: fromUnits(max(totalEps-spentEps, 0), epsilonScale),
		TotalDelta:       fromUnits(totalDel, deltaScale),
		SpentDelta:       fromUnits(spentDel, deltaScale),
		RemainingDelta:   fromUnits(max(totalDel-spentDel, 0), deltaScale),
	}, nil
}

// History implements Ledger.
func (l *SQLLedger) History(ctx context.Context, project string, limit int) ([]Entry, error) {
	q := `SELECT id, time, query_id, project, principal, dataset, epsilon_units, delta_units
		FROM budget_entries WHERE project = ? ORDER BY id DESC`
	args := []any{project}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := l.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("budget.History: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var (
			e        Entry
			t        string
			eps, del int64
		)
		if err := rows.Scan(&e.ID, &t, &e.QueryID, &e.Project, &e.Principal, &e.Dataset, &eps, &del); err != nil {
			return nil, fmt.Errorf("budget.History: %w", err)
		}
		if e.Time, err = statedb.ParseTime(t); err != nil {
			return nil, fmt.Errorf("budget.History: entry %d: %w", e.ID, err)
		}
		e.Epsilon, e.Delta = fromUnits(eps, epsilonScale), fromUnits(del, deltaScale)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("budget.History: %w", err)
	}
	return out, nil
}
