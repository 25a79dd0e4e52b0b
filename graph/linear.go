package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MatMul returns op(a)·op(b) for 2-D a and b, where op transposes when the
// flag is set. It multiplies through BLAS gemm without materialising a
// transpose (Gorgonia's Mul(x, Transpose(w)) copies w every run).
func MatMul(a, b *G.Node, transA, transB bool) (*G.Node, error) {
	return G.ApplyOp(&matMulOp{transA: transA, transB: transB}, a, b)
}

// Linear returns x·wᵀ for x [R, in] and w [out, in] (PyTorch layout):
// a [R, out] node.
func Linear(x, w *G.Node) (*G.Node, error) {
	return MatMul(x, w, false, true) // (R,in)·(in,out) -> (R,out)
}

// matMulOp is C = op(A)·op(B) on 2-D tensors.
type matMulOp struct {
	pureOp
	transA, transB bool
}

func (op *matMulOp) Arity() int    { return 2 }
func (op *matMulOp) Type() hm.Type { return fnType(2, 2, 2) }
func (op *matMulOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gatedpo.MatMul{%t,%t}", op.transA, op.transB)
}
func (op *matMulOp) Hashcode() uint32 { return hashOf(op) }
func (op *matMulOp) String() string   { return fmt.Sprintf("MatMul{tA=%t,tB=%t}", op.transA, op.transB) }

// dims returns (m, k) of op(A) and (k2, n) of op(B).
func (op *matMulOp) dims(a, b tensor.Shape) (m, k, k2, n int, err error) {
	if len(a) != 2 || len(b) != 2 {
		return 0, 0, 0, 0, fmt.Errorf("%v: want 2-D operands, got %v and %v", op, a, b)
	}
	m, k = a[0], a[1]
	if op.transA {
		m, k = k, m
	}
	k2, n = b[0], b[1]
	if op.transB {
		k2, n = n, k2
	}
	if k != k2 {
		return 0, 0, 0, 0, fmt.Errorf("%v: inner dimensions differ: %v and %v", op, a, b)
	}
	return m, k, k2, n, nil
}

func (op *matMulOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: want 2 inputs", op)
	}
	a, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	b, err := shapeOf(in[1])
	if err != nil {
		return nil, err
	}
	m, _, _, n, err := op.dims(a, b)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{m, n}, nil
}

func (op *matMulOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, matMulDo[float32], matMulDo[float64])
}

func matMulDo[T elem](op *matMulOp, in []G.Value) (G.Value, error) {
	m, k, _, n, err := op.dims(in[0].Shape(), in[1].Shape())
	if err != nil {
		return nil, err
	}
	s, err := slicesOf[T](in...)
	if err != nil {
		return nil, err
	}
	a, b := s[0], s[1]
	out, c := reuseDense[T](&op.outBufs, 0, m, n)
	gemm(op.transA, op.transB, m, n, k, 1, a, in[0].Shape()[1], b, in[1].Shape()[1], 0, c, n)
	return out, nil
}

