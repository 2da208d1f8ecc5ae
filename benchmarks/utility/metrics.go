package utility

import (
	"math"

	"github.com/statgate/statgate/benchmarks/internal/stats"
)

// LargeCount is the truth from which a count cell's relative error and
// bias are reported: below it the relative error of a noisy count says
// more about the noise scale than about the answer.
const LargeCount = 100

// Stats are the figures of a set of cells (one question, or the whole
// workload). Medians and shares are NaN when they have no cells.
type Stats struct {
	// Cells counts every cell; Released, Suppressed and NotReleased by status.
	Cells, Released, Suppressed, NotReleased int
	// NotReleasedGroups counts the exact groups the result did not list,
	// and MaxNotReleased the largest exact count among their cells.
	NotReleasedGroups int
	MaxNotReleased    float64

	// CountCells are the released count cells; Large those with truth ≥
	// LargeCount, of which MedianAbsErr is the median |relative error|
	// and MedianBias the median signed relative error. BiasSE is the
	// standard error that the noise alone gives MedianBias: 1.2533 times
	// the root mean square of the cells' noise sd / truth, over √Large.
	CountCells, Large        int
	MedianAbsErr, MedianBias float64
	BiasSE                   float64
	// Small counts released count cells whose truth is under the result's
	// min_cell_count; SmallShare is Small / CountCells.
	Small      int
	SmallShare float64

	// CoverageCells are released cells with an interval and a truth;
	// Covered those whose interval contains the truth; Coverage the share.
	CoverageCells, Covered int
	Coverage               float64

	// MeanCells are released mean and quantile cells with a non-zero
	// truth; MeanAbsErr their median |relative error|.
	MeanCells  int
	MeanAbsErr float64
	// SumCells / SumAbsErr and SpreadCells / SpreadAbsErr: the same for
	// sums and for standard deviations and variances.
	SumCells     int
	SumAbsErr    float64
	SpreadCells  int
	SpreadAbsErr float64
	// RatioCells / RatioAbsErr: the same for expressions of aggregates.
	RatioCells  int
	RatioAbsErr float64
	// NoData counts released mean, quantile and spread cells of groups
	// that have no data at all (nothing true to release).
	NoData int

	// SuppressedShare is Suppressed / (Released + Suppressed): the share
	// of the listed groups' cells that were withheld.
	SuppressedShare float64
}

// Summarize computes the figures of cells.
func Summarize(cells []Cell) Stats {
	s := Stats{Cells: len(cells), MaxNotReleased: math.NaN()}
	var absErr, bias, meanErr, sumErr, spreadErr, ratioErr []float64
	var relVar float64
	for i := range cells {
		c := &cells[i]
		switch c.Status {
		case Suppressed:
			s.Suppressed++
			continue
		case NotReleased:
			s.NotReleased++
			if c.Col == 0 {
				s.NotReleasedGroups++
			}
			if c.Class == ClassCount && c.HasTruth && (math.IsNaN(s.MaxNotReleased) || c.Truth > s.MaxNotReleased) {
				s.MaxNotReleased = c.Truth
			}
			continue
		}
		s.Released++
		if cov, ok := c.Covered(); ok {
			s.CoverageCells++
			if cov {
				s.Covered++
			}
		}
		if !c.HasTruth {
			s.NoData++
			continue
		}
		e := c.RelErr()
		switch c.Class {
		case ClassCount:
			s.CountCells++
			if c.Truth < float64(c.MinCellCount) {
				s.Small++
			}
			if c.Truth >= LargeCount {
				s.Large++
				absErr = append(absErr, math.Abs(e))
				bias = append(bias, e)
				relVar += (c.StdDev / c.Truth) * (c.StdDev / c.Truth)
			}
		case ClassMean, ClassQuantile:
			if !math.IsNaN(e) {
				meanErr = append(meanErr, math.Abs(e))
			}
		case ClassSum:
			if !math.IsNaN(e) {
				sumErr = append(sumErr, math.Abs(e))
			}
		case ClassSpread:
			if !math.IsNaN(e) {
				spreadErr = append(spreadErr, math.Abs(e))
			}
		case ClassRatio:
			if !math.IsNaN(e) {
				ratioErr = append(ratioErr, math.Abs(e))
			}
		}
	}
	s.MedianAbsErr, s.MedianBias = Median(absErr), Median(bias)
	s.BiasSE = math.NaN()
	if n := float64(len(bias)); n > 0 {
		// The median of n normal draws has sd √(π/2)·σ/√n.
		s.BiasSE = math.Sqrt(math.Pi/2) * math.Sqrt(relVar/n) / math.Sqrt(n)
	}
	s.SmallShare = ratio(s.Small, s.CountCells)
	s.Coverage = ratio(s.Covered, s.CoverageCells)
	s.MeanCells, s.MeanAbsErr = len(meanErr), Median(meanErr)
	s.SumCells, s.SumAbsErr = len(sumErr), Median(sumErr)
	s.SpreadCells, s.SpreadAbsErr = len(spreadErr), Median(spreadErr)
	s.RatioCells, s.RatioAbsErr = len(ratioErr), Median(ratioErr)
	s.SuppressedShare = ratio(s.Suppressed, s.Released+s.Suppressed)
	return s
}

// Median returns the median of xs (the mean of the two middle values for
// an even count), NaN for none. xs is not modified.
func Median(xs []float64) float64 { return stats.Median(xs) }

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// BiasPrecision is the largest BiasSE of a question that Worst weighs
// when asked for precise questions: half the ±5 % target of issue 12, so
// that a question whose few large cells are mostly noise (one cell with a
// noise sd three times its truth) cannot be the worst by chance alone.
const BiasPrecision = 0.025

// Worst returns the index of the outcome whose median bias (count cells
// with truth ≥ LargeCount) is farthest from zero among those whose BiasSE
// is at most maxSE (math.Inf(1): all), or -1 when none qualifies.
func Worst(outcomes []*Outcome, maxSE float64) int {
	worst := -1
	for i, o := range outcomes {
		b := o.Stats.MedianBias
		if math.IsNaN(b) || !(o.Stats.BiasSE <= maxSE) {
			continue
		}
		if worst < 0 || math.Abs(b) > math.Abs(outcomes[worst].Stats.MedianBias) {
			worst = i
		}
	}
	return worst
}
