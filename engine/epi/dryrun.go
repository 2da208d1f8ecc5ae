package epi

import (
	"fmt"
	"math"

	"github.com/statgate/statgate/engine/result"
)

// halfWidth95 is the half-width of a 95 % interval of Laplace noise with
// standard deviation sd: P(|X| > w) = exp(−w/b) = 0.05 with b = sd/√2.
func halfWidth95(sd float64) float64 { return sd / math.Sqrt2 * math.Log(20) }

// expected is the expected accuracy of one noisy histogram's cells.
func expected(measure, aggregate string, sd float64, note string) result.Expected {
	hw := halfWidth95(sd)
	return result.Expected{Measure: measure, Aggregate: aggregate, StdDev: &sd, HalfWidth95: &hw, Note: note}
}

// dryRun is the preview of a release whose count threshold is thr.
func dryRun(thr float64, measures ...result.Expected) *result.DryRun {
	d := &result.DryRun{Measures: measures, ReleaseThreshold: thr}
	if thr > 0 {
		d.SmallestReleasable = int(math.Ceil(thr))
	}
	return d
}

// DryRun is what the release would answer without running: no rows, the
// metadata every answer has (split, mechanism, threshold, notes) and the
// expected accuracy of each histogram's cells. It reads nothing.
func (r *RatesRelease) DryRun() *RatesResult {
	res := &RatesResult{Rows: []RateRow{}, Meta: r.meta()}
	res.Meta.DryRun = dryRun(res.Meta.SuppressBelow,
		expected(PurposeEvents, "count", r.events.sd, fmt.Sprintf(
			"per cell of the grid (strata × %s); a row summing n cells has standard deviation %.3g·√n; counts are rounded to multiples of %d",
			gridNote(r.p), r.events.sd, max(r.o.RoundTo, 1))),
		expected(PurposePersonYears, "sum", r.time.sd, fmt.Sprintf(
			"per cell (at most %.2f person-years per person); a row summing n cells has standard deviation %.3g·√n; a rate's interval also holds the Poisson variation of its events",
			r.p.periodYears, r.time.sd)))
	return res
}

// DryRun is what the release would answer without running: no strata,
// the metadata every answer has and the expected accuracy of the cells.
func (r *SurvivalRelease) DryRun() *SurvivalResult {
	res := &SurvivalResult{Strata: []SurvivalStratum{}, Meta: r.meta()}
	res.Meta.DryRun = dryRun(res.Meta.SuppressBelow,
		expected(PurposeSurvivalCells, "count", r.mech.sd, fmt.Sprintf(
			"per cell (events or censorings in one of %d intervals, or beyond the horizon, per stratum); a survival point's interval also holds Greenwood's variance, which depends on the counts",
			r.p.q.Horizon)))
	return res
}

// ResultMeta is the answer's metadata, for the engine to complete.
func (r *RatesResult) ResultMeta() *result.Meta { return &r.Meta }

// ResultMeta is the answer's metadata, for the engine to complete.
func (r *SurvivalResult) ResultMeta() *result.Meta { return &r.Meta }
