package utility

import (
	"context"
	"runtime"

	"github.com/statgate/statgate/benchmarks/internal/host"
)

// Machine describes where a run happened.
type Machine struct {
	// Cores is runtime.NumCPU (nproc).
	Cores int
	CPU   string
	OS    string
	Go    string
	// DuckDB is DuckDB's version() ("" when unknown).
	DuckDB string
	// Load is the 1-minute load average when the run started ("" when unknown).
	Load string
}

// DescribeMachine gathers Machine from the runtime, /proc (on Linux) and
// DuckDB; what it cannot find stays empty.
func DescribeMachine(ctx context.Context) Machine {
	return Machine{
		Cores: runtime.NumCPU(), CPU: host.CPU(),
		OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(),
		Load: host.Load(), DuckDB: host.DuckDB(ctx),
	}
}
