package graph

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestHeadTokenLogProbsMatchesUnfused checks HeadTokenLogProbs against
// TokenLogProbs(Linear(h, w), ids) — log-probs, their row maxima
// (HeadLogProbMaxOf vs LogProbMaxOf) and the gradients of h and w — with
// blocks of 4 rows (so several blocks, a partial last one, and rows whose
// upstream gradient is zero, which the backward skips), in float64 and
// float32.
func TestHeadTokenLogProbsMatchesUnfused(t *testing.T) {
	defer func(b int) { headChunkBytes = b }(headChunkBytes)
	const n, tt, d, v = 3, 7, 5, 11
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		headChunkBytes = 4 * v * 8 // 4 rows (float64), 8 rows (float32)
		type res struct{ lp, lmax, dh, dw []float64 }
		run := func(fused bool) res {
			rng := NewRNG(5)
			g := G.NewGraph()
			hv, wv := NewTensor(dt, n*tt, d), NewTensor(dt, v, d)
			FillNormal(hv, rng, 0, 1)
			FillNormal(wv, rng, 0, 1.5)
			idv := NewTensor(dt, n, tt)
			for i := 0; i < n*tt; i++ {
				setAt(idv, i, float64(rng.IntN(v)))
			}
			h, w := BindParam(g, "h", hv), BindParam(g, "w", wv)
			ids := G.NewMatrix(g, dt, G.WithShape(n, tt), G.WithName("ids"), G.WithValue(idv))
			var lp, lmax *G.Node
			var err error
			if fused {
				lp, err = HeadTokenLogProbs(h, w, ids)
				if err == nil {
					lmax, err = HeadLogProbMaxOf(lp)
				}
			} else {
				lp, err = TokenLogProbs(G.Must(Linear(h, w)), ids)
				if err == nil {
					lmax, err = LogProbMaxOf(lp)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			// weights with zero rows: sequence 1 and the first positions get no gradient
			rv := NewTensor(dt, n, tt-1)
			FillNormal(rv, rng, 0, 1)
			for p := 0; p < tt-1; p++ {
				setAt(rv, 1*(tt-1)+p, 0)
				setAt(rv, 2*(tt-1)+p/3, 0)
			}
			r := G.NewMatrix(g, dt, G.WithShape(n, tt-1), G.WithName("r"), G.WithValue(rv))
			loss := G.Must(G.Sum(G.Must(G.HadamardProd(lp, r))))
			var lpV, lmaxV G.Value
			G.Read(lp, &lpV)
			G.Read(lmax, &lmaxV)
			if _, err := G.Grad(loss, h, w); err != nil {
				t.Fatal(err)
			}
			m := NewTapeMachine(g, G.BindDualValues(h, w))
			defer m.Close()
			var out res
			for run := 0; run < 2; run++ { // twice: state is reused across runs
				m.Reset()
				if err := m.RunAll(); err != nil {
					t.Fatal(err)
				}
				dh, _ := h.Grad()
				dw, _ := w.Grad()
				out = res{Float64s(lpV), Float64s(lmaxV), Float64s(dh), Float64s(dw)}
			}
			return out
		}
		a, b := run(true), run(false)
		tol := 1e-13
		if dt == tensor.Float32 {
			tol = 2e-5
		}
		for _, c := range []struct {
			name string
			x, y []float64
		}{{"lp", a.lp, b.lp}, {"max log-prob", a.lmax, b.lmax}, {"dh", a.dh, b.dh}, {"dw", a.dw, b.dw}} {
			if len(c.x) != len(c.y) {
				t.Fatalf("%v %s: %d vs %d values", dt, c.name, len(c.x), len(c.y))
			}
			scale := 1.0
			for _, y := range c.y {
				scale = math.Max(scale, math.Abs(y))
			}
			for i := range c.x {
				if e := math.Abs(c.x[i]-c.y[i]) / scale; e > tol || math.IsNaN(c.x[i]) {
					t.Fatalf("%v %s[%d]: fused %v, unfused %v (rel %.2g > %.0g)", dt, c.name, i, c.x[i], c.y[i], e, tol)
				}
			}
		}
	}
}

// TestHeadTokenLogProbsShapes checks the shape errors.
func TestHeadTokenLogProbsShapes(t *testing.T) {
	g := G.NewGraph()
	h := BindParam(g, "h", NewTensor(tensor.Float64, 6, 4))
	w := BindParam(g, "w", NewTensor(tensor.Float64, 9, 3))
	ids := BindParam(g, "ids", NewTensor(tensor.Float64, 2, 3))
	if _, err := HeadTokenLogProbs(h, w, ids); err == nil {
		t.Error("accepted h [6,4] with w [9,3]")
	}
	if _, err := HeadLogProbMaxOf(h); err == nil {
		t.Error("HeadLogProbMaxOf accepted a node that is not HeadTokenLogProbs")
	}
}

// TestHeadTokenLogProbsMaskedBitwise checks, in float64 and float32, with
// blocks of a few rows (so several blocks in the forward and the
// backward, and a partial last one):
//   - the masked op equals the unmasked one bit for bit at the positions
//     the mask selects (log-probs, max log-probs, and the gradients of h
//     and w when the upstream gradient is zero outside the mask), and is
//     exactly 0 elsewhere;
//   - the backward from the logits the forward kept equals the backward
//     that recomputes them, bit for bit (the test checks that each path
//     was taken);
//   - a second run of the same machine gives the same bits (state reuse),
//     with a different mask in between.
func TestHeadTokenLogProbsMaskedBitwise(t *testing.T) {
	defer func(b, c int) { headChunkBytes, headCacheBytes = b, c }(headChunkBytes, headCacheBytes)
	const n, tt, d, v = 3, 9, 5, 13
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		headChunkBytes = 4 * v * 8 // 4 rows (float64), 8 rows (float32)
		type res struct{ lp, lmax, dh, dw []uint64 }
		// mask: sequence 0 from position 3 on, sequence 1 none, sequence 2
		// every other position
		maskv := make([]float64, n*(tt-1))
		for p := 0; p < tt-1; p++ {
			if p >= 3 {
				maskv[p] = 1
			}
			if p%2 == 0 {
				maskv[2*(tt-1)+p] = 1
			}
		}
		run := func(masked, keep bool) res {
			headCacheBytes = 0
			if keep {
				headCacheBytes = HeadCacheBytes
			}
			rng := NewRNG(9)
			g := G.NewGraph()
			hv, wv := NewTensor(dt, n*tt, d), NewTensor(dt, v, d)
			FillNormal(hv, rng, 0, 1)
			FillNormal(wv, rng, 0, 1.5)
			idv := NewTensor(dt, n, tt)
			for i := 0; i < n*tt; i++ {
				setAt(idv, i, float64(rng.IntN(v)))
			}
			h, w := BindParam(g, "h", hv), BindParam(g, "w", wv)
			ids := G.NewMatrix(g, dt, G.WithShape(n, tt), G.WithName("ids"), G.WithValue(idv))
			mv := NewTensor(dt, n, tt-1)
			mask := G.NewMatrix(g, dt, G.WithShape(n, tt-1), G.WithName("mask"), G.WithValue(mv))
			// upstream gradient r (zero outside the mask for the unmasked op)
			rv := NewTensor(dt, n, tt-1)
			FillNormal(rv, rng, 0, 1)
			setAt(rv, 2*(tt-1)+4, 0) // a selected row without gradient
			if !masked {
				for i, m := range maskv {
					setAt(rv, i, m*getAt(rv, i))
				}
			}
			var lp *G.Node
			var err error
			if masked {
				lp, err = HeadTokenLogProbsMasked(h, w, ids, mask)
			} else {
				lp, err = HeadTokenLogProbs(h, w, ids)
			}
			if err != nil {
				t.Fatal(err)
			}
			lmax := G.Must(HeadLogProbMaxOf(lp))
			r := G.NewMatrix(g, dt, G.WithShape(n, tt-1), G.WithName("r"), G.WithValue(rv))
			loss := G.Must(G.Sum(G.Must(G.HadamardProd(lp, r))))
			var lpV, lmaxV G.Value
			G.Read(lp, &lpV)
			G.Read(lmax, &lmaxV)
			if _, err := G.Grad(loss, h, w); err != nil {
				t.Fatal(err)
			}
			m := NewTapeMachine(g) // gradients are the gradient nodes' values, not accumulated across runs
			defer m.Close()
			op := lp.Op().(*headLSGOp)
			var out res
			for run := 0; run < 3; run++ {
				for i, x := range maskv {
					if run == 1 { // a different mask in between
						x = 1 - x
					}
					setAt(mv, i, x)
				}
				m.Reset()
				if err := m.RunAll(); err != nil {
					t.Fatal(err)
				}
				if held := len(op.st.logits.f32) + len(op.st.logits.f64); (held > 0) != keep {
					t.Fatalf("%v masked=%v keep=%v: the op holds %d kept logits", dt, masked, keep, held)
				}
				dh, _ := h.Grad()
				dw, _ := w.Grad()
				cur := res{bitsOf(lpV), bitsOf(lmaxV), bitsOf(dh), bitsOf(dw)}
				if run == 2 && !equalBits(cur, out) {
					t.Fatalf("%v masked=%v keep=%v: the third run differs from the first", dt, masked, keep)
				}
				if run == 0 {
					out = cur
				}
			}
			return out
		}
		ref := run(false, false)
		for _, c := range []struct{ masked, keep bool }{{false, true}, {true, false}, {true, true}} {
			got := run(c.masked, c.keep)
			for _, f := range []struct {
				name     string
				got, ref []uint64
				outputs  bool // [n, t−1]: 0 outside the mask when masked
			}{{"lp", got.lp, ref.lp, true}, {"max log-prob", got.lmax, ref.lmax, true}, {"dh", got.dh, ref.dh, false}, {"dw", got.dw, ref.dw, false}} {
				for i := range f.ref {
					want := f.ref[i]
					if f.outputs && c.masked && maskv[i] == 0 {
						want = 0
					}
					if f.got[i] != want {
						t.Fatalf("%v masked=%v keep=%v: %s[%d] = %#x, want %#x", dt, c.masked, c.keep, f.name, i, f.got[i], want)
					}
				}
			}
		}
	}
}

// bitsOf returns the bit patterns of a float32 or float64 value's elements.
func bitsOf(v G.Value) []uint64 {
	switch d := v.Data().(type) {
	case []float32:
		out := make([]uint64, len(d))
		for i, x := range d {
			out[i] = uint64(math.Float32bits(x))
		}
		return out
	case []float64:
		out := make([]uint64, len(d))
		for i, x := range d {
			out[i] = math.Float64bits(x)
		}
		return out
	}
	return nil
}

func equalBits(a, b struct{ lp, lmax, dh, dw []uint64 }) bool {
	for _, p := range [][2][]uint64{{a.lp, b.lp}, {a.lmax, b.lmax}, {a.dh, b.dh}, {a.dw, b.dw}} {
		if len(p[0]) != len(p[1]) {
			return false
		}
		for i := range p[0] {
			if p[0][i] != p[1][i] {
				return false
			}
		}
	}
	return true
}
