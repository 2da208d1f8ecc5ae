package stats

import (
	"math"
	"slices"
	"testing"
)

func TestMedian(t *testing.T) {
	xs := []float64{4, 1, 3, 2}
	if got := Median(xs); got != 2.5 {
		t.Errorf("Median(%v) = %g, want the mean of the middle two, 2.5", xs, got)
	}
	if !slices.Equal(xs, []float64{4, 1, 3, 2}) {
		t.Errorf("Median reordered its input: %v", xs)
	}
	if got := Median([]float64{5, 1, 3}); got != 3 {
		t.Errorf("Median of an odd count = %g, want 3", got)
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil) is not NaN")
	}
}
