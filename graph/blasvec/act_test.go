package blasvec

import (
	"math"
	"math/rand/v2"
	"testing"
)

// normalRef returns Φ(x), φ(x) in float64: Φ from math.Erfc (relative
// accuracy in the lower tail, where 1 + erf cancels).
func normalRef(x float64) (cdf, pdf float64) {
	return 0.5 * math.Erfc(-x/math.Sqrt2), math.Exp(-0.5*x*x) / math.Sqrt(2*math.Pi)
}

// actGrid is a dense grid over [−14, 14] (step 1e-4 on [−10, 10]), random
// values, the float32 neighbours of 0 and the signed zeros.
func actGrid() []float32 {
	var xs []float32
	for i := -100000; i <= 100000; i++ {
		xs = append(xs, float32(float64(i)*1e-4))
	}
	for x := 10.0; x <= 14; x += 0.001 {
		xs = append(xs, float32(x), float32(-x))
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 50000; i++ {
		xs = append(xs, float32(rng.NormFloat64()*3))
	}
	return append(xs, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1e-7, -1e-7)
}

// TestGELUErfAccuracy checks GELUErf32 and GELUErfGrad32 on actGrid
// against float64 references, in the build's path (lanes with AVX2 + FMA,
// else the float64 fallback) and in the fallback directly:
//
//   - forward: relative error ≤ 6e-7 against x·Φ(x) from math.Erfc (so Φ
//     keeps its relative accuracy in the lower tail), and the largest
//     absolute error against 0.5·x·(1 + math.Erf(x/√2)) — the float64
//     graph op's formula — is logged and bounded by 1e-6;
//   - derivative Φ(x) + x·φ(x) times dy: error ≤ 6e-7·(Φ + |x|·φ)·|dy|
//     (the sum of the magnitudes of its terms: the derivative itself
//     crosses 0 near x = −0.75), largest absolute error logged.
//
// Results below the normal float32 range (x < −12.9) are held to an
// absolute 2e-44 (a few subnormal steps: Φ(x) is subnormal before x·Φ(x)).
func TestGELUErfAccuracy(t *testing.T) {
	const tiny = 2e-44
	xs := actGrid()
	dys := make([]float32, len(xs))
	for i := range dys {
		dys[i] = float32(math.Cos(float64(i) * 0.37))
	}
	check := func(name string, y, dx []float32) {
		var worstRel, worstAbs, worstGrad, worstGradAbs float64
		for i, x32 := range xs {
			x := float64(x32)
			cdf, pdf := normalRef(x)
			wy := x * cdf
			if d := math.Abs(float64(y[i]) - wy); d > 6e-7*math.Abs(wy)+tiny {
				t.Fatalf("%s: GELU(%v) = %v, want %v (relative error %.3g)", name, x, y[i], wy, d/math.Abs(wy))
			} else if math.Abs(wy) > 1e-37 {
				worstRel = math.Max(worstRel, d/math.Abs(wy))
			}
			worstAbs = math.Max(worstAbs, math.Abs(float64(y[i])-0.5*x*(1+math.Erf(x/math.Sqrt2))))
			dy := float64(dys[i])
			wd := (cdf + x*pdf) * dy
			scale := (cdf + math.Abs(x)*pdf) * math.Abs(dy)
			d := math.Abs(float64(dx[i]) - wd)
			if d > 6e-7*scale+tiny {
				t.Fatalf("%s: GELU'(%v)·%v = %v, want %v (error %.3g of scale %.3g)", name, x, dy, dx[i], wd, d, scale)
			}
			if scale > 1e-37 {
				worstGrad = math.Max(worstGrad, d/scale)
			}
			wdErf := (0.5*(1+math.Erf(x/math.Sqrt2)) + x*pdf) * dy
			worstGradAbs = math.Max(worstGradAbs, math.Abs(float64(dx[i])-wdErf))
		}
		t.Logf("%s: forward worst relative error %.3g, worst absolute error vs the math.Erf formula %.3g; derivative worst error %.3g of its scale, worst absolute error vs the math.Erf formula %.3g",
			name, worstRel, worstAbs, worstGrad, worstGradAbs)
		if worstAbs > 1e-6 || worstGradAbs > 1e-6 {
			t.Errorf("%s: absolute errors %.3g, %.3g (want ≤ 1e-6)", name, worstAbs, worstGradAbs)
		}
	}
	y, dx := make([]float32, len(xs)), make([]float32, len(xs))
	GELUErf32(y, xs)
	GELUErfGrad32(dx, xs, dys)
	check("build path (AVX2 "+map[bool]string{true: "on", false: "off"}[Available()]+")", y, dx)
	yg, dxg := make([]float32, len(xs)), make([]float32, len(xs))
	geluErfGo(yg, xs)
	geluErfGradGo(dxg, xs, dys)
	check("fallback", yg, dxg)
	var agreeY, agreeD float64
	for i := range xs {
		agreeY = math.Max(agreeY, math.Abs(float64(y[i]-yg[i])))
		agreeD = math.Max(agreeD, math.Abs(float64(dx[i]-dxg[i])))
	}
	t.Logf("build path vs fallback: largest difference %.3g (forward), %.3g (derivative)", agreeY, agreeD)
}

// TestGELUErfSpecial checks the edges in the lanes and through the tail
// (n = 16 and 7): ±0 → ±0 with derivative 0.5; ±Inf and ±1e30 → their
// limits (y: −0 and the input; derivative 0 and 1); NaN → NaN.
func TestGELUErfSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	in := []float32{0, negZero, inf, -inf, 1e30, -1e30, float32(math.NaN()), 20}
	in = append(in, in...)
	for _, n := range []int{16, 7} {
		for _, fallback := range []bool{false, true} {
			y, dx, dy := make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range dy {
				dy[i] = 2
			}
			if fallback {
				geluErfGo(y, in[:n])
				geluErfGradGo(dx, in[:n], dy)
			} else {
				GELUErf32(y, in[:n])
				GELUErfGrad32(dx, in[:n], dy)
			}
			for i, x := range in[:n] {
				var wy, wd float32
				switch {
				case x != x:
					if y[i] == y[i] || dx[i] == dx[i] {
						t.Errorf("n=%d fallback=%v: GELU(NaN) = %v, derivative %v", n, fallback, y[i], dx[i])
					}
					continue
				case x == 0:
					wy, wd = x, 1
				case x < 0:
					wy, wd = negZero, 0
				default:
					wy, wd = x, 2
				}
				if y[i] != wy || math.Signbit(float64(y[i])) != math.Signbit(float64(wy)) || dx[i] != wd {
					t.Errorf("n=%d fallback=%v: GELU(%v) = %v, derivative·2 = %v; want %v, %v", n, fallback, x, y[i], dx[i], wy, wd)
				}
			}
		}
	}
}

