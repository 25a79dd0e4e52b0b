package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/graph/blasvec"
)

// CausalSelfAttention is fused causal multi-head scaled dot-product
// attention. qkv [n·t, 3D] holds, per token row, q in columns [0, D), k in
// [D, 2D) and v in [2D, 3D); head h uses columns [h·Dh, (h+1)·Dh) of each,
// Dh = D/heads. For every sequence s and head h:
//
//	S = q_h k_hᵀ / sqrt(Dh) + M,  M[i,j] = 0 if j ≤ i else −∞
//	P = softmax_j(S),  o_h = P v_h
//
// and the result [n·t, D] concatenates the heads. One op computes all
// (sequence, head) pairs with BLAS gemm on strided sub-matrices, in
// parallel; the softmax is per row over j ≤ i only (no mask tensor). The
// products, forward and backward, skip in blocks of rows the work that the
// mask makes dead (scores above the diagonal, terms with a zero
// probability), every computed element keeping the bits it has in the
// full product in the default build (see causalScores). The forward
// caches P for the backward op, so a graph must not be run by two
// machines at once (each Build makes its own op instance).
func CausalSelfAttention(qkv *G.Node, n, t, heads int) (*G.Node, error) {
	s := qkv.Shape()
	if len(s) != 2 || s[0] != n*t || s[1]%3 != 0 {
		return nil, fmt.Errorf("CausalSelfAttention: qkv shape %v, want [%d, 3·D]", s, n*t)
	}
	d := s[1] / 3
	if heads < 1 || d%heads != 0 {
		return nil, fmt.Errorf("CausalSelfAttention: d_model %d is not divisible by %d heads", d, heads)
	}
	dh := d / heads
	return CausalAttention(qkv, n, t, AttentionSpec{Heads: heads, KVHeads: heads, HeadDim: dh, Scale: 1 / math.Sqrt(float64(dh))})
}

// AttentionSpec sizes a grouped-query attention: Heads query heads and
// KVHeads key/value heads (Heads a multiple of KVHeads; equal for plain
// multi-head attention) of HeadDim columns each, and the factor Scale
// applied to q·kᵀ (1/sqrt(HeadDim) in every supported model, possibly
// divided further, e.g. by GPT-2's scale_attn_by_inverse_layer_idx).
type AttentionSpec struct {
	Heads, KVHeads, HeadDim int
	Scale                   float64
}

// CausalAttention is fused causal grouped-query attention. qkv [n·t, C],
// C = (Heads + 2·KVHeads)·HeadDim, holds per token row the query heads in
// columns [0, Heads·hd), the key heads in the next KVHeads·hd columns and
// the value heads in the last KVHeads·hd (head j of each block in its
// columns [j·hd, (j+1)·hd)). Query head h attends with key/value head
// h / (Heads/KVHeads) (consecutive query heads share a kv head):
//
//	S = Scale · q_h k_gᵀ + M,  M[i,j] = 0 if j ≤ i else −∞
//	P = softmax_j(S),  o_h = P v_g
//
// The result [n·t, Heads·hd] concatenates the query heads. With
// KVHeads = Heads and Scale = 1/sqrt(hd) this is CausalSelfAttention.
func CausalAttention(qkv *G.Node, n, t int, spec AttentionSpec) (*G.Node, error) {
	h, kv, hd := spec.Heads, spec.KVHeads, spec.HeadDim
	if h < 1 || kv < 1 || hd < 1 || h%kv != 0 {
		return nil, fmt.Errorf("CausalAttention: %d query heads, %d kv heads, head size %d (need positive sizes, query heads a multiple of kv heads)", h, kv, hd)
	}
	if math.IsNaN(spec.Scale) || math.IsInf(spec.Scale, 0) || spec.Scale <= 0 {
		return nil, fmt.Errorf("CausalAttention: scale %v must be finite and > 0", spec.Scale)
	}
	s := qkv.Shape()
	if len(s) != 2 || s[0] != n*t || s[1] != (h+2*kv)*hd {
		return nil, fmt.Errorf("CausalAttention: qkv shape %v, want [%d, %d]", s, n*t, (h+2*kv)*hd)
	}
	op := &attnOp{n: n, t: t, heads: h, kv: kv, hd: hd, d: h * hd, scale: spec.Scale, id: nextOpID(), cache: &attnCache{}}
	return G.ApplyOp(op, qkv)
}

// attnCache holds the attention probabilities of the last forward run,
// [n·heads, t, t] in the run's dtype.
type attnCache struct{ probs dtypeBufs }

