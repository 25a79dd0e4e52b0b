package graph

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestTokenLogitStats compares the forward-only statistics ops with a
// direct float64 computation (tolerance 1e-13 absolute: same formulas,
// values of order 1) and checks the position layout (stat[s, p] reads
// logits row s·t+p).
func TestTokenLogitStats(t *testing.T) {
	const n, tt, v = 2, 4, 5
	rng := NewRNG(3)
	logits := NewTensor(tensor.Float64, n*tt, v)
	FillNormal(logits, rng, 0, 4)
	g := G.NewGraph()
	ln := BindParam(g, "logits", logits)
	stats := map[string]*G.Node{}
	vals := map[string]*G.Value{}
	for _, s := range []string{StatMaxLogProb, StatEntropy, StatCollision} {
		node, err := TokenLogitStat(ln, n, tt, s)
		if err != nil {
			t.Fatal(err)
		}
		stats[s] = node
		vals[s] = new(G.Value)
		G.Read(node, vals[s])
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	mx, ent, col := RowLogitStats(logits.Data().([]float64), v)
	for s := 0; s < n; s++ {
		for p := 0; p < tt-1; p++ {
			r := s*tt + p
			row := logits.Data().([]float64)[r*v : (r+1)*v]
			// direct: p = exp(x)/Σexp(x)
			var z, best float64
			for _, x := range row {
				z += math.Exp(x)
				best = math.Max(best, math.Exp(x))
			}
			var h, c float64
			for _, x := range row {
				q := math.Exp(x) / z
				h -= q * math.Log(q)
				c += q * q
			}
			want := map[string]float64{StatMaxLogProb: math.Log(best / z), StatEntropy: h, StatCollision: c}
			plain := map[string]float64{StatMaxLogProb: mx[r], StatEntropy: ent[r], StatCollision: col[r]}
			for k, w := range want {
				got := Float64s(*vals[k])[s*(tt-1)+p]
				if math.Abs(got-w) > 1e-13 || math.Abs(plain[k]-w) > 1e-13 {
					t.Errorf("%s[%d,%d] = %v (op), %v (RowLogitStats), want %v", k, s, p, got, plain[k], w)
				}
			}
		}
	}
}

// TestLogpMaxCarriesNoGradient: a loss that adds a max log-prob node
// (TokenLogProbMax, or LogProbMaxOf subtracted from lp) gets exactly the
// gradient it would get without it (G.Grad treats it as a constant).
func TestLogpMaxCarriesNoGradient(t *testing.T) {
	const n, tt, v = 2, 3, 4
	grad := func(withMax int) []float64 {
		g := G.NewGraph()
		x := NewTensor(tensor.Float64, n*tt, v)
		FillNormal(x, NewRNG(1), 0, 1)
		ln := BindParam(g, "logits", x)
		idv := tensor.New(tensor.WithShape(n, tt), tensor.WithBacking([]float64{1, 2, 3, 0, 0, 1}))
		ids := BindParam(g, "ids", idv)
		lp := G.Must(TokenLogProbs(ln, ids))
		loss := G.Must(G.Sum(lp))
		switch withMax {
		case 1:
			mx := G.Must(TokenLogProbMax(ln, n, tt))
			loss = G.Must(G.Add(loss, G.Must(G.Sum(mx))))
		case 2:
			mx := G.Must(LogProbMaxOf(lp))
			loss = G.Must(G.Add(loss, G.Must(G.Sum(G.Must(G.Sub(lp, mx))))))
		}
		if _, err := G.Grad(loss, ln); err != nil {
			t.Fatal(err)
		}
		m := G.NewTapeMachine(g, G.BindDualValues(ln))
		defer m.Close()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		gv, _ := ln.Grad()
		return Float64s(gv)
	}
	a := grad(0)
	for _, k := range []int{1, 2} {
		b := grad(k)
		if k == 2 { // loss = 2·Σlp − Σmax: twice the plain gradient
			for i := range b {
				b[i] /= 2
			}
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("variant %d: gradient changed when the max log-prob joined the loss: %v vs %v", k, a, b)
			}
		}
	}
}

