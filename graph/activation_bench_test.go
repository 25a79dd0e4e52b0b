package graph

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BenchmarkActivationOpsF32 times the float32 Do of the erf GELU and the
// SwiGLU ops (forward and gradients) on one Pythia-160M MLP activation
// (2048 tokens × 3072); ns/op / 6291456 is the cost per element. Run with
// -cpu 1 for the single-core cost (Do splits the work over GOMAXPROCS).
func BenchmarkActivationOpsF32(b *testing.B) {
	const n = 2048 * 3072
	mk := func(f func(i int) float32) G.Value {
		s := make([]float32, n)
		for i := range s {
			s[i] = f(i)
		}
		return tensor.New(tensor.WithBacking(s), tensor.WithShape(n))
	}
	x := mk(func(i int) float32 { return float32(i%97)*0.1 - 5 })
	u := mk(func(i int) float32 { return float32(i%13)*0.2 - 1 })
	dy := mk(func(i int) float32 { return float32(i%7)*0.3 - 1 })
	for _, c := range []struct {
		name string
		op   G.Op
		in   []G.Value
	}{
		{"GELUErf", &geluErfOp{}, []G.Value{x}},
		{"GELUErfGrad", &geluErfOp{grad: true}, []G.Value{x, dy}},
		{"SwiGLU", &swigluOp{wrt: -1}, []G.Value{x, u}},
		{"SwiGLUGradGate", &swigluOp{wrt: 0}, []G.Value{x, u, dy}},
		{"SwiGLUGradUp", &swigluOp{wrt: 1}, []G.Value{x, u, dy}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(4 * n)
			for i := 0; i < b.N; i++ {
				if _, err := c.op.Do(c.in...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
