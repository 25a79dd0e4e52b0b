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

// LayerNorm normalises each row of x [R, D] over its D features and applies
// the affine map: y = (x − mean)/sqrt(var + eps)·w + b with the biased
// variance (as PyTorch's LayerNorm). w and b are [D]. It is one fused op
// with a hand-written gradient (Gorgonia's InverseSqrt has a wrong
// gradient, and a composed LayerNorm costs ~10 broadcast ops).
func LayerNorm(x, w, b *G.Node, eps float64) (*G.Node, error) {
	return G.ApplyOp(&layerNormOp{eps: eps}, x, w, b)
}

// layerNormOp is the fused forward.
type layerNormOp struct{ eps float64 }

func (op *layerNormOp) Arity() int            { return 3 }
func (op *layerNormOp) Type() hm.Type         { return fnType(2, 1, 1, 2) }
func (op *layerNormOp) ReturnsPtr() bool      { return false }
func (op *layerNormOp) CallsExtern() bool     { return false }
func (op *layerNormOp) OverwritesInput() int  { return -1 }
func (op *layerNormOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gatedpo.LayerNorm{%v}", op.eps) }
func (op *layerNormOp) Hashcode() uint32      { return hashOf(op) }
func (op *layerNormOp) String() string        { return fmt.Sprintf("LayerNorm{eps=%g}", op.eps) }

func (op *layerNormOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	x, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	if len(x) != 2 {
		return nil, fmt.Errorf("LayerNorm: want x of rank 2, got %v", x)
	}
	for _, p := range in[1:] {
		s, err := shapeOf(p)
		if err != nil {
			return nil, err
		}
		if s.TotalSize() != x[1] {
			return nil, fmt.Errorf("LayerNorm: x %v needs weight and bias of size %d, got %v", x, x[1], s)
		}
	}
	return x.Clone(), nil
}

func (op *layerNormOp) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	return dispatch(in[0], func() (G.Value, error) { return layerNormDo[float32](op.eps, in) },
		func() (G.Value, error) { return layerNormDo[float64](op.eps, in) })
}

// rowStats returns the mean and the standard deviation sqrt(var + eps) of
// one row, accumulated in float64 (two passes; four partial sums each, so
// the additions do not wait on one another).
func rowStats[T elem](x []T, eps float64) (mean, std float64) {
	var s0, s1, s2, s3 float64
	n := len(x) &^ 3
	for j := 0; j < n; j += 4 {
		v := x[j : j+4 : j+4]
		s0 += float64(v[0])
		s1 += float64(v[1])
		s2 += float64(v[2])
		s3 += float64(v[3])
	}
	for _, v := range x[n:] {
		s0 += float64(v)
	}
	mean = ((s0 + s1) + (s2 + s3)) / float64(len(x))
	var q0, q1, q2, q3 float64
	for j := 0; j < n; j += 4 {
		v := x[j : j+4 : j+4]
		d0, d1, d2, d3 := float64(v[0])-mean, float64(v[1])-mean, float64(v[2])-mean, float64(v[3])-mean
		q0 += d0 * d0
		q1 += d1 * d1
		q2 += d2 * d2
		q3 += d3 * d3
	}
	for _, v := range x[n:] {
		d := float64(v) - mean
		q0 += d * d
	}
	return mean, math.Sqrt(((q0+q1)+(q2+q3))/float64(len(x)) + eps)
}

func layerNormDo[T elem](eps float64, in []G.Value) (G.Value, error) {
	x, err := sliceOf[T](in[0])
	if err != nil {
		return nil, err
	}
	w, err := sliceOf[T](in[1])
	if err != nil {
		return nil, err
	}
	b, err := sliceOf[T](in[2])
	if err != nil {
		return nil, err
	}
	s := in[0].Shape()
	rows, d := s[0], s[1]
	out, y := newDense[T](rows, d)
	if x32, ok := any(x).([]float32); ok { // float32: blasvec's 8-lane row kernels
		y32, w32, b32 := any(y).([]float32), any(w).([]float32), any(b).([]float32)
		parallelRange(rows, 64, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				xr := x32[r*d : (r+1)*d]
				mean, std := blasvec.LayerNormStats32(xr, eps)
				blasvec.LayerNormRow32(y32[r*d:(r+1)*d], xr, w32, b32, float32(mean), float32(1/std))
			}
		})
		return out, nil
	}
	parallelRange(rows, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*d:(r+1)*d], y[r*d:(r+1)*d]
			mean, std := rowStats(xr, eps)
			inv := 1 / std
			for j, v := range xr {
				yr[j] = T((float64(v)-mean)*inv*float64(w[j]) + float64(b[j]))
			}
		}
	})
	return out, nil
}

