package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/textio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/google/differential-privacy/privacy-on-beam/v3/pbeam"
)

func init() {
	register.Function1x1[string, string](formatKey)
	register.Function2x1[string, int64, string](formatInt64)
	register.Function2x1[string, float64, string](formatFloat64)
}

// Stage names of the staged plan, as in the report.
const (
	stageSelect  = "select"
	stagePersons = "persons"
	stageRows    = "rows"
	stageMean    = "mean"
)

// stageReport is one pipeline of a staged run.
type stageReport struct {
	// Name is the stage: select, persons, rows or mean.
	Name string `json:"name"`
	// Seconds is the wall time of its beam.Run.
	Seconds float64 `json:"seconds"`
}

// buildStage adds one pbeam operation to a stage's pipeline: keys is
// PCollection<KV<int64, string>> (person, group) and stays
// PCollection<KV<int64, stay>> (person, group and length of stay), both
// parsed from the input; it returns the operation's output as CSV lines.
type buildStage func(s beam.Scope, spec *pbeam.PrivacySpec, keys, stays beam.PCollection) beam.PCollection

// stager runs the stages of one staged run.
type stager struct {
	o      *options
	layout layout
	// dir holds the stages' output files.
	dir string
	// rowsIn is the first stage's count of data rows; every later stage
	// must read as many.
	rowsIn int64
	stages []stageReport
}

// runStaged runs the staged plan (see planStaged) and returns the report;
// its Seconds is the wall time from the first stage's start to the joined
// table (written to o.out when set), every stage included.
func runStaged(ctx context.Context, o *options, l layout) (report, error) {
	dir, err := os.MkdirTemp("", "beam-peer-")
	if err != nil {
		return report{}, fmt.Errorf("runStaged: %w", err)
	}
	defer os.RemoveAll(dir)
	st := &stager{o: o, layout: l, dir: dir, rowsIn: -1}
	b := splitBudget(o.epsilon, o.delta, o.noise, o.partitions)

	start := time.Now()
	var public any // nil: each aggregation selects its own partitions
	if o.partitions == partitionsShared {
		recs, err := st.run(ctx, stageSelect, b.Selection, func(s beam.Scope, spec *pbeam.PrivacySpec, keys, _ beam.PCollection) beam.PCollection {
			selected := pbeam.SelectPartitions(s, pbeam.MakePrivate(s, keys, spec), selectParams(o, b))
			return beam.ParDo(s, formatKey, selected)
		})
		if err != nil {
			return report{}, err
		}
		groups := make([]string, 0, len(recs))
		for _, r := range recs {
			groups = append(groups, r[0])
		}
		public = groups
	}
	var table [numMeasures]map[string]string
	table[measurePersons], err = st.runMeasure(ctx, stagePersons, b.Persons, func(s beam.Scope, spec *pbeam.PrivacySpec, keys, _ beam.PCollection) beam.PCollection {
		persons := pbeam.DistinctPrivacyID(s, pbeam.MakePrivate(s, keys, spec), personsParams(o, b, public))
		return beam.ParDo(s, formatInt64, persons)
	})
	if err != nil {
		return report{}, err
	}
	table[measureRows], err = st.runMeasure(ctx, stageRows, b.Rows, func(s beam.Scope, spec *pbeam.PrivacySpec, keys, _ beam.PCollection) beam.PCollection {
		rows := pbeam.Count(s, pbeam.MakePrivate(s, keys, spec), rowsParams(o, b, public))
		return beam.ParDo(s, formatInt64, rows)
	})
	if err != nil {
		return report{}, err
	}
	table[measureMean], err = st.runMeasure(ctx, stageMean, b.Mean, func(s beam.Scope, spec *pbeam.PrivacySpec, _, stays beam.PCollection) beam.PCollection {
		pStays := pbeam.ParDo(s, stayPair, pbeam.MakePrivate(s, stays, spec))
		means := pbeam.MeanPerKey(s, pStays, meanParams(o, b, public))
		return beam.ParDo(s, formatFloat64, means)
	})
	if err != nil {
		return report{}, err
	}

	rep := report{RowsIn: st.rowsIn, Stages: st.stages}
	lines := joinMeasures(table)
	rep.GroupsOut = int64(len(lines))
	rep.GroupsPersons = int64(len(table[measurePersons]))
	rep.GroupsRows = int64(len(table[measureRows]))
	rep.GroupsMean = int64(len(table[measureMean]))
	if o.out != "" {
		if err := writeLines(o.out, lines); err != nil {
			return report{}, fmt.Errorf("runStaged: %w", err)
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// run builds and runs one stage: read and parse the input, add the
// operation with a PrivacySpec holding exactly sh, write its lines to a
// file and read them back as CSV records.
func (st *stager) run(ctx context.Context, name string, sh share, build buildStage) ([][]string, error) {
	spec, err := pbeam.NewPrivacySpec(sh.specParams(st.o.preThreshold))
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", name, err)
	}
	out := filepath.Join(st.dir, name+".csv")
	p, s := beam.NewPipelineWithRoot()
	keys, stays := beam.ParDo2(s, &parseFn{Layout: st.layout}, textio.Read(s, st.o.input))
	textio.Write(s, out, build(s, spec, keys, stays))

	start := time.Now()
	res, err := beam.Run(ctx, st.o.runner, p)
	st.stages = append(st.stages, stageReport{Name: name, Seconds: time.Since(start).Seconds()})
	if err != nil {
		return nil, fmt.Errorf("stage %s: pipeline: %w", name, err)
	}
	if res == nil {
		return nil, fmt.Errorf("stage %s: runner %q returned no metrics", name, st.o.runner)
	}
	rows := counters(res)["rows_in"]
	switch {
	case st.rowsIn < 0:
		st.rowsIn = rows
	case rows != st.rowsIn:
		return nil, fmt.Errorf("stage %s: read %d rows, the first stage %d: did the input change?", name, rows, st.rowsIn)
	}
	recs, err := readRecords(out)
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", name, err)
	}
	return recs, nil
}

// runMeasure runs one aggregation stage and returns its released values
// (formatted) by group.
func (st *stager) runMeasure(ctx context.Context, name string, sh share, build buildStage) (map[string]string, error) {
	recs, err := st.run(ctx, name, sh, build)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(recs))
	for _, r := range recs {
		if len(r) != 2 {
			return nil, fmt.Errorf("stage %s: output line has %d fields, want 2", name, len(r))
		}
		m[r[0]] = r[1]
	}
	return m, nil
}

