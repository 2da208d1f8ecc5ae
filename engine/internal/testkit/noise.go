package testkit

import "github.com/google/differential-privacy/go/v3/noise"

// FakeNoise adds Shift (zero unless set) instead of noise, so that tests
// can check released values exactly (as the DP library's own tests do
// with noNoise). Thresholds, confidence intervals and standard deviations
// come from the embedded real mechanism, which must be set:
//
//	testkit.FakeNoise{Noise: noise.Laplace()}
//
// It is safe for concurrent use when the embedded noise is.
type FakeNoise struct {
	noise.Noise
	// Shift is added to every value: to test what comes after the noise
	// (clamping, rounding). AddNoiseInt64 adds it truncated to an integer.
	Shift float64
}

// AddNoiseFloat64 returns x + Shift (x itself, even -0, when Shift is 0).
func (n FakeNoise) AddNoiseFloat64(x float64, _ int64, _, _, _ float64) (float64, error) {
	if n.Shift == 0 {
		return x, nil
	}
	return x + n.Shift, nil
}

// AddNoiseInt64 returns x + int64(Shift).
func (n FakeNoise) AddNoiseInt64(x, _, _ int64, _, _ float64) (int64, error) {
	return x + int64(n.Shift), nil
}