// attnOp: heads query heads, kv key/value heads, hd columns per head; d =
// heads·hd is the output width.
type attnOp struct {
	pureOp
	n, t, heads, kv, hd, d int
	scale                  float64
	id                     uint64 // unique per instance: the op is stateful
	cache                  *attnCache
}

// ld is the row stride of qkv; kOff and vOff the first key and value
// columns of kv head g.
func (op *attnOp) ld() int        { return (op.heads + 2*op.kv) * op.hd }
func (op *attnOp) kOff(g int) int { return op.d + g*op.hd }
func (op *attnOp) vOff(g int) int { return op.d + op.kv*op.hd + g*op.hd }

func (op *attnOp) Arity() int    { return 1 }
func (op *attnOp) Type() hm.Type { return fnType(2, 2) }
func (op *attnOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gatedpo.CausalAttention{%d,%d,%d,%d,%d,%v,#%d}", op.n, op.t, op.heads, op.kv, op.hd, op.scale, op.id)
}
func (op *attnOp) Hashcode() uint32 { return hashOf(op) }
func (op *attnOp) String() string {
	return fmt.Sprintf("CausalAttention{n=%d,t=%d,heads=%d,kv=%d,hd=%d}", op.n, op.t, op.heads, op.kv, op.hd)
}
func (op *attnOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n * op.t, op.d}, nil
}
func (op *attnOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, attnForward[float32], attnForward[float64])
}

// causalSoftmaxRows turns the scores S [t, t] into probabilities in place:
// row i is a softmax over j ≤ i, and entries j > i are set to 0.
func causalSoftmaxRows[T elem](s []T, t int) {
	for i := 0; i < t; i++ {
		softmaxLive(s[i*t:(i+1)*t], i+1)
	}
}

// softmaxLive turns one row of scores into probabilities in place: a
// softmax over row[:live], and row[live:] set to 0. Every attention op of
// this package (causal and packed) goes through it, so equal live scores
// give bit-identical probabilities. float32 rows use the vectorised max,
// exp-and-sum and scale of package blasvec (8 lanes; ≤ 1 ulp exp, float64
// sum).
func softmaxLive[T elem](row []T, live int) {
	if r32, ok := any(row).([]float32); ok {
		l := r32[:live]
		z := blasvec.ExpShiftSum32(l, l, blasvec.Max32(l))
		blasvec.Scale32(l, float32(1/z))
		clear(r32[live:])
		return
	}
	exp := expFor[T]()
	m := float64(row[0])
	for _, v := range row[1:live] {
		if float64(v) > m {
			m = float64(v)
		}
	}
	var z float64
	for j := 0; j < live; j++ {
		e := exp(float64(row[j]) - m)
		row[j] = T(e)
		z += e
	}
	for j := 0; j < live; j++ {
		row[j] = T(float64(row[j]) / z)
	}
	clear(row[live:])
}

func attnForward[T elem](op *attnOp, in []G.Value) (G.Value, error) {
	if s := in[0].Shape(); len(s) != 2 || s[0] != op.n*op.t || s[1] != op.ld() {
		return nil, fmt.Errorf("%v: qkv has shape %v, want [%d, %d]", op, s, op.n*op.t, op.ld())
	}
	qkv, err := sliceOf[T](in[0])
	if err != nil {
		return nil, err
	}
	n, t, h, d, dh := op.n, op.t, op.heads, op.d, op.hd
	ld := op.ld()
	group := h / op.kv
	scale := T(op.scale)
	probs := sizedBuf[T](&op.cache.probs, n*h*t*t)
	out, o := reuseDense[T](&op.outBufs, 0, n*t, d)
	parallelFor(n*h, func(i int) {
		s, hd := i/h, i%h
		base := s * t * ld
		q := qkv[base+hd*dh:]
		k := qkv[base+op.kOff(hd/group):]
		vv := qkv[base+op.vOff(hd/group):]
		p := probs[i*t*t : (i+1)*t*t]
		causalHead(t, dh, scale, q, k, vv, ld, p, o[s*t*d+hd*dh:], d)
	})
	return out, nil
}

func (op *attnOp) DiffWRT(int) []bool { return []bool{true} }

