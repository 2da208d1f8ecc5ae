package utility

import (
	"bufio"
	"context"
	"database/sql"
	"os"
	"runtime"
	"strings"
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
	m := Machine{Cores: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			m.Load = f[0]
		}
	}
	if db, err := sql.Open("duckdb", ""); err == nil {
		var v string
		if db.QueryRowContext(ctx, "SELECT version()").Scan(&v) == nil {
			m.DuckDB = v
		}
		db.Close()
	}
	return m
}
