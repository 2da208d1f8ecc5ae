package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/statgate/statgate/benchmarks/internal/stats"
	"github.com/statgate/statgate/engine/query"
)

// BeamRun says how to run the privacy-on-beam peer (variant E).
type BeamRun struct {
	// Binary is the built peer (BuildBeam).
	Binary string
	// Reps is how many times it runs (each a fresh process).
	Reps int
	// Params are its privacy parameters (BeamParamsOf).
	Params BeamParams
}

// CompareOptions configure Compare. Data, Exe and Scratch are required.
type CompareOptions struct {
	Data *Data
	// Variants are the child variants (A, B, C, D, K), in the order each
	// round runs them; nil: all of them.
	Variants []Variant
	// Reps is the number of timed rounds; each child also runs one
	// untimed warm-up first. 0 means 3.
	Reps int
	// Exe and ExeArgs start a child: the harness binary (os.Executable)
	// with the arguments that make it one besides ChildEnv.
	Exe     string
	ExeArgs []string
	// Scratch is a directory for engine state and load measurements.
	Scratch string
	// MemoryLimit and Threads configure every DuckDB ("" and 0: defaults).
	MemoryLimit string
	Threads     int
	// Beam runs the peer in the first Beam.Reps rounds, after the
	// children; nil skips it.
	Beam *BeamRun
	// Loads measures the load throughput of npr from Parquet and CSV
	// (needs Data prepared with csv).
	Loads bool
	// Explain profiles the raw and the bounded query, and the bounded
	// plan's contribution profile, with EXPLAIN ANALYZE.
	Explain bool
	// Progress receives a line per step; nil: silent.
	Progress io.Writer
}

// VariantResult is what Compare measured of one variant.
type VariantResult struct {
	Variant Variant `json:"variant"`
	// Seconds are the timed runs in order (for E the pipeline time the peer reports).
	Seconds []float64 `json:"seconds"`
	// Wall are E's whole-process times (empty for the others).
	Wall []float64 `json:"wall,omitempty"`
	// Groups is the number of output rows of the last run.
	Groups int64 `json:"groups"`
	// PeakRSS is the process's peak resident memory in bytes (max over E's runs).
	PeakRSS int64 `json:"peak_rss"`
	// Err is set when the variant failed; Seconds holds the runs before.
	Err string `json:"error,omitempty"`
}

// Median is the median of Seconds (0 when there is none).
func (v *VariantResult) Median() float64 { return median(v.Seconds) }

// SizeResult is one Compare: one registry, every variant.
type SizeResult struct {
	Spec    Spec             `json:"spec"`
	Reps    int              `json:"reps"`
	Results []*VariantResult `json:"results"`
	Loads   []LoadThroughput `json:"loads,omitempty"`
	// RawProfile and BoundedProfile are EXPLAIN ANALYZE of A's and B's SQL.
	RawProfile     *Profile `json:"raw_profile,omitempty"`
	BoundedProfile *Profile `json:"bounded_profile,omitempty"`
	// ContributionProfile is EXPLAIN ANALYZE of the contribution
	// profile's SQL (plan.Profile): the statement C runs beyond B, before
	// it, to choose the bounds; nil when the plan has none.
	ContributionProfile *Profile `json:"contribution_profile,omitempty"`
	// Generated and Loaded are the data preparation times (possibly of an
	// earlier, cached run); Elapsed is this Compare's wall time.
	Generated, Loaded, Elapsed float64
}

// Result returns the result of variant v, or nil.
func (s *SizeResult) Result(v Variant) *VariantResult {
	for _, r := range s.Results {
		if r.Variant == v {
			return r
		}
	}
	return nil
}

// Ratio is the ratio of the medians of a and b, and false when either is
// missing, failed or zero.
func (s *SizeResult) Ratio(a, b Variant) (float64, bool) {
	ra, rb := s.Result(a), s.Result(b)
	if ra == nil || rb == nil || ra.Err != "" || rb.Err != "" || ra.Median() == 0 || rb.Median() == 0 {
		return 0, false
	}
	return ra.Median() / rb.Median(), true
}

// DefaultVariants are the child variants in round order.
var DefaultVariants = []Variant{VariantRaw, VariantBounded, VariantEngine, VariantHTTP, VariantCohort}

