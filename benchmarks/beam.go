package benchmarks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/statgate/statgate/policies"
)

// BeamDir is the privacy-on-beam peer's module, relative to the repository root.
const BeamDir = "benchmarks/peers/beam"

// BeamPlan is the peer's --plan: "staged" runs one Beam pipeline per
// privacy-on-beam operation in turn, so that the direct runner, which
// buffers every grouping step's whole input in memory, holds one
// operation's data at a time (peers/beam/README.md).
const BeamPlan = "staged"

// BeamMemoryLimit is the Go soft memory limit (GOMEMLIMIT) RunBeam gives
// the peer unless the environment already sets one. Under the default
// GOGC=100 a Go heap grows to twice its live data before it is collected;
// the limit makes the collector work harder instead once the heap nears
// it, and costs nothing below it. 16 GiB leaves room on a 24 GiB machine.
const BeamMemoryLimit = "16GiB"

// BuildBeam builds the peer in peerDir (its own Go module) into out.
func BuildBeam(ctx context.Context, peerDir, out string) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("benchmarks.BuildBeam: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", abs, ".")
	cmd.Dir = peerDir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("benchmarks.BuildBeam: go build in %s: %w\n%s", peerDir, err, b)
	}
	return nil
}

// BeamParams are the peer's privacy parameters: statgate's for the same
// question, from the npr dataset of the policy.
type BeamParams struct {
	Epsilon, Delta                 float64
	MaxPartitions, MaxPerPartition int
	Lo, Hi                         float64
	// PreThreshold is statgate's min_cell_count (the pre-threshold of its
	// partition selection).
	PreThreshold int
	// Noise is "laplace" or "gaussian".
	Noise string
}

// BeamParamsOf returns the parameters statgate uses for QuerySQL under pol:
// the npr dataset's default ε, δ per query, L0, L∞, the bounds of
// length_of_stay_days and the minimum cell count.
func BeamParamsOf(pol *policies.Policy) (BeamParams, error) {
	ds, ok := pol.Datasets["npr"]
	if !ok {
		return BeamParams{}, fmt.Errorf("benchmarks.BeamParamsOf: the policy has no npr dataset")
	}
	c, ok := ds.Column("length_of_stay_days")
	if !ok || c.Bounds == nil {
		return BeamParams{}, fmt.Errorf("benchmarks.BeamParamsOf: npr.length_of_stay_days has no bounds")
	}
	return BeamParams{
		Epsilon: ds.Epsilon.Default, Delta: ds.DeltaPerQuery,
		MaxPartitions: ds.MaxGroupsPerPerson, MaxPerPartition: ds.MaxRowsPerPersonPerGroup,
		Lo: c.Bounds[0], Hi: c.Bounds[1], PreThreshold: ds.MinCellCount, Noise: ds.Noise,
	}, nil
}

// Args are the peer's command-line flags for input.
func (p BeamParams) Args(input string) []string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	return []string{
		"--input", input,
		"--epsilon", f(p.Epsilon), "--delta", f(p.Delta),
		"--max-partitions", strconv.Itoa(p.MaxPartitions), "--max-per-partition", strconv.Itoa(p.MaxPerPartition),
		"--lo", f(p.Lo), "--hi", f(p.Hi),
		"--noise", p.Noise, "--partitions", "shared", "--pre-threshold", strconv.Itoa(p.PreThreshold),
		"--plan", BeamPlan,
	}
}

// BeamOutcome is one run of the peer.
type BeamOutcome struct {
	// RowsIn, GroupsOut and Seconds are the peer's report; Seconds is its
	// pipeline run alone.
	RowsIn    int64   `json:"rows_in"`
	GroupsOut int64   `json:"groups_out"`
	Seconds   float64 `json:"seconds"`
	// Wall is the whole process's wall time; PeakRSS its peak memory in
	// bytes (VmHWM sampled every 100 ms; see rss.go).
	Wall    float64 `json:"-"`
	PeakRSS int64   `json:"-"`
}

// RunBeam runs the peer binary once on the CSV file input, in the
// harness's environment plus GOMEMLIMIT=BeamMemoryLimit unless that sets
// GOMEMLIMIT itself. When the peer fails, the outcome still holds its wall
// time and peak memory.
func RunBeam(ctx context.Context, binary, input string, p BeamParams) (BeamOutcome, error) {
	cmd := exec.CommandContext(ctx, binary, p.Args(input)...)
	cmd.Env = beamEnv(os.Environ())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return BeamOutcome{}, fmt.Errorf("benchmarks.RunBeam: %w", err)
	}
	watch := watchPeak(cmd.Process.Pid, 100*time.Millisecond)
	err := cmd.Wait()
	wall := time.Since(start).Seconds()
	peak := watch.stop()
	if peak == 0 {
		peak = peakRSS(cmd.ProcessState)
	}
	if err != nil {
		// A peer the kernel killed for memory has nothing on stderr; its
		// peak memory says why.
		return BeamOutcome{Wall: wall, PeakRSS: peak}, fmt.Errorf("benchmarks.RunBeam: %w after %.0f s, peak RSS %s: %s",
			err, wall, fmtBytes(peak), lastLines(stderr.String(), 5))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var o BeamOutcome
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &o); err != nil {
		return BeamOutcome{}, fmt.Errorf("benchmarks.RunBeam: report line %q: %w", lines[len(lines)-1], err)
	}
	o.Wall = wall
	o.PeakRSS = peak
	return o, nil
}

// beamEnv returns env with GOMEMLIMIT=BeamMemoryLimit appended, unless env
// sets GOMEMLIMIT already (an explicit setting wins).
func beamEnv(env []string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "GOMEMLIMIT=") {
			return env
		}
	}
	return append(slices.Clip(env), "GOMEMLIMIT="+BeamMemoryLimit)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
