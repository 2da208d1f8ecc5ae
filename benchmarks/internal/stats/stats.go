// Package stats holds the summary statistics the benchmark harnesses
// (package benchmarks and benchmarks/utility) report.
package stats

import (
	"math"
	"slices"
)

// Median returns the median of xs (the mean of the two middle values for
// an even count), NaN for none. xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
