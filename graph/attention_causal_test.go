package graph

import (
	"fmt"
	"math"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The causal attention ops compute only the live part of their products
// (causalScores, causalLeft, causalLeftT). The tests here compare them
// with the full products they replace — fullCausalAttention and
// fullPackedAttention, every product over all t keys or queries, as the
// ops computed them before — bit for bit in the default build.

// fullCausalAttention returns the output and the qkv gradient of
// CausalAttention on qkv [n·t, C] with upstream gradient dO [n·t, D],
// computed with full products.
func fullCausalAttention[T elem](qkv, dO []T, n, t int, spec AttentionSpec) (out, dqkv []T) {
	h, kv, dh := spec.Heads, spec.KVHeads, spec.HeadDim
	d, ld, group, scale := h*dh, (h+2*kv)*dh, h/kv, T(spec.Scale)
	kOff := func(g int) int { return d + g*dh }
	vOff := func(g int) int { return d + kv*dh + g*dh }
	out, dqkv = make([]T, n*t*d), make([]T, n*t*ld)
	probs := make([]T, n*h*t*t)
	for i := 0; i < n*h; i++ {
		s, hd := i/h, i%h
		base := s * t * ld
		p := probs[i*t*t : (i+1)*t*t]
		gemm(false, true, t, t, dh, scale, qkv[base+hd*dh:], ld, qkv[base+kOff(hd/group):], ld, 0, p, t)
		causalSoftmaxRows(p, t)
		gemm(false, false, t, dh, t, 1, p, t, qkv[base+vOff(hd/group):], ld, 0, out[s*t*d+hd*dh:], d)
	}
	dp := make([]T, t*t)
	for i := 0; i < n*kv; i++ {
		s, g := i/kv, i%kv
		base := s * t * ld
		k, vv := qkv[base+kOff(g):], qkv[base+vOff(g):]
		dk, dv := dqkv[base+kOff(g):], dqkv[base+vOff(g):]
		for j := 0; j < group; j++ {
			hd := g*group + j
			var beta T
			if j > 0 {
				beta = 1
			}
			q, dq, do := qkv[base+hd*dh:], dqkv[base+hd*dh:], dO[s*t*d+hd*dh:]
			p := probs[(s*h+hd)*t*t : (s*h+hd+1)*t*t]
			gemm(true, false, t, dh, t, 1, p, t, do, d, beta, dv, ld)
			gemm(false, true, t, t, dh, 1, do, d, vv, ld, 0, dp, t)
			softmaxGradRows(p, dp, t, t, func(r int) int { return r + 1 })
			gemm(false, false, t, dh, t, scale, dp, t, k, ld, 0, dq, ld)
			gemm(true, false, t, dh, t, scale, dp, t, q, ld, beta, dk, ld)
		}
	}
	return out, dqkv
}

// fullPackedAttention is fullCausalAttention for PackedAttention with the
// layout rows (n = len(rows) rows of t tokens): per row and head the
// prefix block and, per segment, its queries against [prefix keys;
// segment keys], each product over the whole block.
func fullPackedAttention[T elem](qkv, dO []T, rows []PackRow, t int, spec AttentionSpec) (out, dqkv []T) {
	h, kv, dh := spec.Heads, spec.KVHeads, spec.HeadDim
	n := len(rows)
	d, ld, group, scale := h*dh, (h+2*kv)*dh, h/kv, T(spec.Scale)
	kOff := func(g int) int { return d + g*dh }
	vOff := func(g int) int { return d + kv*dh + g*dh }
	out, dqkv = make([]T, n*t*d), make([]T, n*t*ld)
	// probs[r][hd]: the prefix block, then each segment's block
	probs := make([][][]T, n)
	for i := 0; i < n*h; i++ {
		r, hd := i/h, i%h
		row := rows[r]
		lp := row.Prefix
		base := r * t * ld
		q, k, vv := qkv[base+hd*dh:], qkv[base+kOff(hd/group):], qkv[base+vOff(hd/group):]
		ob := out[r*t*d+hd*dh:]
		if probs[r] == nil {
			probs[r] = make([][]T, h)
		}
		var p []T
		if lp > 0 {
			pp := make([]T, lp*lp)
			gemm(false, true, lp, lp, dh, scale, q, ld, k, ld, 0, pp, lp)
			causalSoftmaxRows(pp, lp)
			gemm(false, false, lp, dh, lp, 1, pp, lp, vv, ld, 0, ob, d)
			p = append(p, pp...)
		}
		start := lp
		for _, ls := range row.Segs {
			L := lp + ls
			ps := make([]T, ls*L)
			vg := make([]T, L*dh)
			for j := 0; j < lp; j++ {
				copy(vg[j*dh:(j+1)*dh], vv[j*ld:j*ld+dh])
			}
			for j := 0; j < ls; j++ {
				copy(vg[(lp+j)*dh:(lp+j+1)*dh], vv[(start+j)*ld:(start+j)*ld+dh])
			}
			if lp > 0 {
				gemm(false, true, ls, lp, dh, scale, q[start*ld:], ld, k, ld, 0, ps, L)
			}
			gemm(false, true, ls, ls, dh, scale, q[start*ld:], ld, k[start*ld:], ld, 0, ps[lp:], L)
			for j := 0; j < ls; j++ {
				softmaxLive(ps[j*L:(j+1)*L], lp+j+1)
			}
			gemm(false, false, ls, dh, L, 1, ps, L, vg, dh, 0, ob[start*d:], d)
			p = append(p, ps...)
			start += ls
		}
		for j := start; j < t; j++ {
			copy(ob[j*d:j*d+dh], vv[j*ld:j*ld+dh])
		}
		probs[r][hd] = p
	}
	dp := make([]T, t*t)
	for i := 0; i < n*kv; i++ {
		r, g := i/kv, i%kv
		row := rows[r]
		lp := row.Prefix
		base := r * t * ld
		k, vv := qkv[base+kOff(g):], qkv[base+vOff(g):]
		dk, dv := dqkv[base+kOff(g):], dqkv[base+vOff(g):]
		for j := 0; j < group; j++ {
			hd := g*group + j
			q, dq, do := qkv[base+hd*dh:], dqkv[base+hd*dh:], dO[r*t*d+hd*dh:]
			p := probs[r][hd]
			if lp > 0 {
				pp := p[:lp*lp]
				p = p[lp*lp:]
				gemm(true, false, lp, dh, lp, 1, pp, lp, do, d, 1, dv, ld)
				gemm(false, true, lp, lp, dh, 1, do, d, vv, ld, 0, dp, lp)
				softmaxGradRows(pp, dp, lp, lp, func(j int) int { return j + 1 })
				gemm(false, false, lp, dh, lp, scale, dp, lp, k, ld, 1, dq, ld)
				gemm(true, false, lp, dh, lp, scale, dp, lp, q, ld, 1, dk, ld)
			}
			start := lp
			for _, ls := range row.Segs {
				L := lp + ls
				pseg := p[:ls*L]
				p = p[ls*L:]
				qs, dqs, dos := q[start*ld:], dq[start*ld:], do[start*d:]
				ks, vs, dks, dvs := k[start*ld:], vv[start*ld:], dk[start*ld:], dv[start*ld:]
				if lp > 0 {
					gemm(false, true, ls, lp, dh, 1, dos, d, vv, ld, 0, dp, L)
				}
				gemm(false, true, ls, ls, dh, 1, dos, d, vs, ld, 0, dp[lp:], L)
				if lp > 0 {
					gemm(true, false, lp, dh, ls, 1, pseg, L, dos, d, 1, dv, ld)
				}
				gemm(true, false, ls, dh, ls, 1, pseg[lp:], L, dos, d, 1, dvs, ld)
				softmaxGradRows(pseg, dp, ls, L, func(j int) int { return lp + j + 1 })
				if lp > 0 {
					gemm(false, false, ls, dh, lp, scale, dp, L, k, ld, 1, dqs, ld)
					gemm(true, false, lp, dh, ls, scale, dp, L, qs, ld, 1, dk, ld)
				}
				gemm(false, false, ls, dh, ls, scale, dp[lp:], L, ks, ld, 1, dqs, ld)
				gemm(true, false, ls, dh, ls, scale, dp[lp:], L, qs, ld, 1, dks, ld)
				start += ls
			}
			for j := start; j < t; j++ {
				for c := 0; c < dh; c++ {
					dv[j*ld+c] += do[j*d+c]
				}
			}
		}
	}
	return out, dqkv
}

// runAttnOp runs op's forward and backward on qkv and dO and returns
// copies of the output and the qkv gradient.
func runAttnOp(t *testing.T, op, gop G.Op, qkv, dO *tensor.Dense) (out, dqkv []float64) {
	t.Helper()
	o, err := op.Do(qkv)
	if err != nil {
		t.Fatal(err)
	}
	out = Float64s(o)
	g, err := gop.Do(qkv, dO)
	if err != nil {
		t.Fatal(err)
	}
	return out, Float64s(g)
}

// sameBits reports the first element where got and want differ (bit for
// bit, so −0 ≠ +0) when tol is 0, or differ by more than tol·(1 + |want|).
func sameBits(t *testing.T, what string, dt tensor.Dtype, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		var differ bool
		switch {
		case tol > 0:
			differ = !(math.Abs(g-w) <= tol*(1+math.Abs(w)))
		case dt == tensor.Float32:
			differ = math.Float32bits(float32(g)) != math.Float32bits(float32(w))
		default:
			differ = math.Float64bits(g) != math.Float64bits(w)
		}
		if differ {
			t.Fatalf("%s: element %d is %v (bits %x), the full products give %v (bits %x)", what, i, g, math.Float64bits(g), w, math.Float64bits(w))
		}
	}
}

