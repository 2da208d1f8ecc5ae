// Package host describes the machine a benchmark runs on, from /proc (on
// Linux) and DuckDB, for the reports of package benchmarks and
// benchmarks/utility. Each function returns the zero value for what it
// cannot find; none fails.
package host

import (
	"bufio"
	"context"
	"database/sql"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ProcessCPU is the CPU time (user and system, every thread) this process
// has used so far (getrusage), or 0 when it cannot be read. Differences
// of it measure work on a shared machine better than wall time does.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// CPU is the model name of the first processor in /proc/cpuinfo.
func CPU() string { return procField("/proc/cpuinfo", "model name") }

// MemBytes is the total memory (MemTotal of /proc/meminfo) in bytes.
func MemBytes() int64 {
	kb := procField("/proc/meminfo", "MemTotal")
	if kb == "" {
		return 0
	}
	n, err := strconv.ParseInt(strings.Fields(kb)[0], 10, 64)
	if err != nil {
		return 0
	}
	return n * 1024
}

// Load is the 1-minute load average, as /proc/loadavg writes it.
func Load() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return ""
}

// DuckDB is DuckDB's version() from an in-memory database. The "duckdb"
// database/sql driver must be registered (engine/exec registers it).
func DuckDB(ctx context.Context) string {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return ""
	}
	defer db.Close()
	var v string
	if db.QueryRowContext(ctx, "SELECT version()").Scan(&v) != nil {
		return ""
	}
	return v
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
