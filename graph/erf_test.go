package graph

import (
	"math"
	"testing"
)

// TestErfExpApprox checks the float32 GELU's erf and exp(−z²) against
// math.Erf and math.Exp on a dense grid over [−8, 8] (beyond, erf is ±1 in
// float32): absolute error < 2e-7 in erf, relative < 1e-9 in the exponential (expApprox, far below float32 rounding).
func TestErfExpApprox(t *testing.T) {
	var worstE, worstG float64
	for i := -800000; i <= 800000; i++ {
		z := float64(i) / 100000
		e, g := erfExpApprox(z)
		worstE = math.Max(worstE, math.Abs(e-math.Erf(z)))
		if w := math.Exp(-z * z); w > 0 {
			worstG = math.Max(worstG, math.Abs(g-w)/w)
		}
	}
	t.Logf("worst |erf error| %.3g, worst relative exp error %.3g", worstE, worstG)
	if worstE > 2e-7 || worstG > 1e-9 {
		t.Errorf("erf error %.3g (want < 2e-7), exp relative error %.3g (want < 1e-9)", worstE, worstG)
	}
}