// attnTestInputs returns qkv [rows, C] and dO [rows, D] drawn from N(0, 1).
func attnTestInputs(dt tensor.Dtype, seed uint64, rows int, spec AttentionSpec) (qkv, dO *tensor.Dense) {
	rng := NewRNG(seed)
	qkv = NewTensor(dt, rows, (spec.Heads+2*spec.KVHeads)*spec.HeadDim)
	FillNormal(qkv, rng, 0, 1)
	dO = NewTensor(dt, rows, spec.Heads*spec.HeadDim)
	FillNormal(dO, rng, 0, 1)
	return qkv, dO
}

// fullAttention runs full on the data of qkv and dO in their dtype.
func fullAttention(qkv, dO *tensor.Dense, f32 func(q, d []float32) ([]float32, []float32), f64 func(q, d []float64) ([]float64, []float64)) (out, dqkv []float64) {
	if qkv.Dtype() == tensor.Float32 {
		o, g := f32(qkv.Data().([]float32), dO.Data().([]float32))
		return toF64(o), toF64(g)
	}
	return f64(qkv.Data().([]float64), dO.Data().([]float64))
}

func toF64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// TestCausalAttentionMatchesFullProducts: CausalAttention's output and
// qkv gradient equal those of the full products bit for bit in the
// default build (packIdentityTol otherwise), on lengths around the block
// size and the GEMM's 256-wide inner block (1, 5, 47, 48, 49, 97, 300,
// 523), several heads, grouped heads, and a head size above the inner
// block.
func TestCausalAttentionMatchesFullProducts(t *testing.T) {
	cases := []struct {
		n, t int
		spec AttentionSpec
	}{
		{2, 1, AttentionSpec{Heads: 2, KVHeads: 2, HeadDim: 3, Scale: 0.37}},
		{1, 5, AttentionSpec{Heads: 3, KVHeads: 3, HeadDim: 4, Scale: 0.37}},
		{2, 47, AttentionSpec{Heads: 3, KVHeads: 3, HeadDim: 8, Scale: 0.37}},
		{1, 48, AttentionSpec{Heads: 2, KVHeads: 1, HeadDim: 5, Scale: 0.37}},
		{2, 49, AttentionSpec{Heads: 4, KVHeads: 2, HeadDim: 7, Scale: 0.37}},
		{1, 97, AttentionSpec{Heads: 2, KVHeads: 2, HeadDim: 16, Scale: 0.125}},
		{1, 300, AttentionSpec{Heads: 4, KVHeads: 2, HeadDim: 9, Scale: 0.37}},
		{1, 523, AttentionSpec{Heads: 2, KVHeads: 2, HeadDim: 6, Scale: 0.37}},
		{1, 13, AttentionSpec{Heads: 2, KVHeads: 1, HeadDim: 260, Scale: 0.06}},
	}
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		tol := packIdentityTol(dt)
		for ci, c := range cases {
			name := fmt.Sprintf("%v/n%d_t%d_h%d_kv%d_hd%d", dt, c.n, c.t, c.spec.Heads, c.spec.KVHeads, c.spec.HeadDim)
			t.Run(name, func(t *testing.T) {
				qkv, dO := attnTestInputs(dt, uint64(700+ci), c.n*c.t, c.spec)
				s := c.spec
				op := &attnOp{n: c.n, t: c.t, heads: s.Heads, kv: s.KVHeads, hd: s.HeadDim, d: s.Heads * s.HeadDim, scale: s.Scale, id: nextOpID(), cache: &attnCache{}}
				gop := &attnGradOp{backwardOf[*attnOp]{tag: "CausalAttentionGrad", suffix: "Grad", fwd: op}}
				out, dqkv := runAttnOp(t, op, gop, qkv, dO)
				wantOut, wantGrad := fullAttention(qkv, dO,
					func(q, d []float32) ([]float32, []float32) { return fullCausalAttention(q, d, c.n, c.t, s) },
					func(q, d []float64) ([]float64, []float64) { return fullCausalAttention(q, d, c.n, c.t, s) })
				sameBits(t, "output", dt, out, wantOut, tol)
				sameBits(t, "qkv gradient", dt, dqkv, wantGrad, tol)
			})
		}
	}
}

