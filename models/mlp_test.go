package models

import (
	"math"
	"testing"

	"gorgonia.org/tensor"
)

// mlpTestIDs is a small right-padded batch (pad id 0).
var mlpTestIDs = [][]int{{3, 7, 1, 4, 0, 0}, {5, 2, 2, 8, 6, 1}, {9, 1, 0, 0, 0, 0}}

// TestMLPFiniteDifferences checks the MLP LM's gradient (tanh and GELU) by
// central differences of L = Σ W⊙lp with a fixed random W, on every
// parameter element. float64, ε = 1e-6: truncation O(ε²) and rounding
// ≈1e-16·|L|/ε ≈ 1e-10, so tolerance 1e-6 relative to max(1, max|grad|).
func TestMLPFiniteDifferences(t *testing.T) {
	for _, act := range []string{ActTanh, ActGELU} {
		t.Run(act, func(t *testing.T) {
			cfg := MLPConfig{VocabSize: 10, Window: 3, DEmbed: 4, DHidden: 5, Activation: act, MaxSeqLen: 8}
			m, err := NewMLP(cfg, tensor.Float64, 7)
			if err != nil {
				t.Fatal(err)
			}
			// larger output weights so the softmax is far from uniform
			for _, w := range m.Weights() {
				if w.Name == "out.weight" || w.Name == "hidden.bias" || w.Name == "out.bias" {
					d := w.T.Data().([]float64)
					for i := range d {
						d[i] = math.Sin(float64(3*i+1)) * 0.8
					}
				}
			}
			checkModelFD(t, m, mlpTestIDs, 1e-6, 1e-6)
		})
	}
}

// checkModelFD compares gradOfWeightedLP with central differences of the
// same weighted loss on every parameter element.
func checkModelFD(t *testing.T, lm LM, ids [][]int, eps, tol float64) {
	t.Helper()
	n, tt := len(ids), len(ids[0])
	w := make([][]float64, n)
	for i := range w {
		w[i] = make([]float64, tt-1)
		for p := range w[i] {
			w[i][p] = math.Cos(float64(7*i + 3*p + 1))
		}
	}
	loss := func() float64 {
		_, lp, _ := runForward(t, lm, ids)
		var s float64
		for i := range w {
			for p, v := range w[i] {
				s += v * lp[i*(tt-1)+p]
			}
		}
		return s
	}
	grads := gradOfWeightedLP(t, lm, ids, w)
	for _, p := range lm.Weights() {
		d := p.T.Data().([]float64)
		scale := 1.0
		for _, g := range grads[p.Name] {
			scale = math.Max(scale, math.Abs(g))
		}
		var worst float64
		for i := range d {
			x0 := d[i]
			d[i] = x0 + eps
			lp := loss()
			d[i] = x0 - eps
			lm := loss()
			d[i] = x0
			worst = math.Max(worst, math.Abs((lp-lm)/(2*eps)-grads[p.Name][i])/scale)
		}
		t.Logf("%s: worst |fd − analytic|/scale = %.3g (tolerance %.0g)", p.Name, worst, tol)
		if worst > tol {
			t.Errorf("%s: finite differences disagree: %.3g > %.0g", p.Name, worst, tol)
		}
	}
}

// TestMLPWindowCausal checks that logits at position p depend only on ids
// at positions ≤ p (changing later tokens leaves them bit-identical) and
// that the window really is k tokens (changing a token k positions back
// does not matter either).
func TestMLPWindowCausal(t *testing.T) {
	cfg := MLPConfig{VocabSize: 10, Window: 2, DEmbed: 3, DHidden: 4, MaxSeqLen: 8}
	m, err := NewMLP(cfg, tensor.Float64, 1)
	if err != nil {
		t.Fatal(err)
	}
	a := [][]int{{1, 2, 3, 4, 5}}
	b := [][]int{{9, 2, 3, 4, 7}} // position 0 and 4 changed
	la, _, _ := runForward(t, m, a)
	lb, _, _ := runForward(t, m, b)
	v := cfg.VocabSize
	for p := 0; p < 5; p++ {
		same := true
		for j := 0; j < v; j++ {
			if la[p*v+j] != lb[p*v+j] {
				same = false
			}
		}
		// window 2: position p sees p−1 and p; changed ids at 0 and 4
		wantSame := p == 2 || p == 3
		if same != wantSame {
			t.Errorf("position %d: logits unchanged = %v, want %v", p, same, wantSame)
		}
	}
}
