// Package blasvec holds vectorised float32 elementwise kernels (exp with
// a fused shift and sum, tanh, max, the tanh and the erf GELU and their
// derivatives, SwiGLU and its gradients, LayerNorm rows) for the fused
// softmax, log-softmax, activation and LayerNorm ops of package graph,
// and the float32 Adam/AdamW update of its optimizer (AdamStep32, which
// rounds every operation as the plain-Go loop does: same bits).
// On amd64 with AVX2 + FMA they run 8 lanes at a time in Go assembly
// (vec_amd64.s, adam_amd64.s; no cgo); elsewhere, or with -tags noasm, they fall back to
// math.Exp / math.Tanh / math.Erfc in float64 element by element.
//
// Algorithm (per lane, float32): clamp x to [−87, 88.3]; k = round(x·log2 e);
// r = x − k·ln 2 with ln 2 split in a high part exact in 16 bits and a low
// part, so r is nearly exact and |r| ≤ ln2/2; exp r by its Taylor
// polynomial of degree 7 (truncation error r⁸/8! ≤ 5.2e-9, below half an
// ulp) evaluated by Horner with FMA; multiply by 2^k by adding k to the
// exponent field. Inputs below −87 give 0 (true value < 1.7e-38, at the
// edge of the normal range), above 88.3 give +Inf (a slightly early
// overflow: the true limit is 88.72), NaN gives NaN. Measured error against
// math.Exp: ≤ 2 ulp (TestExpAccuracy). tanh x = 1 − 2/(exp(2x) + 1), with
// absolute error ≤ 2.5e-7 (relative accuracy is lost only where |tanh x|
// is tiny, which GELU's 1 + tanh does not see).
package blasvec

import "math"

// ExpShiftSum32 sets dst[i] = exp(src[i] − shift) and returns Σ dst[i],
// accumulated in float64. len(dst) must be ≥ len(src); dst may be src.
func ExpShiftSum32(dst, src []float32, shift float32) float64 {
	n := len(src)
	dst = dst[:n]
	var sum float64
	head := 0
	if vecOK {
		head = n &^ 7
		if head > 0 {
			sum = expShiftSumAVX2(&dst[0], &src[0], head, shift)
		}
	}
	if vecOK && head < n { // the tail through the lanes too: pad with −Inf (exp = 0)
		var buf [8]float32
		for i := range buf {
			buf[i] = float32(math.Inf(-1))
		}
		copy(buf[:], src[head:])
		sum += expShiftSumAVX2(&buf[0], &buf[0], 8, shift)
		copy(dst[head:], buf[:n-head])
		return sum
	}
	for i := head; i < n; i++ {
		e := exp32(src[i] - shift)
		dst[i] = e
		sum += float64(e)
	}
	return sum
}

// Exp32 sets dst[i] = exp(src[i]). len(dst) must be ≥ len(src); dst may be src.
func Exp32(dst, src []float32) { ExpShiftSum32(dst, src, 0) }

// Tanh32 sets dst[i] = tanh(src[i]). len(dst) must be ≥ len(src); dst may be src.
func Tanh32(dst, src []float32) {
	n := len(src)
	dst = dst[:n]
	head := 0
	if vecOK {
		head = n &^ 7
		if head > 0 {
			tanhAVX2(&dst[0], &src[0], head)
		}
	}
	for i := head; i < n; i++ {
		dst[i] = tanh32(src[i])
	}
}

// geluC is sqrt(2/π).
var geluC = math.Sqrt(2 / math.Pi)

// GELU32 is the tanh-approximated GELU: t[i] = tanh(c·(x + 0.044715x³)),
// c = sqrt(2/π), and y[i] = 0.5·x·(1 + t[i]) (t is kept for GELUGrad32).
// tanh is 1 − 2/(exp(2u) + 1) with the lane exp: absolute error ≤ 2.5e-7.
func GELU32(y, t, x []float32) {
	n := len(x)
	y, t = y[:n], t[:n]
	head := 0
	if vecOK {
		head = n &^ 7
		if head > 0 {
			geluAVX2(&y[0], &t[0], &x[0], head)
		}
	}
	for i := head; i < n; i++ {
		v := float64(x[i])
		th := tanh32(float32(geluC * (v + 0.044715*v*v*v)))
		t[i] = th
		y[i] = 0.5 * x[i] * (1 + th)
	}
}

