package utility

import (
	"context"

	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/policies"
)

// openEngine opens the engine under test over the extracts in dataDir
// (extracts.duckdb), with its state (ledger, audit log) in the same
// directory; closeAll releases it. It is the only place the benchmark
// constructs an engine, so a change of constructor is a change here only
// (for engine.New with a state store: open engine/state/sqlite on dataDir,
// pass it as Options.State, and close it in closeAll after the engine).
func openEngine(ctx context.Context, pol *policies.Policy, dataDir string) (eng *engine.Engine, closeAll func() error, err error) {
	if eng, err = engine.Open(ctx, &engine.Options{Policy: pol, DataDir: dataDir}); err != nil {
		return nil, nil, err
	}
	return eng, eng.Close, nil
}
