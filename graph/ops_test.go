package graph

import (
	"fmt"
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// input describes one input of an op under test.
type input struct {
	shape []int
	diff  bool      // differentiate w.r.t. it (ids and masks are not)
	fill  []float64 // fixed values (ids, masks); random N(0,1) when nil
	scale float64   // std of the random fill (default 1)
}

// opHarness builds out = build(inputs) in a fresh graph and the scalar
// L = Σ out ⊙ R for a fixed random R, so that every output element reaches
// the loss with a distinct weight.
type opHarness struct {
	g      *G.ExprGraph
	m      G.VM
	in     []*G.Node
	vals   []*tensor.Dense
	loss   *G.Node
	lossV  G.Value
	outV   G.Value
	diffIx []int
}

func newHarness(t *testing.T, dt tensor.Dtype, seed uint64, ins []input, build func(in []*G.Node) (*G.Node, error)) *opHarness {
	t.Helper()
	rng := NewRNG(seed)
	h := &opHarness{g: G.NewGraph()}
	for i, s := range ins {
		v := NewTensor(dt, s.shape...)
		if s.fill != nil {
			for j, x := range s.fill {
				setAt(v, j, x)
			}
		} else {
			sc := s.scale
			if sc == 0 {
				sc = 1
			}
			FillNormal(v, rng, 0, sc)
		}
		h.vals = append(h.vals, v)
		h.in = append(h.in, BindParam(h.g, fmt.Sprintf("in%d", i), v))
		if s.diff {
			h.diffIx = append(h.diffIx, i)
		}
	}
	out, err := build(h.in)
	if err != nil {
		t.Fatal(err)
	}
	r := NewTensor(dt, out.Shape().Clone()...)
	FillNormal(r, rng, 0, 1)
	rn := G.NewTensor(h.g, dt, out.Shape().Dims(), G.WithShape(out.Shape().Clone()...), G.WithName("R"), G.WithValue(r))
	if out.Shape().Dims() == 1 {
		rn = G.NewVector(h.g, dt, G.WithShape(out.Shape().Clone()...), G.WithName("R"), G.WithValue(r))
	}
	h.loss = G.Must(G.Sum(G.Must(G.HadamardProd(out, rn))))
	G.Read(h.loss, &h.lossV)
	G.Read(out, &h.outV)
	var wrt G.Nodes
	for _, i := range h.diffIx {
		wrt = append(wrt, h.in[i])
	}
	if len(wrt) > 0 {
		if _, err := G.Grad(h.loss, wrt...); err != nil {
			t.Fatal(err)
		}
	}
	h.m = G.NewTapeMachine(h.g, G.BindDualValues(wrt...))
	return h
}

func setAt(v *tensor.Dense, i int, x float64) {
	switch d := v.Data().(type) {
	case []float64:
		d[i] = x
	case []float32:
		d[i] = float32(x)
	}
}

func getAt(v *tensor.Dense, i int) float64 {
	switch d := v.Data().(type) {
	case []float64:
		return d[i]
	case []float32:
		return float64(d[i])
	}
	return math.NaN()
}

// run executes the graph once and returns the loss.
func (h *opHarness) run(t *testing.T) float64 {
	t.Helper()
	h.m.Reset()
	if err := h.m.RunAll(); err != nil {
		t.Fatal(err)
	}
	return Float64s(h.lossV)[0]
}

// grads runs once and returns the analytic gradient of each diff input.
func (h *opHarness) grads(t *testing.T) [][]float64 {
	t.Helper()
	h.run(t)
	var out [][]float64
	for _, i := range h.diffIx {
		g, err := h.in[i].Grad()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Float64s(g))
	}
	return out
}

