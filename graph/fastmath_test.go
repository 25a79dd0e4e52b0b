package graph

import (
	"math"
	"testing"
)

// TestFastMath bounds the float32 kernels' exp and tanh: relative error of
// expApprox < 1e-9 on [−700, 80] and absolute error of tanhApprox < 5e-7
// on [−30, 30] (float32 rounding near ±1 is 6e-8 absolute; a few ulps are
// far inside the float32 tolerance of 1e-4), plus the limits and oddness.
func TestFastMath(t *testing.T) {
	var worstExp, worstTanh float64
	for x := -700.0; x < 80; x += 0.00731 {
		worstExp = math.Max(worstExp, math.Abs(expApprox(x)/math.Exp(x)-1))
	}
	for u := -30.0; u < 30; u += 0.000913 {
		worstTanh = math.Max(worstTanh, math.Abs(tanhApprox(u)-math.Tanh(u)))
	}
	t.Logf("expApprox max rel err %.3g (tolerance 1e-9), tanhApprox max abs err %.3g (tolerance 5e-7)", worstExp, worstTanh)
	if worstExp > 1e-9 || worstTanh > 5e-7 {
		t.Errorf("fast math too inaccurate: exp %.3g, tanh %.3g", worstExp, worstTanh)
	}
	if expApprox(-1000) != 0 || !math.IsInf(expApprox(1000), 1) || expApprox(0) != 1 {
		t.Errorf("exp limits: %v %v %v", expApprox(-1000), expApprox(1000), expApprox(0))
	}
	if math.Abs(tanhApprox(1000)-1) > 5e-7 || tanhApprox(-1000) != -tanhApprox(1000) || tanhApprox(0) != 0 || tanhApprox(-0.3) != -tanhApprox(0.3) {
		t.Errorf("tanh limits: %v %v %v", tanhApprox(1000), tanhApprox(-1000), tanhApprox(0))
	}
}

func BenchmarkExpApprox(b *testing.B) {
	s := 0.0
	for i := 0; i < b.N; i++ {
		s += expApprox(-float64(i%97) * 0.173)
	}
	_ = s
}

func BenchmarkMathExp(b *testing.B) {
	s := 0.0
	for i := 0; i < b.N; i++ {
		s += math.Exp(-float64(i%97) * 0.173)
	}
	_ = s
}

func BenchmarkTanhApprox(b *testing.B) {
	s := 0.0
	for i := 0; i < b.N; i++ {
		s += tanhApprox(float64(i%97-48) * 0.073)
	}
	_ = s
}

func BenchmarkMathTanh(b *testing.B) {
	s := 0.0
	for i := 0; i < b.N; i++ {
		s += math.Tanh(float64(i%97-48) * 0.073)
	}
	_ = s
}