// readRecords reads a stage's output file as CSV. textio.Write writes no
// file for an empty collection, so a missing file is an empty output.
func readRecords(path string) ([][]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("readRecords: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("readRecords: %s: %w", path, err)
	}
	return recs, nil
}

// Columns of the released table after the key, in order.
const (
	measurePersons = iota
	measureRows
	measureMean
	numMeasures
)

// joinMeasures joins the three measures into the lines
// key,persons,rows,mean_los of the released table, sorted by key, one per
// group released by at least one measure; a measure that did not release
// the group is left empty (as joinFn does in the single plan).
func joinMeasures(table [numMeasures]map[string]string) []string {
	var keys []string
	seen := map[string]bool{}
	for _, m := range table {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	lines := make([]string, 0, len(keys))
	for _, k := range keys {
		fields := []string{csvField(k)}
		for _, m := range table {
			fields = append(fields, m[k])
		}
		lines = append(lines, strings.Join(fields, ","))
	}
	return lines
}

// writeLines writes lines, each ended by a newline, to path.
func writeLines(path string, lines []string) error {
	var sb strings.Builder
	for _, l := range lines {
		sb.WriteString(l)
		sb.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		return fmt.Errorf("writeLines: %w", err)
	}
	return nil
}

// formatKey is a selected group as a CSV line.
func formatKey(key string) string {
	return csvField(key)
}

// formatInt64 is a released count as a CSV line key,value.
func formatInt64(key string, v int64) string {
	return csvField(key) + "," + strconv.FormatInt(v, 10)
}

// formatFloat64 is a released mean as a CSV line key,value.
func formatFloat64(key string, v float64) string {
	return csvField(key) + "," + strconv.FormatFloat(v, 'g', -1, 64)
}
