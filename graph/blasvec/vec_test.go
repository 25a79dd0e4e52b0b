package blasvec

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ulps returns the distance between a float32 result and the float64
// truth in units of the float32 ulp at the truth.
func ulps(got float32, want float64) float64 {
	if want == 0 {
		return math.Abs(float64(got)) / math.SmallestNonzeroFloat32
	}
	w := float32(want)
	ulp := float64(math.Nextafter32(w, float32(math.Inf(1))) - w)
	return math.Abs(float64(got)-want) / ulp
}

// TestExpAccuracy checks Exp32 on a dense sweep of [−87, 88.3] and on
// random values, lane path and scalar path, against math.Exp: ≤ 2 ulp
// (the polynomial's truncation error is < 0.1 ulp; the rest is float32
// rounding in Horner's scheme and in r = x − k·ln2).
func TestExpAccuracy(t *testing.T) {
	var xs []float32
	for x := -87.0; x <= 88.3; x += 0.00731 {
		xs = append(xs, float32(x))
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 100000; i++ {
		xs = append(xs, float32(rng.Float64()*20-15))
	}
	xs = append(xs, 0, -0.0, 1e-30, -1e-30, 1, -1)
	got := make([]float32, len(xs))
	sum := ExpShiftSum32(got, xs, 0)
	var want float64
	worst := 0.0
	for i, x := range xs {
		w := math.Exp(float64(x))
		want += float64(got[i])
		if u := ulps(got[i], w); u > worst {
			worst = u
		}
		if u := ulps(exp32(x), w); u > 2 {
			t.Fatalf("scalar exp32(%v) = %v, want %v (%.2f ulp)", x, exp32(x), w, u)
		}
	}
	if worst > 2 {
		t.Errorf("Exp32: worst error %.2f ulp > 2", worst)
	}
	t.Logf("Exp32 worst error %.3f ulp over %d values (AVX2 %v)", worst, len(xs), Available())
	if math.Abs(sum-want) > 1e-12*math.Abs(want) {
		t.Errorf("sum %v, Σ of the outputs in float64 %v", sum, want)
	}
}

// TestExpSpecial checks the edges, in the lanes and in the scalar tail:
// −Inf and x < −87 → 0, x > 88.3 → +Inf, NaN → NaN.
func TestExpSpecial(t *testing.T) {
	in := []float32{float32(math.Inf(-1)), -1000, -87.5, 89, 1000, float32(math.Inf(1)), float32(math.NaN()), 0}
	in = append(in, in...) // 16 values: all go through the lanes
	for _, n := range []int{16, 7} {
		out := make([]float32, n)
		Exp32(out, in[:n])
		for i, x := range in[:n] {
			switch {
			case x != x:
				if out[i] == out[i] {
					t.Errorf("n=%d exp(NaN) = %v", n, out[i])
				}
			case x < -87: // 0 in the kernels; math.Exp's tiny value in the fallback
				if out[i] != 0 && (Available() || out[i] > 1.2e-38) {
					t.Errorf("n=%d exp(%v) = %v, want 0", n, x, out[i])
				}
			case x > 88.3:
				if !math.IsInf(float64(out[i]), 1) && (Available() || x > 88.8) {
					t.Errorf("n=%d exp(%v) = %v, want +Inf", n, x, out[i])
				}
			case x == 0:
				if out[i] != 1 {
					t.Errorf("n=%d exp(0) = %v", n, out[i])
				}
			}
		}
	}
}

// TestShiftSum checks the fused shift on a softmax-like row.
func TestShiftSum(t *testing.T) {
	row := make([]float32, 517)
	for i := range row {
		row[i] = float32(math.Sin(float64(i))*30 + 5)
	}
	out := make([]float32, len(row))
	sum := ExpShiftSum32(out, row, 35)
	var want float64
	for i, x := range row {
		w := math.Exp(float64(x) - 35)
		want += w
		if u := ulps(out[i], math.Exp(float64(x-35))); u > 2 {
			t.Fatalf("exp(row[%d] − 35): %.2f ulp", i, u)
		}
	}
	if math.Abs(sum-want) > 1e-6*want {
		t.Errorf("sum %v, want %v", sum, want)
	}
}

// TestTanhAccuracy checks Tanh32 against math.Tanh: absolute error ≤ 2.5e-7.
func TestTanhAccuracy(t *testing.T) {
	var xs []float32
	for x := -12.0; x <= 12; x += 0.000917 {
		xs = append(xs, float32(x))
	}
	xs = append(xs, 50, -50, float32(math.Inf(1)), float32(math.Inf(-1)))
	got := make([]float32, len(xs))
	Tanh32(got, xs)
	worst := 0.0
	for i, x := range xs {
		d := math.Abs(float64(got[i]) - math.Tanh(float64(x)))
		worst = math.Max(worst, d)
		if d > 2.5e-7 {
			t.Fatalf("tanh(%v) = %v, want %v", x, got[i], math.Tanh(float64(x)))
		}
	}
	t.Logf("Tanh32 worst absolute error %.3g", worst)
}

// BenchmarkExp32 compares the kernel with math.Exp on a vocabulary row.
func BenchmarkExp32(b *testing.B) {
	x := make([]float32, 512)
	for i := range x {
		x[i] = float32(i%37) * -0.3
	}
	out := make([]float32, len(x))
	b.Run("blasvec", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			ExpShiftSum32(out, x, 1)
		}
	})
	b.Run("math.Exp", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var s float64
			for j, v := range x {
				e := math.Exp(float64(v) - 1)
				out[j] = float32(e)
				s += e
			}
			_ = s
		}
	})
}

