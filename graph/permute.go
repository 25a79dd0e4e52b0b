package graph

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// PermuteRows returns y with y[i] = x[perm[i]] along axis 0 of a 1-D or
// 2-D x (rows of a matrix, elements of a vector); perm must be a
// permutation of 0 … len−1. The gradient applies the inverse permutation.
// It reorders fused weights, e.g. GPT-NeoX's per-head interleaved q|k|v
// rows into the blocked layout CausalAttention reads.
func PermuteRows(x *G.Node, perm []int) (*G.Node, error) {
	s := x.Shape()
	if len(s) < 1 || len(s) > 2 || s[0] != len(perm) {
		return nil, fmt.Errorf("PermuteRows: x shape %v, want 1-D or 2-D with %d rows", s, len(perm))
	}
	seen := make([]bool, len(perm))
	for _, p := range perm {
		if p < 0 || p >= len(perm) || seen[p] {
			return nil, fmt.Errorf("PermuteRows: %v is not a permutation of 0 … %d", perm, len(perm)-1)
		}
		seen[p] = true
	}
	return G.ApplyOp(newPermuteOp(perm), x)
}

// permuteOp gathers rows: y[i] = x[perm[i]].
type permuteOp struct {
	perm []int
	sum  uint32 // hash of perm
}

func newPermuteOp(perm []int) *permuteOp {
	h := fnv.New32a()
	for _, p := range perm {
		fmt.Fprintf(h, "%d,", p)
	}
	return &permuteOp{perm: perm, sum: h.Sum32()}
}

func (op *permuteOp) Arity() int           { return 1 }
func (op *permuteOp) Type() hm.Type        { a := hm.TypeVariable('a'); return hm.NewFnType(a, a) }
func (op *permuteOp) ReturnsPtr() bool     { return false }
func (op *permuteOp) CallsExtern() bool    { return false }
func (op *permuteOp) OverwritesInput() int { return -1 }
func (op *permuteOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gatedpo.PermuteRows{%d,%x}", len(op.perm), op.sum)
}
func (op *permuteOp) Hashcode() uint32 { return hashOf(op) }
func (op *permuteOp) String() string   { return fmt.Sprintf("PermuteRows{%d}", len(op.perm)) }
func (op *permuteOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	return s.Clone(), nil
}
func (op *permuteOp) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	if s := in[0].Shape(); len(s) < 1 || s[0] != len(op.perm) {
		return nil, fmt.Errorf("%v: input shape %v", op, s)
	}
	return dispatch(in[0], func() (G.Value, error) { return permuteDo[float32](op, in[0]) },
		func() (G.Value, error) { return permuteDo[float64](op, in[0]) })
}
func permuteDo[T elem](op *permuteOp, v G.Value) (G.Value, error) {
	x, err := sliceOf[T](v)
	if err != nil {
		return nil, err
	}
	s := v.Shape().Clone()
	c := 1
	if len(s) == 2 {
		c = s[1]
	}
	out, y := newDense[T](s...)
	for i, p := range op.perm {
		copy(y[i*c:(i+1)*c], x[p*c:(p+1)*c])
	}
	return out, nil
}
func (op *permuteOp) DiffWRT(int) []bool { return []bool{true} }
func (op *permuteOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	inv := make([]int, len(op.perm))
	for i, p := range op.perm {
		inv[p] = i
	}
	d, err := G.ApplyOp(newPermuteOp(inv), grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
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
	return G.ApplyOp(&concatVecOp{n: len(xs)}, xs...)
}

type concatVecOp struct{ n int }

func (op *concatVecOp) Arity() int { return op.n }
func (op *concatVecOp) Type() hm.Type {
	r := make([]int, op.n+1)
	for i := range r {
		r[i] = 1
	}
	return fnType(r...)
}
func (op *concatVecOp) ReturnsPtr() bool      { return false }
func (op *concatVecOp) CallsExtern() bool     { return false }
func (op *concatVecOp) OverwritesInput() int  { return -1 }
func (op *concatVecOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gatedpo.ConcatVectors{%d}", op.n) }
func (op *concatVecOp) Hashcode() uint32      { return hashOf(op) }
func (op *concatVecOp) String() string        { return fmt.Sprintf("ConcatVectors{%d}", op.n) }
func (op *concatVecOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	n := 0
	for _, d := range in {
		s, err := shapeOf(d)
		if err != nil {
			return nil, err
		}
		n += s.TotalSize()
	}
	return tensor.Shape{n}, nil
}
func (op *concatVecOp) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	return dispatch(in[0], func() (G.Value, error) { return concatVecDo[float32](in) },
		func() (G.Value, error) { return concatVecDo[float64](in) })
}
func concatVecDo[T elem](in []G.Value) (G.Value, error) {
	n := 0
	for _, v := range in {
		n += v.Shape().TotalSize()
	}
	out, y := newDense[T](n)
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
func (op *concatVecOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}
func (op *concatVecOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	out := make(G.Nodes, len(in))
	from := 0
	for i, x := range in {
		to := from + x.Shape().TotalSize()
		d, err := G.ApplyOp(&vecSliceOp{from: from, to: to}, grad)
		if err != nil {
			return nil, err
		}
		out[i] = d
		from = to
	}
	return out, nil
}

// vecSliceOp copies elements [from, to) of a vector.
type vecSliceOp struct {
	noDiff
	from, to int
}

func (op *vecSliceOp) Arity() int    { return 1 }
func (op *vecSliceOp) Type() hm.Type { return fnType(1, 1) }
func (op *vecSliceOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gatedpo.VecSlice{%d,%d}", op.from, op.to)
}
func (op *vecSliceOp) Hashcode() uint32 { return hashOf(op) }
func (op *vecSliceOp) String() string   { return fmt.Sprintf("VecSlice{%d:%d}", op.from, op.to) }
func (op *vecSliceOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.to - op.from}, nil
}
func (op *vecSliceOp) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	return dispatch(in[0], func() (G.Value, error) { return vecSliceDo[float32](op, in[0]) },
		func() (G.Value, error) { return vecSliceDo[float64](op, in[0]) })
}
func vecSliceDo[T elem](op *vecSliceOp, v G.Value) (G.Value, error) {
	x, err := sliceOf[T](v)
	if err != nil {
		return nil, err
	}
	out, y := newDense[T](op.to - op.from)
	copy(y, x[op.from:op.to])
	return out, nil
}