// SymDiff: with P cached from the forward and dO the upstream gradient,
// per (sequence, query head h with kv head g):
//
//	dV_g += Pᵀ dO,  dP = dO V_gᵀ,  dS = P ⊙ (dP − rowsum(dP ⊙ P)),
//	dQ_h = Scale · dS K_g,  dK_g += Scale · dSᵀ Q_h
//
// (masked entries have P = 0, so dS is 0 there; the sums run over the
// query heads sharing g, in head order).
func (op *attnOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&attnGradOp{backwardOf[*attnOp]{tag: "CausalAttentionGrad", suffix: "Grad", fwd: op}}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

// attnGradOp: (qkv, dO) -> dqkv, reading P from the forward op's cache.
type attnGradOp struct{ backwardOf[*attnOp] }

func (op *attnGradOp) Arity() int    { return 2 }
func (op *attnGradOp) Type() hm.Type { return fnType(2, 2, 2) }
func (op *attnGradOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, attnBackward[float32], attnBackward[float64])
}

func attnBackward[T elem](gop *attnGradOp, in []G.Value) (G.Value, error) {
	op := gop.fwd
	n, t, h, d, dh := op.n, op.t, op.heads, op.d, op.hd
	probs := *bufOf[T](&op.cache.probs)
	if len(probs) != n*h*t*t {
		return nil, fmt.Errorf("CausalAttentionGrad: no cached forward probabilities (the forward op must run first in the same machine run)")
	}
	ps, err := slicesOf[T](in...)
	if err != nil {
		return nil, err
	}
	qkv, dO := ps[0], ps[1]
	ld := op.ld()
	group := h / op.kv
	scale := T(op.scale)
	out, dqkv := reuseDense[T](&gop.outBufs, 0, n*t, ld)
	// One task per (sequence, kv head): the query heads of a group add into
	// the same dK and dV, so they run in order within one task.
	parallelFor(n*op.kv, func(i int) {
		dp := getScratch[T](t * t)
		defer putScratch(dp)
		s, g := i/op.kv, i%op.kv
		base := s * t * ld
		k := qkv[base+op.kOff(g):]
		vv := qkv[base+op.vOff(g):]
		dk := dqkv[base+op.kOff(g):]
		dv := dqkv[base+op.vOff(g):]
		for j := 0; j < group; j++ {
			hd := g*group + j
			var beta T
			if j > 0 {
				beta = 1
			}
			q := qkv[base+hd*dh:]
			dq := dqkv[base+hd*dh:]
			do := dO[s*t*d+hd*dh:]
			p := probs[(s*h+hd)*t*t : (s*h+hd+1)*t*t]
			causalHeadGrad(t, dh, scale, p, do, d, q, k, vv, ld, dp, 0, dq, beta, dk, dv)
		}
	})
	return out, nil
}

// causalHead is one head's causal attention over t positions (q, k, v
// rows ld apart, o rows ldo apart): P = softmax over j ≤ i of scale·q·kᵀ
// into p [t, t] (entries j > i set to 0), and o = P·v.
func causalHead[T elem](t, dh int, scale T, q, k, v []T, ld int, p, o []T, ldo int) {
	causalScores(t, dh, scale, q, ld, k, ld, p, t) // S = scale·q kᵀ, j ≤ i
	causalSoftmaxRows(p, t)
	causalLeft(t, dh, 0, 1, p, t, v, ld, 0, o, ldo) // P·v
}

// causalHeadGrad is causalHead's backward for one query head (q, k, v, dq,
// dk, dv rows ld apart, dO rows ldo apart), with P = p [t, t] from the
// forward and dp [t, t] as scratch:
//
//	dV = Pᵀ·dO + betaKV·dV,  dS = P ⊙ (dP − rowsum(dP ⊙ P)) with dP = dO·Vᵀ,
//	dQ = scale·dS·K + betaQ·dQ,  dK = scale·dSᵀ·Q + betaKV·dK.
func causalHeadGrad[T elem](t, dh int, scale T, p, do []T, ldo int, q, k, v []T, ld int, dp []T, betaQ T, dq []T, betaKV T, dk, dv []T) {
	causalLeftT(t, dh, 1, p, t, do, ldo, betaKV, dv, ld)           // dV (+)= Pᵀ·dO
	causalScores(t, dh, 1, do, ldo, v, ld, dp, t)                  // dP = dO·Vᵀ, j ≤ i
	softmaxGradRows(p, dp, t, t, func(r int) int { return r + 1 }) // row r is live over j ≤ r
	causalLeft(t, dh, 0, scale, dp, t, k, ld, betaQ, dq, ld)       // dQ (+)= scale·dS·K
	causalLeftT(t, dh, scale, dp, t, q, ld, betaKV, dk, ld)        // dK (+)= scale·dSᵀ·Q
}

