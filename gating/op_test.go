package gating

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// testBatch is a small [n, m] batch of log-probs with a response mask and a
// per-position max log-prob (lmax ≥ lp), spread so that every gate kind
// binds on some tokens and saturates on others.
type testBatch struct {
	n, m           int
	lp, lmax, mask []float64
}

func newTestBatch() testBatch {
	r := rand.New(rand.NewPCG(7, 11))
	b := testBatch{n: 3, m: 6}
	b.lp = make([]float64, b.n*b.m)
	b.lmax = make([]float64, b.n*b.m)
	b.mask = make([]float64, b.n*b.m)
	starts, ends := []int{1, 0, 2}, []int{5, 6, 4}
	for r0 := 0; r0 < b.n; r0++ {
		for t := 0; t < b.m; t++ {
			i := r0*b.m + t
			b.lp[i] = -6 * r.Float64() // p from e^-6 ≈ 0.0025 to 1
			b.lmax[i] = b.lp[i] * r.Float64()
			if t >= starts[r0] && t < ends[r0] {
				b.mask[i] = 1
			}
		}
	}
	return b
}

// allSpecs enumerates every kind × level × relative with parameters that
// make the gate bind on part of testBatch.
func allSpecs() []Spec {
	var out []Spec
	for _, kind := range Kinds {
		for _, level := range Levels {
			for _, rel := range []bool{false, true} {
				s := DefaultSpec()
				s.Kind, s.Level, s.Relative = kind, level, rel
				s.Tau = 0.05
				if rel {
					s.Tau = 0.3
				}
				if kind == KindSigmoid {
					s.Temperature = 0.7
				}
				if kind == KindPower {
					s.Alpha = 0.4
				}
				out = append(out, s)
			}
		}
	}
	return out
}

// lossGraph builds L = Σ_r softplus-free smooth function of the masked row
// sums of lp̃: L = Σ_r c_r·(Σ_t mask·lp̃)² + Σ_{r,t} w_rt·mask·exp(lp̃/3),
// nonlinear so the gradient wrt lp depends on lp. gated=false builds the
// graph without the Op.
func lossGraph(t *testing.T, s Spec, b testBatch, gated bool) (g *G.ExprGraph, lpN, loss, values *G.Node) {
	t.Helper()
	g = G.NewGraph()
	lpN = G.NewMatrix(g, tensor.Float64, G.WithShape(b.n, b.m), G.WithName("lp"),
		G.WithValue(tensor.New(tensor.WithShape(b.n, b.m), tensor.WithBacking(append([]float64(nil), b.lp...)))))
	mask := G.NewMatrix(g, tensor.Float64, G.WithShape(b.n, b.m), G.WithName("mask"),
		G.WithValue(tensor.New(tensor.WithShape(b.n, b.m), tensor.WithBacking(append([]float64(nil), b.mask...)))))
	lmax := G.NewMatrix(g, tensor.Float64, G.WithShape(b.n, b.m), G.WithName("lmax"),
		G.WithValue(tensor.New(tensor.WithShape(b.n, b.m), tensor.WithBacking(append([]float64(nil), b.lmax...)))))
	x := lpN
	var err error
	if gated {
		if x, err = Apply(s, lpN, mask, lmax); err != nil {
			t.Fatal(err)
		}
		if values, err = ValuesNode(s, lpN, mask, lmax); err != nil {
			t.Fatal(err)
		}
	}
	masked := G.Must(G.HadamardProd(x, mask))
	rows := G.Must(G.Sum(masked, 1))
	c := G.NewVector(g, tensor.Float64, G.WithShape(b.n), G.WithName("c"),
		G.WithValue(tensor.New(tensor.WithShape(b.n), tensor.WithBacking([]float64{0.3, -0.2, 0.5}))))
	quad := G.Must(G.Sum(G.Must(G.HadamardProd(c, G.Must(G.Square(rows))))))
	third := G.NewScalar(g, tensor.Float64, G.WithName("third"), G.WithValue(1.0/3))
	ex := G.Must(G.Exp(G.Must(G.Mul(x, third))))
	lin := G.Must(G.Sum(G.Must(G.HadamardProd(ex, mask))))
	loss = G.Must(G.Add(quad, lin))
	if _, err := G.Grad(loss, lpN); err != nil {
		t.Fatal(err)
	}
	return g, lpN, loss, values
}

type graphResult struct {
	loss   float64
	out    []float64 // lp̃ is not read; kept for forward checks elsewhere
	grad   []float64
	values []float64
}

