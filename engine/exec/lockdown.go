package exec

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
)

// startupConfig holds the options DuckDB accepts only when a database
// instance starts (or that should hold from its first statement on). They
// go in the DSN; lockdown repeats the runtime ones and locks them.
//
// attach says the instance must attach a version file's parts on its
// first connection: external access then starts enabled, and lockdown
// disables and locks it right after the attaches, before that connection
// (or any other) runs a query. spill is the temp_directory ("": DuckDB's
// default); DuckDB refuses to set one once external access is disabled,
// so it too starts the instance with external access enabled, which
// lockdown disables before any query.
func startupConfig(readOnly, attach bool, spill string) map[string]string {
	c := map[string]string{
		"enable_external_access":       strconv.FormatBool(attach || spill != ""),
		"autoload_known_extensions":    "false",
		"autoinstall_known_extensions": "false",
		"allow_community_extensions":   "false",
		"allow_unsigned_extensions":    "false",
	}
	if readOnly {
		c["access_mode"] = "READ_ONLY"
	}
	if spill != "" {
		c["temp_directory"] = spill
	}
	return c
}

// lockdownSettings are the statements every query connection runs before
// lock_configuration=true (DESIGN §6). They are SET GLOBAL: the settings
// belong to the database instance, so that connections opened after the
// lock (which can no longer SET anything) share them. The Arrow settings
// pin the types the native Arrow export produces (see the package doc);
// TimeZone pins what TIMESTAMPTZ arithmetic means, whatever the server's
// zone.
func lockdownSettings(o *Options) []string {
	s := []string{
		"SET GLOBAL enable_external_access = false",
		"SET GLOBAL autoload_known_extensions = false",
		"SET GLOBAL autoinstall_known_extensions = false",
		"SET GLOBAL produce_arrow_string_view = false",
		"SET GLOBAL arrow_large_buffer_size = false",
		"SET GLOBAL arrow_lossless_conversion = false",
		"SET GLOBAL TimeZone = 'UTC'",
		// The planner wraps what may fail in try() (plan.RenderValue), so
		// that whether a query succeeds says nothing of its rows. DuckDB's
		// common-subexpression elimination lifts an expression that occurs
		// twice (two items, a key and an argument, twice in one sum) out of
		// the try() and computes it bare, so CAST(x AS BIGINT) out of range
		// or an integer overflow failed the query after the debit exactly
		// when some row held such a value: found by review, a one-bit
		// oracle. With it off, each try() computes its own copy.
		"SET GLOBAL disabled_optimizers = 'common_subexpressions'",
	}
	if o.MemoryLimit != "" {
		s = append(s, "SET GLOBAL memory_limit = "+quoteString(o.MemoryLimit))
	}
	if o.Threads > 0 {
		s = append(s, "SET GLOBAL threads = "+strconv.Itoa(o.Threads))
	}
	return append(s, "SET GLOBAL lock_configuration = true")
}

// lockdown returns the connector init callback that locks down every new
// connection. The settings are global to the database instance, so the
// first connection applies and locks them; later connections (which could
// no longer SET them) verify that the lock is in place. A mutex keeps two
// first connections from racing.
//
// For a version file, the first connection attaches its parts (read-only,
// from the file's directory) before the settings: afterwards external
// access is off and locked, and DuckDB lets queries read only the files
// already attached.
func lockdown(o *Options, parts []part) func(driver.ExecerContext) error {
	settings := lockdownSettings(o)
	var mu sync.Mutex
	return func(ex driver.ExecerContext) error {
		mu.Lock()
		defer mu.Unlock()
		q, ok := ex.(driver.QueryerContext)
		if !ok {
			return errors.New("exec: lockdown: the DuckDB connection cannot run queries")
		}
		ctx := context.Background()
		locked, err := setting(ctx, q, "lock_configuration")
		if err != nil {
			return fmt.Errorf("exec: lockdown: %w", err)
		}
		if locked != "true" {
			if err := attachParts(ctx, ex, filepath.Dir(o.Path), parts); err != nil {
				return fmt.Errorf("exec: lockdown: %w", err)
			}
			settings := settings
			if o.Threads == 0 && o.SmallTableRows > 0 {
				small, err := isSmall(ctx, q, o.SmallTableRows)
				if err != nil {
					return fmt.Errorf("exec: lockdown: %w", err)
				}
				if small {
					// Before the lock, which is last.
					n := len(settings)
					settings = append(slices.Clone(settings[:n-1]), "SET GLOBAL threads = 1", settings[n-1])
				}
			}
			for _, s := range settings {
				if _, err := ex.ExecContext(ctx, s, nil); err != nil {
					return fmt.Errorf("exec: lockdown: %s: %w", s, err)
				}
			}
		}
		for name, want := range map[string]string{
			"lock_configuration":        "true",
			"enable_external_access":    "false",
			"autoload_known_extensions": "false",
			"disabled_optimizers":       "common_subexpressions",
		} {
			got, err := setting(ctx, q, name)
			if err != nil {
				return fmt.Errorf("exec: lockdown: %w", err)
			}
			if got != want {
				return fmt.Errorf("exec: lockdown: %s is %s, want %s", name, got, want)
			}
		}
		return nil
	}
}

// isSmall reports whether no table of the database has more than limit
// rows (DuckDB's catalog estimate, exact for a table that is not being
// written).
func isSmall(ctx context.Context, q driver.QueryerContext, limit int64) (bool, error) {
	rows, err := q.QueryContext(ctx, "SELECT coalesce(max(estimated_size), 0)::BIGINT FROM duckdb_tables()", nil)
	if err != nil {
		return false, fmt.Errorf("table sizes: %w", err)
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	if err := rows.Next(dest); err != nil {
		return false, fmt.Errorf("table sizes: %w", err)
	}
	n, ok := dest[0].(int64)
	if !ok {
		return false, fmt.Errorf("table sizes: got %T", dest[0])
	}
	return n <= limit, nil
}

// setting reads one DuckDB setting as text through a raw driver connection.
func setting(ctx context.Context, q driver.QueryerContext, name string) (string, error) {
	rows, err := q.QueryContext(ctx, "SELECT current_setting("+quoteString(name)+")::VARCHAR", nil)
	if err != nil {
		return "", fmt.Errorf("read setting %s: %w", name, err)
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	if err := rows.Next(dest); err != nil {
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read setting %s: no row", name)
		}
		return "", fmt.Errorf("read setting %s: %w", name, err)
	}
	v, ok := dest[0].(string)
	if !ok {
		return "", fmt.Errorf("read setting %s: got %T", name, dest[0])
	}
	return v, nil
}