// ---- causal products ----
//
// The attention products below skip the work that the causal mask makes
// dead — score entries above the diagonal, and terms whose probability
// (or dS) factor is an exact 0 — in row blocks of causalBlockRows rows,
// and give every computed element the bits it has in the full product
// with the default build's GEMM (gemmBlocking): a block's first row is a
// multiple of the GEMM's tile height, so each element keeps its kind of
// micro-tile, and a kept range of the inner dimension starts at 0, or at
// the first non-zero term within one of the GEMM's inner blocks, so each
// element is the same chain of FMAs minus terms x·0 (with x finite; a
// non-finite value in a masked position reaches no output here, where the
// full product would spread its NaN). Such a term, ±0, leaves an
// accumulator that started at +0 unchanged: it can only turn a −0 into +0,
// and an accumulator is −0 only when every term so far rounded to zero and
// one of them was a negative product below the smallest subnormal (a
// value column of zeros and subnormals, say); an all-zero inner block
// adds +0 to C (the same caveat). Short of that, the results are
// bit-identical to the full products.

// causalBlockTarget is the approximate number of rows per block of the
// causal products: smaller blocks skip more of the diagonal's dead half
// (blocks of b rows compute about t·(t+b)/2 entries of a t × t product,
// of which t·(t+1)/2 are live), larger ones make fewer, larger GEMM calls.
const causalBlockTarget = 48

// causalBlockRows returns the rows per block: the multiple of the GEMM's
// tile height nearest causalBlockTarget (at least one tile).
func causalBlockRows() int {
	rows, _ := gemmBlocking()
	return rows * max(1, (causalBlockTarget+rows/2)/rows)
}

// causalScores sets C[i, j] = alpha·Σ_p A[i, p]·B[j, p] (A [m, k], B
// [m, k]) for i in [0, m) and every j ≤ i: each row block against the rows
// of B up to its last row, rounded up to 16 columns (the GEMM computes
// whole tiles anyway); the remaining entries of C are left as they were
// or hold values of no use. Callers read only j ≤ i (softmaxLive and
// softmaxGradRows do, and clear the rest). With k beyond one inner block
// of the GEMM, where C is updated in place and a column's kind of tile
// matters, the blocks keep all m columns.
func causalScores[T elem](m, k int, alpha T, a []T, lda int, b []T, ldb int, c []T, ldc int) {
	_, inner := gemmBlocking()
	blk := causalBlockRows()
	for i0 := 0; i0 < m; i0 += blk {
		i1 := min(m, i0+blk)
		n := min(m, (i1+15)&^15)
		if k > inner {
			n = m
		}
		gemm(false, true, i1-i0, n, k, alpha, a[i0*lda:], lda, b, ldb, 0, c[i0*ldc:], ldc)
	}
}

// causalLeft computes C = alpha·A·B + beta·C for C [m, n], A [m, koff+m]
// and B [koff+m, n], where A[i, p] = 0 for p > koff+i (a causal
// probability or dS block after koff always-visible columns): each row
// block runs the inner dimension up to koff plus its last row, dropping
// trailing zero terms only.
func causalLeft[T elem](m, n, koff int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	blk := causalBlockRows()
	for i0 := 0; i0 < m; i0 += blk {
		i1 := min(m, i0+blk)
		gemm(false, false, i1-i0, n, koff+i1, alpha, a[i0*lda:], lda, b, ldb, beta, c[i0*ldc:], ldc)
	}
}

// causalLeftT computes C = alpha·Aᵀ·B + beta·C for C [m, n], A [m, m] and
// B [m, n], where A[i, j] = 0 for i < j (a causal probability or dS block):
// row block [j0, j1) of C sums over i ≥ j0 only. The kept inner range is
// cut where the GEMM's inner blocks of the full product end (multiples of
// its inner block from 0), the later parts added with beta 1, so that each
// part is summed as in the full product.
func causalLeftT[T elem](m, n int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	_, inner := gemmBlocking()
	blk := causalBlockRows()
	for j0 := 0; j0 < m; j0 += blk {
		j1 := min(m, j0+blk)
		bt := beta
		for p0 := j0; p0 < m; {
			p1 := min(m, (p0/inner+1)*inner)
			gemm(true, false, j1-j0, n, p1-p0, alpha, a[p0*lda+j0:], lda, b[p0*ldb:], ldb, bt, c[j0*ldc:], ldc)
			bt = 1
			p0 = p1
		}
	}
}
