package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
)

// PackRow is the layout of one packed row (see PackLayout): its first
// Prefix tokens are a shared prefix, followed by one segment of Segs[k]
// tokens for each k, back to back; the tokens after the last segment are
// padding.
type PackRow struct {
	Prefix int
	Segs   []int
}

// PackLayout is the run-time layout of a packed batch of n rows of t
// tokens: several sequences that begin with the same tokens share one
// copy of them in a row. A row holds a prefix and segments (PackRow), and
//
//   - a prefix token attends causally within the prefix, and has its index
//     in the row as position id (0, 1, …);
//   - a token of a segment attends to the whole prefix and to the earlier
//     tokens of its own segment (itself included) only, and the j-th token
//     of a segment has position id Prefix + j;
//   - a padding token attends to itself only and has position id 0.
//
// So a sequence s = x ++ y laid out as prefix x[:len(x)−1] and segment
// [x[len(x)−1]] ++ y gets, at every token, the keys, values and position
// it has in the unpacked row s: per-token results of a model equal the
// unpacked ones, and every response token is predicted within its segment.
//
// A layout is created with the batch shape, bound to the packed ops of one
// graph (PackedAttention, PackedPositionEmbedding, PackedRoPE), and Set
// before each run, like the ids. It must not change between a forward run
// and its backward (they read it both).
type PackLayout struct {
	n, t, maxPos int
	id           uint64
	set          bool
	rows         []PackRow
	pos          []int // [n·t] position ids
	probOff      []int // per row: offset of the row's attention probabilities per head (cumulative)
	probLen      []int // per row: attention probabilities per head
	maxUsedPos   int   // largest position id in use (0 when none)
}

// NewPackLayout returns an unset layout for n rows of t tokens whose
// position ids must stay below maxPos (the model's position limit).
func NewPackLayout(n, t, maxPos int) (*PackLayout, error) {
	if n < 1 || t < 1 || maxPos < 1 {
		return nil, fmt.Errorf("NewPackLayout: need n, t, maxPos ≥ 1, got %d, %d, %d", n, t, maxPos)
	}
	return &PackLayout{n: n, t: t, maxPos: maxPos, id: nextOpID(), pos: make([]int, n*t),
		probOff: make([]int, n), probLen: make([]int, n)}, nil
}

// N and T are the batch shape of the layout; MaxPos its position limit.
func (l *PackLayout) N() int      { return l.n }
func (l *PackLayout) T() int      { return l.t }
func (l *PackLayout) MaxPos() int { return l.maxPos }

// Set installs the layout of the rows (at most N; missing rows are all
// padding). It checks that every row fits in T tokens, that every segment
// is non-empty and that every position id stays below MaxPos.
func (l *PackLayout) Set(rows []PackRow) error {
	if len(rows) > l.n {
		return fmt.Errorf("PackLayout.Set: %d rows, the layout has %d", len(rows), l.n)
	}
	l.rows = l.rows[:0]
	maxUsed, off := 0, 0
	for r := 0; r < l.n; r++ {
		var row PackRow
		if r < len(rows) {
			row = PackRow{Prefix: rows[r].Prefix, Segs: append([]int(nil), rows[r].Segs...)}
		}
		if row.Prefix < 0 || row.Prefix > l.maxPos {
			l.set = false
			return fmt.Errorf("PackLayout.Set: row %d: prefix of %d tokens (need 0 … %d, the position limit)", r, row.Prefix, l.maxPos)
		}
		used, probs := row.Prefix, row.Prefix*row.Prefix
		for k, s := range row.Segs {
			if s < 1 || row.Prefix+s > l.maxPos {
				l.set = false
				return fmt.Errorf("PackLayout.Set: row %d, segment %d: %d tokens after a prefix of %d (need ≥ 1, and prefix + segment ≤ the position limit %d)", r, k, s, row.Prefix, l.maxPos)
			}
			used += s
			probs += s * (row.Prefix + s)
		}
		if used > l.t {
			l.set = false
			return fmt.Errorf("PackLayout.Set: row %d holds %d tokens, the layout has %d per row", r, used, l.t)
		}
		pos := l.pos[r*l.t : (r+1)*l.t]
		for i := 0; i < row.Prefix; i++ {
			pos[i] = i
		}
		i := row.Prefix
		for _, s := range row.Segs {
			for j := 0; j < s; j++ {
				pos[i+j] = row.Prefix + j
			}
			i += s
		}
		clear(pos[i:])
		if i > 0 {
			maxUsed = max(maxUsed, max(row.Prefix, row.Prefix+maxOf(row.Segs))-1)
		}
		l.rows = append(l.rows, row)
		l.probOff[r], l.probLen[r] = off, probs
		off += probs
	}
	l.maxUsedPos = maxUsed
	l.set = true
	return nil
}

