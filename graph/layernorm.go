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
type layerNormOp struct {
	pureOp
	eps float64
}

func (op *layerNormOp) Arity() int            { return 3 }
func (op *layerNormOp) Type() hm.Type         { return fnType(2, 1, 1, 2) }
func (op *layerNormOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gatedpo.LayerNorm{%v}", op.eps) }
func (op *layerNormOp) Hashcode() uint32      { return hashOf(op) }
func (op *layerNormOp) String() string        { return fmt.Sprintf("LayerNorm{eps=%g}", op.eps) }
func (op *layerNormOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return normShape("LayerNorm", in)
}
func (op *layerNormOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, layerNormDo[float32], layerNormDo[float64])
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

func layerNormDo[T elem](op *layerNormOp, in []G.Value) (G.Value, error) {
	ps, err := slicesOf[T](in...)
	if err != nil {
		return nil, err
	}
	x, w, b, eps := ps[0], ps[1], ps[2], op.eps
	s := in[0].Shape()
	rows, d := s[0], s[1]
	out, y := reuseDense[T](&op.outBufs, 0, rows, d)
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

func (op *layerNormOp) DiffWRT(int) []bool { return []bool{true, true, true} }

// SymDiff of y = x̂·w + b with x̂ = (x − μ)/σ, σ = sqrt(var + eps), per row:
//
//	g  = dy·w
//	dx = (g − mean(g) − x̂·mean(g·x̂)) / σ
//	dw = Σ_rows dy·x̂,   db = Σ_rows dy
func (op *layerNormOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, dw, err := normGrads("LayerNorm", op.eps, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	db, err := ColSum(grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw, db}, nil
}

// layerNormAddDW adds one row's term dy·x̂ of the weight gradient into acc.
func layerNormAddDW[T elem](acc []float64, xr, gr []T, eps float64) {
	mean, std := rowStats(xr, eps)
	inv := 1 / std
	for j, v := range xr {
		acc[j] += float64(gr[j]) * ((float64(v) - mean) * inv)
	}
}

// layerNormDX writes dx = (g − mean(g) − x̂·mean(g·x̂))/σ, g = dy·w, row by
// row. (RMSNorm's rmsNormDX has no mean term and no x̂: kept apart.)
func layerNormDX[T elem](dx, x, w, dy []T, rows, d int, eps float64) {
	if x32, ok := any(x).([]float32); ok { // float32: blasvec's 8-lane row kernels
		dx32, w32, dy32 := any(dx).([]float32), any(w).([]float32), any(dy).([]float32)
		parallelRange(rows, 64, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				xr := x32[r*d : (r+1)*d]
				mean, std := blasvec.LayerNormStats32(xr, eps)
				blasvec.LayerNormGradRow32(dx32[r*d:(r+1)*d], xr, w32, dy32[r*d:(r+1)*d], float32(mean), float32(1/std))
			}
		})
		return
	}
	parallelRange(rows, 64, func(lo, hi int) {
		xhat := make([]float64, d)
		g := make([]float64, d)
		for r := lo; r < hi; r++ {
			xr, gr, dr := x[r*d:(r+1)*d], dy[r*d:(r+1)*d], dx[r*d:(r+1)*d]
			mean, std := rowStats(xr, eps)
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
}