// GELUGrad32 sets dx[i] = dy[i]·GELU′(x[i]) from the t of GELU32:
// GELU′ = 0.5·(1 + t) + 0.5·x·(1 − t²)·c·(1 + 3·0.044715·x²).
func GELUGrad32(dx, x, t, dy []float32) {
	n := len(x)
	dx, t, dy = dx[:n], t[:n], dy[:n]
	head := 0
	if vecOK {
		head = n &^ 7
		if head > 0 {
			geluGradAVX2(&dx[0], &x[0], &t[0], &dy[0], head)
		}
	}
	for i := head; i < n; i++ {
		v, th := float64(x[i]), float64(t[i])
		d := 0.5*(1+th) + 0.5*v*(1-th*th)*geluC*(1+3*0.044715*v*v)
		dx[i] = float32(d * float64(dy[i]))
	}
}

// GELUErf32 is the exact GELU, y[i] = x·Φ(x) = 0.5·x·(1 + erf(x/√2)), Φ
// the standard normal CDF. Lanes: Φ(−|x|) = exp(−x²/2)·P(|x|)/Q(|x|), a
// rational approximation of degree 4/5 with positive coefficients fitted
// for this package by internal/fitnormal (relative error 6e-9 on
// [0, 14.5] in exact arithmetic), with x² split exactly into a rounded
// part and an FMA residual and exp(−x²/2) scaled by 2⁴⁰, so that the tail
// reaches the subnormals in one rounding; Φ(x) = 1 − Φ(−x) for x ≥ 0.
// TestGELUErfAccuracy bounds the relative error of y by 6e-7 over
// [−14, 14], the lower tail included. The limits hold at ±Inf (y = −0 at
// −Inf, +Inf at +Inf); NaN gives NaN. Without the kernels: Φ in float64
// from math.Erfc. len(y) must be ≥ len(x).
func GELUErf32(y, x []float32) {
	n := len(x)
	y = y[:n]
	if !vecOK {
		geluErfGo(y, x)
		return
	}
	head := n &^ 7
	if head > 0 {
		geluErfAVX2(&y[0], &x[0], head)
	}
	if head < n { // the tail through the lanes too, so no element depends on its position
		var bx, by [8]float32
		copy(bx[:], x[head:])
		geluErfAVX2(&by[0], &bx[0], 8)
		copy(y[head:], by[:n-head])
	}
}

// GELUErfGrad32 sets dx[i] = dy[i]·(Φ(x) + x·φ(x)), the derivative of
// GELUErf32 (φ the standard normal density), with the approximation of
// GELUErf32; at ±Inf the limits 1 and 0. len(dx) must be ≥ len(x).
func GELUErfGrad32(dx, x, dy []float32) {
	n := len(x)
	dx, dy = dx[:n], dy[:n]
	if !vecOK {
		geluErfGradGo(dx, x, dy)
		return
	}
	head := n &^ 7
	if head > 0 {
		geluErfGradAVX2(&dx[0], &x[0], &dy[0], head)
	}
	if head < n {
		var bx, bdy, bdx [8]float32
		copy(bx[:], x[head:])
		copy(bdy[:], dy[head:])
		geluErfGradAVX2(&bdx[0], &bx[0], &bdy[0], 8)
		copy(dx[head:], bdx[:n-head])
	}
}

// geluErfGo is GELUErf32 without the kernels.
func geluErfGo(y, x []float32) {
	for i, v := range x {
		cdf, _ := normalParts(float64(v))
		y[i] = float32(math.Max(float64(v), -40) * cdf) // −40·0 = −0 at −Inf
	}
}

// geluErfGradGo is GELUErfGrad32 without the kernels.
func geluErfGradGo(dx, x, dy []float32) {
	for i, v := range x {
		cdf, xpdf := normalParts(float64(v))
		dx[i] = float32((cdf + xpdf) * float64(dy[i]))
	}
}

// normalParts returns Φ(x) and x·φ(x) in float64 (the GELU fallback), with
// their limits at ±Inf.
func normalParts(x float64) (cdf, xpdf float64) {
	switch {
	case math.IsInf(x, 1):
		return 1, 0
	case math.IsInf(x, -1):
		return 0, 0
	}
	return 0.5 * math.Erfc(-x/math.Sqrt2), x * math.Exp(-0.5*x*x) / math.Sqrt(2*math.Pi)
}