func runLoss(t *testing.T, s Spec, b testBatch, gated bool) graphResult {
	t.Helper()
	g, lpN, loss, valuesN := lossGraph(t, s, b, gated)
	var lossV, valV G.Value
	G.Read(loss, &lossV)
	if valuesN != nil {
		G.Read(valuesN, &valV)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	gv, err := lpN.Grad()
	if err != nil {
		t.Fatal(err)
	}
	res := graphResult{loss: lossV.Data().(float64), grad: append([]float64(nil), gv.Data().([]float64)...)}
	if valV != nil {
		res.values = append([]float64(nil), valV.Data().([]float64)...)
	}
	return res
}

// TestGateGradient checks, for every kind × level × relative:
//   - the loss value is bit-identical with and without the gate (identity
//     forward);
//   - the ungated gradient matches central finite differences (the gate
//     leaves the loss unchanged, so FD checks the ungated gradient), to
//     1e-8 relative to max|grad| (step 1e-5, O(h²) ≈ 1e-10 truncation);
//   - the gated gradient equals g ⊙ (ungated dL/dlp) bit for bit (the
//     golden README's cross-check: dL/dlp from the ungated graph times g),
//     with g computed independently by Values;
//   - the forward-only gate values equal Values with 0 outside the mask.
func TestGateGradient(t *testing.T) {
	b := newTestBatch()
	for _, s := range allSpecs() {
		t.Run(s.String()+"/"+s.Level+fmt.Sprintf("/rel=%t", s.Relative), func(t *testing.T) {
			un := runLoss(t, s, b, false)
			ga := runLoss(t, s, b, true)
			if math.Float64bits(un.loss) != math.Float64bits(ga.loss) {
				t.Fatalf("gate changed the loss: %v vs %v", un.loss, ga.loss)
			}
			// Finite differences of the (gate-independent) loss.
			const h = 1e-5
			maxAbs := 0.0
			for _, v := range un.grad {
				maxAbs = math.Max(maxAbs, math.Abs(v))
			}
			for i := range b.lp {
				bp, bm := b, b
				bp.lp = append([]float64(nil), b.lp...)
				bm.lp = append([]float64(nil), b.lp...)
				bp.lp[i] += h
				bm.lp[i] -= h
				fd := (evalLoss(bp) - evalLoss(bm)) / (2 * h)
				if d := math.Abs(fd - un.grad[i]); d > 1e-8*maxAbs {
					t.Errorf("FD lp[%d]: fd %v autograd %v", i, fd, un.grad[i])
				}
			}
			var lmax []float64
			if s.Relative {
				lmax = b.lmax
			}
			gIn, err := Values(s, b.lp, lmax, b.mask, b.n, b.m, 1)
			if err != nil {
				t.Fatal(err)
			}
			binding := false
			for i := range gIn {
				want := gIn[i] * un.grad[i]
				if math.Float64bits(want) != math.Float64bits(ga.grad[i]) {
					t.Errorf("gated grad[%d] = %v, want g·ungated = %v·%v = %v", i, ga.grad[i], gIn[i], un.grad[i], want)
				}
				if b.mask[i] != 0 && gIn[i] < 1 {
					binding = true
				}
			}
			if s.Kind != KindNone && !binding {
				t.Errorf("gate %v never binds on the test batch: the test is vacuous", s)
			}
			gRep, _ := Values(s, b.lp, lmax, b.mask, b.n, b.m, 0)
			for i := range gRep {
				if math.Float64bits(gRep[i]) != math.Float64bits(ga.values[i]) {
					t.Errorf("values[%d] = %v, want %v", i, ga.values[i], gRep[i])
				}
			}
		})
	}
}

// evalLoss evaluates the ungated loss of lossGraph at b (plain Go mirror).
func evalLoss(b testBatch) float64 {
	c := []float64{0.3, -0.2, 0.5}
	l := 0.0
	for r := 0; r < b.n; r++ {
		s := 0.0
		for t := 0; t < b.m; t++ {
			i := r*b.m + t
			s += b.lp[i] * b.mask[i]
			l += math.Exp(b.lp[i]/3) * b.mask[i]
		}
		l += c[r] * s * s
	}
	return l
}

// TestGateOffInsertsNothing: τ = 0 and kind none return the input node
// itself, so the loss and every gradient are the ungated graph's, bit for bit.
func TestGateOffInsertsNothing(t *testing.T) {
	b := newTestBatch()
	for _, s := range []Spec{
		{Kind: KindRamp, Tau: 0, Level: LevelToken, Temperature: 1, Alpha: 0.5},
		{Kind: KindHard, Tau: 0, Level: LevelSequence, Relative: true, Temperature: 1, Alpha: 0.5},
		{Kind: KindNone, Tau: 0.3, Level: LevelToken, Temperature: 1, Alpha: 0.5},
	} {
		g := G.NewGraph()
		lp := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("lp"))
		mask := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("mask"))
		out, err := Apply(s, lp, mask, nil)
		if err != nil {
			t.Fatal(err)
		}
		if out != lp {
			t.Errorf("%v: Apply inserted a node for an off gate", s)
		}
		un := runLoss(t, s, b, false)
		ga := runLoss(t, s, b, true)
		for i := range un.grad {
			if math.Float64bits(un.grad[i]) != math.Float64bits(ga.grad[i]) {
				t.Fatalf("%v: grad[%d] %v != %v", s, i, ga.grad[i], un.grad[i])
			}
		}
	}
}