// TestMax32 checks the reduction on lengths around the lane width,
// with the maximum in the lanes, in the tail and first.
func TestMax32(t *testing.T) {
	for n := 1; n <= 40; n++ {
		for pos := 0; pos < n; pos++ {
			x := make([]float32, n)
			for i := range x {
				x[i] = -float32(i%7) - 1
			}
			x[pos] = 3
			if m := Max32(x); m != 3 {
				t.Fatalf("n=%d max at %d: got %v", n, pos, m)
			}
		}
	}
	if m := Max32(nil); !math.IsInf(float64(m), -1) {
		t.Errorf("Max32(nil) = %v", m)
	}
}

// TestGELU checks GELU32 and GELUGrad32 against the float64 formulas:
// absolute error ≤ 1e-6·(1 + |x|) for y and ≤ 1e-6·(1 + x²)·|dy| for dx
// (the tanh error 2.5e-7 is multiplied by 0.5·|x| in y, and by terms up
// to ≈ x² in the derivative; float32 rounding adds a few ulps).
func TestGELU(t *testing.T) {
	var xs, dys []float32
	for x := -9.0; x <= 9; x += 0.00173 {
		xs = append(xs, float32(x))
		dys = append(dys, float32(math.Cos(x*3)))
	}
	xs = append(xs, 0, 1, -1, 30, -30)
	dys = append(dys, 1, 1, 1, 1, 1)
	c := math.Sqrt(2 / math.Pi)
	for _, n := range []int{len(xs), 13} { // lanes + tail, tail only
		y, th, dx := make([]float32, n), make([]float32, n), make([]float32, n)
		GELU32(y, th, xs[:n])
		GELUGrad32(dx, xs[:n], th, dys[:n])
		for i, x32 := range xs[:n] {
			x := float64(x32)
			u := math.Tanh(c * (x + 0.044715*x*x*x))
			wy := 0.5 * x * (1 + u)
			wd := (0.5*(1+u) + 0.5*x*(1-u*u)*c*(1+3*0.044715*x*x)) * float64(dys[i])
			if d := math.Abs(float64(y[i]) - wy); d > 1e-6*(1+math.Abs(x)) {
				t.Fatalf("GELU(%v) = %v, want %v", x, y[i], wy)
			}
			if d := math.Abs(float64(dx[i]) - wd); d > 1e-6*(1+x*x)*math.Abs(float64(dys[i]))+1e-12 {
				t.Fatalf("GELU'(%v)·%v = %v, want %v", x, dys[i], dx[i], wd)
			}
		}
	}
}