// SwiGLU32 sets y[i] = silu(g[i])·u[i], silu(g) = g·σ(g). Lanes: σ from
// ex = exp(−|g|) with the lane exp, r = 1/(1 + ex), σ = r for g ≥ 0 and
// ex·r for g < 0 (no overflow; the lower tail reaches the subnormals in
// one rounding). TestSwiGLUAccuracy bounds the relative error by 5e-7. At
// g = −Inf silu is −0 (its limit), at +Inf +Inf; NaN gives NaN. Without
// the kernels, float64 with math.Exp. len(y) and len(u) must be ≥ len(g).
func SwiGLU32(y, g, u []float32) {
	n := len(g)
	y, u = y[:n], u[:n]
	if !vecOK {
		swigluGo(y, g, u)
		return
	}
	head := n &^ 7
	if head > 0 {
		swigluAVX2(&y[0], &g[0], &u[0], head)
	}
	if head < n {
		var bg, bu, by [8]float32
		copy(bg[:], g[head:])
		copy(bu[:], u[head:])
		swigluAVX2(&by[0], &bg[0], &bu[0], 8)
		copy(y[head:], by[:n-head])
	}
}

// SwiGLUGateGrad32 sets dx[i] = dy[i]·u[i]·σ(g)·(1 + g·(1 − σ(g))), the
// gradient of SwiGLU32 with respect to g. 1 − σ is formed without
// cancellation (as exp(−g)·σ for g ≥ 0); the factor after dy·u takes its
// limits 0 at g = −Inf and 1 at +Inf.
func SwiGLUGateGrad32(dx, g, u, dy []float32) {
	n := len(g)
	dx, u, dy = dx[:n], u[:n], dy[:n]
	if !vecOK {
		swigluGateGradGo(dx, g, u, dy)
		return
	}
	head := n &^ 7
	if head > 0 {
		swigluGateGradAVX2(&dx[0], &g[0], &u[0], &dy[0], head)
	}
	if head < n {
		var bg, bu, bdy, bdx [8]float32
		copy(bg[:], g[head:])
		copy(bu[:], u[head:])
		copy(bdy[:], dy[head:])
		swigluGateGradAVX2(&bdx[0], &bg[0], &bu[0], &bdy[0], 8)
		copy(dx[head:], bdx[:n-head])
	}
}

// SwiGLUUpGrad32 sets dx[i] = dy[i]·silu(g[i]), the gradient of SwiGLU32
// with respect to u.
func SwiGLUUpGrad32(dx, g, dy []float32) {
	n := len(g)
	dx, dy = dx[:n], dy[:n]
	if !vecOK {
		swigluGo(dx, g, dy)
		return
	}
	head := n &^ 7
	if head > 0 {
		swigluUpGradAVX2(&dx[0], &g[0], &dy[0], head)
	}
	if head < n {
		var bg, bdy, bdx [8]float32
		copy(bg[:], g[head:])
		copy(bdy[:], dy[head:])
		swigluUpGradAVX2(&bdx[0], &bg[0], &bdy[0], 8)
		copy(dx[head:], bdx[:n-head])
	}
}

// swigluGo is SwiGLU32 (and, with u = dy, SwiGLUUpGrad32) without the
// kernels.
func swigluGo(y, g, u []float32) {
	for i, v := range g {
		y[i] = float32(silu64(float64(v)) * float64(u[i]))
	}
}

// swigluGateGradGo is SwiGLUGateGrad32 without the kernels.
func swigluGateGradGo(dx, g, u, dy []float32) {
	for i, v := range g {
		dx[i] = float32(siluGrad64(float64(v)) * float64(u[i]) * float64(dy[i]))
	}
}

// silu64 is g·σ(g) in float64 (the fallback), −0 at g = −Inf.
func silu64(g float64) float64 {
	return math.Max(g, -1000) / (1 + math.Exp(-g))
}

// siluGrad64 is σ(g)·(1 + g·(1 − σ(g))) in float64, with the limits 0 and
// 1 at ∓Inf.
func siluGrad64(g float64) float64 {
	e := math.Exp(-g)
	s := 1 / (1 + e)
	om := e * s // 1 − σ
	if g < 0 {
		om = 1 - s
	}
	return s * (1 + math.Max(-1000, math.Min(g, 1000))*om)
}