// TestPackedAttentionMatchesFullProducts: as
// TestCausalAttentionMatchesFullProducts for PackedAttention, on layouts
// with a prefix and ragged segments crossing the block and inner-block
// sizes, no prefix, a prefix only, padding rows and a one-token row.
func TestPackedAttentionMatchesFullProducts(t *testing.T) {
	cases := []struct {
		t    int
		rows []PackRow
		spec AttentionSpec
	}{
		{1, []PackRow{{Prefix: 1}, {Segs: []int{1}}, {}}, AttentionSpec{Heads: 2, KVHeads: 2, HeadDim: 3, Scale: 0.37}},
		{9, packTestRows, AttentionSpec{Heads: 4, KVHeads: 2, HeadDim: 5, Scale: 0.37}},
		{101, []PackRow{{Prefix: 49, Segs: []int{1, 50}}, {Segs: []int{47, 6, 48}}, {Prefix: 97}, {}},
			AttentionSpec{Heads: 3, KVHeads: 3, HeadDim: 8, Scale: 0.37}},
		{600, []PackRow{{Prefix: 70, Segs: []int{300, 229}}, {Prefix: 260, Segs: []int{1, 287}}, {Segs: []int{599}}},
			AttentionSpec{Heads: 2, KVHeads: 1, HeadDim: 6, Scale: 0.37}},
	}
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		tol := packIdentityTol(dt)
		for ci, c := range cases {
			name := fmt.Sprintf("%v/t%d_h%d_kv%d_hd%d", dt, c.t, c.spec.Heads, c.spec.KVHeads, c.spec.HeadDim)
			t.Run(name, func(t *testing.T) {
				n := len(c.rows)
				l, err := NewPackLayout(n, c.t, c.t)
				if err != nil {
					t.Fatal(err)
				}
				if err := l.Set(c.rows); err != nil {
					t.Fatal(err)
				}
				qkv, dO := attnTestInputs(dt, uint64(800+ci), n*c.t, c.spec)
				s := c.spec
				op := &packedAttnOp{attnOp: attnOp{n: n, t: c.t, heads: s.Heads, kv: s.KVHeads, hd: s.HeadDim, d: s.Heads * s.HeadDim, scale: s.Scale, id: nextOpID(), cache: &attnCache{}}, layout: l}
				gop := &packedAttnGradOp{backwardOf[*packedAttnOp]{tag: "PackedAttentionGrad", suffix: "Grad", fwd: op}}
				out, dqkv := runAttnOp(t, op, gop, qkv, dO)
				wantOut, wantGrad := fullAttention(qkv, dO,
					func(q, d []float32) ([]float32, []float32) { return fullPackedAttention(q, d, c.rows, c.t, s) },
					func(q, d []float64) ([]float64, []float64) { return fullPackedAttention(q, d, c.rows, c.t, s) })
				sameBits(t, "output", dt, out, wantOut, tol)
				sameBits(t, "qkv gradient", dt, dqkv, wantGrad, tol)
			})
		}
	}
}

