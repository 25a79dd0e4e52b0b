// Command fitnormal derives the rational approximation of the scaled
// normal tail used by blasvec's erf GELU kernels (vec_amd64.s, GERF8):
//
//	m(u) = Φ(−u)·exp(u²/2) ≈ P(u)/Q(u),  u ∈ [0, 14.5],
//
// P of degree 4, Q of degree 5 with Q(0) = 1 (so P/Q ~ 1/(√(2π)·u) at
// large u, as m). The fit minimises the largest relative error: linearised
// least squares (P − m·Q)/(m·Q_prev) on 4001 Chebyshev-spaced points,
// iterated so that Q_prev converges to Q, with Lawson's reweighting towards
// the minimax solution after the first 6 iterations. The reference m is
// 0.5·math.Erfc(u/√2)·math.Exp(u²/2) in float64. It prints the
// coefficients in float64 and as float32 bit patterns, and the largest
// relative error in float64 and in float32 Horner evaluation with FMA.
//
//	go run ./graph/blasvec/internal/fitnormal
package main

import (
	"fmt"
	"math"
)

const (
	degP  = 4
	uMax  = 14.5
	scale = 4 // the fit runs in v = u/scale, for conditioning
	nodes = 4000
	iters = 80
)

func m(u float64) float64 { return 0.5 * math.Erfc(u/math.Sqrt2) * math.Exp(u*u/2) }

// lsq solves min ‖A·c − y‖₂ by Householder QR.
func lsq(A [][]float64, y []float64) []float64 {
	n, p := len(A), len(A[0])
	a := make([][]float64, n)
	for i := range a {
		a[i] = append([]float64(nil), A[i]...)
	}
	b := append([]float64(nil), y...)
	for k := 0; k < p; k++ {
		var norm float64
		for i := k; i < n; i++ {
			norm += a[i][k] * a[i][k]
		}
		norm = math.Sqrt(norm)
		if a[k][k] > 0 {
			norm = -norm
		}
		v := make([]float64, n)
		v[k] = a[k][k] - norm
		for i := k + 1; i < n; i++ {
			v[i] = a[i][k]
		}
		var vv float64
		for i := k; i < n; i++ {
			vv += v[i] * v[i]
		}
		if vv == 0 {
			continue
		}
		reflect := func(col func(i int) *float64) {
			var s float64
			for i := k; i < n; i++ {
				s += v[i] * *col(i)
			}
			s = 2 * s / vv
			for i := k; i < n; i++ {
				*col(i) -= s * v[i]
			}
		}
		for j := k; j < p; j++ {
			reflect(func(i int) *float64 { return &a[i][j] })
		}
		reflect(func(i int) *float64 { return &b[i] })
	}
	c := make([]float64, p)
	for k := p - 1; k >= 0; k-- {
		s := b[k]
		for j := k + 1; j < p; j++ {
			s -= a[k][j] * c[j]
		}
		c[k] = s / a[k][k]
	}
	return c
}

func horner(c []float64, x float64) float64 {
	var s float64
	for j := len(c) - 1; j >= 0; j-- {
		s = s*x + c[j]
	}
	return s
}

func horner32(c []float32, x float32) float32 {
	s := c[len(c)-1]
	for j := len(c) - 2; j >= 0; j-- {
		s = float32(math.FMA(float64(s), float64(x), float64(c[j])))
	}
	return s
}

func main() {
	vs := make([]float64, nodes+1)
	for i := range vs {
		vs[i] = uMax * (1 - math.Cos(math.Pi*float64(i)/nodes)) / 2 / scale
	}
	np, nq := degP+1, degP+1 // p0…p4, q1…q5
	w := make([]float64, len(vs))
	qprev := make([]float64, len(vs))
	for i := range w {
		w[i], qprev[i] = 1, 1
	}
	var P, Q []float64
	for it := 0; it < iters; it++ {
		A := make([][]float64, len(vs))
		y := make([]float64, len(vs))
		for i, v := range vs {
			mv := m(v * scale)
			row := make([]float64, np+nq)
			vp := 1.0
			for j := 0; j < np; j++ {
				row[j] = vp / (mv * qprev[i]) * w[i]
				vp *= v
			}
			vp = v
			for j := 0; j < nq; j++ {
				row[np+j] = -vp / qprev[i] * w[i]
				vp *= v
			}
			A[i], y[i] = row, w[i]/qprev[i]
		}
		c := lsq(A, y)
		P, Q = c[:np], append([]float64{1}, c[np:]...)
		var sw float64
		for i, v := range vs {
			qprev[i] = horner(Q, v)
			if it > 5 {
				w[i] *= math.Sqrt(math.Abs(horner(P, v)/qprev[i]/m(v*scale)-1) + 1e-300)
			}
			sw += w[i] * w[i]
		}
		for i := range w {
			w[i] /= math.Sqrt(sw / float64(len(w)))
		}
	}
	rescale := func(c []float64) ([]float64, []float32) {
		c64, c32 := make([]float64, len(c)), make([]float32, len(c))
		for j := range c {
			c64[j] = c[j] / math.Pow(scale, float64(j))
			c32[j] = float32(c64[j])
		}
		return c64, c32
	}
	P64, P32 := rescale(P)
	Q64, Q32 := rescale(Q)
	var e64, e32 float64
	for u := 0.0; u <= uMax; u += 3e-5 {
		e64 = math.Max(e64, math.Abs(horner(P64, u)/horner(Q64, u)/m(u)-1))
		u32 := float32(u)
		e32 = math.Max(e32, math.Abs(float64(horner32(P32, u32)/horner32(Q32, u32))/m(float64(u32))-1))
	}
	fmt.Printf("m(u) = Φ(−u)·exp(u²/2) ≈ P(u)/Q(u) on [0, %g]: largest relative error %.3g (float64), %.3g (float32 evaluation)\n", uMax, e64, e32)
	for j := range P64 {
		fmt.Printf("p%d = %.10g  float32 %#08x\n", j, P64[j], math.Float32bits(P32[j]))
	}
	for j := range Q64 {
		fmt.Printf("q%d = %.10g  float32 %#08x\n", j, Q64[j], math.Float32bits(Q32[j]))
	}
}
