package experiments

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// vectorRange returns x[from:to] of a vector x [n] as a new [to−from]
// vector node (always 1-D, also for one element, unlike G.Slice), with the
// gradient scattered back into an [n] vector of zeros. It splits the
// sequence log-probs of the [chosen; rejected] rows into pc and pr.
func vectorRange(x *G.Node, from, to int) (*G.Node, error) {
	if x.Dims() != 1 || from < 0 || to > x.Shape()[0] || from >= to {
		return nil, fmt.Errorf("vectorRange: [%d:%d] of a node of shape %v", from, to, x.Shape())
	}
	return G.ApplyOp(&rangeOp{n: x.Shape()[0], from: from, to: to}, x)
}

// rangeOp: forward x [n] → x[from:to]; with scatter set, g [to−from] →
// [n] with g at [from:to] and exact zeros elsewhere.
type rangeOp struct {
	n, from, to int
	scatter     bool
}

// The G.Op, G.SDOp methods of rangeOp follow.

func (op *rangeOp) Arity() int { return 1 }
func (op *rangeOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: 1, Of: a}, G.TensorType{Dims: 1, Of: a})
}
func (op *rangeOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	if op.scatter {
		return tensor.Shape{op.n}, nil
	}
	return tensor.Shape{op.to - op.from}, nil
}
func (op *rangeOp) ReturnsPtr() bool     { return false }
func (op *rangeOp) CallsExtern() bool    { return false }
func (op *rangeOp) OverwritesInput() int { return -1 }
func (op *rangeOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gatedpo/experiments.range{%d,%d,%d,%t}", op.n, op.from, op.to, op.scatter)
}
func (op *rangeOp) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}
func (op *rangeOp) String() string {
	if op.scatter {
		return fmt.Sprintf("RangeScatter{%d:%d of %d}", op.from, op.to, op.n)
	}
	return fmt.Sprintf("Range{%d:%d}", op.from, op.to)
}

func (op *rangeOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != 1 {
		return nil, fmt.Errorf("%v: got %d values", op, len(vals))
	}
	t, ok := vals[0].(tensor.Tensor)
	if !ok {
		return nil, fmt.Errorf("%v: value is %T", op, vals[0])
	}
	if t.Shape().TotalSize() != op.inLen() {
		return nil, fmt.Errorf("%v: input has %d values, want %d", op, t.Shape().TotalSize(), op.inLen())
	}
	switch d := t.Data().(type) {
	case []float64:
		return rangeDo(op, d), nil
	case []float32:
		return rangeDo(op, d), nil
	}
	return nil, fmt.Errorf("%v: dtype %v", op, t.Dtype())
}

func (op *rangeOp) inLen() int {
	if op.scatter {
		return op.to - op.from
	}
	return op.n
}

func rangeDo[T float32 | float64](op *rangeOp, in []T) G.Value {
	if op.scatter {
		out := make([]T, op.n)
		copy(out[op.from:op.to], in)
		return tensor.New(tensor.WithShape(op.n), tensor.WithBacking(out))
	}
	out := make([]T, op.to-op.from)
	copy(out, in[op.from:op.to])
	return tensor.New(tensor.WithShape(op.to-op.from), tensor.WithBacking(out))
}

func (op *rangeOp) DiffWRT(inputs int) []bool { return []bool{!op.scatter} }

// SymDiff: y = x[from:to] has dL/dx = scatter(dL/dy) (zeros elsewhere).
func (op *rangeOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if op.scatter {
		return nil, fmt.Errorf("%v: second-order gradients are not supported", op)
	}
	d, err := G.ApplyOp(&rangeOp{n: op.n, from: op.from, to: op.to, scatter: true}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}
