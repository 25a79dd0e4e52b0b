package graph

import (
	"math"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// bitsEqual reports whether a and b hold the same float64 bit patterns.
func bitsEqual(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

// TestReleaseValues checks, for every op in both dtypes, that
// ReleaseValues leaves no value on a non-input node and no forward cache
// in an op, keeps the inputs' values, and that the next run gives the same
// loss, output and gradients bit for bit as a run without the release.
func TestReleaseValues(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for i, c := range opCases() {
			t.Run(c.name+"/"+dt.String(), func(t *testing.T) {
				h := newHarness(t, dt, uint64(300+i), c.ins, c.build)
				defer h.m.Close()
				// the harness binds dual values, so gradients accumulate
				// over runs: zero them before each compared run
				zeroGrads := func() {
					for _, i := range h.diffIx {
						if g, err := h.in[i].Grad(); err == nil {
							g.(*tensor.Dense).Zero()
						}
					}
				}
				h.grads(t)
				zeroGrads()
				grads1 := h.grads(t)
				loss1 := Float64s(h.lossV)[0]
				out1 := Float64s(h.outV)

				ReleaseValues(h.g, h.m)
				h.lossV, h.outV = nil, nil
				for _, n := range h.g.AllNodes() {
					if n.Op() == nil { // inputs keep their values
						if n.Value() == nil {
							t.Errorf("input %v lost its value", n)
						}
						continue
					}
					if n.Value() != nil && !strings.HasPrefix(n.Op().String(), "const") { // constants keep theirs
						t.Errorf("node %v (op %v) still holds a value after ReleaseValues", n, n.Op())
					}
					switch op := n.Op().(type) {
					case *attnOp:
						if op.cache.probs.f32 != nil || op.cache.probs.f64 != nil {
							t.Errorf("%v kept its probabilities", op)
						}
					case *geluOp:
						if op.cache.tanh.f32 != nil || op.cache.tanh.f64 != nil {
							t.Errorf("%v kept its tanh cache", op)
						}
					case *lsgOp:
						if op.lse.exp.f32 != nil || op.lse.exp.f64 != nil || op.lse.lse != nil {
							t.Errorf("%v kept its softmax cache", op)
						}
					case *headLSGOp:
						if op.st.block.f32 != nil || op.st.block.f64 != nil || op.st.lse != nil || op.st.dw != nil {
							t.Errorf("%v kept its logits block or statistics", op)
						}
					}
				}

				zeroGrads()
				grads2 := h.grads(t)
				if loss2 := Float64s(h.lossV)[0]; math.Float64bits(loss1) != math.Float64bits(loss2) {
					t.Errorf("loss after release %v, before %v", loss2, loss1)
				}
				if !bitsEqual(out1, Float64s(h.outV)) {
					t.Errorf("output after release differs")
				}
				for k := range grads1 {
					if !bitsEqual(grads1[k], grads2[k]) {
						t.Errorf("gradient %d after release differs", k)
					}
				}
			})
		}
	}
}

// TestTokenLogProbsGradientReusesSoftmax checks that the fused op's
// backward returns its gradient in the forward's exp buffer (the op holds
// one [rows, V] buffer, not two) and refuses a second backward without a
// forward in between.
func TestTokenLogProbsGradientReusesSoftmax(t *testing.T) {
	op := newLSG(2, 3, true)
	logits := tensor.New(tensor.WithShape(6, 4), tensor.WithBacking([]float32{
		1, 2, 3, 4, 0, 0, 0, 0, -1, 2, 0, 5, 3, 3, 1, 0, 2, 2, 2, 2, 9, 0, 1, 0}))
	ids := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{0, 1, 3, 2, 0, 1}))
	if _, err := op.Do(logits, ids); err != nil {
		t.Fatal(err)
	}
	e := op.lse.exp.f32
	g := tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{1, -2, 0.5, 0}))
	grad := &lsgGradOp{backwardOf[*lsgOp]{fwd: op}}
	d, err := grad.Do(logits, ids, g)
	if err != nil {
		t.Fatal(err)
	}
	if dd := d.(*tensor.Dense).Data().([]float32); &dd[0] != &e[0] {
		t.Error("the gradient does not reuse the forward's exp buffer")
	}
	// rows without a target (last position) or with g = 0 are zero
	dd := d.(*tensor.Dense).Data().([]float32)
	for _, r := range []int{2, 4, 5} {
		for v := 0; v < 4; v++ {
			if dd[r*4+v] != 0 {
				t.Errorf("dlogits[%d, %d] = %v, want 0", r, v, dd[r*4+v])
			}
		}
	}
	// each live row sums to 0: g·(1 − Σ softmax)
	for _, r := range []int{0, 1, 3} {
		var s float64
		for v := 0; v < 4; v++ {
			s += float64(dd[r*4+v])
		}
		if math.Abs(s) > 1e-6 {
			t.Errorf("dlogits row %d sums to %v, want 0", r, s)
		}
	}
	if _, err := grad.Do(logits, ids, g); err == nil {
		t.Error("a second backward without a forward was accepted")
	}
	if _, err := op.Do(logits, ids); err != nil {
		t.Fatal(err)
	}
	if &op.lse.exp.f32[0] != &e[0] {
		t.Error("the next forward does not reuse the exp buffer (the last gradient)")
	}
	if _, err := grad.Do(logits, ids, g); err != nil {
		t.Errorf("backward after a new forward: %v", err)
	}
}

var _ G.Op = (*lsgGradOp)(nil)
