package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/textio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/google/differential-privacy/privacy-on-beam/v3/pbeam"
)

// metricsNamespace is the namespace of the pipeline's Beam counters.
const metricsNamespace = "statgate_beam_peer"

// Counters of the released table, read back from the pipeline result.
var (
	groupsOut     = beam.NewCounter(metricsNamespace, "groups_out")
	groupsPersons = beam.NewCounter(metricsNamespace, "groups_persons")
	groupsRows    = beam.NewCounter(metricsNamespace, "groups_rows")
	groupsMean    = beam.NewCounter(metricsNamespace, "groups_mean")
)

func init() {
	register.DoFn4x1[context.Context, string, func(int64, string), func(int64, stay), error](&parseFn{})
	register.Emitter2[int64, string]()
	register.Emitter2[int64, stay]()
	register.Function1x2[stay, string, float64](stayPair)
	register.DoFn6x0[context.Context, string, func(*int64) bool, func(*int64) bool, func(*float64) bool, func(string)](&joinFn{})
	register.Iter1[int64]()
	register.Iter1[float64]()
	register.Emitter1[string]()
}

// buildPipeline builds the privacy-on-beam pipeline for options o on the
// CSV layout l: per group (3-character ICD-10 code), DistinctPrivacyID
// (persons), Count (rows) and MeanPerKey (mean length of stay), each with
// the bounds of o and its share of the budget (see splitBudget), then a
// join of the three into one table.
func buildPipeline(o *options, l layout) (*beam.Pipeline, error) {
	b := splitBudget(o.epsilon, o.delta, o.noise, o.partitions)
	spec, err := pbeam.NewPrivacySpec(b.specParams(o.preThreshold))
	if err != nil {
		return nil, fmt.Errorf("buildPipeline: %w", err)
	}

	p, s := beam.NewPipelineWithRoot()
	lines := textio.Read(s, o.input)
	keys, stays := beam.ParDo2(s, &parseFn{Layout: l}, lines)
	// Both private collections are keyed by pid and share spec, so the
	// three aggregations draw on one budget.
	pKeys := pbeam.MakePrivate(s, keys, spec)
	pStays := pbeam.ParDo(s, stayPair, pbeam.MakePrivate(s, stays, spec))

	var public any // nil: each aggregation selects its own partitions
	if o.partitions == partitionsShared {
		public = pbeam.SelectPartitions(s, pKeys, selectParams(o, b))
	}
	persons := pbeam.DistinctPrivacyID(s, pKeys, personsParams(o, b, public))
	rows := pbeam.Count(s, pKeys, rowsParams(o, b, public))
	means := pbeam.MeanPerKey(s, pStays, meanParams(o, b, public))

	table := beam.ParDo(s, &joinFn{}, beam.CoGroupByKey(s, persons, rows, means))
	if o.out != "" {
		textio.Write(s, o.out, table)
	}
	return p, nil
}

// runSingle builds the single plan's pipeline, runs it and reads the
// report from its counters; Seconds is the wall time of beam.Run.
func runSingle(ctx context.Context, o *options, l layout) (report, error) {
	p, err := buildPipeline(o, l)
	if err != nil {
		return report{}, err
	}
	start := time.Now()
	res, err := beam.Run(ctx, o.runner, p)
	seconds := time.Since(start).Seconds()
	if err != nil {
		return report{}, fmt.Errorf("run: pipeline: %w", err)
	}
	if res == nil {
		return report{}, fmt.Errorf("run: runner %q returned no metrics", o.runner)
	}
	c := counters(res)
	return report{
		RowsIn: c["rows_in"], GroupsOut: c["groups_out"], Seconds: seconds,
		GroupsPersons: c["groups_persons"], GroupsRows: c["groups_rows"], GroupsMean: c["groups_mean"],
	}, nil
}

// counters returns the pipeline's counters in metricsNamespace by name,
// summed over steps.
func counters(res beam.PipelineResult) map[string]int64 {
	m := map[string]int64{}
	for _, c := range res.Metrics().AllMetrics().Counters() {
		if c.Namespace() == metricsNamespace {
			m[c.Name()] += c.Result()
		}
	}
	return m
}

