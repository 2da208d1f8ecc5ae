package benchmarks

import (
	"context"
	"errors"

	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/state/sqlite"
)

// stateEngine is an engine with the SQLite state store of its data
// directory, wired as `statgate serve` wires them; Close closes both.
type stateEngine struct {
	*engine.Engine
	state *sqlite.Store
}

// openStateEngine opens the state store in o.DataDir and an engine on it
// with o (o.State is set).
func openStateEngine(ctx context.Context, o *engine.Options) (*stateEngine, error) {
	st, err := sqlite.Open(ctx, o.DataDir)
	if err != nil {
		return nil, err
	}
	o.State = st
	e, err := engine.New(ctx, o)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &stateEngine{Engine: e, state: st}, nil
}

// Close closes the engine, then its state store.
func (e *stateEngine) Close() error { return errors.Join(e.Engine.Close(), e.state.Close()) }