// LayerNormStats32 returns the mean of x and σ = sqrt(var + eps), var the
// biased variance, by two passes with float64 sums (x − mean is formed in
// float32).
func LayerNormStats32(x []float32, eps float64) (mean, std float64) {
	n := len(x)
	head := 0
	var s float64
	if vecOK {
		head = n &^ 7
		if head > 0 {
			s = sum64AVX2(&x[0], head)
		}
	}
	for _, v := range x[head:] {
		s += float64(v)
	}
	mean = s / float64(n)
	m32 := float32(mean)
	var q float64
	if head > 0 {
		q = sqDev64AVX2(&x[0], head, m32)
	}
	for _, v := range x[head:] {
		d := float64(v - m32)
		q += d * d
	}
	return mean, math.Sqrt(q/float64(n) + eps)
}

// LayerNormRow32 sets y = (x − mean)·inv·w + b (inv = 1/σ) for one row.
func LayerNormRow32(y, x, w, b []float32, mean, inv float32) {
	n := len(x)
	y, w, b = y[:n], w[:n], b[:n]
	head := 0
	if vecOK {
		head = n &^ 7
		if head > 0 {
			lnRowAVX2(&y[0], &x[0], &w[0], &b[0], head, mean, inv)
		}
	}
	for j := head; j < n; j++ {
		y[j] = (x[j]-mean)*inv*w[j] + b[j]
	}
}

// LayerNormGradRow32 sets the input gradient of one LayerNorm row,
//
//	dx = (g − mean(g) − x̂·mean(g·x̂))·inv,  g = dy·w,  x̂ = (x − mean)·inv,
//
// with the two means summed in float64.
func LayerNormGradRow32(dx, x, w, dy []float32, mean, inv float32) {
	n := len(x)
	dx, w, dy = dx[:n], w[:n], dy[:n]
	head := 0
	var sg, sgx float64
	if vecOK {
		head = n &^ 7
		if head > 0 {
			sg, sgx = lnGradSumsAVX2(&x[0], &w[0], &dy[0], head, mean, inv)
		}
	}
	for j := head; j < n; j++ {
		g, xh := dy[j]*w[j], (x[j]-mean)*inv
		sg += float64(g)
		sgx += float64(g * xh)
	}
	mg, mgx := float32(sg/float64(n)), float32(sgx/float64(n))
	if head > 0 {
		lnGradDxAVX2(&dx[0], &x[0], &w[0], &dy[0], head, mean, inv, mg, mgx)
	}
	for j := head; j < n; j++ {
		xh := (x[j] - mean) * inv
		dx[j] = (dy[j]*w[j] - mg - xh*mgx) * inv
	}
}

// Max32 returns the largest element of x (−Inf for an empty x). NaNs are
// not guaranteed to propagate: callers that must see them should look at
// the sum of ExpShiftSum32, which does.
func Max32(x []float32) float32 {
	m := float32(math.Inf(-1))
	head := 0
	if vecOK && len(x) >= 8 {
		head = len(x) &^ 7
		m = max32AVX2(&x[0], head)
	}
	for _, v := range x[head:] {
		if v > m {
			m = v
		}
	}
	return m
}

// Scale32 multiplies every element of x by s in place.
func Scale32(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

// Available reports whether the AVX2 kernels are in use.
func Available() bool { return vecOK }

// exp32 is the scalar version of the lane algorithm (tails of Tanh32 and
// GELU32), so that the result of an element does not depend on the kernel
// that computed it beyond the last bit.
func exp32(x float32) float32 {
	if !vecOK {
		return float32(math.Exp(float64(x)))
	}
	switch {
	case x != x:
		return x
	case x < -87:
		return 0
	case x > 88.3:
		return float32(math.Inf(1))
	}
	k := float32(math.RoundToEven(float64(x * 1.442695)))
	r := fma32(-k, 0.693145751953125, x)
	r = fma32(-k, 1.4286068e-06, r)
	p := float32(1.0 / 5040)
	for _, c := range [...]float32{1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1, 1} {
		p = fma32(p, r, c)
	}
	return math.Float32frombits(math.Float32bits(p) + uint32(int32(k))<<23)
}

// fma32 is a·b + c rounded once to float32 (exact through float64: the
// product of two float32 is exact in float64, the sum is rounded twice
// only in the rare halfway case).
func fma32(a, b, c float32) float32 { return float32(math.FMA(float64(a), float64(b), float64(c))) }

func tanh32(x float32) float32 {
	if !vecOK {
		return float32(math.Tanh(float64(x)))
	}
	e := exp32(2 * x)
	return 1 - 2/(e+1)
}
