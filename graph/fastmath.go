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

// tanhApprox is a clamped odd rational approximation of tanh (numerator
// of degree 13, denominator of degree 6 in u; the coefficients of Eigen's
// float32 fast tanh): absolute error < 3e-7 (a few float32 ulps near ±1;
// fastmath_test.go), without exponentials or branches beyond the clamp.
func tanhApprox(u float64) float64 {
	const clamp = 7.90531110763549805 // tanh(clamp) rounds to 1 in float32
	if u > clamp {
		u = clamp
	} else if u < -clamp {
		u = -clamp
	}
	u2 := u * u
	p := -2.76076847742355e-16
	p = p*u2 + 2.00018790482477e-13
	p = p*u2 - 8.60467152213735e-11
	p = p*u2 + 5.12229709037114e-08
	p = p*u2 + 1.48572235717979e-05
	p = p*u2 + 6.37261928875436e-04
	p = p*u2 + 4.89352455891786e-03
	q := 1.19825839466702e-06
	q = q*u2 + 1.18534705686654e-04
	q = q*u2 + 2.26843463243900e-03
	q = q*u2 + 4.89352518554385e-03
	return u * p / q
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