// checkFD compares analytic gradients with central differences
// (L(x+ε) − L(x−ε))/2ε on every element of every differentiable input.
// In float64 with ε = 1e-6 the truncation error is O(ε²)·|L”'| ≈ 1e-12 and
// the rounding error ≈ 1e-16·|L|/ε ≈ 1e-10, so tol = 1e-6 relative to
// max(1, max|grad|) leaves a wide margin while catching any wrong formula
// (those are off by O(1)).
func checkFD(t *testing.T, name string, h *opHarness, eps, tol float64) {
	t.Helper()
	ana := h.grads(t)
	for k, i := range h.diffIx {
		v := h.vals[i]
		scale := 1.0
		for _, g := range ana[k] {
			scale = math.Max(scale, math.Abs(g))
		}
		var worst float64
		for j := 0; j < v.Shape().TotalSize(); j++ {
			x0 := getAt(v, j)
			setAt(v, j, x0+eps)
			lp := h.run(t)
			setAt(v, j, x0-eps)
			lm := h.run(t)
			setAt(v, j, x0)
			fd := (lp - lm) / (2 * eps)
			worst = math.Max(worst, math.Abs(fd-ana[k][j])/scale)
		}
		t.Logf("%s: input %d: worst |fd − analytic|/scale = %.3g (tolerance %.0g)", name, i, worst, tol)
		if !(worst <= tol) { // NaN fails too

			t.Errorf("%s: input %d: finite differences disagree: %.3g > %.0g", name, i, worst, tol)
		}
	}
}

// opCase is one op under test.
type opCase struct {
	name  string
	ins   []input
	build func(in []*G.Node) (*G.Node, error)
}

func ids(vals ...int) []float64 {
	out := make([]float64, len(vals))
	for i, v := range vals {
		out[i] = float64(v)
	}
	return out
}

