package benchmarks

import (
	"bufio"
	"context"
	"database/sql"
	"os"
	"runtime"
	"strconv"
	"strings"
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
	m := Machine{Cores: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(), NativeArrow: nativeArrow}
	m.CPU = procField("/proc/cpuinfo", "model name")
	if kb := procField("/proc/meminfo", "MemTotal"); kb != "" {
		if n, err := strconv.ParseInt(strings.Fields(kb)[0], 10, 64); err == nil {
			m.MemBytes = n * 1024
		}
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

// procField returns the value of the first "key : value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