// TestActTails checks that every element's result is the same whatever the
// vector's length and the element's position (lanes or padded tail): each
// prefix of length 1…40 of a vector against the full vector.
func TestActTails(t *testing.T) {
	const n = 40
	x, u, dy := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*1.7) * 6)
		u[i] = float32(math.Cos(float64(i) * 0.9))
		dy[i] = float32(math.Sin(float64(i)*0.4) + 0.1)
	}
	kernels := map[string]func(dst []float32, m int){
		"GELUErf32":        func(d []float32, m int) { GELUErf32(d, x[:m]) },
		"GELUErfGrad32":    func(d []float32, m int) { GELUErfGrad32(d, x[:m], dy) },
		"SwiGLU32":         func(d []float32, m int) { SwiGLU32(d, x[:m], u) },
		"SwiGLUGateGrad32": func(d []float32, m int) { SwiGLUGateGrad32(d, x[:m], u, dy) },
		"SwiGLUUpGrad32":   func(d []float32, m int) { SwiGLUUpGrad32(d, x[:m], dy) },
	}
	for name, k := range kernels {
		full := make([]float32, n)
		k(full, n)
		for m := 0; m <= n; m++ {
			got := make([]float32, n+1)
			got[m] = 12345 // must stay: nothing written past len(x)
			k(got, m)
			for i := 0; i < m; i++ {
				if got[i] != full[i] {
					t.Fatalf("%s: length %d element %d = %v, in the full vector %v", name, m, i, got[i], full[i])
				}
			}
			if got[m] != 12345 {
				t.Fatalf("%s: length %d wrote element %d", name, m, m)
			}
		}
	}
}

// siluRef returns σ(g), silu(g) and the gate derivative factor
// σ·(1 + g·(1 − σ)) in float64.
func siluRef(g float64) (s, silu, d float64) {
	s = 1 / (1 + math.Exp(-g))
	om := 1 / (1 + math.Exp(g))
	return s, g * s, s * (1 + g*om)
}

