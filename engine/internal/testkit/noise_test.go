package testkit

import (
	"math"
	"testing"

	"github.com/google/differential-privacy/go/v3/noise"
)

func TestFakeNoise(t *testing.T) {
	lap := noise.Laplace()
	for _, shift := range []float64{0, 2.5} {
		n := FakeNoise{Noise: lap, Shift: shift}
		if got, err := n.AddNoiseFloat64(10, 1, 1, 0.5, 0); err != nil || got != 10+shift {
			t.Errorf("shift %g: AddNoiseFloat64(10) = %g, %v", shift, got, err)
		}
		if got, err := n.AddNoiseInt64(10, 1, 1, 0.5, 0); err != nil || got != 10+int64(shift) {
			t.Errorf("shift %g: AddNoiseInt64(10) = %d, %v", shift, got, err)
		}
	}
	if got, _ := (FakeNoise{Noise: lap}).AddNoiseFloat64(math.Copysign(0, -1), 1, 1, 0.5, 0); !math.Signbit(got) {
		t.Errorf("AddNoiseFloat64(-0) = %g, want -0", got)
	}
	want, err := lap.ComputeConfidenceIntervalFloat64(10, 1, 1, 0.5, 0, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := (FakeNoise{Noise: lap}).ComputeConfidenceIntervalFloat64(10, 1, 1, 0.5, 0, 0.05); err != nil || got != want {
		t.Errorf("interval %+v, %v; want the embedded noise's %+v", got, err, want)
	}
}