// countingBLAS counts the multiply-adds (m·n·k per product) of the
// matrix products it passes on.
type countingBLAS struct {
	blas.Float32
	macs *int64
}

func (c countingBLAS) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, cc []float32, ldc int) {
	*c.macs += int64(m) * int64(n) * int64(k)
	c.Float32.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, cc, ldc)
}

// TestCausalAttentionMultiplyAdds: at the Pythia-160M attention shape (t
// 256, 12 heads of 64), the forward and backward of CausalAttention and of
// PackedAttention (a prompt of 64 tokens, two responses of 192) make at
// most (t + b + 16)/(t + 1) times the multiply-adds of the live (causal)
// entries of a t-token diagonal block, b the block rows (a block's scores
// are rounded up to 16 columns), where the full products made about twice
// that. The counts are logged (go test -v).
func TestCausalAttentionMultiplyAdds(t *testing.T) {
	prev := blas32.Implementation()
	var macs int64
	blas32.Use(countingBLAS{Float32: prev, macs: &macs})
	defer blas32.Use(prev)
	const tt, dh = 256, 64
	spec := AttentionSpec{Heads: 12, KVHeads: 12, HeadDim: dh, Scale: 0.125}
	b := int64(causalBlockRows())
	count := func(run func()) int64 { macs = 0; run(); return macs }
	// fwdBwd counts the forward and the backward of op separately.
	fwdBwd := func(op, gop G.Op, qkv, dO *tensor.Dense) (fwd, bwd int64) {
		fwd = count(func() {
			if _, err := op.Do(qkv); err != nil {
				t.Fatal(err)
			}
		})
		bwd = count(func() {
			if _, err := gop.Do(qkv, dO); err != nil {
				t.Fatal(err)
			}
		})
		return fwd, bwd
	}

	// causal: per head 6 products, each live over t·(t+1)/2 entries
	qkv, dO := attnTestInputs(tensor.Float32, 1, tt, spec)
	op := &attnOp{n: 1, t: tt, heads: 12, kv: 12, hd: dh, d: 12 * dh, scale: 0.125, id: nextOpID(), cache: &attnCache{}}
	gop := &attnGradOp{backwardOf[*attnOp]{tag: "CausalAttentionGrad", suffix: "Grad", fwd: op}}
	fwd, bwd := fwdBwd(op, gop, qkv, dO)
	got := fwd + bwd
	full := count(func() {
		fullCausalAttention(qkv.Data().([]float32), dO.Data().([]float32), 1, tt, spec)
	})
	live := int64(12 * 6 * dh * tt * (tt + 1) / 2)
	t.Logf("CausalAttention t=%d, 12 heads of %d: forward %d + backward %d = %d multiply-adds (full products %d, live entries %d; block %d rows)", tt, dh, fwd, bwd, got, full, live, b)
	if limit := 12 * 6 * dh * tt * (tt + b + 16) / 2; got > limit {
		t.Errorf("CausalAttention: %d multiply-adds, want ≤ %d", got, limit)
	}
	if full != 12*6*dh*tt*tt {
		t.Errorf("full products: %d multiply-adds, want %d", full, 12*6*dh*tt*tt)
	}

	// packed: prefix 63, segments 193 and 193 (bench -pack's layout of a
	// 64-token prompt and two 192-token responses)
	const pt = 63 + 193 + 193
	rows := []PackRow{{Prefix: 63, Segs: []int{193, 193}}}
	l, err := NewPackLayout(1, pt, pt)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Set(rows); err != nil {
		t.Fatal(err)
	}
	qkv, dO = attnTestInputs(tensor.Float32, 2, pt, spec)
	pop := &packedAttnOp{attnOp: attnOp{n: 1, t: pt, heads: 12, kv: 12, hd: dh, d: 12 * dh, scale: 0.125, id: nextOpID(), cache: &attnCache{}}, layout: l}
	pgop := &packedAttnGradOp{backwardOf[*packedAttnOp]{tag: "PackedAttentionGrad", suffix: "Grad", fwd: pop}}
	fwd, bwd = fwdBwd(pop, pgop, qkv, dO)
	got = fwd + bwd
	full = count(func() {
		fullPackedAttention(qkv.Data().([]float32), dO.Data().([]float32), rows, pt, spec)
	})
	tri := func(x int64) int64 { return x * (x + 1) / 2 }
	live = 12 * 6 * dh * (tri(63) + 2*(193*63+tri(193)))
	t.Logf("PackedAttention prefix 63 + segments 193, 193, 12 heads of %d: forward %d + backward %d = %d multiply-adds (full blocks %d, live entries %d)", dh, fwd, bwd, got, full, live)
	diag := func(x int64) int64 { return x * (x + b + 16) / 2 }
	if limit := 12 * 6 * dh * (diag(63) + 2*(193*63+diag(193))); got > limit {
		t.Errorf("PackedAttention: %d multiply-adds, want ≤ %d", got, limit)
	}
}

// BenchmarkCausalAttention: forward and backward of one sequence at the
// Pythia-160M attention shape (t 256, 12 heads of 64, float32), the op
// against the full products it replaces (run with -cpu 1 to compare the
// work, not the scheduling).
func BenchmarkCausalAttention(b *testing.B) {
	const tt, dh = 256, 64
	spec := AttentionSpec{Heads: 12, KVHeads: 12, HeadDim: dh, Scale: 0.125}
	qkv, dO := attnTestInputs(tensor.Float32, 1, tt, spec)
	b.Run("op", func(b *testing.B) {
		op := &attnOp{n: 1, t: tt, heads: 12, kv: 12, hd: dh, d: 12 * dh, scale: 0.125, id: nextOpID(), cache: &attnCache{}}
		gop := &attnGradOp{backwardOf[*attnOp]{tag: "CausalAttentionGrad", suffix: "Grad", fwd: op}}
		for b.Loop() {
			if _, err := op.Do(qkv); err != nil {
				b.Fatal(err)
			}
			if _, err := gop.Do(qkv, dO); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			fullCausalAttention(qkv.Data().([]float32), dO.Data().([]float32), 1, tt, spec)
		}
	})
}
