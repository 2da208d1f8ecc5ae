package utility

import (
	"context"
	"errors"

	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/state/sqlite"
	"github.com/statgate/statgate/policies"
)

// openEngine opens the engine under test over the extracts in dataDir
// (extracts.duckdb), with its state store (ledger, audit log: state.db)
// in the same directory; closeAll closes the engine, then the store. It is
// the only place the benchmark constructs an engine, so a change of
// constructor is a change here only. Free repeats are off: the benchmark
// re-asks each question to measure its noise.
func openEngine(ctx context.Context, pol *policies.Policy, dataDir string) (eng *engine.Engine, closeAll func() error, err error) {
	store, err := sqlite.Open(ctx, dataDir)
	if err != nil {
		return nil, nil, err
	}
	if eng, err = engine.New(ctx, &engine.Options{Policy: pol, DataDir: dataDir, State: store, NoRepeats: true}); err != nil {
		store.Close()
		return nil, nil, err
	}
	return eng, func() error { return errors.Join(eng.Close(), store.Close()) }, nil
}
