package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The plumbing LayerNorm and RMSNorm share: the shape rule, the backward
// op and the deterministic weight-gradient reduction. Their row
// statistics and gradients differ (LayerNorm subtracts the mean and has a
// bias; RMSNorm has neither) and live in layernorm.go and rmsnorm.go.

// normShape is the InferShape of a row normalisation named name: x [R, D]
// and parameter vectors (weight, and bias if any) of D elements; the
// output has x's shape.
func normShape(name string, in []G.DimSizer) (tensor.Shape, error) {
	x, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	if len(x) != 2 {
		return nil, fmt.Errorf("%s: want x of rank 2, got %v", name, x)
	}
	for _, p := range in[1:] {
		s, err := shapeOf(p)
		if err != nil {
			return nil, err
		}
		if s.TotalSize() != x[1] {
			return nil, fmt.Errorf("%s: x %v needs parameters (weight, bias) of size %d each, got %v", name, x, x[1], s)
		}
	}
	return x.Clone(), nil
}

// lnBlockRows is the number of rows per partial sum of a normalisation's
// weight gradient.
const lnBlockRows = 128

// rowBlockSum sets dst[j] = Σ_r t_r[j] over the rows r < rows, where
// addRow(r, acc) adds row r's term t_r (d values) into acc. Rows are
// summed in fixed blocks of lnBlockRows, in parallel, then the block sums
// in block order, in float64: the result is the same for any GOMAXPROCS.
func rowBlockSum[T elem](dst []T, rows, d int, addRow func(r int, acc []float64)) {
	blocks := (rows + lnBlockRows - 1) / lnBlockRows
	acc := make([]float64, blocks*d)
	parallelFor(blocks, func(bk int) {
		a := acc[bk*d : (bk+1)*d]
		for r := bk * lnBlockRows; r < min(rows, (bk+1)*lnBlockRows); r++ {
			addRow(r, a)
		}
	})
	for j := range dst {
		var s float64
		for bk := 0; bk < blocks; bk++ {
			s += acc[bk*d+j]
		}
		dst[j] = T(s)
	}
}

// normGradOp computes dx (wrtW false) or dw (wrtW true) of the
// normalisation kind ("LayerNorm" or "RMSNorm") from (x, w, dy).
type normGradOp struct {
	pureOp
	kind string
	eps  float64
	wrtW bool
}

func (op *normGradOp) Arity() int { return 3 }
func (op *normGradOp) Type() hm.Type {
	if op.wrtW {
		return fnType(2, 1, 2, 1)
	}
	return fnType(2, 1, 2, 2)
}
func (op *normGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gatedpo.%sGrad{%v,%t}", op.kind, op.eps, op.wrtW)
}
func (op *normGradOp) Hashcode() uint32 { return hashOf(op) }
func (op *normGradOp) String() string {
	return fmt.Sprintf("%sGrad{eps=%g,wrtW=%t}", op.kind, op.eps, op.wrtW)
}
func (op *normGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if op.wrtW {
		return shapeOf(in[1])
	}
	return shapeOf(in[0])
}
func (op *normGradOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, normGradDo[float32], normGradDo[float64])
}

func normGradDo[T elem](op *normGradOp, in []G.Value) (G.Value, error) {
	s, err := slicesOf[T](in...)
	if err != nil {
		return nil, err
	}
	x, w, dy := s[0], s[1], s[2]
	rows, d := in[0].Shape()[0], in[0].Shape()[1]
	layer := op.kind == "LayerNorm"
	if op.wrtW {
		out, dw := reuseDense[T](&op.outBufs, 0, in[1].Shape().Clone()...)
		if layer {
			rowBlockSum(dw, rows, d, func(r int, a []float64) { layerNormAddDW(a, x[r*d:(r+1)*d], dy[r*d:(r+1)*d], op.eps) })
		} else {
			rowBlockSum(dw, rows, d, func(r int, a []float64) { rmsNormAddDW(a, x[r*d:(r+1)*d], dy[r*d:(r+1)*d], op.eps) })
		}
		return out, nil
	}
	out, dx := reuseDense[T](&op.outBufs, 0, rows, d)
	if layer {
		layerNormDX(dx, x, w, dy, rows, d, op.eps)
	} else {
		rmsNormDX(dx, x, w, dy, rows, d, op.eps)
	}
	return out, nil
}

// normGrads returns the nodes dx and dw of the normalisation kind for
// input x, weight w and upstream gradient grad.
func normGrads(kind string, eps float64, x, w, grad *G.Node) (dx, dw *G.Node, err error) {
	if dx, err = G.ApplyOp(&normGradOp{kind: kind, eps: eps}, x, w, grad); err != nil {
		return nil, nil, err
	}
	if dw, err = G.ApplyOp(&normGradOp{kind: kind, eps: eps, wrtW: true}, x, w, grad); err != nil {
		return nil, nil, err
	}
	return dx, dw, nil
}