// noiseKindOf returns pbeam's noise for --noise.
func noiseKindOf(kind string) pbeam.NoiseKind {
	if kind == noiseGaussian {
		return pbeam.GaussianNoise{}
	}
	return pbeam.LaplaceNoise{}
}

// selectParams are SelectPartitions' parameters in shared mode under the
// bounds of o and the budget b. Both plans use them, as the three below.
func selectParams(o *options, b budget) pbeam.SelectPartitionsParams {
	return pbeam.SelectPartitionsParams{
		Epsilon:                  b.Selection.SelEpsilon,
		Delta:                    b.Selection.SelDelta,
		MaxPartitionsContributed: o.maxPartitions,
	}
}

// personsParams are DistinctPrivacyID's parameters under the bounds of o and
// the budget b; public is nil or the selected groups (a PCollection or a
// slice), as pbeam's PublicPartitions takes them.
func personsParams(o *options, b budget, public any) pbeam.DistinctPrivacyIDParams {
	return pbeam.DistinctPrivacyIDParams{
		NoiseKind:                noiseKindOf(o.noise),
		AggregationEpsilon:       b.Persons.AggEpsilon,
		AggregationDelta:         b.Persons.AggDelta,
		PartitionSelectionDelta:  b.Persons.SelDelta,
		PublicPartitions:         public,
		MaxPartitionsContributed: o.maxPartitions,
	}
}

// rowsParams are Count's parameters (see personsParams).
func rowsParams(o *options, b budget, public any) pbeam.CountParams {
	return pbeam.CountParams{
		NoiseKind:          noiseKindOf(o.noise),
		AggregationEpsilon: b.Rows.AggEpsilon,
		AggregationDelta:   b.Rows.AggDelta,
		PartitionSelectionParams: pbeam.PartitionSelectionParams{
			Epsilon: b.Rows.SelEpsilon,
			Delta:   b.Rows.SelDelta,
		},
		PublicPartitions:         public,
		MaxPartitionsContributed: o.maxPartitions,
		MaxValue:                 o.maxPerPartition,
	}
}

// meanParams are MeanPerKey's parameters (see personsParams).
func meanParams(o *options, b budget, public any) pbeam.MeanParams {
	return pbeam.MeanParams{
		NoiseKind:          noiseKindOf(o.noise),
		AggregationEpsilon: b.Mean.AggEpsilon,
		AggregationDelta:   b.Mean.AggDelta,
		PartitionSelectionParams: pbeam.PartitionSelectionParams{
			Epsilon: b.Mean.SelEpsilon,
			Delta:   b.Mean.SelDelta,
		},
		PublicPartitions:             public,
		MaxPartitionsContributed:     o.maxPartitions,
		MaxContributionsPerPartition: o.maxPerPartition,
		MinValue:                     o.lo,
		MaxValue:                     o.hi,
	}
}

// stayPair keys a length of stay by its group, the input of MeanPerKey.
func stayPair(st stay) (string, float64) {
	return st.Key, st.LOS
}

// joinFn assembles one line key,persons,rows,mean_los of the released
// table from the three aggregations' outputs; a measure whose own
// partition selection dropped the group is left empty. It counts the
// groups released in total and per measure.
type joinFn struct{}

// ProcessElement joins the outputs for one group.
func (fn *joinFn) ProcessElement(ctx context.Context, key string, persons func(*int64) bool, rows func(*int64) bool, means func(*float64) bool, emit func(string)) {
	groupsOut.Inc(ctx, 1)
	var sb strings.Builder
	sb.WriteString(csvField(key))
	var n int64
	sb.WriteByte(',')
	if persons(&n) {
		groupsPersons.Inc(ctx, 1)
		sb.WriteString(strconv.FormatInt(n, 10))
	}
	sb.WriteByte(',')
	if rows(&n) {
		groupsRows.Inc(ctx, 1)
		sb.WriteString(strconv.FormatInt(n, 10))
	}
	var m float64
	sb.WriteByte(',')
	if means(&m) {
		groupsMean.Inc(ctx, 1)
		sb.WriteString(strconv.FormatFloat(m, 'g', -1, 64))
	}
	emit(sb.String())
}

// csvField quotes s for a CSV line when it needs quoting.
func csvField(s string) string {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
