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
type rmsNormOp struct {
	pureOp
	eps float64
}

func (op *rmsNormOp) Arity() int            { return 2 }
func (op *rmsNormOp) Type() hm.Type         { return fnType(2, 1, 2) }
func (op *rmsNormOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gatedpo.RMSNorm{%v}", op.eps) }
func (op *rmsNormOp) Hashcode() uint32      { return hashOf(op) }
func (op *rmsNormOp) String() string        { return fmt.Sprintf("RMSNorm{eps=%g}", op.eps) }
func (op *rmsNormOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return normShape("RMSNorm", in)
}
func (op *rmsNormOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, rmsNormDo[float32], rmsNormDo[float64])
}

// rmsInv returns 1/sqrt(mean(x²) + eps) of one row, in float64.
func rmsInv[T elem](x []T, eps float64) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return 1 / math.Sqrt(s/float64(len(x))+eps)
}

func rmsNormDo[T elem](op *rmsNormOp, in []G.Value) (G.Value, error) {
	ps, err := slicesOf[T](in...)
	if err != nil {
		return nil, err
	}
	x, w, eps := ps[0], ps[1], op.eps
	s := in[0].Shape()
	rows, d := s[0], s[1]
	out, y := reuseDense[T](&op.outBufs, 0, rows, d)
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
	dx, dw, err := normGrads("RMSNorm", op.eps, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}

// rmsNormAddDW adds one row's term dy ⊙ x·ρ of the weight gradient into acc.
func rmsNormAddDW[T elem](acc []float64, xr, gr []T, eps float64) {
	inv := rmsInv(xr, eps)
	for j, v := range xr {
		acc[j] += float64(gr[j]) * (float64(v) * inv)
	}
}

// rmsNormDX writes dx = ρ·(g − x·ρ²·mean(g ⊙ x)), g = dy ⊙ w, row by row.
// (LayerNorm's layerNormDX also subtracts mean(g) and works on x̂: kept
// apart.)
func rmsNormDX[T elem](dx, x, w, dy []T, rows, d int, eps float64) {
	parallelRange(rows, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, gr, dr := x[r*d:(r+1)*d], dy[r*d:(r+1)*d], dx[r*d:(r+1)*d]
			inv := rmsInv(xr, eps)
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
}
