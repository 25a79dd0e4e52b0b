package graph

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestActivationsFloat32 runs the float32 Do of GELUErf, SwiGLU and their
// gradients (blasvec kernels, split into chunks by parallelRange, so lane
// tails occur inside the vector) against the float64 Do on the same
// inputs: |f32 − f64| ≤ 1e-6·(1 + |f64|) with x in [−8, 8] and u, dy in
// [−1, 1].
func TestActivationsFloat32(t *testing.T) {
	const n = 3*4096 + 13
	mk := func(f func(i int) float64) (G.Value, G.Value) {
		s32, s64 := make([]float32, n), make([]float64, n)
		for i := range s32 {
			s32[i] = float32(f(i))
			s64[i] = float64(s32[i])
		}
		return tensor.New(tensor.WithBacking(s32), tensor.WithShape(n)), tensor.New(tensor.WithBacking(s64), tensor.WithShape(n))
	}
	x32, x64 := mk(func(i int) float64 { return 8 * math.Sin(float64(i)*0.013) })
	u32, u64 := mk(func(i int) float64 { return math.Cos(float64(i) * 0.7) })
	d32, d64 := mk(func(i int) float64 { return math.Sin(float64(i)*0.31 + 1) })
	for _, c := range []struct {
		name       string
		op         G.Op
		in32, in64 []G.Value
	}{
		{"GELUErf", &geluErfOp{}, []G.Value{x32}, []G.Value{x64}},
		{"GELUErfGrad", &geluErfOp{grad: true}, []G.Value{x32, d32}, []G.Value{x64, d64}},
		{"SwiGLU", &swigluOp{wrt: -1}, []G.Value{x32, u32}, []G.Value{x64, u64}},
		{"SwiGLUGradGate", &swigluOp{wrt: 0}, []G.Value{x32, u32, d32}, []G.Value{x64, u64, d64}},
		{"SwiGLUGradUp", &swigluOp{wrt: 1}, []G.Value{x32, u32, d32}, []G.Value{x64, u64, d64}},
	} {
		a, err := c.op.Do(c.in32...)
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.op.Do(c.in64...)
		if err != nil {
			t.Fatal(err)
		}
		got, want := a.Data().([]float32), b.Data().([]float64)
		worst := 0.0
		for i := range want {
			d := math.Abs(float64(got[i])-want[i]) / (1 + math.Abs(want[i]))
			if d > 1e-6 {
				t.Fatalf("%s[%d]: float32 %v, float64 %v", c.name, i, got[i], want[i])
			}
			worst = math.Max(worst, d)
		}
		t.Logf("%s: worst |f32 − f64|/(1 + |f64|) = %.3g", c.name, worst)
	}
}
