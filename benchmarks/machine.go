package benchmarks

import (
	"context"
	"runtime"

	"github.com/statgate/statgate/benchmarks/internal/host"
)

// Machine describes where the benchmarks ran.
type Machine struct {
	CPU      string `json:"cpu"`
	Cores    int    `json:"cores"`
	MemBytes int64  `json:"mem_bytes"`
	OS       string `json:"os"`
	Go       string `json:"go"`
	DuckDB   string `json:"duckdb"`
	// NativeArrow is true when built with -tags duckdb_arrow.
	NativeArrow bool `json:"native_arrow"`
	// Load is the 1-minute load average when the run started ("" when unknown).
	Load string `json:"load"`
}

// DescribeMachine gathers Machine from the runtime, /proc (on Linux) and
// DuckDB; what it cannot find stays empty.
func DescribeMachine(ctx context.Context) Machine {
	return Machine{
		CPU: host.CPU(), Cores: runtime.NumCPU(), MemBytes: host.MemBytes(),
		OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(), NativeArrow: nativeArrow,
		Load: host.Load(), DuckDB: host.DuckDB(ctx),
	}
}
