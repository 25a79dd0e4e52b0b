package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// RoPESpec describes rotary position embeddings in the "rotate half"
// convention of Hugging Face's Llama, Qwen2 and GPT-NeoX code: the first
// Rot (even) of every head's HeadDim columns are rotated, the rest pass
// through; dims i and i+Rot/2 (i < Rot/2) form a pair rotated by the angle
// p·θ^(−2i/Rot) at position p.
type RoPESpec struct {
	Heads   int     // heads to rotate: column blocks [0, Heads·HeadDim) of each row
	HeadDim int     // columns per head
	Rot     int     // rotated dims per head (even, ≤ HeadDim)
	Theta   float64 // base θ (rope_theta, rotary_emb_base)
}

// RoPE rotates x [n·t, C] (row s·t+p is sequence s, position p, C ≥
// Heads·HeadDim; columns past Heads·HeadDim pass through unchanged):
//
//	x'[i]       = x[i]·cos(p·f_i) − x[i+Rot/2]·sin(p·f_i)
//	x'[i+Rot/2] = x[i+Rot/2]·cos(p·f_i) + x[i]·sin(p·f_i),  f_i = 1/θ^(2i/Rot)
//
// within every rotated head. Frequencies, angles, cos and sin are computed
// in float64 whatever the dtype. Its gradient is the inverse rotation.
func RoPE(x *G.Node, n, t int, spec RoPESpec) (*G.Node, error) {
	if err := checkRoPE(x, n, t, spec); err != nil {
		return nil, err
	}
	return G.ApplyOp(newRoPEOp(n, t, spec, false), x)
}

// checkRoPE validates RoPE's arguments.
func checkRoPE(x *G.Node, n, t int, spec RoPESpec) error {
	s := x.Shape()
	if spec.Heads < 0 || spec.HeadDim < 1 || spec.Rot < 0 || spec.Rot%2 != 0 || spec.Rot > spec.HeadDim {
		return fmt.Errorf("RoPE: invalid spec %+v (need rot even and ≤ head_dim)", spec)
	}
	if !(spec.Theta > 0) || math.IsInf(spec.Theta, 0) {
		return fmt.Errorf("RoPE: theta %v must be finite and > 0", spec.Theta)
	}
	if len(s) != 2 || s[0] != n*t || s[1] < spec.Heads*spec.HeadDim {
		return fmt.Errorf("RoPE: x shape %v, want [%d, ≥ %d]", s, n*t, spec.Heads*spec.HeadDim)
	}
	return nil
}

// RoPETable returns cos and sin [t][rot/2] of the angles p/θ^(2i/rot).
func RoPETable(t, rot int, theta float64) (cos, sin [][]float64) {
	half := rot / 2
	inv := make([]float64, half)
	for i := range inv {
		inv[i] = 1 / math.Pow(theta, float64(2*i)/float64(rot))
	}
	cos, sin = make([][]float64, t), make([][]float64, t)
	for p := 0; p < t; p++ {
		cos[p], sin[p] = make([]float64, half), make([]float64, half)
		for i, f := range inv {
			a := float64(p) * f
			cos[p][i], sin[p][i] = math.Cos(a), math.Sin(a)
		}
	}
	return cos, sin
}

// ropeOp rotates by +angle (inverse false) or −angle (inverse true, the
// transpose: the gradient of the forward rotation). Row r has position
// r % t, or, with a pack layout, the layout's position id of row r (the
// cos and sin then come from table, grown to the positions in use).
type ropeOp struct {
	pureOp
	n, t     int
	spec     RoPESpec
	inverse  bool
	cos, sin [][]float64
	layout   *PackLayout
	table    *ropeTable
}

// ropeTable is RoPETable grown on demand (packed rows: the positions in
// use change from run to run); its rows are RoPETable's whatever its size.
type ropeTable struct {
	rot      int
	theta    float64
	cos, sin [][]float64
}

