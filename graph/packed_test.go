package graph

import (
	"math"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// packTestRows is a layout of 4 rows of 9 tokens covering every case: a
// prefix with two segments and padding, no prefix (plain packing), a
// prefix only, and a full row.
var packTestRows = []PackRow{
	{Prefix: 2, Segs: []int{3, 2}},
	{Prefix: 0, Segs: []int{4, 5}},
	{Prefix: 5},
	{Prefix: 3, Segs: []int{1, 5}},
}

func packTestLayout(t *testing.T) *PackLayout {
	t.Helper()
	l, err := NewPackLayout(4, 9, 9)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Set(packTestRows); err != nil {
		t.Fatal(err)
	}
	return l
}

func packedOpCases(t *testing.T) []opCase {
	const n, tt = 4, 9
	return []opCase{
		{"PackedAttention(MHA 2 heads)", []input{{shape: []int{n * tt, 3 * 2 * 3}, diff: true}},
			func(in []*G.Node) (*G.Node, error) {
				return PackedAttention(in[0], packTestLayout(t), AttentionSpec{Heads: 2, KVHeads: 2, HeadDim: 3, Scale: 0.6})
			}},
		{"PackedAttention(GQA 4q/2kv)", []input{{shape: []int{n * tt, (4 + 2*2) * 2}, diff: true}},
			func(in []*G.Node) (*G.Node, error) {
				return PackedAttention(in[0], packTestLayout(t), AttentionSpec{Heads: 4, KVHeads: 2, HeadDim: 2, Scale: 0.4})
			}},
		{"PackedPositionEmbedding", []input{{shape: []int{11, 3}, diff: true}},
			func(in []*G.Node) (*G.Node, error) { return PackedPositionEmbedding(in[0], packTestLayout(t)) }},
		{"PackedRoPE(partial)", []input{{shape: []int{n * tt, 3 * 6}, diff: true}},
			func(in []*G.Node) (*G.Node, error) {
				return PackedRoPE(in[0], packTestLayout(t), RoPESpec{Heads: 2, HeadDim: 6, Rot: 4, Theta: 7})
			}},
	}
}

// TestPackedOpsFiniteDifferences: the hand-written gradients of the packed
// ops against central differences in float64 (as TestOpsFiniteDifferences).
func TestPackedOpsFiniteDifferences(t *testing.T) {
	for i, c := range packedOpCases(t) {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, tensor.Float64, uint64(300+i), c.ins, c.build)
			defer h.m.Close()
			checkFD(t, c.name, h, 1e-6, 1e-6)
		})
	}
}