// lnBlockRows is the number of rows per partial sum of the LayerNorm
// weight gradient.
const lnBlockRows = 128

func (op *layerNormOp) DiffWRT(int) []bool { return []bool{true, true, true} }

// SymDiff of y = x̂·w + b with x̂ = (x − μ)/σ, σ = sqrt(var + eps), per row:
//
//	g  = dy·w
//	dx = (g − mean(g) − x̂·mean(g·x̂)) / σ
//	dw = Σ_rows dy·x̂,   db = Σ_rows dy
func (op *layerNormOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&layerNormGradOp{eps: op.eps, wrtW: false}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(&layerNormGradOp{eps: op.eps, wrtW: true}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	db, err := ColSum(grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw, db}, nil
}

// layerNormGradOp computes dx (wrtW false) or dw (wrtW true) from
// (x, w, dy).
type layerNormGradOp struct {
	noDiff
	eps  float64
	wrtW bool
}

func (op *layerNormGradOp) Arity() int { return 3 }
func (op *layerNormGradOp) Type() hm.Type {
	if op.wrtW {
		return fnType(2, 1, 2, 1)
	}
	return fnType(2, 1, 2, 2)
}
func (op *layerNormGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gatedpo.LayerNormGrad{%v,%t}", op.eps, op.wrtW)
}
func (op *layerNormGradOp) Hashcode() uint32 { return hashOf(op) }
func (op *layerNormGradOp) String() string {
	return fmt.Sprintf("LayerNormGrad{eps=%g,wrtW=%t}", op.eps, op.wrtW)
}
func (op *layerNormGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if op.wrtW {
		return shapeOf(in[1])
	}
	return shapeOf(in[0])
}
func (op *layerNormGradOp) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	return dispatch(in[0], func() (G.Value, error) { return layerNormGradDo[float32](op, in) },
		func() (G.Value, error) { return layerNormGradDo[float64](op, in) })
}

func layerNormGradDo[T elem](op *layerNormGradOp, in []G.Value) (G.Value, error) {
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
		// Σ over rows in fixed blocks of lnBlockRows rows, in parallel, then
		// the block sums in block order: deterministic for any GOMAXPROCS.
		out, dw := newDense[T](in[1].Shape().Clone()...)
		blocks := (rows + lnBlockRows - 1) / lnBlockRows
		acc := make([]float64, blocks*d)
		parallelFor(blocks, func(bk int) {
			a := acc[bk*d : (bk+1)*d]
			for r := bk * lnBlockRows; r < min(rows, (bk+1)*lnBlockRows); r++ {
				xr, gr := x[r*d:(r+1)*d], dy[r*d:(r+1)*d]
				mean, std := rowStats(xr, op.eps)
				inv := 1 / std
				for j, v := range xr {
					a[j] += float64(gr[j]) * ((float64(v) - mean) * inv)
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
	if x32, ok := any(x).([]float32); ok { // float32: blasvec's 8-lane row kernels
		dx32, w32, dy32 := any(dx).([]float32), any(w).([]float32), any(dy).([]float32)
		parallelRange(rows, 64, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				xr := x32[r*d : (r+1)*d]
				mean, std := blasvec.LayerNormStats32(xr, op.eps)
				blasvec.LayerNormGradRow32(dx32[r*d:(r+1)*d], xr, w32, dy32[r*d:(r+1)*d], float32(mean), float32(1/std))
			}
		})
		return out, nil
	}
	parallelRange(rows, 64, func(lo, hi int) {
		xhat := make([]float64, d)
		g := make([]float64, d)
		for r := lo; r < hi; r++ {
			xr, gr, dr := x[r*d:(r+1)*d], dy[r*d:(r+1)*d], dx[r*d:(r+1)*d]
			mean, std := rowStats(xr, op.eps)
			inv := 1 / std
			var mg, mgx float64
			for j, v := range xr {
				xhat[j] = (float64(v) - mean) * inv
				g[j] = float64(gr[j]) * float64(w[j])
				mg += g[j]
				mgx += g[j] * xhat[j]
			}
			mg /= float64(d)
			mgx /= float64(d)
			for j := range dr {
				dr[j] = T((g[j] - mg - xhat[j]*mgx) * inv)
			}
		}
	})
	return out, nil
}