// upTo returns cos and sin covering positions [0, n).
func (tb *ropeTable) upTo(n int) (cos, sin [][]float64) {
	if len(tb.cos) < n {
		tb.cos, tb.sin = RoPETable(max(n, 2*len(tb.cos)), tb.rot, tb.theta)
	}
	return tb.cos, tb.sin
}

func newRoPEOp(n, t int, spec RoPESpec, inverse bool) *ropeOp {
	c, s := RoPETable(t, spec.Rot, spec.Theta)
	return &ropeOp{n: n, t: t, spec: spec, inverse: inverse, cos: c, sin: s}
}

func (op *ropeOp) Arity() int    { return 1 }
func (op *ropeOp) Type() hm.Type { return fnType(2, 2) }
func (op *ropeOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gatedpo.RoPE{%d,%d,%d,%d,%d,%v,%t}", op.n, op.t, op.spec.Heads, op.spec.HeadDim, op.spec.Rot, op.spec.Theta, op.inverse)
	if op.layout != nil {
		fmt.Fprintf(h, "L%d", op.layout.id)
	}
}
func (op *ropeOp) Hashcode() uint32 { return hashOf(op) }
func (op *ropeOp) String() string {
	if op.layout != nil {
		return fmt.Sprintf("PackedRoPE{heads=%d,hd=%d,rot=%d,theta=%g,inverse=%t}", op.spec.Heads, op.spec.HeadDim, op.spec.Rot, op.spec.Theta, op.inverse)
	}
	return fmt.Sprintf("RoPE{heads=%d,hd=%d,rot=%d,theta=%g,inverse=%t}", op.spec.Heads, op.spec.HeadDim, op.spec.Rot, op.spec.Theta, op.inverse)
}
func (op *ropeOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return elementwiseShape(op, in)
}
func (op *ropeOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, ropeDo[float32], ropeDo[float64])
}

func ropeDo[T elem](op *ropeOp, in []G.Value) (G.Value, error) {
	v := in[0]
	if s := v.Shape(); len(s) != 2 || s[0] != op.n*op.t || s[1] < op.spec.Heads*op.spec.HeadDim {
		return nil, fmt.Errorf("%v: input shape %v, want [%d, ≥ %d]", op, s, op.n*op.t, op.spec.Heads*op.spec.HeadDim)
	}
	x, err := sliceOf[T](v)
	if err != nil {
		return nil, err
	}
	s := v.Shape()
	rows, c := s[0], s[1]
	cosT, sinT := op.cos, op.sin
	var pos []int
	if op.layout != nil {
		if err := op.layout.check(op.String(), op.n, op.t); err != nil {
			return nil, err
		}
		pos = op.layout.pos
		cosT, sinT = op.table.upTo(op.layout.maxUsedPos + 1)
	}
	out, y := reuseDense[T](&op.outBufs, 0, rows, c)
	copy(y, x)
	half, hd := op.spec.Rot/2, op.spec.HeadDim
	sign := 1.0
	if op.inverse {
		sign = -1
	}
	parallelRange(rows, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			p := r % op.t
			if pos != nil {
				p = pos[r]
			}
			cs, sn := cosT[p], sinT[p]
			for h := 0; h < op.spec.Heads; h++ {
				xr := x[r*c+h*hd : r*c+h*hd+op.spec.Rot]
				yr := y[r*c+h*hd : r*c+h*hd+op.spec.Rot]
				for i := 0; i < half; i++ {
					a, b := float64(xr[i]), float64(xr[i+half])
					si := sign * sn[i]
					yr[i] = T(a*cs[i] - b*si)
					yr[i+half] = T(b*cs[i] + a*si)
				}
			}
		}
	})
	return out, nil
}

func (op *ropeOp) DiffWRT(int) []bool { return []bool{true} }

// SymDiff: the rotation is orthogonal, so dx = R(−angle)·dy.
func (op *ropeOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	inv := &ropeOp{n: op.n, t: op.t, spec: op.spec, inverse: !op.inverse, cos: op.cos, sin: op.sin, layout: op.layout, table: op.table}
	d, err := G.ApplyOp(inv, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}
