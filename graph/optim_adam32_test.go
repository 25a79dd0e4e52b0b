package graph

import (
	"math"
	"math/rand/v2"
	"testing"
)

// adam32Data draws n float32 of mixed magnitudes with special values
// mixed in: ±0, subnormals, the largest finite values, ±Inf and tiny/huge
// normals.
func adam32Data(r *rand.Rand, n int, scale float64, nonNeg bool) []float32 {
	specials := []float32{0, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, 3e-41, -7e-39,
		math.MaxFloat32, -math.MaxFloat32, 1e30, -1e-30, float32(math.Inf(1)), float32(math.Inf(-1)), 1, -1}
	d := make([]float32, n)
	for i := range d {
		if r.IntN(9) == 0 {
			d[i] = specials[r.IntN(len(specials))]
		} else {
			d[i] = float32(r.NormFloat64() * scale * math.Pow(10, float64(r.IntN(9)-4)))
		}
		if nonNeg && d[i] < 0 {
			d[i] = -d[i]
		}
	}
	return d
}

// TestOptUpdate32MatchesLoop: the blasvec Adam/AdamW kernel that
// optUpdate32 dispatches to gives the bits of optUpdate's float32 loop for
// every variant (clip scaling, L2 and decoupled decay), lengths with and
// without an 8-lane tail, and special values.
func TestOptUpdate32MatchesLoop(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 32))
	for _, kind := range []OptimKind{Adam, AdamW} {
		for _, wd := range []float64{0, 0.01, 0.3} {
			for _, clip := range []float64{1, 0.37} {
				for _, betas := range [][2]float64{{0.9, 0.999}, {0.8, 0.95}, {0, 0.5}} {
					for _, k := range []int{1, 3, 1000} {
						o, err := NewOptimizer(OptimConfig{Kind: kind, LR: 3e-4, Beta1: betas[0], Beta2: betas[1], WeightDecay: wd, Eps: 1e-8})
						if err != nil {
							t.Fatal(err)
						}
						sc := o.scalars(k, o.LRAt(k), clip)
						for _, n := range []int{0, 1, 7, 8, 9, 16, 23, 64, 1029} {
							p := adam32Data(r, n, 0.05, false)
							g := adam32Data(r, n, 1e-3, false)
							m := adam32Data(r, n, 1e-3, false)
							v := adam32Data(r, n, 1e-6, true)
							p2, m2, v2 := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
							st := [3][]float32{m, v, nil}
							st2 := [3][]float32{m2, v2, nil}
							optUpdate32(o.cfg, sc, p, g, &st)
							optUpdate(o.cfg, sc, p2, g, &st2)
							for _, c := range []struct {
								name      string
								got, want []float32
							}{{"param", p, p2}, {"exp_avg", m, m2}, {"exp_avg_sq", v, v2}} {
								for i := range c.got {
									if math.Float32bits(c.got[i]) != math.Float32bits(c.want[i]) {
										t.Fatalf("%s wd=%g clip=%g betas=%v k=%d n=%d: %s[%d] = %g (%#x), loop %g (%#x)",
											kind, wd, clip, betas, k, n, c.name, i, c.got[i], math.Float32bits(c.got[i]), c.want[i], math.Float32bits(c.want[i]))
									}
								}
							}
						}
					}
				}
			}
		}
	}
}
