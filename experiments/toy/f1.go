package toy

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gatedpo/gating"
	"gatedpo/graph"
	"gatedpo/models"
	"gatedpo/results"
)

// F1Gate is the gate of F1 row 6: a token-level ramp at τ = 0.01.
var F1Gate = gating.Spec{Kind: gating.KindRamp, Tau: 0.01, Level: gating.LevelToken, Temperature: 1, Alpha: 0.5}

// F1 geometry (see F1 and toyPeakyLogits). Rows 1–4: K = 50, d = 4,
// x drawn from N(0, I) and rescaled to ‖x‖ = 2.
const (
	toyF1K        = 50
	toyF1D        = 4
	toyF1Peak     = 10 // argmax class of the peaky W (class 11 is "next to the peak")
	toyLargeK     = 1000
	toyLargeD     = 50
	toyLargeClass = 100
)

// toyPeakyLogits are the logits the peaky W of rows 3–4 produces: the peak
// at 7, its two neighbours at 4.5, the next two at 2, the rest N(0, 0.25).
func toyPeakyLogits(rng *rand.Rand, k, peak int) []float64 {
	z := make([]float64, k)
	for j := range z {
		z[j] = 0.5 * rng.NormFloat64()
	}
	z[peak] = 7
	for _, off := range []int{-1, 1} {
		if j := peak + off; j >= 0 && j < k {
			z[j] = 4.5
		}
		if j := peak + 2*off; j >= 0 && j < k {
			z[j] = 2
		}
	}
	return z
}

// weightsFor returns W = B + x(z − Bᵀx)ᵀ/‖x‖², the smallest change of a
// base B that makes Wᵀx equal the target logits z exactly.
func weightsFor(x, base, z []float64, d, k int) []float64 {
	w := append([]float64(nil), base...)
	nx := 0.0
	for _, v := range x {
		nx += v * v
	}
	for j := 0; j < k; j++ {
		bz := 0.0
		for i := 0; i < d; i++ {
			bz += x[i] * base[i*k+j]
		}
		for i := 0; i < d; i++ {
			w[i*k+j] += x[i] * (z[j] - bz) / nx
		}
	}
	return w
}

// F1 computes the six rows of figure F1 (docs/method.md) from one seed (math/rand/v2
// PCG via graph.NewRNG): (1) positive step on 21 from a uniform W (W = 0),
// lr .5; (2) negative on 42 from a flat W = 1 + .05·N(0,1), lr .3; (3)
// negative on 11, next to the peak (class 10) of a peaky W, lr .5; (4)
// negative on 42 plus positive on 25, same peaky W, lr .5; (5) x ∈ R⁵⁰,
// W = .5·N(0,1) of 50×1000, negative on 100, lr 1; (6) row 5's step gated
// by F1Gate.
func F1(seed uint64) ([]results.ToyF1Row, error) {
	rng := graph.NewRNG(seed)
	x := make([]float64, toyF1D)
	nx := 0.0
	for i := range x {
		x[i] = rng.NormFloat64()
		nx += x[i] * x[i]
	}
	for i := range x {
		x[i] *= 2 / math.Sqrt(nx) // ‖x‖ = 2
	}
	d, k := toyF1D, toyF1K
	uniform := make([]float64, d*k)
	flat := make([]float64, d*k)
	for i := range flat {
		flat[i] = 1 + 0.05*rng.NormFloat64()
	}
	base := make([]float64, d*k)
	for i := range base {
		base[i] = 0.1 * rng.NormFloat64()
	}
	peaky := weightsFor(x, base, toyPeakyLogits(rng, k, toyF1Peak), d, k)

	xl := make([]float64, toyLargeD)
	for i := range xl {
		xl[i] = rng.NormFloat64()
	}
	wl := make([]float64, toyLargeD*toyLargeK)
	for i := range wl {
		wl[i] = 0.5 * rng.NormFloat64()
	}
	off := gating.DefaultSpec()
	specs := []struct {
		title    string
		x, w     []float64
		d, k     int
		pos, neg []int
		lr       float64
		gate     gating.Spec
	}{
		{"positive step on 21 from a uniform W", x, uniform, d, k, []int{21}, nil, 0.5, off},
		{"negative step on 42 from a flat W", x, flat, d, k, nil, []int{42}, 0.3, off},
		{"negative step on 11, next to the peak of a peaky W", x, peaky, d, k, nil, []int{11}, 0.5, off},
		{"negative on 42 plus positive on 25, peaky W", x, peaky, d, k, []int{25}, []int{42}, 0.5, off},
		{"large vocabulary: negative step on 100", xl, wl, toyLargeD, toyLargeK, nil, []int{toyLargeClass}, 1, off},
		{"large vocabulary: negative step on 100, gated", xl, wl, toyLargeD, toyLargeK, nil, []int{toyLargeClass}, 1, F1Gate},
	}
	rows := make([]results.ToyF1Row, 0, len(specs))
	for i, s := range specs {
		toy, err := models.NewToy(s.x, s.w, s.d, s.k)
		if err != nil {
			return nil, err
		}
		before := toy.Probs()
		st, err := NewStep(toy, s.pos, s.neg, s.gate)
		if err != nil {
			return nil, fmt.Errorf("F1 row %d: %w", i+1, err)
		}
		_, err = st.Take(s.lr)
		st.Close()
		if err != nil {
			return nil, fmt.Errorf("F1 row %d: %w", i+1, err)
		}
		after := toy.Probs()
		rows = append(rows, results.ToyF1Row{Row: i + 1, Title: s.title, K: s.k, Positive: nonNil(s.pos), Negative: nonNil(s.neg),
			LR: s.lr, Gate: s.gate.String(), Before: before, After: after, ArgmaxAfter: argmax(after)})
	}
	return rows, nil
}

func nonNil(v []int) []int {
	if v == nil {
		return []int{}
	}
	return v
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
