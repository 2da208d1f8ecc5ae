package load

import (
	"bytes"
	"fmt"
	"runtime/pprof"
	"slices"
	"strings"

	"github.com/google/pprof/profile"
)

// Stage is one part of the pipeline and the CPU its samples took in a
// profiled cell, over every goroutine (server, DuckDB's calls, clients).
type Stage struct {
	Name    string
	Seconds float64
}

// The stages (StageNames gives the order they are reported in).
const (
	stageProfileDuckDB = "contribution profile: DuckDB"
	stageProfileChoice = "contribution profile: noise, bound choice, new plan"
	stageParse         = "parse (json_serialize_sql), check, plan"
	stageCache         = "repeat cache lookup and key"
	stagePlan          = "DuckDB: parse, bind, plan the bounded SQL"
	stageExecute       = "DuckDB: execute the bounded SQL, read Arrow"
	stageProtect       = "protect: noise, selection, suppression, intervals"
	stageState         = "state store: debit, audit append, answer (SQLite)"
	stageEngine        = "engine: the rest (admission, audit entry, consistency, metadata)"
	stageAPI           = "HTTP API: auth, limits, JSON"
	stageHTTP          = "HTTP transport (server and clients)"
	stageClients       = "load generator clients"
)

// duckDBStages are the stages that are DuckDB running statgate's own
// statements: the contribution profile's, and the bounded SQL's planning
// and execution (the parser's json_serialize_sql is part of stageParse).
var duckDBStages = []string{stageProfileDuckDB, stagePlan, stageExecute}

// isDuckDB reports whether the stage named name is one of duckDBStages.
func isDuckDB(name string) bool { return slices.Contains(duckDBStages, name) }

// stageRules name the stage a CPU sample belongs to: the first rule all
// of whose function-name fragments occur in the sample's stack. Order
// matters: the contribution profile's statement is DuckDB work inside
// estimateBounds, the parser's json_serialize_sql is DuckDB work inside
// query.(*Parser), so those come before the DuckDB rules.
var stageRules = []struct {
	name  string
	frags []string
}{
	{stageProfileDuckDB, []string{"engine.(*Engine).estimateBounds", "engine/exec."}},
	// The native build's reader is called through an embedded interface,
	// whose wrapper has no frame of engine/exec's.
	{stageProfileDuckDB, []string{"engine.(*Engine).estimateBounds", "duckdb-go"}},
	{stageProfileChoice, []string{"engine.(*Engine).estimateBounds"}},
	{stageParse, []string{"engine.(*Engine).prepare"}},
	{stageCache, []string{"engine.(*Engine).cached"}},
	{stageCache, []string{"engine.cacheKey"}},
	{stagePlan, []string{"engine/exec.", "_Cfunc_duckdb_extract_statements"}},
	{stagePlan, []string{"engine/exec.", "_Cfunc_duckdb_prepare_extracted_statement"}},
	{stageExecute, []string{"engine/exec."}},
	{stageExecute, []string{"duckdb-go"}},
	{stageProtect, []string{"engine/protect."}},
	{stageState, []string{"engine/state/", "statgate/engine.(*Engine)"}},
	// Every handler runs inside the authenticating middleware: only its
	// own token lookup is the API's.
	{stageAPI, []string{"engine/state/", "api.(*Handler).authenticate"}},
	{stageState, []string{"engine/state/"}},
	{stageEngine, []string{"statgate/engine."}},
	{stageAPI, []string{"statgate/api."}},
	{stageHTTP, []string{"net/http."}},
	{stageClients, []string{"benchmarks/load."}},
}

// otherStage takes the samples no rule names: the Go runtime's own work
// (garbage collection, scheduling) above all.
const otherStage = "Go runtime (GC, scheduler) and other"

// StageNames are the stages in report order: as their first rule comes.
func StageNames() []string {
	var out []string
	for _, r := range stageRules {
		if !slices.Contains(out, r.name) {
			out = append(out, r.name)
		}
	}
	return append(out, otherStage)
}

// stages adds up a CPU profile's samples by stage.
func stages(p *profile.Profile) []Stage {
	cpu := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			cpu = i
		}
	}
	if cpu < 0 {
		return nil
	}
	secs := map[string]float64{}
	var frames []string
	for _, s := range p.Sample {
		frames = frames[:0]
		for _, loc := range s.Location {
			for _, ln := range loc.Line {
				if ln.Function != nil {
					frames = append(frames, ln.Function.Name)
				}
			}
		}
		secs[stageOf(frames)] += float64(s.Value[cpu]) / 1e9
	}
	var out []Stage
	for _, name := range StageNames() {
		if secs[name] > 0 {
			out = append(out, Stage{Name: name, Seconds: secs[name]})
		}
	}
	return out
}

// stageOf is the stage of a stack of function names.
func stageOf(frames []string) string {
rules:
	for _, r := range stageRules {
		for _, f := range r.frags {
			if !anyContains(frames, f) {
				continue rules
			}
		}
		return r.name
	}
	return otherStage
}

func anyContains(frames []string, frag string) bool {
	for _, f := range frames {
		if strings.Contains(f, frag) {
			return true
		}
	}
	return false
}

// cpuProfile profiles the process's CPU until the returned stop is
// called, which returns the samples by stage. It fails when a profile is
// already running (the load command's --cpuprofile).
func cpuProfile() (stop func() ([]Stage, error), err error) {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	return func() ([]Stage, error) {
		pprof.StopCPUProfile()
		p, err := profile.Parse(&buf)
		if err != nil {
			return nil, fmt.Errorf("CPU profile: %w", err)
		}
		return stages(p), nil
	}, nil
}