// TestLayerNormRows checks the LayerNorm row kernels against float64
// formulas on rows of several lengths (lanes + tails). Tolerance: 2e-6
// relative to the largest |value| of the row's result (float32 rounding of
// x − mean, of x̂ and of the products; sums are float64).
func TestLayerNormRows(t *testing.T) {
	for _, n := range []int{5, 8, 37, 128, 256} {
		x, w, b, dy := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		for j := range x {
			x[j] = float32(math.Sin(float64(j)*1.3)*3 + 0.5)
			w[j] = float32(1 + 0.1*math.Cos(float64(j)))
			b[j] = float32(0.05 * float64(j%5))
			dy[j] = float32(math.Cos(float64(j) * 0.7))
		}
		const eps = 1e-5
		mean, std := LayerNormStats32(x, eps)
		var s, q float64
		for _, v := range x {
			s += float64(v)
		}
		wm := s / float64(n)
		for _, v := range x {
			q += (float64(v) - wm) * (float64(v) - wm)
		}
		ws := math.Sqrt(q/float64(n) + eps)
		if math.Abs(mean-wm) > 1e-7 || math.Abs(std-ws) > 1e-6*ws {
			t.Fatalf("n=%d: stats %v %v, want %v %v", n, mean, std, wm, ws)
		}
		y, dx := make([]float32, n), make([]float32, n)
		inv := float32(1 / std)
		LayerNormRow32(y, x, w, b, float32(mean), inv)
		LayerNormGradRow32(dx, x, w, dy, float32(mean), inv)
		var mg, mgx float64
		xh := make([]float64, n)
		for j := range x {
			xh[j] = (float64(x[j]) - wm) / ws
			g := float64(dy[j]) * float64(w[j])
			mg += g / float64(n)
			mgx += g * xh[j] / float64(n)
		}
		maxY, maxD := 0.0, 0.0
		wy, wd := make([]float64, n), make([]float64, n)
		for j := range x {
			wy[j] = xh[j]*float64(w[j]) + float64(b[j])
			wd[j] = (float64(dy[j])*float64(w[j]) - mg - xh[j]*mgx) / ws
			maxY, maxD = math.Max(maxY, math.Abs(wy[j])), math.Max(maxD, math.Abs(wd[j]))
		}
		for j := range x {
			if math.Abs(float64(y[j])-wy[j]) > 2e-6*maxY {
				t.Fatalf("n=%d y[%d] = %v, want %v", n, j, y[j], wy[j])
			}
			if math.Abs(float64(dx[j])-wd[j]) > 2e-6*maxD {
				t.Fatalf("n=%d dx[%d] = %v, want %v", n, j, dx[j], wd[j])
			}
		}
	}
}

// BenchmarkGELU32 times the GELU forward and derivative kernels on one
// MLP activation of the D128 model (2048 tokens × 512).
func BenchmarkGELU32(b *testing.B) {
	n := 2048 * 512
	x, y, th, dx, dy := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(i%61)*0.1 - 3
		dy[i] = 1
	}
	b.Run("forward", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			GELU32(y, th, x)
		}
	})
	b.Run("derivative", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			GELUGrad32(dx, x, th, dy)
		}
	})
}

// BenchmarkLayerNormRows times the LayerNorm row kernels over the 2048
// rows of width 128 of one D128 LayerNorm.
func BenchmarkLayerNormRows(b *testing.B) {
	const rows, d = 2048, 128
	x, y, w, bias, dy := make([]float32, rows*d), make([]float32, rows*d), make([]float32, d), make([]float32, d), make([]float32, rows*d)
	for i := range x {
		x[i] = float32(i%17) * 0.2
		dy[i] = float32(i%5) - 2
	}
	for j := range w {
		w[j] = 1
	}
	b.Run("forward", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for r := 0; r < rows; r++ {
				mean, std := LayerNormStats32(x[r*d:(r+1)*d], 1e-5)
				LayerNormRow32(y[r*d:(r+1)*d], x[r*d:(r+1)*d], w, bias, float32(mean), float32(1/std))
			}
		}
	})
	b.Run("input_gradient", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for r := 0; r < rows; r++ {
				mean, std := LayerNormStats32(x[r*d:(r+1)*d], 1e-5)
				LayerNormGradRow32(y[r*d:(r+1)*d], x[r*d:(r+1)*d], w, dy[r*d:(r+1)*d], float32(mean), float32(1/std))
			}
		}
	})
}