// Compare measures the variants on one registry: it starts a child per
// variant, warms each up once, then runs o.Reps rounds in which every
// child answers once in turn (A, B, C, D, K, A, B, …) and the peer runs in
// the first Beam.Reps rounds; it then ends the children (reading their
// peak memory), measures loads and profiles the plans. A variant that
// fails is reported in its result and does not stop the others.
func Compare(ctx context.Context, o *CompareOptions) (*SizeResult, error) {
	if o == nil || o.Data == nil || o.Exe == "" || o.Scratch == "" {
		return nil, errors.New("benchmarks.Compare: Data, Exe and Scratch are required")
	}
	start := time.Now()
	reps := o.Reps
	if reps <= 0 {
		reps = 3
	}
	variants := o.Variants
	if variants == nil {
		variants = DefaultVariants
	}
	logf := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	res := &SizeResult{Spec: o.Data.Spec, Reps: reps,
		Generated: o.Data.Generated.Seconds(), Loaded: o.Data.Loaded.Seconds()}
	type live struct {
		r     *VariantResult
		child *Child
	}
	var children []*live
	defer func() {
		for _, c := range children {
			if c.child != nil {
				c.child.Close()
			}
		}
	}()
	for _, v := range variants {
		vr := &VariantResult{Variant: v}
		res.Results = append(res.Results, vr)
		dir, err := o.Data.StateDir(o.Scratch)
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		ro := RunnerOptions{DataDir: dir, MemoryLimit: o.MemoryLimit, Threads: o.Threads}
		c, err := StartChild(ctx, o.Exe, o.ExeArgs, ChildSpec{Variant: v, Options: ro})
		if err != nil {
			vr.Err = err.Error()
			logf("%s: %v", v, err)
			continue
		}
		children = append(children, &live{r: vr, child: c})
	}
	runOnce := func(c *live, timed bool) {
		if c.child == nil {
			return
		}
		out, err := c.child.Run()
		if err != nil {
			c.r.Err = err.Error()
			logf("%s: %v", c.r.Variant, err)
			c.r.PeakRSS, _ = c.child.Close() // the failure is reported; its peak memory may say why
			c.child = nil
			return
		}
		c.r.Groups = out.Groups
		if timed {
			c.r.Seconds = append(c.r.Seconds, out.Seconds)
		}
		note := ""
		if !timed {
			note = "  (warm-up)"
		}
		logf("%s %-32s %8.3fs  %d groups%s", c.r.Variant, c.r.Variant.Describe(), out.Seconds, out.Groups, note)
	}
	for _, c := range children {
		runOnce(c, false)
	}
	var beam *VariantResult
	if o.Beam != nil {
		beam = &VariantResult{Variant: VariantBeam}
		res.Results = append(res.Results, beam)
	}
	for rep := 0; rep < reps; rep++ {
		for _, c := range children {
			runOnce(c, true)
		}
		if beam != nil && rep < o.Beam.Reps && beam.Err == "" {
			out, err := RunBeam(ctx, o.Beam.Binary, o.Data.Path(NPRCSV), o.Beam.Params)
			beam.PeakRSS = max(beam.PeakRSS, out.PeakRSS)
			if err != nil {
				beam.Err = err.Error()
				logf("E: %v", err)
				continue
			}
			beam.Seconds = append(beam.Seconds, out.Seconds)
			beam.Wall = append(beam.Wall, out.Wall)
			beam.Groups = out.GroupsOut
			logf("E %-32s %8.3fs  %d groups (process %.1fs)", VariantBeam.Describe(), out.Seconds, out.GroupsOut, out.Wall)
		}
	}
	for _, c := range children {
		if c.child == nil {
			continue
		}
		rss, err := c.child.Close()
		c.child = nil
		if err != nil && c.r.Err == "" {
			c.r.Err = err.Error()
		}
		c.r.PeakRSS = rss
	}
	sort.SliceStable(res.Results, func(i, j int) bool { return res.Results[i].Variant < res.Results[j].Variant })
	if o.Loads {
		for _, f := range []string{NPRParquet, NPRCSV} {
			l, err := o.Data.MeasureLoad(ctx, f, o.Scratch)
			if err != nil {
				return nil, err
			}
			logf("load %-7s %d rows in %.2fs: %.0f rows/s", l.Format, l.Rows, l.Seconds, l.RowsPerSecond())
			res.Loads = append(res.Loads, l)
		}
	}
	if o.Explain {
		if err := profiles(ctx, o, res); err != nil {
			return nil, err
		}
	}
	res.Elapsed = time.Since(start).Seconds()
	return res, nil
}

// profiles fills the raw, bounded and contribution profiles of res.
func profiles(ctx context.Context, o *CompareOptions, res *SizeResult) error {
	pol, err := Policy()
	if err != nil {
		return err
	}
	parser, err := query.NewParser(ctx)
	if err != nil {
		return fmt.Errorf("benchmarks.Compare: %w", err)
	}
	defer parser.Close()
	p, err := BoundedSQL(ctx, parser, pol, o.Data.Spec.TableRows())
	if err != nil {
		return err
	}
	ro := &RunnerOptions{MemoryLimit: o.MemoryLimit, Threads: o.Threads}
	if res.RawProfile, err = Explain(ctx, o.Data.ExtractsDir(), RawSQL, ro); err != nil {
		return err
	}
	if res.BoundedProfile, err = Explain(ctx, o.Data.ExtractsDir(), p.SQL, ro); err != nil {
		return err
	}
	if p.Profile != nil {
		res.ContributionProfile, err = Explain(ctx, o.Data.ExtractsDir(), p.Profile.SQL, ro)
	}
	return err
}

// median returns the median of xs (0 for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return stats.Median(xs)
}
