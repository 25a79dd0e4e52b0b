package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// VectorRange returns x[from:to] of a vector x [n] as a new [to−from]
// vector node (always 1-D, also for one element, unlike G.Slice), with the
// gradient scattered back into an [n] vector of exact zeros elsewhere.
// The preference losses use it to split the sequence log-probs of the
// [chosen; rejected] rows.
func VectorRange(x *G.Node, from, to int) (*G.Node, error) {
	if x.Dims() != 1 || from < 0 || to > x.Shape()[0] || from >= to {
		return nil, fmt.Errorf("VectorRange: [%d:%d] of a node of shape %v", from, to, x.Shape())
	}
	return G.ApplyOp(&rangeOp{n: x.Shape()[0], from: from, to: to}, x)
}

// rangeOp is x [n] → x[from:to]; rangeScatterOp its gradient,
// g [to−from] → [n] with g at [from:to] and zeros elsewhere.
type rangeOp struct {
	pureOp
	n, from, to int
}

type rangeScatterOp struct {
	pureOp
	n, from, to int
}

func (op *rangeOp) Arity() int    { return 1 }
func (op *rangeOp) Type() hm.Type { return fnType(1, 1) }
func (op *rangeOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gatedpo.Range{%d,%d,%d}", op.n, op.from, op.to)
}
func (op *rangeOp) Hashcode() uint32        { return hashOf(op) }
func (op *rangeOp) String() string          { return fmt.Sprintf("Range{%d:%d}", op.from, op.to) }
func (op *rangeOp) DiffWRT(int) []bool      { return []bool{true} }
func (op *rangeScatterOp) Arity() int       { return 1 }
func (op *rangeScatterOp) Type() hm.Type    { return fnType(1, 1) }
func (op *rangeScatterOp) Hashcode() uint32 { return hashOf(op) }
func (op *rangeScatterOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gatedpo.RangeScatter{%d,%d,%d}", op.n, op.from, op.to)
}
func (op *rangeScatterOp) String() string {
	return fmt.Sprintf("RangeScatter{%d:%d of %d}", op.from, op.to, op.n)
}

func (op *rangeOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	return tensor.Shape{op.to - op.from}, nil
}

func (op *rangeScatterOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	return tensor.Shape{op.n}, nil
}

// SymDiff: y = x[from:to] has dL/dx = scatter(dL/dy).
func (op *rangeOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&rangeScatterOp{n: op.n, from: op.from, to: op.to}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

func (op *rangeOp) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	if n := in[0].Shape().TotalSize(); n != op.n {
		return nil, fmt.Errorf("%v: input has %d values, want %d", op, n, op.n)
	}
	return dispatch(in[0], func() (G.Value, error) { return rangeCopy[float32](in[0], op.from, op.to, op.to-op.from, 0) },
		func() (G.Value, error) { return rangeCopy[float64](in[0], op.from, op.to, op.to-op.from, 0) })
}

func (op *rangeScatterOp) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	if n := in[0].Shape().TotalSize(); n != op.to-op.from {
		return nil, fmt.Errorf("%v: input has %d values, want %d", op, n, op.to-op.from)
	}
	return dispatch(in[0], func() (G.Value, error) { return rangeCopy[float32](in[0], 0, op.to-op.from, op.n, op.from) },
		func() (G.Value, error) { return rangeCopy[float64](in[0], 0, op.to-op.from, op.n, op.from) })
}

// rangeCopy returns a fresh [outLen] vector of zeros holding v[from:to]
// at offset at.
func rangeCopy[T elem](v G.Value, from, to, outLen, at int) (G.Value, error) {
	src, err := sliceOf[T](v)
	if err != nil {
		return nil, err
	}
	out, dst := newDense[T](outLen)
	copy(dst[at:], src[from:to])
	return out, nil
}
