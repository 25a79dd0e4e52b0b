package models

// The toy "simple softmax model" of docs/method.md (after Ren &
// Sutherland's learning-dynamics notebook): p(·|x) = softmax(Wᵀx),
// x ∈ R^d, W ∈ R^{d×K}, K classes. It takes a feature vector (a
// "context"), not tokens. The experiments that train it (single-step F1
// and multi-step F1b, with objectives and gates) live in
// gatedpo/experiments/toy; this file holds only the model.

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// Toy is the softmax model p = softmax(Wᵀx) in float64.
type Toy struct {
	D, K int
	X    []float64     // the default context [D] (Logits, LogProbs, Probs)
	W    *tensor.Dense // weights [D, K], row-major: W[i*K+j]
}

// NewToy returns a toy model with a copy of x [d] and w [d·k] (row-major
// [d, k]).
func NewToy(x, w []float64, d, k int) (*Toy, error) {
	if d < 1 || k < 2 || len(x) != d || len(w) != d*k {
		return nil, fmt.Errorf("toy: need x of %d and W of %d×%d values, got %d and %d", d, d, k, len(x), len(w))
	}
	wt := tensor.New(tensor.WithShape(d, k), tensor.WithBacking(append([]float64(nil), w...)))
	return &Toy{D: d, K: k, X: append([]float64(nil), x...), W: wt}, nil
}

// Logits returns z = Wᵀx [K] for the default context X.
func (t *Toy) Logits() []float64 { return t.LogitsAt(t.X) }

// LogitsAt returns z = Wᵀx [K] for the context x [D].
func (t *Toy) LogitsAt(x []float64) []float64 {
	w := t.W.Data().([]float64)
	z := make([]float64, t.K)
	for i := 0; i < t.D; i++ {
		for j := 0; j < t.K; j++ {
			z[j] += x[i] * w[i*t.K+j]
		}
	}
	return z
}

// LogProbs returns log softmax(Wᵀx) [K] for the default context X,
// computed stably in plain Go.
func (t *Toy) LogProbs() []float64 { return t.LogProbsAt(t.X) }

// LogProbsAt returns log softmax(Wᵀx) [K] for the context x [D].
func (t *Toy) LogProbsAt(x []float64) []float64 {
	z := t.LogitsAt(x)
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, v)
	}
	s := 0.0
	for _, v := range z {
		s += math.Exp(v - m)
	}
	lse := m + math.Log(s)
	for j := range z {
		z[j] -= lse
	}
	return z
}

// Probs returns softmax(Wᵀx) [K].
func (t *Toy) Probs() []float64 {
	lp := t.LogProbs()
	for j := range lp {
		lp[j] = math.Exp(lp[j])
	}
	return lp
}
