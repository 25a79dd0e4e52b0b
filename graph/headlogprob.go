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

// HeadTokenLogProbs is the output head of a language model fused with
// TokenLogProbs and chunked over rows: for the final hidden states
// h [n·t, D] (row s·t+p = sequence s, position p), the head weight
// w [V, D] (PyTorch layout, logits = h·wᵀ) and ids [n, t] it gives the
// [n, t−1] node
//
//	lp[s, p] = log_softmax(h[s·t+p]·wᵀ)[ids[s, p+1]],  p = 0 … t−2
//
// without ever holding the [n·t, V] logits of all rows. HeadTokenLogProbsMasked
// restricts it to the positions a caller uses; this form computes every
// position.
//
// Forward: the logits of a block of rows at a time (h rows gathered, one
// matrix product with w), of which it keeps each row's maximum and
// log-sum-exp (float64) and the target's log-prob. The last position of a
// sequence (it predicts no token) is skipped.
//
// Backward: for the rows whose upstream gradient g is non-zero,
//
//	dlogits[r, v] = g[r]·(1{v = target} − exp(logits[r, v] − lse[r]))
//	dh[r] = dlogits[r]·w,   dw = Σ_r dlogits[r]ᵀ h[r]
//
// block by block. It needs those rows' logits: when the graph has a
// backward (G.Grad reached the op) and the logits of the computed rows fit
// in HeadCacheBytes, the forward writes them all into one buffer that it
// keeps for the backward, which turns it into dlogits in place; otherwise
// the forward keeps no logits and the backward computes them again (one
// more head matrix product).
//
// Memory held by the op: per row of h two float64 statistics; the kept
// logits of the computed rows when they fit under HeadCacheBytes (from the
// forward until the backward, then until ReleaseValues), else a scratch
// block of at most HeadChunkBytes. Never the three [n·t, V] buffers of
// TokenLogProbs(Linear(h, w), ids) (logits, cached softmax, logit
// gradient).
//
// The logits are the same products either way (the default GEMM,
// graph/blasgemm, computes each element from its row of h and its row of
// w alone, in one order wherever the row sits in the block), and the
// backward sums the rows into dw in the same blocks whether the logits
// were kept or recomputed: both backwards give bit-identical results, and
// the values equal TokenLogProbs(Linear(h, w), ids) up to rounding. ids
// get no gradient.
func HeadTokenLogProbs(h, w, ids *G.Node) (*G.Node, error) {
	return newHeadLSG("HeadTokenLogProbs", h, w, ids, nil)
}

// HeadTokenLogProbsMasked is HeadTokenLogProbs computed only at the
// positions where mask [n, t−1] (the output's layout, same dtype as h;
// typically the response mask shifted to the predicted tokens) is non-zero:
// there lp, HeadLogProbMaxOf and, for an upstream gradient that is 0
// elsewhere, the gradients of h and w are bit-identical to those of
// HeadTokenLogProbs (default GEMM); everywhere else lp and
// HeadLogProbMaxOf are exactly 0 and so is lp's gradient (the output there
// is a constant). The head product, the statistics and the kept
// logits cover the selected rows only, so a prompt position costs nothing.
// mask is read at every run (an input node, set per batch); it is a
// selection, not a weight (any non-zero value selects), and gets no
// gradient.
func HeadTokenLogProbsMasked(h, w, ids, mask *G.Node) (*G.Node, error) {
	if mask == nil {
		return nil, fmt.Errorf("HeadTokenLogProbsMasked: nil mask")
	}
	return newHeadLSG("HeadTokenLogProbsMasked", h, w, ids, mask)
}

