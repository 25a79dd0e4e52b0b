package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ConcatRows stacks 2-D nodes with equal column counts along axis 0 (used
// to fuse the q, k, v projection weights into one [3D, D] matrix). The
// gradient slices rows back out.
func ConcatRows(xs ...*G.Node) (*G.Node, error) {
	if len(xs) == 0 {
		return nil, fmt.Errorf("ConcatRows: no inputs")
	}
	return G.ApplyOp(&concatOp{n: len(xs), rank: 2}, xs...)
}

// ConcatVectors joins 1-D nodes end to end (e.g. the q, k and v biases of
// separate projections into one fused bias). The gradient slices back out.
func ConcatVectors(xs ...*G.Node) (*G.Node, error) {
	if len(xs) == 0 {
		return nil, fmt.Errorf("ConcatVectors: no inputs")
	}
	for _, x := range xs {
		if x.Shape().Dims() != 1 {
			return nil, fmt.Errorf("ConcatVectors: input %v is not 1-D", x.Shape())
		}
	}
	return G.ApplyOp(&concatOp{n: len(xs), rank: 1}, xs...)
}

// concatOp joins n inputs of one rank along axis 0: rows of matrices
// (rank 2, ConcatRows) or elements of vectors (rank 1, ConcatVectors).
// Both are the row-major data of the inputs one after the other.
type concatOp struct {
	pureOp
	n, rank int
}

func (op *concatOp) name() string {
	if op.rank == 1 {
		return "ConcatVectors"
	}
	return "ConcatRows"
}
func (op *concatOp) Arity() int { return op.n }
func (op *concatOp) Type() hm.Type {
	r := make([]int, op.n+1)
	for i := range r {
		r[i] = op.rank
	}
	return fnType(r...)
}
func (op *concatOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gatedpo.%s{%d}", op.name(), op.n) }
func (op *concatOp) Hashcode() uint32      { return hashOf(op) }
func (op *concatOp) String() string        { return fmt.Sprintf("%s{%d}", op.name(), op.n) }
func (op *concatOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	rows, cols := 0, -1
	for _, d := range in {
		s, err := shapeOf(d)
		if err != nil {
			return nil, err
		}
		if op.rank == 1 {
			rows += s.TotalSize()
			continue
		}
		if len(s) != 2 || (cols >= 0 && s[1] != cols) {
			return nil, fmt.Errorf("ConcatRows: inputs must be 2-D with equal columns, got %v", s)
		}
		rows += s[0]
		cols = s[1]
	}
	if op.rank == 1 {
		return tensor.Shape{rows}, nil
	}
	return tensor.Shape{rows, cols}, nil
}
func (op *concatOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, concatDo[float32], concatDo[float64])
}
func concatDo[T elem](op *concatOp, in []G.Value) (G.Value, error) {
	n := 0 // elements (rank 1) or rows (rank 2)
	for _, v := range in {
		n += v.Shape()[0]
	}
	shape := []int{n}
	if op.rank == 2 {
		shape = append(shape, in[0].Shape()[1])
	}
	out, y := reuseDense[T](&op.outBufs, 0, shape...)
	off := 0
	for _, v := range in {
		x, err := sliceOf[T](v)
		if err != nil {
			return nil, err
		}
		off += copy(y[off:], x)
	}
	return out, nil
}
func (op *concatOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}
func (op *concatOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	out := make(G.Nodes, len(in))
	from := 0
	for i, x := range in {
		to := from + x.Shape()[0]
		if op.rank == 1 {
			to = from + x.Shape().TotalSize()
		}
		d, err := G.ApplyOp(&sliceRowsOp{from: from, to: to, rank: op.rank}, grad)
		if err != nil {
			return nil, err
		}
		out[i] = d
		from = to
	}
	return out, nil
}

// sliceRowsOp copies rows [from, to) of a matrix (rank 2) or elements
// [from, to) of a vector (rank 1): the gradient of concatOp.
type sliceRowsOp struct {
	pureOp
	from, to, rank int
}

func (op *sliceRowsOp) Arity() int    { return 1 }
func (op *sliceRowsOp) Type() hm.Type { return fnType(op.rank, op.rank) }
func (op *sliceRowsOp) WriteHash(h hash.Hash) {
	if op.rank == 1 {
		fmt.Fprintf(h, "gatedpo.VecSlice{%d,%d}", op.from, op.to)
		return
	}
	fmt.Fprintf(h, "gatedpo.RowSlice{%d,%d}", op.from, op.to)
}
func (op *sliceRowsOp) Hashcode() uint32 { return hashOf(op) }
func (op *sliceRowsOp) String() string {
	if op.rank == 1 {
		return fmt.Sprintf("VecSlice{%d:%d}", op.from, op.to)
	}
	return fmt.Sprintf("RowSlice{%d:%d}", op.from, op.to)
}
func (op *sliceRowsOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if op.rank == 1 {
		return tensor.Shape{op.to - op.from}, nil
	}
	s, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	return tensor.Shape{op.to - op.from, s[1]}, nil
}
func (op *sliceRowsOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, sliceRowsDo[float32], sliceRowsDo[float64])
}
func sliceRowsDo[T elem](op *sliceRowsOp, in []G.Value) (G.Value, error) {
	x, err := sliceOf[T](in[0])
	if err != nil {
		return nil, err
	}
	if op.rank == 1 {
		out, y := reuseDense[T](&op.outBufs, 0, op.to-op.from)
		copy(y, x[op.from:op.to])
		return out, nil
	}
	c := in[0].Shape()[1]
	out, y := reuseDense[T](&op.outBufs, 0, op.to-op.from, c)
	copy(y, x[op.from*c:op.to*c])
	return out, nil
}
