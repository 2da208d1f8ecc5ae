package benchmarks

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/statgate/statgate/engine/exec"
)

// Operator is one operator of a profiled DuckDB plan.
type Operator struct {
	// Name is DuckDB's operator name (HASH_GROUP_BY, HASH_JOIN, …).
	Name string `json:"name"`
	// Seconds is the time spent in the operator itself (summed over threads).
	Seconds float64 `json:"seconds"`
	// Rows is the operator's output cardinality.
	Rows int64 `json:"rows"`
	// Detail summarises the operator: its groups and aggregates, join
	// condition or projections, shortened.
	Detail string `json:"detail"`
	// Depth is the operator's depth in the plan (0: the root).
	Depth int `json:"depth"`
	// Count is how many operators of the plan this one stands for: Top
	// merges operators with the same name and detail (the branches of a
	// bucketed plan), summing their times and rows; 1 otherwise.
	Count int `json:"count"`
}

// Profile is DuckDB's EXPLAIN ANALYZE of one query.
type Profile struct {
	// Latency is the query's wall time in the profiled run.
	Latency float64 `json:"latency"`
	// CPU is the CPU time summed over threads.
	CPU float64 `json:"cpu"`
	// PeakBuffer is DuckDB's peak buffer memory in bytes.
	PeakBuffer int64 `json:"peak_buffer"`
	// Operators in plan order (depth first from the root).
	Operators []Operator `json:"operators"`
}

// Top returns the n operators with the most time, most first, operators
// with the same name and detail merged into one (see Operator.Count).
func (p *Profile) Top(n int) []Operator {
	var ops []Operator
	at := map[string]int{}
	for _, o := range p.Operators {
		k := o.Name + "\x00" + o.Detail
		i, ok := at[k]
		if !ok {
			at[k] = len(ops)
			o.Count = 1
			ops = append(ops, o)
			continue
		}
		ops[i].Seconds += o.Seconds
		ops[i].Rows += o.Rows
		ops[i].Count++
	}
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Seconds > ops[j].Seconds })
	return ops[:min(n, len(ops))]
}

// OperatorSeconds is the sum of the operators' own times.
func (p *Profile) OperatorSeconds() float64 {
	var s float64
	for _, o := range p.Operators {
		s += o.Seconds
	}
	return s
}

// Explain profiles query on the extracts database of dataDir with
// EXPLAIN (ANALYZE, FORMAT json) on a read-only connection of its own
// (diagnostics only; never the serving path). It runs the query once to
// warm DuckDB's buffers and profiles the second run.
func Explain(ctx context.Context, dataDir, query string, o *RunnerOptions) (*Profile, error) {
	dsn := exec.ExtractsPath(dataDir) + "?access_mode=READ_ONLY"
	db, err := sql.Open("duckdb", dsn)
	if err != nil {
		return nil, fmt.Errorf("benchmarks.Explain: %w", err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("benchmarks.Explain: %w", err)
	}
	defer conn.Close()
	if o != nil && o.MemoryLimit != "" {
		if _, err := conn.ExecContext(ctx, "SET memory_limit = "+quoteString(o.MemoryLimit)); err != nil {
			return nil, fmt.Errorf("benchmarks.Explain: %w", err)
		}
	}
	if o != nil && o.Threads > 0 {
		if _, err := conn.ExecContext(ctx, "SET threads = "+strconv.Itoa(o.Threads)); err != nil {
			return nil, fmt.Errorf("benchmarks.Explain: %w", err)
		}
	}
	var p *Profile
	for range 2 {
		var key, value string
		if err := conn.QueryRowContext(ctx, "EXPLAIN (ANALYZE, FORMAT json) "+query).Scan(&key, &value); err != nil {
			return nil, fmt.Errorf("benchmarks.Explain: %w", err)
		}
		if p, err = parseProfile([]byte(value)); err != nil {
			return nil, fmt.Errorf("benchmarks.Explain: %w", err)
		}
	}
	return p, nil
}

// profileNode is a node of DuckDB's JSON profile.
type profileNode struct {
	Name        string            `json:"operator_name"`
	Timing      float64           `json:"operator_timing"`
	Cardinality int64             `json:"operator_cardinality"`
	ExtraInfo   map[string]any    `json:"extra_info"`
	Children    []json.RawMessage `json:"children"`
	// Root-only fields.
	Latency    float64 `json:"latency"`
	CPU        float64 `json:"cpu_time"`
	PeakBuffer int64   `json:"system_peak_buffer_memory"`
}

// parseProfile reads DuckDB's JSON profile; the EXPLAIN_ANALYZE operator
// itself is left out.
func parseProfile(b []byte) (*Profile, error) {
	var root profileNode
	if err := json.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	p := &Profile{Latency: root.Latency, CPU: root.CPU, PeakBuffer: root.PeakBuffer}
	var walk func(raw []json.RawMessage, depth int) error
	walk = func(raw []json.RawMessage, depth int) error {
		for _, r := range raw {
			var n profileNode
			if err := json.Unmarshal(r, &n); err != nil {
				return fmt.Errorf("profile: %w", err)
			}
			d := depth
			if n.Name != "EXPLAIN_ANALYZE" {
				p.Operators = append(p.Operators, Operator{Name: n.Name, Seconds: n.Timing, Rows: n.Cardinality,
					Detail: detail(n.ExtraInfo), Depth: depth, Count: 1})
				d++
			}
			if err := walk(n.Children, d); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root.Children, 0); err != nil {
		return nil, err
	}
	return p, nil
}

// detail summarises an operator's extra_info in one short line.
func detail(info map[string]any) string {
	var parts []string
	for _, k := range []string{"Groups", "Aggregates", "Join Type", "Conditions", "Table", "Expression", "Filters", "Projections", "Function"} {
		v, ok := info[k]
		if !ok {
			continue
		}
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case []any:
			items := make([]string, len(x))
			for i, it := range x {
				items[i] = fmt.Sprint(it)
			}
			s = strings.Join(items, ", ")
		default:
			s = fmt.Sprint(x)
		}
		s = strings.Join(strings.Fields(s), " ")
		parts = append(parts, strings.ToLower(k)+": "+s)
	}
	out := strings.Join(parts, "; ")
	const maxLen = 110
	if r := []rune(out); len(r) > maxLen {
		out = string(r[:maxLen-1]) + "…"
	}
	return out
}
