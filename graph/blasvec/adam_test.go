package blasvec

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAdamStep32Kernel: the lanes give the bits of the plain-Go loop for
// every flag combination, over lengths with tails and special values.
func TestAdamStep32Kernel(t *testing.T) {
	if !vecOK {
		t.Skip("no AVX2 kernels in this build")
	}
	r := rand.New(rand.NewPCG(5, 6))
	specials := []float32{0, float32(math.Copysign(0, -1)), 1e-45, 5e-39, math.MaxFloat32, float32(math.Inf(1)), float32(math.Inf(-1))}
	draw := func(n int, scale float64, nonNeg bool) []float32 {
		d := make([]float32, n)
		for i := range d {
			if r.IntN(8) == 0 {
				d[i] = specials[r.IntN(len(specials))]
			} else {
				d[i] = float32(r.NormFloat64() * scale)
			}
			if nonNeg && d[i] < 0 {
				d[i] = -d[i]
			}
		}
		return d
	}
	for flags := 0; flags < 8; flags++ {
		c := Adam32{Clip: 0.37, WD: 0.01, Decay: 1 - 3e-4*0.01, B1: 0.9, B2: 0.999, OmB1: 0.1, OmB2: float32(1 - 0.999),
			StepSize: 3e-4 / 0.1, SqrtBC2: float32(math.Sqrt(1 - 0.999)), Eps: 1e-8,
			Scaled: flags&1 != 0, L2: flags&2 != 0, Decoupled: flags&4 != 0}
		for _, n := range []int{1, 8, 13, 40, 517, 1 << 14} {
			p, g, m, v := draw(n, 0.05, false), draw(n, 1e-3, false), draw(n, 1e-3, false), draw(n, 1e-6, true)
			if n == 1<<14 { // v over every exponent, subnormals included: the square root's rounding
				for i := range v {
					v[i] = math.Float32frombits(r.Uint32() & 0x7f7fffff)
				}
			}
			p2, m2, v2 := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
			AdamStep32(p, g, m, v, &c)
			adamGo(p2, g, m2, v2, &c)
			for i := range p {
				for _, q := range [][2]float32{{p[i], p2[i]}, {m[i], m2[i]}, {v[i], v2[i]}} {
					if math.Float32bits(q[0]) != math.Float32bits(q[1]) {
						t.Fatalf("flags %03b n=%d i=%d: kernel %g (%#x), loop %g (%#x)", flags, n, i, q[0], math.Float32bits(q[0]), q[1], math.Float32bits(q[1]))
					}
				}
			}
		}
	}
}
