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