func opCases() []opCase {
	const n, tt, d, heads, v = 2, 5, 6, 2, 7
	idv := ids(1, 3, 0, 6, 2, 5, 5, 1, 4, 0)
	return []opCase{
		{"LayerNorm", []input{{shape: []int{5, 7}, diff: true, scale: 2}, {shape: []int{7}, diff: true}, {shape: []int{7}, diff: true}},
			func(in []*G.Node) (*G.Node, error) { return LayerNorm(in[0], in[1], in[2], 1e-5) }},
		{"CausalSelfAttention", []input{{shape: []int{n * tt, 3 * d}, diff: true}},
			func(in []*G.Node) (*G.Node, error) { return CausalSelfAttention(in[0], n, tt, heads) }},
		{"TokenLogProbs", []input{{shape: []int{n * tt, v}, diff: true, scale: 3}, {shape: []int{n, tt}, fill: idv}},
			func(in []*G.Node) (*G.Node, error) { return TokenLogProbs(in[0], in[1]) }},
		{"HeadTokenLogProbs", []input{{shape: []int{n * tt, 4}, diff: true}, {shape: []int{v, 4}, diff: true, scale: 2}, {shape: []int{n, tt}, fill: idv}},
			func(in []*G.Node) (*G.Node, error) { return HeadTokenLogProbs(in[0], in[1], in[2]) }},
		{"HeadTokenLogProbsMasked", []input{{shape: []int{n * tt, 4}, diff: true}, {shape: []int{v, 4}, diff: true, scale: 2}, {shape: []int{n, tt}, fill: idv},
			{shape: []int{n, tt - 1}, fill: ids(0, 1, 1, 0, 1, 0, 0, 1)}},
			func(in []*G.Node) (*G.Node, error) { return HeadTokenLogProbsMasked(in[0], in[1], in[2], in[3]) }},
		{"TargetLogProbs", []input{{shape: []int{4, v}, diff: true, scale: 3}, {shape: []int{4}, fill: ids(0, 6, 3, 3)}},
			func(in []*G.Node) (*G.Node, error) { return TargetLogProbs(in[0], in[1]) }},
		{"MatMul(F,F)", []input{{shape: []int{3, 4}, diff: true}, {shape: []int{4, 5}, diff: true}},
			func(in []*G.Node) (*G.Node, error) { return MatMul(in[0], in[1], false, false) }},
		{"MatMul(F,T)=Linear", []input{{shape: []int{3, 4}, diff: true}, {shape: []int{5, 4}, diff: true}},
			func(in []*G.Node) (*G.Node, error) { return Linear(in[0], in[1]) }},
		{"MatMul(T,F)", []input{{shape: []int{4, 3}, diff: true}, {shape: []int{4, 5}, diff: true}},
			func(in []*G.Node) (*G.Node, error) { return MatMul(in[0], in[1], true, false) }},
		{"MatMul(T,T)", []input{{shape: []int{4, 3}, diff: true}, {shape: []int{5, 4}, diff: true}},
			func(in []*G.Node) (*G.Node, error) { return MatMul(in[0], in[1], true, true) }},
		{"GELUTanh", []input{{shape: []int{4, 5}, diff: true, scale: 2}},
			func(in []*G.Node) (*G.Node, error) { return GELUTanh(in[0]) }},
		{"LinearBias", []input{{shape: []int{3, 4}, diff: true}, {shape: []int{5, 4}, diff: true}, {shape: []int{5}, diff: true}},
			func(in []*G.Node) (*G.Node, error) { return LinearBias(in[0], in[1], in[2]) }},
		{"AddBias", []input{{shape: []int{4, 5}, diff: true}, {shape: []int{5}, diff: true}},
			func(in []*G.Node) (*G.Node, error) { return AddBias(in[0], in[1]) }},
		{"Embedding", []input{{shape: []int{v, 3}, diff: true}, {shape: []int{n, tt}, fill: idv}},
			func(in []*G.Node) (*G.Node, error) { return Embedding(in[0], in[1]) }},
		{"WindowEmbedding(k=3)", []input{{shape: []int{v, 3}, diff: true}, {shape: []int{n, tt}, fill: idv}},
			func(in []*G.Node) (*G.Node, error) { return WindowEmbedding(in[0], in[1], 3, 0) }},
		{"PositionEmbedding", []input{{shape: []int{8, 3}, diff: true}},
			func(in []*G.Node) (*G.Node, error) { return PositionEmbedding(in[0], n, tt) }},
		{"ConcatRows", []input{{shape: []int{2, 3}, diff: true}, {shape: []int{4, 3}, diff: true}},
			func(in []*G.Node) (*G.Node, error) { return ConcatRows(in[0], in[1]) }},
		{"CausalAttention(GQA 4q/2kv, scale 0.3)", []input{{shape: []int{n * tt, (4 + 2*2) * 3}, diff: true}},
			func(in []*G.Node) (*G.Node, error) {
				return CausalAttention(in[0], n, tt, AttentionSpec{Heads: 4, KVHeads: 2, HeadDim: 3, Scale: 0.3})
			}},
		{"CausalAttention(MQA 3q/1kv)", []input{{shape: []int{n * tt, (3 + 2) * 2}, diff: true}},
			func(in []*G.Node) (*G.Node, error) {
				return CausalAttention(in[0], n, tt, AttentionSpec{Heads: 3, KVHeads: 1, HeadDim: 2, Scale: 0.7})
			}},
		{"RoPE(full)", []input{{shape: []int{n * tt, 3 * 4}, diff: true}},
			func(in []*G.Node) (*G.Node, error) {
				return RoPE(in[0], n, tt, RoPESpec{Heads: 2, HeadDim: 4, Rot: 4, Theta: 10})
			}},
		{"RoPE(partial)", []input{{shape: []int{n * tt, 2 * 6}, diff: true}},
			func(in []*G.Node) (*G.Node, error) {
				return RoPE(in[0], n, tt, RoPESpec{Heads: 2, HeadDim: 6, Rot: 2, Theta: 7})
			}},
		{"RMSNorm", []input{{shape: []int{5, 7}, diff: true, scale: 2}, {shape: []int{7}, diff: true}},
			func(in []*G.Node) (*G.Node, error) { return RMSNorm(in[0], in[1], 1e-5) }},
		{"GELUErf", []input{{shape: []int{4, 5}, diff: true, scale: 2}},
			func(in []*G.Node) (*G.Node, error) { return GELUErf(in[0]) }},
		{"SwiGLU", []input{{shape: []int{4, 5}, diff: true, scale: 2}, {shape: []int{4, 5}, diff: true}},
			func(in []*G.Node) (*G.Node, error) { return SwiGLU(in[0], in[1]) }},
		{"PermuteRows(2-D)", []input{{shape: []int{4, 3}, diff: true}},
			func(in []*G.Node) (*G.Node, error) { return PermuteRows(in[0], []int{2, 0, 3, 1}) }},
		{"PermuteRows(1-D)", []input{{shape: []int{5}, diff: true}},
			func(in []*G.Node) (*G.Node, error) { return PermuteRows(in[0], []int{4, 2, 0, 3, 1}) }},
		{"ConcatVectors", []input{{shape: []int{2}, diff: true}, {shape: []int{3}, diff: true}, {shape: []int{1}, diff: true}},
			func(in []*G.Node) (*G.Node, error) { return ConcatVectors(in[0], in[1], in[2]) }},
		{"VectorRange", []input{{shape: []int{7}, diff: true}},
			func(in []*G.Node) (*G.Node, error) { return VectorRange(in[0], 2, 5) }},
		{"VectorRange(one element)", []input{{shape: []int{4}, diff: true}},
			func(in []*G.Node) (*G.Node, error) { return VectorRange(in[0], 3, 4) }},
		{"NegLogSigmoid", []input{{shape: []int{4, 5}, diff: true, scale: 6}},
			func(in []*G.Node) (*G.Node, error) { return NegLogSigmoid(in[0]) }},
		{"MaskedRowSum", []input{{shape: []int{3, 4}, diff: true}, {shape: []int{3, 4}, fill: ids(1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0)}},
			func(in []*G.Node) (*G.Node, error) { return MaskedRowSum(in[0], in[1]) }},
	}
}