// TestGateForwardBitExact: the Op's output is a bit-exact copy of lp, in
// float64 and float32, and not the same backing array.
func TestGateForwardBitExact(t *testing.T) {
	b := newTestBatch()
	s := Spec{Kind: KindRamp, Tau: 0.1, Level: LevelToken, Temperature: 1, Alpha: 0.5}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		lpT := tensor.New(tensor.WithShape(b.n, b.m), tensor.Of(dt))
		mT := tensor.New(tensor.WithShape(b.n, b.m), tensor.Of(dt))
		for i := range b.lp {
			if dt == tensor.Float64 {
				lpT.Data().([]float64)[i] = b.lp[i]
				mT.Data().([]float64)[i] = b.mask[i]
			} else {
				lpT.Data().([]float32)[i] = float32(b.lp[i])
				mT.Data().([]float32)[i] = float32(b.mask[i])
			}
		}
		out, err := (&gateOp{spec: s, mode: modeForward}).Do(lpT, mT)
		if err != nil {
			t.Fatal(err)
		}
		o := out.(*tensor.Dense)
		if o == lpT {
			t.Fatal("Do returned its input")
		}
		for i := 0; i < o.Len(); i++ {
			a, _ := o.At(i/b.m, i%b.m)
			w, _ := lpT.At(i/b.m, i%b.m)
			if a != w {
				t.Fatalf("%v: out[%d] = %v, want %v", dt, i, a, w)
			}
		}
	}
}

// TestGateHashCoversEveryParameter: gates that differ in any one parameter
// hash differently, so Gorgonia never merges their nodes.
func TestGateHashCoversEveryParameter(t *testing.T) {
	base := Spec{Kind: KindSigmoid, Tau: 0.05, Level: LevelToken, Relative: true, Temperature: 1, Alpha: 0.5}
	variants := []Spec{base}
	v := base
	v.Kind = KindRamp
	variants = append(variants, v)
	v = base
	v.Tau = 0.050000000000000010
	variants = append(variants, v)
	v = base
	v.Level = LevelSequence
	variants = append(variants, v)
	v = base
	v.Relative = false
	variants = append(variants, v)
	v = base
	v.Temperature = 2
	variants = append(variants, v)
	v = base
	v.Alpha = 0.25
	variants = append(variants, v)
	seen := map[uint32]Spec{}
	for _, s := range variants {
		for _, mode := range []opMode{modeForward, modeBackward, modeValues} {
			h := (&gateOp{spec: s, mode: mode}).Hashcode()
			if prev, ok := seen[h]; ok {
				t.Errorf("hash collision between %+v and %+v (mode %d)", prev, s, mode)
			}
			seen[h] = s
		}
	}
	// Two gates with different τ on the same input stay two nodes.
	g := G.NewGraph()
	lp := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("lp"))
	mask := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("mask"))
	a, _ := Apply(Spec{Kind: KindRamp, Tau: 0.1, Level: LevelToken, Temperature: 1, Alpha: 0.5}, lp, mask, nil)
	c, _ := Apply(Spec{Kind: KindRamp, Tau: 0.2, Level: LevelToken, Temperature: 1, Alpha: 0.5}, lp, mask, nil)
	if a == c {
		t.Error("gates with different tau merged into one node")
	}
}