// TestPackedOpsFloat32MatchFloat64: as TestOpsFloat32MatchFloat64.
func TestPackedOpsFloat32MatchFloat64(t *testing.T) {
	for i, c := range packedOpCases(t) {
		t.Run(c.name, func(t *testing.T) {
			h64 := newHarness(t, tensor.Float64, uint64(400+i), c.ins, c.build)
			defer h64.m.Close()
			h32 := newHarness(t, tensor.Float32, uint64(400+i), c.ins, c.build)
			defer h32.m.Close()
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

func TestPackLayoutPositions(t *testing.T) {
	l := packTestLayout(t)
	want := [][]int{
		{0, 1, 2, 3, 4, 2, 3, 0, 0},
		{0, 1, 2, 3, 0, 1, 2, 3, 4},
		{0, 1, 2, 3, 4, 0, 0, 0, 0},
		{0, 1, 2, 3, 3, 4, 5, 6, 7},
	}
	got := l.Positions()
	for r := range want {
		for i, p := range want[r] {
			if got[r*9+i] != p {
				t.Fatalf("row %d: positions %v, want %v", r, got[r*9:(r+1)*9], want[r])
			}
		}
	}
}

func TestPackLayoutErrors(t *testing.T) {
	l, err := NewPackLayout(2, 6, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		rows []PackRow
		want string
	}{
		{[]PackRow{{}, {}, {}}, "3 rows"},
		{[]PackRow{{Prefix: 2, Segs: []int{2, 3}}}, "row 0 holds 7 tokens"},
		{[]PackRow{{}, {Prefix: 1, Segs: []int{0}}}, "row 1, segment 0: 0 tokens"},
		{[]PackRow{{Prefix: 2, Segs: []int{1, 4}}}, "position limit 5"},
		{[]PackRow{{Prefix: 6}}, "prefix of 6 tokens"},
	} {
		err := l.Set(c.rows)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Set(%v): error %v, want one containing %q", c.rows, err, c.want)
		}
	}
	// an op run with an unset (or failed) layout reports it
	g := G.NewGraph()
	x := NewTensor(tensor.Float64, 12, 3*2)
	FillNormal(x, NewRNG(1), 0, 1)
	o := G.Must(PackedAttention(BindParam(g, "qkv", x), l, AttentionSpec{Heads: 1, KVHeads: 1, HeadDim: 2, Scale: 1}))
	m := G.NewTapeMachine(g)
	defer m.Close()
	_ = o
	if err := m.RunAll(); err == nil || !strings.Contains(err.Error(), "not set") {
		t.Fatalf("run with an unset layout: error %v", err)
	}
}

// packIdentityTol is the tolerance of the packed-vs-unpacked comparisons:
// 0 (bit-identical) with the AVX2 GEMM of the default build, whose
// per-element sums run in the same order whatever the matrix sizes; a
// rounding-level bound with another BLAS (gonum's own kernels block the
// inner dimension differently for different sizes).
func packIdentityTol(dt tensor.Dtype) float64 {
	if PackedBitIdentical() {
		return 0
	}
	if dt == tensor.Float32 {
		return 1e-5
	}
	return 1e-12
}

// TestPackedAttentionMatchesUnpacked: sequences that share a prefix,
// attended unpacked (CausalAttention, each in its own row) and packed
// (one prefix, one segment per sequence), give the same output at every
// token: bit-identical in the default build. Lengths cross the GEMM's
// 256-wide inner-dimension block.
func TestPackedAttentionMatchesUnpacked(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for _, c := range []struct {
			prompt int
			resp   []int
		}{{7, []int{5, 1, 9}}, {1, []int{4, 3}}, {200, []int{90, 30, 60}}} {
			spec := AttentionSpec{Heads: 4, KVHeads: 2, HeadDim: 8, Scale: 1 / math.Sqrt(8)}
			ld := (spec.Heads + 2*spec.KVHeads) * spec.HeadDim
			// the unpacked rows, padded to tu; rows share their first prompt rows
			tu := 0
			for _, r := range c.resp {
				tu = max(tu, c.prompt+r)
			}
			tu = (tu + 7) / 8 * 8
			m := len(c.resp)
			rng := NewRNG(uint64(c.prompt))
			shared := NewTensor(tensor.Float64, c.prompt, ld)
			FillNormal(shared, rng, 0, 1)
			un := NewTensor(dt, m*tu, ld)
			FillNormal(un, rng, 0, 1)
			for s := 0; s < m; s++ {
				for i := 0; i < c.prompt*ld; i++ {
					setAt(un, s*tu*ld+i, getAt(shared, i))
				}
			}
			// the packed row: prefix = prompt[:P−1], segment s = the rows P−1 … P+R_s−1 of sequence s
			lp := c.prompt - 1
			rowLen := lp
			segs := make([]int, m)
			for s, r := range c.resp {
				segs[s] = 1 + r
				rowLen += 1 + r
			}
			tp := rowLen + 3 // and some padding
			pk := NewTensor(dt, tp, ld)
			FillNormal(pk, rng, 0, 1)
			src := func(s, i int) int { return (s*tu + i) * ld } // unpacked row i of sequence s
			for i := 0; i < lp*ld; i++ {
				setAt(pk, i, getAt(un, i))
			}
			where := make([][]int, m) // packed row of unpacked token i of sequence s (i ≥ P−1)
			at := lp
			for s := range c.resp {
				for j := 0; j < segs[s]; j++ {
					for k := 0; k < ld; k++ {
						setAt(pk, at*ld+k, getAt(un, src(s, lp+j)+k))
					}
					where[s] = append(where[s], at)
					at++
				}
			}
			layout, err := NewPackLayout(1, tp, tu)
			if err != nil {
				t.Fatal(err)
			}
			if err := layout.Set([]PackRow{{Prefix: lp, Segs: segs}}); err != nil {
				t.Fatal(err)
			}
			run := func(x *tensor.Dense, build func(*G.Node) (*G.Node, error)) []float64 {
				g := G.NewGraph()
				o := G.Must(build(BindParam(g, "qkv", x)))
				var v G.Value
				G.Read(o, &v)
				vm := G.NewTapeMachine(g)
				defer vm.Close()
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				return Float64s(v)
			}
			ou := run(un, func(x *G.Node) (*G.Node, error) { return CausalAttention(x, m, tu, spec) })
			op := run(pk, func(x *G.Node) (*G.Node, error) { return PackedAttention(x, layout, spec) })
			d := spec.Heads * spec.HeadDim
			tol := packIdentityTol(dt)
			var worst float64
			cmp := func(s, i, prow int) {
				for k := 0; k < d; k++ {
					a, b := ou[(s*tu+i)*d+k], op[prow*d+k]
					if e := math.Abs(a - b); e > tol*math.Max(1, math.Abs(a)) {
						t.Fatalf("%v prompt %d: sequence %d token %d: packed %v, unpacked %v", dt, c.prompt, s, i, b, a)
					} else {
						worst = math.Max(worst, e)
					}
				}
			}
			for s := range c.resp {
				for i := 0; i < lp; i++ {
					cmp(s, i, i)
				}
				for j, prow := range where[s] {
					cmp(s, lp+j, prow)
				}
			}
			t.Logf("%v prompt %d responses %v: worst |packed − unpacked| = %g", dt, c.prompt, c.resp, worst)
		}
	}
}

// TestPackedRoPEAndPositionsMatchUnpacked: a token's rotation and position
// embedding depend on its position id only, so packed rows get exactly the
// unpacked values.
func TestPackedRoPEAndPositionsMatchUnpacked(t *testing.T) {
	layout, err := NewPackLayout(1, 12, 8)
	if err != nil {
		t.Fatal(err)
	}
	if err := layout.Set([]PackRow{{Prefix: 3, Segs: []int{4, 5}}}); err != nil {
		t.Fatal(err)
	}
	pos := layout.Positions()
	spec := RoPESpec{Heads: 2, HeadDim: 6, Rot: 4, Theta: 10000}
	// unpacked reference: one row of 8 tokens, token p at position p
	x := NewTensor(tensor.Float32, 8, 12)
	FillNormal(x, NewRNG(2), 0, 1)
	xp := NewTensor(tensor.Float32, 12, 12)
	for i, p := range pos {
		for k := 0; k < 12; k++ {
			setAt(xp, i*12+k, getAt(x, p*12+k))
		}
	}
	run := func(in *tensor.Dense, build func(*G.Node) (*G.Node, error)) []float64 {
		g := G.NewGraph()
		o := G.Must(build(BindParam(g, "x", in)))
		var v G.Value
		G.Read(o, &v)
		vm := G.NewTapeMachine(g)
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		return Float64s(v)
	}
	ru := run(x, func(n *G.Node) (*G.Node, error) { return RoPE(n, 1, 8, spec) })
	rp := run(xp, func(n *G.Node) (*G.Node, error) { return PackedRoPE(n, layout, spec) })
	for i, p := range pos {
		for k := 0; k < 12; k++ {
			if rp[i*12+k] != ru[p*12+k] {
				t.Fatalf("RoPE: packed token %d (position %d) column %d: %v, unpacked %v", i, p, k, rp[i*12+k], ru[p*12+k])
			}
		}
	}
	tab := NewTensor(tensor.Float32, 8, 3)
	FillNormal(tab, NewRNG(3), 0, 1)
	pe := run(tab, func(n *G.Node) (*G.Node, error) { return PackedPositionEmbedding(n, layout) })
	for i, p := range pos {
		for k := 0; k < 3; k++ {
			if pe[i*3+k] != getAt(tab, p*3+k) {
				t.Fatalf("position embedding: token %d (position %d): %v, want %v", i, p, pe[i*3+k], getAt(tab, p*3+k))
			}
		}
	}
}

// TestPackedReusedBuffersMatchFreshGraph: TestReusedBuffersMatchFreshGraph
// for the packed ops (reused output buffers, the pooled attention cache and
// gather scratch).
func TestPackedReusedBuffersMatchFreshGraph(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for i, c := range packedOpCases(t) {
			t.Run(c.name+"/"+dt.String(), func(t *testing.T) { checkReusedBuffers(t, dt, uint64(600+i), c) })
		}
	}
}
