package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// RMSNorm normalises each row of x [R, D] by its root mean square and
// scales by w [D] (Llama/Qwen2's RMSNorm, no mean subtraction, no bias):
//
//	y = w ⊙ x / sqrt(mean(x²) + eps)
//
// The statistics are accumulated in float64 whatever the dtype. One fused
// op with a hand-written gradient.
func RMSNorm(x, w *G.Node, eps float64) (*G.Node, error) {
	if !(eps >= 0) || math.IsInf(eps, 0) {
		return nil, fmt.Errorf("RMSNorm: eps %v must be finite and ≥ 0", eps)
	}
	return G.ApplyOp(&rmsNormOp{eps: eps}, x, w)
}

// rmsNormOp is the forward (x, w) -> y.
type rmsNormOp struct{ eps float64 }

func (op *rmsNormOp) Arity() int            { return 2 }
func (op *rmsNormOp) Type() hm.Type         { return fnType(2, 1, 2) }
func (op *rmsNormOp) ReturnsPtr() bool      { return false }
func (op *rmsNormOp) CallsExtern() bool     { return false }
func (op *rmsNormOp) OverwritesInput() int  { return -1 }
func (op *rmsNormOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gatedpo.RMSNorm{%v}", op.eps) }
func (op *rmsNormOp) Hashcode() uint32      { return hashOf(op) }
func (op *rmsNormOp) String() string        { return fmt.Sprintf("RMSNorm{eps=%g}", op.eps) }
func (op *rmsNormOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	x, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	w, err := shapeOf(in[1])
	if err != nil {
		return nil, err
	}
	if len(x) != 2 || w.TotalSize() != x[1] {
		return nil, fmt.Errorf("RMSNorm: x %v needs a weight of size %d, got %v", x, x[1], w)
	}
	return x.Clone(), nil
}
func (op *rmsNormOp) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	return dispatch(in[0], func() (G.Value, error) { return rmsNormDo[float32](op.eps, in) },
		func() (G.Value, error) { return rmsNormDo[float64](op.eps, in) })
}

// rmsInv returns 1/sqrt(mean(x²) + eps) of one row, in float64.
func rmsInv[T elem](x []T, eps float64) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return 1 / math.Sqrt(s/float64(len(x))+eps)
}

func rmsNormDo[T elem](eps float64, in []G.Value) (G.Value, error) {
	x, err := sliceOf[T](in[0])
	if err != nil {
		return nil, err
	}
	w, err := sliceOf[T](in[1])
	if err != nil {
		return nil, err
	}
	s := in[0].Shape()
	rows, d := s[0], s[1]
	out, y := newDense[T](rows, d)
	parallelRange(rows, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*d:(r+1)*d], y[r*d:(r+1)*d]
			inv := rmsInv(xr, eps)
			for j, v := range xr {
				yr[j] = T(float64(w[j]) * (float64(v) * inv))
			}
		}
	})
	return out, nil
}

func (op *rmsNormOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff of y = w ⊙ x·ρ, ρ = 1/sqrt(mean(x²) + eps), per row with g = dy ⊙ w:
//
//	dx = ρ·(g − x·ρ²·mean(g ⊙ x)),   dw = Σ_rows dy ⊙ x·ρ
func (op *rmsNormOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&rmsNormGradOp{eps: op.eps}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(&rmsNormGradOp{eps: op.eps, wrtW: true}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}

// rmsNormGradOp computes dx (wrtW false) or dw (wrtW true) from (x, w, dy).
type rmsNormGradOp struct {
	noDiff
	eps  float64
	wrtW bool
}

func (op *rmsNormGradOp) Arity() int { return 3 }
func (op *rmsNormGradOp) Type() hm.Type {
	if op.wrtW {
		return fnType(2, 1, 2, 1)
	}
	return fnType(2, 1, 2, 2)
}
func (op *rmsNormGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gatedpo.RMSNormGrad{%v,%t}", op.eps, op.wrtW)
}
func (op *rmsNormGradOp) Hashcode() uint32 { return hashOf(op) }
func (op *rmsNormGradOp) String() string {
	return fmt.Sprintf("RMSNormGrad{eps=%g,wrtW=%t}", op.eps, op.wrtW)
}
func (op *rmsNormGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if op.wrtW {
		return shapeOf(in[1])
	}
	return shapeOf(in[0])
}
func (op *rmsNormGradOp) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	return dispatch(in[0], func() (G.Value, error) { return rmsNormGradDo[float32](op, in) },
		func() (G.Value, error) { return rmsNormGradDo[float64](op, in) })
}

func rmsNormGradDo[T elem](op *rmsNormGradOp, in []G.Value) (G.Value, error) {
	x, err := sliceOf[T](in[0])
	if err != nil {
		return nil, err
	}
	w, err := sliceOf[T](in[1])
	if err != nil {
		return nil, err
	}
	dy, err := sliceOf[T](in[2])
	if err != nil {
		return nil, err
	}
	s := in[0].Shape()
	rows, d := s[0], s[1]
	if op.wrtW {
		// fixed blocks of lnBlockRows rows, summed in block order:
		// deterministic for any GOMAXPROCS.
		out, dw := newDense[T](d)
		blocks := (rows + lnBlockRows - 1) / lnBlockRows
		acc := make([]float64, blocks*d)
		parallelFor(blocks, func(bk int) {
			a := acc[bk*d : (bk+1)*d]
			for r := bk * lnBlockRows; r < min(rows, (bk+1)*lnBlockRows); r++ {
				xr, gr := x[r*d:(r+1)*d], dy[r*d:(r+1)*d]
				inv := rmsInv(xr, op.eps)
				for j, v := range xr {
					a[j] += float64(gr[j]) * (float64(v) * inv)
				}
			}
		})
		for j := range dw {
			var s float64
			for bk := 0; bk < blocks; bk++ {
				s += acc[bk*d+j]
			}
			dw[j] = T(s)
		}
		return out, nil
	}
	out, dx := newDense[T](rows, d)
	parallelRange(rows, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, gr, dr := x[r*d:(r+1)*d], dy[r*d:(r+1)*d], dx[r*d:(r+1)*d]
			inv := rmsInv(xr, op.eps)
			var mgx float64
			for j, v := range xr {
				mgx += float64(gr[j]) * float64(w[j]) * float64(v)
			}
			mgx /= float64(d)
			c := inv * inv * mgx
			for j, v := range xr {
				dr[j] = T(inv * (float64(gr[j])*float64(w[j]) - float64(v)*c))
			}
		}
	})
	return out, nil
}
