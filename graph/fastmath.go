package graph

import "math"

// Fast transcendental functions for the float32 kernels. Go has no float32
// exp/tanh, and math.Exp/math.Tanh cost 20–40 ns each here; the softmax,
// log-softmax and GELU kernels evaluate several million per training step.
// The float64 kernels keep math.Exp/math.Tanh (the goldens need ≈1e-15).

const (
	log2e = 1.4426950408889634         // 1/ln 2
	ln2hi = 6.93147180369123816490e-01 // ln 2, high part (exact in 32 bits)
	ln2lo = 1.90821492927058770002e-10 // ln 2 − ln2hi
	expLo = -708.0                     // below: exp underflows to 0
	expHi = 709.0                      // above: exp overflows to +Inf
)

// expApprox is exp(x) with relative error < 3e-10 (measured over
// [−700, 80]; fastmath_test.go), 50× below float32 rounding: range
// reduction x = k·ln 2 + r, |r| ≤ ln 2/2, a degree-8 Taylor polynomial for
// e^r, and 2^k assembled from its exponent bits.
func expApprox(x float64) float64 {
	if x < expLo {
		return 0
	}
	if x > expHi {
		return math.Inf(1)
	}
	k := math.Floor(x*log2e + 0.5)
	r := (x - k*ln2hi) - k*ln2lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040+r/40320)))))))
	return p * math.Float64frombits(uint64(int64(k)+1023)<<52)
}

// tanhApprox is tanh(u) = 1 − 2/(e^{2u} + 1) through expApprox; absolute
// error < 1e-9.
func tanhApprox(u float64) float64 {
	return 1 - 2/(expApprox(2*u)+1)
}

// isFloat32 reports whether the kernel element type is float32.
func isFloat32[T elem]() bool {
	var z T
	_, ok := any(z).(float32)
	return ok
}

// expFor returns the exp to use for element type T: expApprox for float32,
// math.Exp for float64.
func expFor[T elem]() func(float64) float64 {
	if isFloat32[T]() {
		return expApprox
	}
	return math.Exp
}

// tanhFor returns the tanh to use for element type T.
func tanhFor[T elem]() func(float64) float64 {
	if isFloat32[T]() {
		return tanhApprox
	}
	return math.Tanh
}