func newHeadLSG(name string, h, w, ids, mask *G.Node) (*G.Node, error) {
	hs, ws, is := h.Shape(), w.Shape(), ids.Shape()
	if len(hs) != 2 || len(ws) != 2 || len(is) != 2 || hs[0] != is[0]*is[1] || hs[1] != ws[1] || is[1] < 2 {
		return nil, fmt.Errorf("%s: h %v, w %v and ids %v do not match (want [n·t, D], [V, D] and [n, t], t ≥ 2)", name, hs, ws, is)
	}
	op := &headLSGOp{n: is[0], t: is[1], id: nextOpID(), st: &headState{}}
	if mask == nil {
		return G.ApplyOp(op, h, w, ids)
	}
	if ms := mask.Shape(); len(ms) != 2 || ms[0] != is[0] || ms[1] != is[1]-1 {
		return nil, fmt.Errorf("%s: mask %v, want [%d, %d] (the output's shape)", name, ms, is[0], is[1]-1)
	}
	op.masked = true
	return G.ApplyOp(op, h, w, ids, mask)
}

// HeadChunkBytes bounds the logits block HeadTokenLogProbs computes at a
// time when it does not keep the logits for its backward.
const HeadChunkBytes = 64 << 20

// HeadCacheBytes bounds the logits a HeadTokenLogProbs op with a backward
// keeps from its forward (the computed rows × V elements); above it the
// backward recomputes them block by block. At 256 MiB a Pythia-160M
// micro-batch of one pair (2 rows of 256 tokens, V = 50,304, float32:
// at most 103 MB) always keeps them.
const HeadCacheBytes = 256 << 20

// headChunkBytes and headCacheBytes are HeadChunkBytes and HeadCacheBytes;
// tests lower them to exercise several blocks and the recompute path.
var (
	headChunkBytes = HeadChunkBytes
	headCacheBytes = HeadCacheBytes
)

// headChunkRows is the number of rows per logits block for vocabulary
// size vocab and element size elemBytes (at least 4 rows).
func headChunkRows(rows, vocab, elemBytes int) int {
	c := headChunkBytes / (vocab * elemBytes)
	return max(4, min(c, rows))
}

// headState is what the forward leaves for the backward and for
// HeadLogProbMaxOf: per row the maximum logit and the log-sum-exp (0 for
// rows not computed); the rows computed; their logits when kept; a
// scratch logits block (reused across runs); and the weight gradient the
// backward computed, handed over to the weight-gradient node.
type headState struct {
	lseStats
	kept   []int     // rows of h whose log-prob the last forward computed, ascending
	logits dtypeBufs // kept logits: row kept[i] at [i·V, (i+1)·V)
	cached bool      // logits hold the last forward's, not yet consumed by a backward
	block  dtypeBufs
	dw     G.Value
}

// headBlock returns the scratch logits block for element type T, sized n
// (grown, never shrunk).
func headBlock[T elem](s *headState, n int) []T {
	p := bufOf[T](&s.block)
	if len(*p) < n {
		*p = takeBuf[T](n)
	}
	return (*p)[:n]
}

// headLSGOp is the fused, chunked head + log-softmax + gather.
type headLSGOp struct {
	pureOp
	n, t     int
	masked   bool // a 4th input, the [n, t−1] mask of the rows to compute
	id       uint64
	st       *headState
	backward bool // SymDiff built the backward: the forward may keep the logits
}

func (op *headLSGOp) Arity() int {
	if op.masked {
		return 4
	}
	return 3
}
func (op *headLSGOp) Type() hm.Type {
	if op.masked {
		return fnType(2, 2, 2, 2, 2)
	}
	return fnType(2, 2, 2, 2)
}
func (op *headLSGOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gatedpo.HeadTokenLogProbs{%d,%d,%t,#%d}", op.n, op.t, op.masked, op.id)
}
func (op *headLSGOp) Hashcode() uint32 { return hashOf(op) }
func (op *headLSGOp) String() string {
	if op.masked {
		return fmt.Sprintf("HeadTokenLogProbsMasked{n=%d,t=%d}", op.n, op.t)
	}
	return fmt.Sprintf("HeadTokenLogProbs{n=%d,t=%d}", op.n, op.t)
}
func (op *headLSGOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.t - 1}, nil
}

func (op *headLSGOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, headForward[float32], headForward[float64])
}

