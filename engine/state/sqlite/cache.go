package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// resultCache is the state.Cache of a Store: table result_cache.
type resultCache struct{ st *Store }

// Get implements state.Cache.
func (c *resultCache) Get(ctx context.Context, project, key string) ([]byte, string, bool, error) {
	var (
		body    []byte
		queryID string
	)
	err := c.st.db.QueryRowContext(ctx, `SELECT body, query_id FROM result_cache WHERE project = ? AND key = ?`,
		project, key).Scan(&body, &queryID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, fmt.Errorf("sqlite.Cache.Get: %w", err)
	}
	return body, queryID, true, nil
}

// Put implements state.Cache: the first answer stored for a key is kept.
func (c *resultCache) Put(ctx context.Context, project, key, queryID string, body []byte) error {
	if project == "" || key == "" || len(body) == 0 {
		return errors.New("sqlite.Cache.Put: a project, a key and an answer are required")
	}
	err := c.st.write(ctx, func(ctx context.Context, tx *wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO result_cache (project, key, query_id, time, body) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (project, key) DO NOTHING`, project, key, queryID, formatTime(c.st.now()), body)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite.Cache.Put: %w", err)
	}
	return nil
}
