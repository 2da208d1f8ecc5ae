package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/statgate/statgate/engine/state"
	"github.com/statgate/statgate/engine/state/postgres"
	"github.com/statgate/statgate/engine/state/sqlite"
)

// defaultState is --state's default: STATGATE_STATE, else "" (the SQLite
// file under --data).
var defaultState = envOr("STATGATE_STATE", "")

// stateUsage is the help text of --state.
const stateUsage = "state store: a postgres:// URL shared by several replicas, or empty for state.db under --data (env STATGATE_STATE)"

// stateFlag registers --state on fs.
func stateFlag(fs interface {
	StringVar(*string, string, string, string)
}, p *string) {
	fs.StringVar(p, "state", defaultState, stateUsage)
}

// openState opens the state store --state names: the PostgreSQL database
// of a postgres:// URL, or the SQLite file under dataDir when url is empty.
func openState(ctx context.Context, url, dataDir string) (state.Store, error) {
	switch {
	case url == "":
		return sqlite.Open(ctx, dataDir)
	case postgres.IsURL(url):
		return postgres.Open(ctx, url)
	default:
		scheme, _, _ := strings.Cut(url, "://")
		return nil, fmt.Errorf("--state %q: want a postgres:// (or postgresql://) URL, or nothing for %s under --data", scheme+"://…", sqlite.FileName)
	}
}

// describeState names the store for logs, without credentials.
func describeState(url, dataDir string) string {
	if url == "" {
		return sqlite.Path(dataDir)
	}
	return "postgresql"
}