// gatherRows copies rows rs of the row-major matrix src (d columns) into
// dst, consecutively.
func gatherRows[T elem](dst, src []T, rs []int, d int) {
	for i, r := range rs {
		copy(dst[i*d:(i+1)*d], src[r*d:(r+1)*d])
	}
}

func headForward[T elem](op *headLSGOp, in []G.Value) (G.Value, error) {
	hs, ws := in[0].Shape(), in[1].Shape()
	if len(hs) != 2 || hs[0] != op.n*op.t || len(ws) != 2 || ws[1] != hs[1] {
		return nil, fmt.Errorf("%v: h %v and w %v, want [%d, D] and [V, D]", op, hs, ws, op.n*op.t)
	}
	h, w, tg, err := headInputs[T](in)
	if err != nil {
		return nil, fmt.Errorf("%v: %v", op, err)
	}
	var mask []T
	if op.masked {
		if ms := in[3].Shape(); ms.TotalSize() != op.n*(op.t-1) {
			return nil, fmt.Errorf("%v: mask %v, want [%d, %d]", op, ms, op.n, op.t-1)
		}
		if mask, err = sliceOf[T](in[3]); err != nil {
			return nil, fmt.Errorf("%v: mask: %v", op, err)
		}
	}
	rows, d, vocab := in[0].Shape()[0], in[0].Shape()[1], in[1].Shape()[0]
	var z T
	elem := int(unsafeSizeof(z))
	st := op.st
	if len(st.lse) != rows {
		st.max, st.lse = make([]float64, rows), make([]float64, rows)
	} else {
		clear(st.max)
		clear(st.lse)
	}
	st.kept = st.kept[:0]
	for r := 0; r < rows; r++ {
		if o, _ := rowTarget(op.n, op.t, true, r, nil); o >= 0 && (mask == nil || mask[o] != 0) {
			st.kept = append(st.kept, r)
		}
	}
	kept := st.kept
	st.cached = false
	out, y := newDense[T](op.n, op.t-1)
	if len(kept) == 0 {
		return out, nil
	}
	keep := op.backward && len(kept)*vocab*elem <= headCacheBytes
	chunk := headChunkRows(len(kept), vocab, elem)
	var buf []T
	if keep {
		buf = sizedBuf[T](&st.logits, len(kept)*vocab)
	} else {
		// equal blocks: ⌈kept/chunk⌉ of them, no larger than needed
		nb := (len(kept) + chunk - 1) / chunk
		chunk = (len(kept) + nb - 1) / nb
		buf = headBlock[T](st, chunk*vocab)
	}
	hc := getScratch[T](chunk * d)
	defer putScratch(hc)
	for k0 := 0; k0 < len(kept); k0 += chunk {
		rs := kept[k0:min(k0+chunk, len(kept))]
		c := len(rs)
		gatherRows(hc, h, rs, d)
		x := buf[:c*vocab]
		if keep {
			x = buf[k0*vocab : (k0+c)*vocab]
		}
		gemm(false, true, c, vocab, d, 1, hc[:c*d], d, w, d, 0, x, vocab)
		parallelRange(c, 8, func(lo, hi int) {
			var tmp []T // kept logits stay intact: the exponentials go to a scratch row
			if keep {
				tmp = getScratch[T](vocab)
				defer putScratch(tmp)
			}
			for i := lo; i < hi; i++ {
				r := rs[i]
				row := x[i*vocab : (i+1)*vocab]
				o, target := rowTarget(op.n, op.t, true, r, tg)
				xt := float64(row[target])
				dst := row // exp in place: the row is not needed afterwards
				if keep {
					dst = tmp
				}
				m, s := expShiftSum(dst, row)
				l := m + math.Log(s)
				st.max[r], st.lse[r] = m, l
				y[o] = T(xt - l)
			}
		})
	}
	st.cached = keep
	return out, nil
}

