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

// geluC is sqrt(2/π), the constant of the tanh approximation of GELU.
var geluC = math.Sqrt(2 / math.Pi)

// GELUTanh applies gelu_tanh(x) = 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³)))
// elementwise (PyTorch's gelu(approximate="tanh")), as one fused op with a
// hand-written gradient.
//
// The forward caches tanh(·) for its backward op (one op instance per
// call, with a unique hash), so the backward evaluates no tanh.
func GELUTanh(x *G.Node) (*G.Node, error) {
	return G.ApplyOp(&geluOp{id: nextOpID(), cache: &geluCache{}}, x)
}

// geluCache holds tanh(sqrt(2/π)(x + 0.044715x³)) of the last forward run.
type geluCache struct{ tanh dtypeBufs }

// tanhBuf returns the cache buffer for element type T; when fill is false
// it returns nil unless the cached length is n.
func tanhBuf[T elem](c *geluCache, n int, fill bool) []T {
	if fill {
		return sizedBuf[T](&c.tanh, n)
	}
	if b := *bufOf[T](&c.tanh); len(b) == n {
		return b
	}
	return nil
}

// geluOp is the forward (grad false: x -> y) or the backward (grad true:
// (x, dy) -> dx) of GELUTanh; both share the forward's cache.
type geluOp struct {
	pureOp
	grad  bool
	id    uint64
	cache *geluCache
}

func (op *geluOp) Arity() int {
	if op.grad {
		return 2
	}
	return 1
}
func (op *geluOp) Type() hm.Type         { return elementwiseType(op.Arity()) }
func (op *geluOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gatedpo.GELUTanh{%t,#%d}", op.grad, op.id) }
func (op *geluOp) Hashcode() uint32      { return hashOf(op) }
func (op *geluOp) String() string {
	if op.grad {
		return "GELUTanhGrad"
	}
	return "GELUTanh"
}
func (op *geluOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return elementwiseShape(op, in)
}
func (op *geluOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, geluDo[float32], geluDo[float64])
}

func geluDo[T elem](op *geluOp, in []G.Value) (G.Value, error) {
	grad := op.grad
	s, err := slicesOf[T](in...)
	if err != nil {
		return nil, err
	}
	x := s[0]
	var dy []T
	if grad {
		dy = s[1]
	}
	out, y := reuseDense[T](&op.outBufs, 0, in[0].Shape().Clone()...)
	cached := tanhBuf[T](op.cache, len(x), !grad)
	if x32, ok := any(x).([]float32); ok && (!grad || cached != nil) {
		y32, t32 := any(y).([]float32), any(cached).([]float32)
		parallelRange(len(x), 4096, func(lo, hi int) { // float32: blasvec's 8-lane GELU kernels
			if grad {
				blasvec.GELUGrad32(y32[lo:hi], x32[lo:hi], t32[lo:hi], any(dy).([]float32)[lo:hi])
			} else {
				blasvec.GELU32(y32[lo:hi], t32[lo:hi], x32[lo:hi])
			}
		})
		return out, nil
	}
	tanh := tanhFor[T]()
	parallelRange(len(x), 4096, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := float64(x[i])
			var t float64
			if grad && cached != nil {
				t = float64(cached[i])
			} else {
				t = tanh(geluC * (v + 0.044715*v*v*v))
			}
			if !grad {
				cached[i] = T(t)
				y[i] = T(0.5 * v * (1 + t))
				continue
			}
			// d/dx = 0.5(1+t) + 0.5·x·(1−t²)·c·(1 + 3·0.044715·x²)
			d := 0.5*(1+t) + 0.5*v*(1-t*t)*geluC*(1+3*0.044715*v*v)
			y[i] = T(d * float64(dy[i]))
		}
	})
	return out, nil
}

func (op *geluOp) DiffWRT(n int) []bool { return []bool{true} }
func (op *geluOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if op.grad {
		return nil, fmt.Errorf("GELUTanhGrad: second-order gradients are not supported")
	}
	dx, err := G.ApplyOp(&geluOp{grad: true, id: op.id, cache: op.cache}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}