func (op *matMulOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff: for C = op(A)·op(B) with upstream gradient dC,
//
//	(F,F) C = A B:    dA = dC Bᵀ,   dB = Aᵀ dC
//	(F,T) C = A Bᵀ:   dA = dC B,    dB = dCᵀ A
//	(T,F) C = Aᵀ B:   dA = B dCᵀ,   dB = A dC
//	(T,T) C = Aᵀ Bᵀ:  dA = Bᵀ dCᵀ,  dB = dCᵀ Aᵀ
func (op *matMulOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	a, b := in[0], in[1]
	var da, db *G.Node
	var err1, err2 error
	switch {
	case !op.transA && !op.transB:
		da, err1 = MatMul(grad, b, false, true)
		db, err2 = MatMul(a, grad, true, false)
	case !op.transA && op.transB:
		da, err1 = MatMul(grad, b, false, false)
		db, err2 = MatMul(grad, a, true, false)
	case op.transA && !op.transB:
		da, err1 = MatMul(b, grad, false, true)
		db, err2 = MatMul(a, grad, false, false)
	default:
		da, err1 = MatMul(b, grad, true, true)
		db, err2 = MatMul(grad, a, true, true)
	}
	if err1 != nil {
		return nil, err1
	}
	if err2 != nil {
		return nil, err2
	}
	return G.Nodes{da, db}, nil
}

// AddBias returns x + b broadcast over rows, for x [R, C] and b [C].
func AddBias(x, b *G.Node) (*G.Node, error) {
	return G.ApplyOp(&addBiasOp{}, x, b)
}

// addBiasOp is y[r, c] = x[r, c] + b[c]; dx = dy, db = Σ_r dy[r, :].
type addBiasOp struct{ pureOp }

func (addBiasOp) Arity() int            { return 2 }
func (addBiasOp) Type() hm.Type         { return fnType(2, 1, 2) }
func (addBiasOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "gatedpo.AddBias") }
func (op addBiasOp) Hashcode() uint32   { return hashOf(op) }
func (addBiasOp) String() string        { return "AddBias" }
func (op addBiasOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	x, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	b, err := shapeOf(in[1])
	if err != nil {
		return nil, err
	}
	if len(x) != 2 || b.TotalSize() != x[1] {
		return nil, fmt.Errorf("AddBias: x %v and bias %v do not match", x, b)
	}
	return x.Clone(), nil
}
func (op *addBiasOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, addBiasDo[float32], addBiasDo[float64])
}
func addBiasDo[T elem](op *addBiasOp, in []G.Value) (G.Value, error) {
	ps, err := slicesOf[T](in...)
	if err != nil {
		return nil, err
	}
	x, b := ps[0], ps[1]
	s := in[0].Shape()
	out, y := reuseDense[T](&op.outBufs, 0, s[0], s[1])
	c := s[1]
	for r := 0; r < s[0]; r++ {
		xr, yr := x[r*c:(r+1)*c], y[r*c:(r+1)*c]
		for j := range yr {
			yr[j] = xr[j] + b[j]
		}
	}
	return out, nil
}
func (addBiasOp) DiffWRT(int) []bool { return []bool{true, true} }
func (addBiasOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	db, err := ColSum(grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{grad, db}, nil
}

// ColSum returns Σ_r x[r, :] for x [R, C]: a [C] node. It is used for bias
// and LayerNorm gradients; it is not itself differentiable.
func ColSum(x *G.Node) (*G.Node, error) { return G.ApplyOp(&colSumOp{}, x) }

type colSumOp struct{ pureOp }

func (colSumOp) Arity() int            { return 1 }
func (colSumOp) Type() hm.Type         { return fnType(2, 1) }
func (colSumOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "gatedpo.ColSum") }
func (op colSumOp) Hashcode() uint32   { return hashOf(op) }
func (colSumOp) String() string        { return "ColSum" }
func (colSumOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	x, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	if len(x) != 2 {
		return nil, fmt.Errorf("ColSum: want a 2-D input, got %v", x)
	}
	return tensor.Shape{x[1]}, nil
}
func (op *colSumOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, colSumDo[float32], colSumDo[float64])
}
func colSumDo[T elem](op *colSumOp, in []G.Value) (G.Value, error) {
	v := in[0]
	x, err := sliceOf[T](v)
	if err != nil {
		return nil, err
	}
	s := v.Shape()
	out, y := reuseZeroDense[T](&op.outBufs, 0, s[1])
	c := s[1]
	for r := 0; r < s[0]; r++ {
		for j, xv := range x[r*c : (r+1)*c] {
			y[j] += xv
		}
	}
	return out, nil
}

// LinearBias returns x·wᵀ + b for x [R, in], w [out, in] (PyTorch layout)
// and b [out]: Linear and AddBias in one op and one [R, out] buffer (the
// bias rows are written first and the product accumulated onto them).
// Gradients: dx = dy·w, dw = dyᵀ·x, db = Σ_r dy[r, :].
func LinearBias(x, w, b *G.Node) (*G.Node, error) {
	xs, ws, bs := x.Shape(), w.Shape(), b.Shape()
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[1] || bs.TotalSize() != ws[0] {
		return nil, fmt.Errorf("LinearBias: x %v, w %v and b %v do not match (want [R, in], [out, in], [out])", xs, ws, bs)
	}
	return G.ApplyOp(&linearBiasOp{}, x, w, b)
}

// linearBiasOp is y = x·wᵀ + b.
type linearBiasOp struct{ pureOp }

func (linearBiasOp) Arity() int            { return 3 }
func (linearBiasOp) Type() hm.Type         { return fnType(2, 2, 1, 2) }
func (linearBiasOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "gatedpo.LinearBias") }
func (op linearBiasOp) Hashcode() uint32   { return hashOf(op) }
func (linearBiasOp) String() string        { return "LinearBias" }
func (linearBiasOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("LinearBias: want 3 inputs")
	}
	x, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	w, err := shapeOf(in[1])
	if err != nil {
		return nil, err
	}
	return tensor.Shape{x[0], w[0]}, nil
}
func (op *linearBiasOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, linearBiasDo[float32], linearBiasDo[float64])
}
func linearBiasDo[T elem](op *linearBiasOp, in []G.Value) (G.Value, error) {
	xs, ws := in[0].Shape(), in[1].Shape()
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[1] || in[2].Shape().TotalSize() != ws[0] {
		return nil, fmt.Errorf("LinearBias: x %v, w %v and b %v do not match", xs, ws, in[2].Shape())
	}
	ps, err := slicesOf[T](in...)
	if err != nil {
		return nil, err
	}
	x, w, b := ps[0], ps[1], ps[2]
	r, k, n := in[0].Shape()[0], in[0].Shape()[1], in[1].Shape()[0]
	out, y := reuseDense[T](&op.outBufs, 0, r, n)
	for i := 0; i < r; i++ {
		copy(y[i*n:(i+1)*n], b)
	}
	gemm(false, true, r, n, k, 1, x, k, w, k, 1, y, n)
	return out, nil
}
func (linearBiasOp) DiffWRT(int) []bool { return []bool{true, true, true} }
func (linearBiasOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := MatMul(grad, in[1], false, false)
	if err != nil {
		return nil, err
	}
	dw, err := MatMul(grad, in[0], true, false)
	if err != nil {
		return nil, err
	}
	db, err := ColSum(grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw, db}, nil
}