// headInputs returns the data of the inputs (h, w, ids, …) of the fused
// head ops, with the ids checked against w's vocabulary size.
func headInputs[T elem](in []G.Value) (h, w []T, tg []float64, err error) {
	ps, err := slicesOf[T](in[0], in[1])
	if err != nil {
		return nil, nil, nil, err
	}
	tg, err = checkedIDs[T](in[2], in[1].Shape()[0])
	return ps[0], ps[1], tg, err
}

// unsafeSizeof is the size in bytes of an element of type T.
func unsafeSizeof[T elem](T) uintptr {
	var z T
	if _, ok := any(z).(float32); ok {
		return 4
	}
	return 8
}

func (op *headLSGOp) DiffWRT(int) []bool {
	if op.masked {
		return []bool{true, true, false, false}
	}
	return []bool{true, true, false}
}
func (op *headLSGOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dh, err := G.ApplyOp(&headGradOp{backwardOf[*headLSGOp]{tag: "HeadTokenLogProbsGrad", suffix: "Grad", fwd: op}}, in[0], in[1], in[2], grad)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(&headGradWOp{backwardOf[*headLSGOp]{tag: "HeadTokenLogProbsGradW", suffix: "GradW", fwd: op}, in[1].Shape().Clone()}, dh)
	if err != nil {
		return nil, err
	}
	op.backward = true
	if op.masked {
		return G.Nodes{dh, dw, nil, nil}, nil
	}
	return G.Nodes{dh, dw, nil}, nil
}

// headGradOp: (h, w, ids, g) -> dh [n·t, D]; it also computes dw and
// leaves it in the forward op's state for headGradWOp.
type headGradOp struct{ backwardOf[*headLSGOp] }

func (op *headGradOp) Arity() int    { return 4 }
func (op *headGradOp) Type() hm.Type { return fnType(2, 2, 2, 2, 2) }
func (op *headGradOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, headBackward[float32], headBackward[float64])
}

// headBackward computes dh and dw over the rows the forward computed whose
// upstream gradient is non-zero, from the logits the forward kept or,
// when it kept none, from recomputed ones. The rows go in blocks of
// headChunkRows(n·t, …) in both cases, so that dw sums them in the same
// order.
func headBackward[T elem](gop *headGradOp, in []G.Value) (G.Value, error) {
	op := gop.fwd
	h, w, tg, err := headInputs[T](in)
	if err != nil {
		return nil, fmt.Errorf("%vGrad: %v", op, err)
	}
	rows, d, vocab := in[0].Shape()[0], in[0].Shape()[1], in[1].Shape()[0]
	g, err := sliceOf[T](in[3])
	if err != nil {
		return nil, err
	}
	st := op.st
	if len(st.lse) != rows {
		return nil, fmt.Errorf("%vGrad: no cached forward statistics (the forward op must run first in the same machine run)", op)
	}
	// the computed rows that receive a gradient, as indices into st.kept
	var live []int
	for i, r := range st.kept {
		if o, _ := rowTarget(op.n, op.t, true, r, nil); g[o] != 0 {
			live = append(live, i)
		}
	}
	dhT, dh := reuseZeroDense[T](&gop.outBufs, 0, rows, d)
	dwT, dw := reuseZeroDense[T](&gop.outBufs, 1, vocab, d)
	var z T
	chunk := headChunkRows(rows, vocab, int(unsafeSizeof(z)))
	var buf []T
	kept := st.cached && len(*bufOf[T](&st.logits)) == len(st.kept)*vocab
	if kept {
		// move the live rows' logits to the front, in order (row j from
		// row live[j] ≥ j), then turn them into dlogits in place
		buf = *bufOf[T](&st.logits)
		for j, i := range live {
			if i != j {
				copy(buf[j*vocab:(j+1)*vocab], buf[i*vocab:(i+1)*vocab])
			}
		}
		st.cached = false // consumed
	} else {
		buf = headBlock[T](st, min(chunk, max(len(live), 1))*vocab)
	}
	hc := make([]T, min(chunk, max(len(live), 1))*d)
	dhc := make([]T, len(hc))
	exp := expFor[T]()
	for k0 := 0; k0 < len(live); k0 += chunk {
		ls := live[k0:min(k0+chunk, len(live))]
		c := len(ls)
		for j, i := range ls {
			r := st.kept[i]
			copy(hc[j*d:(j+1)*d], h[r*d:(r+1)*d])
		}
		var x []T
		if kept {
			x = buf[k0*vocab : (k0+c)*vocab]
		} else {
			x = buf[:c*vocab]
			gemm(false, true, c, vocab, d, 1, hc[:c*d], d, w, d, 0, x, vocab)
		}
		parallelRange(c, 8, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				r := st.kept[ls[j]]
				o, target := rowTarget(op.n, op.t, true, r, tg)
				gr := float64(g[o])
				row := x[j*vocab : (j+1)*vocab]
				// dlogits = g·(onehot − softmax), softmax = exp(x − lse)
				if r32, ok := any(row).([]float32); ok {
					blasvec.ExpShiftSum32(r32, r32, float32(st.lse[r]))
					blasvec.Scale32(r32, float32(-gr))
				} else {
					l := st.lse[r]
					for v, xv := range row {
						row[v] = T(-gr * exp(float64(xv)-l))
					}
				}
				row[target] += T(gr)
			}
		})
		gemm(false, false, c, d, vocab, 1, x, vocab, w, d, 0, dhc[:c*d], d) // dh rows = dlogits·w
		for j, i := range ls {
			r := st.kept[i]
			copy(dh[r*d:(r+1)*d], dhc[j*d:(j+1)*d])
		}
		gemm(true, false, vocab, d, c, 1, x, vocab, hc[:c*d], d, 1, dw, d) // dw += dlogitsᵀ·h
	}
	st.dw = dwT
	return dhT, nil
}