func maxOf(v []int) int {
	m := 0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// Positions returns a copy of the [n·t] position ids of the layout.
func (l *PackLayout) Positions() []int { return append([]int(nil), l.pos...) }

// check reports an unset layout or one built for another shape.
func (l *PackLayout) check(what string, n, t int) error {
	if !l.set {
		return fmt.Errorf("%s: the pack layout was not set before the run", what)
	}
	if l.n != n || l.t != t {
		return fmt.Errorf("%s: the pack layout is [%d, %d], the op [%d, %d]", what, l.n, l.t, n, t)
	}
	return nil
}

// probTotal is the number of attention probabilities per head.
func (l *PackLayout) probTotal() int {
	if l.n == 0 {
		return 0
	}
	return l.probOff[l.n-1] + l.probLen[l.n-1]
}

// ---- attention ----

// PackedAttention is CausalAttention over the packed rows of layout
// (n = layout.N() rows of t = layout.T() tokens; qkv [n·t, C] as in
// CausalAttention): the mask follows the layout (PackLayout) instead of
// being causal over the whole row. Only the blocks the layout needs are
// computed: per row and head, the prefix queries against the prefix keys,
// and per segment its queries against [prefix keys; segment keys]; within
// the causal prefix and segment blocks, only their live part (as in
// CausalAttention). The per-element sums are those of CausalAttention on
// the unpacked rows (the scores one dot product each, the softmax over the
// same contiguous live scores, P·V one product over the gathered
// [prefix V; segment V] rows), so in the default build the results of a
// token are bit-identical to those it has in its unpacked row.
func PackedAttention(qkv *G.Node, layout *PackLayout, spec AttentionSpec) (*G.Node, error) {
	h, kv, hd := spec.Heads, spec.KVHeads, spec.HeadDim
	if layout == nil {
		return nil, fmt.Errorf("PackedAttention: nil layout")
	}
	if h < 1 || kv < 1 || hd < 1 || h%kv != 0 {
		return nil, fmt.Errorf("PackedAttention: %d query heads, %d kv heads, head size %d (need positive sizes, query heads a multiple of kv heads)", h, kv, hd)
	}
	if math.IsNaN(spec.Scale) || math.IsInf(spec.Scale, 0) || spec.Scale <= 0 {
		return nil, fmt.Errorf("PackedAttention: scale %v must be finite and > 0", spec.Scale)
	}
	n, t := layout.n, layout.t
	s := qkv.Shape()
	if len(s) != 2 || s[0] != n*t || s[1] != (h+2*kv)*hd {
		return nil, fmt.Errorf("PackedAttention: qkv shape %v, want [%d, %d]", s, n*t, (h+2*kv)*hd)
	}
	op := &packedAttnOp{attnOp: attnOp{n: n, t: t, heads: h, kv: kv, hd: hd, d: h * hd, scale: spec.Scale, id: nextOpID(), cache: &attnCache{}}, layout: layout}
	return G.ApplyOp(op, qkv)
}

// packedAttnOp is attnOp with a pack layout; its cache holds, per row and
// head, the prefix block [Prefix, Prefix] then each segment's block
// [s, Prefix + s] of probabilities (row-major), at
// heads·probOff[row] + head·probLen[row].
type packedAttnOp struct {
	attnOp
	layout *PackLayout
}

func (op *packedAttnOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gatedpo.PackedAttention{%d,%d,%d,%d,%d,%v,#%d,L%d}", op.n, op.t, op.heads, op.kv, op.hd, op.scale, op.id, op.layout.id)
}
func (op *packedAttnOp) Hashcode() uint32 { return hashOf(op) }
func (op *packedAttnOp) String() string {
	return fmt.Sprintf("PackedAttention{n=%d,t=%d,heads=%d,kv=%d,hd=%d}", op.n, op.t, op.heads, op.kv, op.hd)
}
func (op *packedAttnOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, packedAttnForward[float32], packedAttnForward[float64])
}

func packedAttnForward[T elem](op *packedAttnOp, in []G.Value) (G.Value, error) {
	if s := in[0].Shape(); len(s) != 2 || s[0] != op.n*op.t || s[1] != op.ld() {
		return nil, fmt.Errorf("%v: qkv has shape %v, want [%d, %d]", op, s, op.n*op.t, op.ld())
	}
	l := op.layout
	if err := l.check(op.String(), op.n, op.t); err != nil {
		return nil, err
	}
	qkv, err := sliceOf[T](in[0])
	if err != nil {
		return nil, err
	}
	n, t, h, d, dh := op.n, op.t, op.heads, op.d, op.hd
	ld := op.ld()
	group := h / op.kv
	scale := T(op.scale)
	probs := sizedBuf[T](&op.cache.probs, h*l.probTotal())
	out, o := reuseDense[T](&op.outBufs, 0, n*t, d)
	parallelFor(n*h, func(i int) {
		r, hd := i/h, i%h
		row := l.rows[r]
		lp := row.Prefix
		base := r * t * ld
		q := qkv[base+hd*dh:]
		k := qkv[base+op.kOff(hd/group):]
		vv := qkv[base+op.vOff(hd/group):]
		ob := o[r*t*d+hd*dh:]
		p := probs[h*l.probOff[r]+hd*l.probLen[r]:]
		if lp > 0 {
			pp := p[:lp*lp]
			causalHead(lp, dh, scale, q, k, vv, ld, pp, ob, d) // the prefix attends within itself
			p = p[lp*lp:]
		}
		// [prefix V; segment V] gathered contiguous, so that P·V is one
		// product over the same rows as in the unpacked sequence
		vg := getScratch[T]((lp + maxOf(row.Segs)) * dh)
		defer putScratch(vg)
		for j := 0; j < lp; j++ {
			copy(vg[j*dh:(j+1)*dh], vv[j*ld:j*ld+dh])
		}
		start := lp
		for _, ls := range row.Segs {
			L := lp + ls
			ps := p[:ls*L]
			p = p[ls*L:]
			if lp > 0 {
				gemm(false, true, ls, lp, dh, scale, q[start*ld:], ld, k, ld, 0, ps, L) // segment queries · prefix keys
			}
			causalScores(ls, dh, scale, q[start*ld:], ld, k[start*ld:], ld, ps[lp:], L) // · segment keys, j ≤ i
			for j := 0; j < ls; j++ {
				softmaxLive(ps[j*L:(j+1)*L], lp+j+1)
			}
			for j := 0; j < ls; j++ {
				copy(vg[(lp+j)*dh:(lp+j+1)*dh], vv[(start+j)*ld:(start+j)*ld+dh])
			}
			causalLeft(ls, dh, lp, 1, ps, L, vg, dh, 0, ob[start*d:], d) // (s,L)·(L,Dh) -> (s,Dh)
			start += ls
		}
		for j := start; j < t; j++ { // padding: attends to itself
			copy(ob[j*d:j*d+dh], vv[j*ld:j*ld+dh])
		}
	})
	return out, nil
}

// SymDiff: the gradient of CausalAttention (see attnOp.SymDiff) restricted
// to the blocks of the layout; a padding token passes dO to its own V.
func (op *packedAttnOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&packedAttnGradOp{backwardOf[*packedAttnOp]{tag: "PackedAttentionGrad", suffix: "Grad", fwd: op}}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

// packedAttnGradOp: (qkv, dO) -> dqkv, reading P from the forward op's cache.
type packedAttnGradOp struct {
	backwardOf[*packedAttnOp]
}

func (op *packedAttnGradOp) Arity() int    { return 2 }
func (op *packedAttnGradOp) Type() hm.Type { return fnType(2, 2, 2) }
func (op *packedAttnGradOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, packedAttnBackward[float32], packedAttnBackward[float64])
}

// softmaxGradRows turns dP [rows, L] into dS = P ⊙ (dP − rowsum(dP ⊙ P))
// in place over the live columns of each row (live(j) of row j); the rest
// is set to 0.
func softmaxGradRows[T elem](p, dp []T, rows, L int, live func(j int) int) {
	for r := 0; r < rows; r++ {
		pr, gr := p[r*L:(r+1)*L], dp[r*L:(r+1)*L]
		n := live(r)
		var dot float64
		for c := 0; c < n; c++ {
			dot += float64(pr[c]) * float64(gr[c])
		}
		for c := 0; c < n; c++ {
			gr[c] = T(float64(pr[c]) * (float64(gr[c]) - dot))
		}
		clear(gr[n:])
	}
}

func packedAttnBackward[T elem](gop *packedAttnGradOp, in []G.Value) (G.Value, error) {
	op := gop.fwd
	l := op.layout
	if err := l.check(gop.String(), op.n, op.t); err != nil {
		return nil, err
	}
	n, t, h, d, dh := op.n, op.t, op.heads, op.d, op.hd
	probs := *bufOf[T](&op.cache.probs)
	if len(probs) != h*l.probTotal() {
		return nil, fmt.Errorf("PackedAttentionGrad: no cached forward probabilities for this layout (the forward op must run first in the same machine run)")
	}
	ps, err := slicesOf[T](in...)
	if err != nil {
		return nil, err
	}
	qkv, dO := ps[0], ps[1]
	ld := op.ld()
	group := h / op.kv
	scale := T(op.scale)
	out, dqkv := reuseZeroDense[T](&gop.outBufs, 0, n*t, ld)
	// One task per (row, kv head): the query heads of a group add into the
	// same dK and dV, so they run in order within one task.
	parallelFor(n*op.kv, func(i int) {
		r, g := i/op.kv, i%op.kv
		row := l.rows[r]
		lp := row.Prefix
		dp := getScratch[T](t * t)
		defer putScratch(dp)
		base := r * t * ld
		k := qkv[base+op.kOff(g):]
		vv := qkv[base+op.vOff(g):]
		dk := dqkv[base+op.kOff(g):]
		dv := dqkv[base+op.vOff(g):]
		for j := 0; j < group; j++ {
			hd := g*group + j
			q := qkv[base+hd*dh:]
			dq := dqkv[base+hd*dh:]
			do := dO[r*t*d+hd*dh:]
			p := probs[h*l.probOff[r]+hd*l.probLen[r]:]
			if lp > 0 {
				pp := p[:lp*lp]
				p = p[lp*lp:]
				causalHeadGrad(lp, dh, scale, pp, do, d, q, k, vv, ld, dp, 1, dq, 1, dk, dv)
			}
			start := lp
			for _, ls := range row.Segs {
				L := lp + ls
				pseg := p[:ls*L]
				p = p[ls*L:]
				qs, dqs, dos := q[start*ld:], dq[start*ld:], do[start*d:]
				ks, vs, dks, dvs := k[start*ld:], vv[start*ld:], dk[start*ld:], dv[start*ld:]
				// dP = dO·[V_prefix; V_seg]ᵀ, column blocks
				if lp > 0 {
					gemm(false, true, ls, lp, dh, 1, dos, d, vv, ld, 0, dp, L)
				}
				causalScores(ls, dh, 1, dos, d, vs, ld, dp[lp:], L) // j ≤ i
				// dV += Pᵀ·dO, split over the prefix and segment rows
				if lp > 0 {
					gemm(true, false, lp, dh, ls, 1, pseg, L, dos, d, 1, dv, ld)
				}
				causalLeftT(ls, dh, 1, pseg[lp:], L, dos, d, 1, dvs, ld)
				softmaxGradRows(pseg, dp, ls, L, func(j int) int { return lp + j + 1 })
				// dQ += s·dS·[K_prefix; K_seg]; dK += s·dSᵀ·Q
				if lp > 0 {
					gemm(false, false, ls, dh, lp, scale, dp, L, k, ld, 1, dqs, ld)
					gemm(true, false, lp, dh, ls, scale, dp, L, qs, ld, 1, dk, ld)
				}
				causalLeft(ls, dh, 0, scale, dp[lp:], L, ks, ld, 1, dqs, ld)
				causalLeftT(ls, dh, scale, dp[lp:], L, qs, ld, 1, dks, ld)
				start += ls
			}
			for j := start; j < t; j++ { // padding: o = v, so dV += dO
				dst, src := dv[j*ld:j*ld+dh], do[j*d:j*d+dh]
				for c, x := range src {
					dst[c] += x
				}
			}
		}
	})
	return out, nil
}

// ---- position ids ----

// PackedPositionEmbedding is PositionEmbedding with the position ids of a
// pack layout: row i of the [n·t, D] result is table[pos_i] (PackLayout).
// Positions are checked against the table size when the layout is set
// (NewPackLayout's maxPos must not exceed the table's rows).
func PackedPositionEmbedding(table *G.Node, layout *PackLayout) (*G.Node, error) {
	if layout == nil {
		return nil, fmt.Errorf("PackedPositionEmbedding: nil layout")
	}
	if layout.maxPos > table.Shape()[0] {
		return nil, fmt.Errorf("PackedPositionEmbedding: the layout allows %d positions, the table has %d", layout.maxPos, table.Shape()[0])
	}
	return G.ApplyOp(&positionOp{n: layout.n, t: layout.t, layout: layout}, table)
}

// PackedRoPE is RoPE with the position ids of a pack layout (x [n·t, C],
// n = layout.N(), t = layout.T()): row i is rotated by the angles of
// position pos_i. The cos and sin of a position are computed as RoPE's, so
// a token gets the rotation it has in its unpacked row.
func PackedRoPE(x *G.Node, layout *PackLayout, spec RoPESpec) (*G.Node, error) {
	if layout == nil {
		return nil, fmt.Errorf("PackedRoPE: nil layout")
	}
	n, t := layout.n, layout.t
	if err := checkRoPE(x, n, t, spec); err != nil {
		return nil, fmt.Errorf("Packed%v", err)
	}
	op := &ropeOp{n: n, t: t, spec: spec, layout: layout, table: &ropeTable{rot: spec.Rot, theta: spec.Theta}}
	return G.ApplyOp(op, x)
}