// TestAttentionCausal: changing the inputs of a later position leaves the
// attention output of every earlier position bit-identical.
func TestAttentionCausal(t *testing.T) {
	const n, tt, d, heads = 2, 6, 8, 2
	run := func(x *tensor.Dense) []float64 {
		g := G.NewGraph()
		in := BindParam(g, "qkv", x)
		o := G.Must(CausalSelfAttention(in, n, tt, heads))
		var v G.Value
		G.Read(o, &v)
		m := G.NewTapeMachine(g)
		defer m.Close()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		return Float64s(v)
	}
	x := NewTensor(tensor.Float64, n*tt, 3*d)
	FillNormal(x, NewRNG(5), 0, 1)
	before := run(x)
	y := x.Clone().(*tensor.Dense)
	data := y.Data().([]float64)
	for c := 0; c < 3*d; c++ {
		data[(0*tt+4)*3*d+c] += 1 // sequence 0, position 4
	}
	after := run(y)
	for s := 0; s < n; s++ {
		for p := 0; p < tt; p++ {
			changed := false
			for c := 0; c < d; c++ {
				if before[(s*tt+p)*d+c] != after[(s*tt+p)*d+c] {
					changed = true
				}
			}
			if want := s == 0 && p >= 4; changed != want {
				t.Errorf("sequence %d position %d: changed = %v, want %v", s, p, changed, want)
			}
		}
	}
}

// TestLogProbsLargeLogits: logits of ±1e4 (far beyond exp's range) give
// finite log-probs in float32 and float64: each row subtracts its own max.
func TestLogProbsLargeLogits(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		g := G.NewGraph()
		x := NewTensor(dt, 2, 3)
		for i, v := range []float64{0, 0, 0, 1e4, -1e4, 1e4} {
			setAt(x, i, v)
		}
		ln := BindParam(g, "logits", x)
		tg := NewTensor(dt, 2)
		setAt(tg, 1, 1)
		lp := G.Must(TargetLogProbs(ln, BindParam(g, "tg", tg)))
		var v G.Value
		G.Read(lp, &v)
		m := G.NewTapeMachine(g)
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		m.Close()
		got := Float64s(v)
		if math.Abs(got[0]-math.Log(1.0/3)) > 1e-6 || !(got[1] < -1e4) || math.IsInf(got[1], 0) {
			t.Errorf("%v: log-probs %v, want [log(1/3), ≈−2e4]", dt, got)
		}
	}
}

// TestIDValidation: out-of-range or fractional ids are errors at run time.
func TestIDValidation(t *testing.T) {
	for _, bad := range []float64{-1, 4, 1.5} {
		g := G.NewGraph()
		tab := BindParam(g, "tab", NewTensor(tensor.Float64, 4, 2))
		ids := NewTensor(tensor.Float64, 1, 2)
		setAt(ids, 1, bad)
		G.Must(Embedding(tab, BindParam(g, "ids", ids)))
		m := G.NewTapeMachine(g)
		if err := m.RunAll(); err == nil {
			t.Errorf("id %v: no error", bad)
		}
		m.Close()
	}
}

// TestLogProbMaxOf: the cached max log-prob equals the standalone op's
// (tolerance 1e-14 absolute: max − lse from the same float64 sums versus a
// recomputation, values of order 1–10).
func TestLogProbMaxOf(t *testing.T) {
	const n, tt, v = 3, 4, 6
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		g := G.NewGraph()
		x := NewTensor(dt, n*tt, v)
		FillNormal(x, NewRNG(8), 0, 3)
		ln := BindParam(g, "logits", x)
		idv := NewTensor(dt, n, tt)
		for i := 0; i < n*tt; i++ {
			setAt(idv, i, float64(i%v))
		}
		lp := G.Must(TokenLogProbs(ln, BindParam(g, "ids", idv)))
		a := G.Must(LogProbMaxOf(lp))
		b := G.Must(TokenLogProbMax(ln, n, tt))
		var va, vb G.Value
		G.Read(a, &va)
		G.Read(b, &vb)
		m := G.NewTapeMachine(g)
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		m.Close()
		tol := 1e-14
		if dt == tensor.Float32 {
			tol = 1e-5
		}
		if e := relErr(Float64s(va), Float64s(vb)); e > tol {
			t.Errorf("%v: LogProbMaxOf differs from TokenLogProbMax by %.3g", dt, e)
		}
	}
	if _, err := LogProbMaxOf(G.NewVector(G.NewGraph(), tensor.Float64, G.WithShape(2), G.WithName("v"))); err == nil {
		t.Errorf("LogProbMaxOf on a non-TokenLogProbs node: no error")
	}
}