// TestGateLispMachine: the ADOp path (DoDiff) gives the same gradient as the
// symbolic path.
func TestGateLispMachine(t *testing.T) {
	b := newTestBatch()
	s := Spec{Kind: KindRamp, Tau: 0.05, Level: LevelToken, Temperature: 1, Alpha: 0.5}
	g := G.NewGraph()
	lp := G.NewMatrix(g, tensor.Float64, G.WithShape(b.n, b.m), G.WithName("lp"),
		G.WithValue(tensor.New(tensor.WithShape(b.n, b.m), tensor.WithBacking(append([]float64(nil), b.lp...)))))
	mask := G.NewMatrix(g, tensor.Float64, G.WithShape(b.n, b.m), G.WithName("mask"),
		G.WithValue(tensor.New(tensor.WithShape(b.n, b.m), tensor.WithBacking(append([]float64(nil), b.mask...)))))
	x, err := Apply(s, lp, mask, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := G.NewMatrix(g, tensor.Float64, G.WithShape(b.n, b.m), G.WithName("w"),
		G.WithValue(tensor.New(tensor.WithShape(b.n, b.m), tensor.WithBacking(append([]float64(nil), b.mask...)))))
	G.Must(G.Sum(G.Must(G.HadamardProd(G.Must(G.Square(x)), w)))) // the cost: the lisp machine differentiates the last node
	m := G.NewLispMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	gv, err := lp.Grad()
	if err != nil {
		t.Fatal(err)
	}
	got := gv.Data().([]float64)
	gates, _ := Values(s, b.lp, nil, b.mask, b.n, b.m, 1)
	for i := range got {
		exp := gates[i] * 2 * b.lp[i] * b.mask[i]
		if math.Abs(got[i]-exp) > 1e-15*math.Abs(exp) {
			t.Errorf("lisp grad[%d] = %v, want %v", i, got[i], exp)
		}
	}
}

// TestGateOnView: the Op reads a strided view (a column slice) correctly,
// forward (bit-exact values) and for the gate values.
func TestGateOnView(t *testing.T) {
	b := newTestBatch()
	g := G.NewGraph()
	full := make([]float64, b.n*(b.m+2))
	for r := 0; r < b.n; r++ {
		for c := 0; c < b.m; c++ {
			full[r*(b.m+2)+c+1] = b.lp[r*b.m+c]
		}
	}
	lpFull := G.NewMatrix(g, tensor.Float64, G.WithShape(b.n, b.m+2), G.WithName("lpfull"),
		G.WithValue(tensor.New(tensor.WithShape(b.n, b.m+2), tensor.WithBacking(full))))
	lp := G.Must(G.Slice(lpFull, nil, G.S(1, b.m+1)))
	mask := G.NewMatrix(g, tensor.Float64, G.WithShape(b.n, b.m), G.WithName("mask"),
		G.WithValue(tensor.New(tensor.WithShape(b.n, b.m), tensor.WithBacking(append([]float64(nil), b.mask...)))))
	s := Spec{Kind: KindRamp, Tau: 0.05, Level: LevelSequence, Temperature: 1, Alpha: 0.5}
	out, err := Apply(s, lp, mask, nil)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := ValuesNode(s, lp, mask, nil)
	if err != nil {
		t.Fatal(err)
	}
	var outV, valV G.Value
	G.Read(out, &outV)
	G.Read(vals, &valV)
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	want, _ := Values(s, b.lp, nil, b.mask, b.n, b.m, 0)
	got := valV.Data().([]float64)
	o := outV.(*tensor.Dense)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("gate %d = %v, want %v", i, got[i], want[i])
		}
		v, _ := o.At(i/b.m, i%b.m)
		if v.(float64) != b.lp[i] {
			t.Fatalf("forward %d = %v, want %v", i, v, b.lp[i])
		}
	}
}

// BenchmarkGateBackward times the backward Do of a token-level relative
// ramp gate on a [16, 127] float32 batch (16 rejected rows of T = 128).
func BenchmarkGateBackward(b *testing.B) {
	n, m := 16, 127
	mk := func(f func(i int) float32) *tensor.Dense {
		d := make([]float32, n*m)
		for i := range d {
			d[i] = f(i)
		}
		return tensor.New(tensor.WithShape(n, m), tensor.WithBacking(d))
	}
	lp := mk(func(i int) float32 { return -float32(i%17) * 0.4 })
	mask := mk(func(i int) float32 { return float32((i / 3) % 2) })
	lmax := mk(func(i int) float32 { return -0.1 })
	grad := mk(func(i int) float32 { return 0.01 })
	op := &gateOp{spec: Spec{Kind: KindRamp, Tau: 0.01, Level: LevelToken, Relative: true, Temperature: 1, Alpha: 0.5}, mode: modeBackward}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := op.Do(lp, mask, lmax, grad); err != nil {
			b.Fatal(err)
		}
	}
}