// headGradWOp: (dh) -> dw, the weight gradient headGradOp computed in the
// same run (dh is its input only to order it after headGradOp).
type headGradWOp struct {
	backwardOf[*headLSGOp]
	shape tensor.Shape
}

func (op *headGradWOp) Arity() int    { return 1 }
func (op *headGradWOp) Type() hm.Type { return fnType(2, 2) }
func (op *headGradWOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op *headGradWOp) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	dw := op.fwd.st.dw
	if dw == nil {
		return nil, fmt.Errorf("%v: the gradient op has not run", op)
	}
	op.fwd.st.dw = nil // handed over (headGradOp keeps the buffer and rewrites it next run)
	return dw, nil
}

// HeadLogProbMaxOf returns the forward-only node max_v log_softmax(logits)[v]
// for the rows of a HeadTokenLogProbs or HeadTokenLogProbsMasked node lp
// (same shape as lp; 0 where the mask is 0), from the row maxima and
// log-sum-exps its op kept; lp is its input only to order it after lp's
// op. G.Grad treats it as a constant.
func HeadLogProbMaxOf(lp *G.Node) (*G.Node, error) {
	src, ok := lp.Op().(*headLSGOp)
	if !ok {
		return nil, fmt.Errorf("HeadLogProbMaxOf: %v is not a HeadTokenLogProbs node", lp)
	}
	return G.ApplyOp(&maxLogProbOp{name: "HeadLogProbMaxOf", src: src, n: src.n, t: src.t, shift: true, st: &src.st.lseStats}, lp)
}

// HeadLogits computes the logits of rows consecutive final hidden states:
// dst[r·vocab+v] = h[r·d : (r+1)·d] · w[v·d : (v+1)·d] for r < rows, with
// the head weight w [vocab, d] in PyTorch layout (the product
// HeadTokenLogProbs and Linear(h, w) take). Callers that need the
// statistics of a few rows of [n·t, V] logits gather those rows of h and
// call it block by block, so that the full logits never exist.
func HeadLogits[T float32 | float64](dst, h []T, rows, d int, w []T, vocab int) {
	gemm(false, true, rows, vocab, d, 1, h[:rows*d], d, w[:vocab*d], d, 0, dst[:rows*vocab], vocab)
}
