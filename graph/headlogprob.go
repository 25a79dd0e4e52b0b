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
// without ever holding the [n·t, V] logits: the forward computes the
// logits of a block of rows at a time (at most HeadChunkBytes), keeps only each
// row's maximum and log-sum-exp, and drops the block. The backward
// recomputes the logits of the rows whose upstream gradient is non-zero
// (rows outside the response mask cost nothing), block by block, and
// accumulates
//
//	dlogits[r, v] = g[r]·(1{v = target} − softmax[r, v])
//	dh[r] = dlogits[r]·w,   dw = Σ_r dlogits[r]ᵀ h[r]
//
// so the largest buffer is one block of at most HeadChunkBytes (64 MiB) instead
// of three [n·t, V] ones (logits, cached softmax, logit gradient). The
// price is one more head matrix product per training step (the recompute).
// Results equal TokenLogProbs(Linear(h, w), ids) up to rounding (the same
// products, the same float64 log-sum-exp). ids get no gradient.
func HeadTokenLogProbs(h, w, ids *G.Node) (*G.Node, error) {
	hs, ws, is := h.Shape(), w.Shape(), ids.Shape()
	if len(hs) != 2 || len(ws) != 2 || len(is) != 2 || hs[0] != is[0]*is[1] || hs[1] != ws[1] || is[1] < 2 {
		return nil, fmt.Errorf("HeadTokenLogProbs: h %v, w %v and ids %v do not match (want [n·t, D], [V, D] and [n, t], t ≥ 2)", hs, ws, is)
	}
	op := &headLSGOp{n: is[0], t: is[1], id: nextOpID(), st: &headState{}}
	return G.ApplyOp(op, h, w, ids)
}

// HeadChunkBytes bounds the logits block HeadTokenLogProbs holds at a time.
const HeadChunkBytes = 64 << 20

// headChunkBytes is HeadChunkBytes; tests lower it to exercise several blocks.
var headChunkBytes = HeadChunkBytes

// headChunkRows is the number of rows per logits block for vocabulary
// size vocab and element size elemBytes (at least 4 rows).
func headChunkRows(rows, vocab, elemBytes int) int {
	c := headChunkBytes / (vocab * elemBytes)
	return max(4, min(c, rows))
}

// headState is what the forward leaves for the backward and for
// HeadLogProbMaxOf: per row the maximum logit and the log-sum-exp; the
// logits block (scratch, reused across runs); and the weight gradient the
// backward computed, handed over to the weight-gradient node.
type headState struct {
	lseStats
	block dtypeBufs
	dw    G.Value
}

// headBlock returns the scratch logits block for element type T, sized n
// (grown, never shrunk).
func headBlock[T elem](s *headState, n int) []T {
	p := bufOf[T](&s.block)
	if len(*p) < n {
		*p = make([]T, n)
	}
	return (*p)[:n]
}

// headLSGOp is the fused, chunked head + log-softmax + gather.
type headLSGOp struct {
	pureOp
	n, t int
	id   uint64 // unique per instance: the op keeps state
	st   *headState
}

func (op *headLSGOp) Arity() int    { return 3 }
func (op *headLSGOp) Type() hm.Type { return fnType(2, 2, 2, 2) }
func (op *headLSGOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gatedpo.HeadTokenLogProbs{%d,%d,#%d}", op.n, op.t, op.id)
}
func (op *headLSGOp) Hashcode() uint32 { return hashOf(op) }
func (op *headLSGOp) String() string {
	return fmt.Sprintf("HeadTokenLogProbs{n=%d,t=%d}", op.n, op.t)
}
func (op *headLSGOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.t - 1}, nil
}

func (op *headLSGOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, headForward[float32], headForward[float64])
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
	rows, d, vocab := in[0].Shape()[0], in[0].Shape()[1], in[1].Shape()[0]
	var z T
	chunk := headChunkRows(rows, vocab, int(unsafeSizeof(z)))
	st := op.st
	if len(st.lse) != rows {
		st.max, st.lse = make([]float64, rows), make([]float64, rows)
	}
	out, y := newDense[T](op.n, op.t-1)
	buf := headBlock[T](st, chunk*vocab)
	for r0 := 0; r0 < rows; r0 += chunk {
		c := min(chunk, rows-r0)
		x := buf[:c*vocab]
		gemm(false, true, c, vocab, d, 1, h[r0*d:(r0+c)*d], d, w, d, 0, x, vocab)
		parallelRange(c, 8, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				r := r0 + i
				row := x[i*vocab : (i+1)*vocab]
				// exp in place: the row is not needed afterwards except its target logit
				o, target := rowTarget(op.n, op.t, true, r, tg)
				var xt float64
				if o >= 0 {
					xt = float64(row[target])
				}
				m, s := expShiftSum(row, row)
				l := m + math.Log(s)
				st.max[r], st.lse[r] = m, l
				if o >= 0 {
					y[o] = T(xt - l)
				}
			}
		})
	}
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

func (op *headLSGOp) DiffWRT(int) []bool { return []bool{true, true, false} }
func (op *headLSGOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dh, err := G.ApplyOp(&headGradOp{backwardOf[*headLSGOp]{tag: "HeadTokenLogProbsGrad", suffix: "Grad", fwd: op}}, in[0], in[1], in[2], grad)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(&headGradWOp{backwardOf[*headLSGOp]{tag: "HeadTokenLogProbsGradW", suffix: "GradW", fwd: op}, in[1].Shape().Clone()}, dh)
	if err != nil {
		return nil, err
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

// headBackward recomputes the logits of the live rows (the cached-softmax
// backward of lsgBackward needs the [rows, V] buffer this op avoids).
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
	// the rows that receive a gradient
	var live []int
	for r := 0; r < rows; r++ {
		if o, _ := rowTarget(op.n, op.t, true, r, nil); o >= 0 && g[o] != 0 {
			live = append(live, r)
		}
	}
	dhT, dh := newDense[T](rows, d)
	dwT, dw := newDense[T](vocab, d)
	var z T
	chunk := headChunkRows(rows, vocab, int(unsafeSizeof(z)))
	buf := headBlock[T](st, chunk*vocab)
	hc := make([]T, min(chunk, max(len(live), 1))*d)
	dhc := make([]T, len(hc))
	exp := expFor[T]()
	for k0 := 0; k0 < len(live); k0 += chunk {
		rs := live[k0:min(k0+chunk, len(live))]
		c := len(rs)
		for i, r := range rs {
			copy(hc[i*d:(i+1)*d], h[r*d:(r+1)*d])
		}
		x := buf[:c*vocab]
		gemm(false, true, c, vocab, d, 1, hc[:c*d], d, w, d, 0, x, vocab)
		parallelRange(c, 8, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				r := rs[i]
				o, target := rowTarget(op.n, op.t, true, r, tg)
				gr := float64(g[o])
				row := x[i*vocab : (i+1)*vocab]
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
		for i, r := range rs {
			copy(dh[r*d:(r+1)*d], dhc[i*d:(i+1)*d])
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
	op.fwd.st.dw = nil // handed over: the next run computes a fresh one
	return dw, nil
}

// HeadLogProbMaxOf returns the forward-only node max_v log_softmax(logits)[v]
// for the rows of a HeadTokenLogProbs node lp (same shape as lp), from the
// row maxima and log-sum-exps its op kept; lp is its input only to order
// it after lp's op. G.Grad treats it as a constant.
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