// TestOpsFiniteDifferences checks every op's hand-written gradient against
// central finite differences in float64 (ε = 1e-6, tolerance 1e-6 relative
// to max(1, max|grad|); see checkFD for why).
func TestOpsFiniteDifferences(t *testing.T) {
	for i, c := range opCases() {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, tensor.Float64, uint64(100+i), c.ins, c.build)
			defer h.m.Close()
			checkFD(t, c.name, h, 1e-6, 1e-6)
		})
	}
}

// TestOpsFloat32MatchFloat64 runs every op in float32 and float64 on the
// same inputs (drawn in float64, rounded to float32) and compares outputs
// and gradients. Tolerance 1e-4 relative to each tensor's max-abs: float32
// has ε ≈ 6e-8, and these small ops accumulate at most a few hundred
// roundings.
func TestOpsFloat32MatchFloat64(t *testing.T) {
	for i, c := range opCases() {
		t.Run(c.name, func(t *testing.T) {
			h64 := newHarness(t, tensor.Float64, uint64(200+i), c.ins, c.build)
			defer h64.m.Close()
			h32 := newHarness(t, tensor.Float32, uint64(200+i), c.ins, c.build)
			defer h32.m.Close()
			// use exactly the float32-rounded inputs in float64 too
			for k, v := range h32.vals {
				for j := 0; j < v.Shape().TotalSize(); j++ {
					setAt(h64.vals[k], j, getAt(v, j))
				}
			}
			g64, g32 := h64.grads(t), h32.grads(t)
			if e := relErr(Float64s(h32.outV), Float64s(h64.outV)); e > 1e-4 {
				t.Errorf("%s: float32 output differs by %.3g > 1e-4", c.name, e)
			}
			for k := range g64 {
				if e := relErr(g32[k], g64[k]); e > 1e-4 {
					t.Errorf("%s: float32 gradient %d differs by %.3g > 1e-4", c.name, k, e)
				}
			}
		})
	}
}

// relErr is max|a − b| / max|b| (or the absolute error when b is all zero).
func relErr(a, b []float64) float64 {
	var d, m float64
	for i := range b {
		d = math.Max(d, math.Abs(a[i]-b[i]))
		m = math.Max(m, math.Abs(b[i]))
	}
	if m == 0 {
		return d
	}
	return d / m
}