// TestSwiGLUAccuracy checks SwiGLU32 and its two gradients on actGrid
// (gate) with up and dy of both signs against float64 formulas, in the
// build's path and in the fallback: silu relative error ≤ 4e-7 (the lane
// exp's 2 ulp, 1 + e and the division); the gate factor's error ≤ 6e-7 of
// σ·(1 + |g|·(1 − σ)) (its terms' magnitudes: the factor crosses 0 near
// g = −1.28); then one rounding per further product. Results below the
// normal float32 range are held to an absolute 2e-44.
func TestSwiGLUAccuracy(t *testing.T) {
	const tiny = 2e-44
	gs := actGrid()
	for i := 0; i < 20000; i++ { // the range where σ reaches the subnormals
		gs = append(gs, float32(-80-float64(i)*0.001))
	}
	n := len(gs)
	u, dy := make([]float32, n), make([]float32, n)
	for i := range u {
		u[i] = float32(math.Cos(float64(i)*0.61) * 2)
		dy[i] = float32(math.Sin(float64(i)*0.23) + 0.05)
	}
	run := func(fallback bool) (y, dg, du []float32) {
		y, dg, du = make([]float32, n), make([]float32, n), make([]float32, n)
		if fallback {
			swigluGo(y, gs, u)
			swigluGateGradGo(dg, gs, u, dy)
			swigluGo(du, gs, dy)
		} else {
			SwiGLU32(y, gs, u)
			SwiGLUGateGrad32(dg, gs, u, dy)
			SwiGLUUpGrad32(du, gs, dy)
		}
		return
	}
	for _, fallback := range []bool{false, true} {
		y, dg, du := run(fallback)
		var worstY, worstG, worstU float64
		for i, g32 := range gs {
			g := float64(g32)
			s, silu, d := siluRef(g)
			wy, wg, wu := silu*float64(u[i]), d*float64(u[i])*float64(dy[i]), silu*float64(dy[i])
			ay, au, ag := math.Abs(float64(y[i])-wy), math.Abs(float64(du[i])-wu), math.Abs(float64(dg[i])-wg)
			scale := s * (1 + math.Abs(g)*(1-s)) * math.Abs(float64(u[i])*float64(dy[i]))
			if ay > 5e-7*math.Abs(wy)+tiny || au > 5e-7*math.Abs(wu)+tiny || ag > 7e-7*scale+tiny {
				t.Fatalf("fallback=%v g=%v: silu·u %v (want %v), gate grad %v (want %v), up grad %v (want %v)", fallback, g, y[i], wy, dg[i], wg, du[i], wu)
			}
			if math.Abs(wy) > 1e-37 {
				worstY = math.Max(worstY, ay/math.Abs(wy))
			}
			if math.Abs(wu) > 1e-37 {
				worstU = math.Max(worstU, au/math.Abs(wu))
			}
			if scale > 1e-37 {
				worstG = math.Max(worstG, ag/scale)
			}
		}
		t.Logf("fallback=%v (AVX2 %v): worst relative error silu·u %.3g, up grad %.3g; gate grad %.3g of its scale", fallback, Available(), worstY, worstU, worstG)
	}
}

// TestSwiGLUSpecial checks the edges: silu(±0) = ±0 with gate factor 0.5,
// silu(−Inf) = −0 with factor 0, silu(+Inf) = +Inf with factor 1, NaN →
// NaN; lanes and tail, kernels and fallback.
func TestSwiGLUSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	in := []float32{0, negZero, inf, -inf, 1e30, -1e30, float32(math.NaN()), 100}
	in = append(in, in...)
	for _, n := range []int{16, 7} {
		for _, fallback := range []bool{false, true} {
			y, dg, ones := make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range ones {
				ones[i] = 1
			}
			if fallback {
				swigluGo(y, in[:n], ones)
				swigluGateGradGo(dg, in[:n], ones, ones)
			} else {
				SwiGLU32(y, in[:n], ones)
				SwiGLUGateGrad32(dg, in[:n], ones, ones)
			}
			for i, g := range in[:n] {
				var wy, wd float32
				switch {
				case g != g:
					if y[i] == y[i] || dg[i] == dg[i] {
						t.Errorf("n=%d fallback=%v: silu(NaN) = %v, factor %v", n, fallback, y[i], dg[i])
					}
					continue
				case g == 0:
					wy, wd = g, 0.5
				case g < 0:
					wy, wd = negZero, 0
				default:
					wy, wd = g, 1
				}
				if y[i] != wy || math.Signbit(float64(y[i])) != math.Signbit(float64(wy)) || dg[i] != wd {
					t.Errorf("n=%d fallback=%v: silu(%v) = %v, factor %v; want %v, %v", n, fallback, g, y[i], dg[i], wy, wd)
				}
			}
		}
	}
}

// BenchmarkAct32 times the erf GELU and SwiGLU kernels on one
// Pythia-160M MLP activation (2048 tokens × 3072); ns/op / 6291456 is the
// cost per element.
func BenchmarkAct32(b *testing.B) {
	n := 2048 * 3072
	x, u, dy, out := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(i%97)*0.1 - 5
		u[i] = float32(i%13)*0.2 - 1
		dy[i] = float32(i%7)*0.3 - 1
	}
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"GELUErf", func() { GELUErf32(out, x) }},
		{"GELUErfGrad", func() { GELUErfGrad32(out, x, dy) }},
		{"SwiGLU", func() { SwiGLU32(out, x, u) }},
		{"SwiGLUGateGrad", func() { SwiGLUGateGrad32(out, x, u, dy) }},
		{"SwiGLUUpGrad", func() { SwiGLUUpGrad32(out, x, dy) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				c.f()
			}
		})
	}
}
