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
	pureOp
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

func (op *permuteOp) Arity() int    { return 1 }
func (op *permuteOp) Type() hm.Type { return elementwiseType(1) }
func (op *permuteOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gatedpo.PermuteRows{%d,%x}", len(op.perm), op.sum)
}
func (op *permuteOp) Hashcode() uint32 { return hashOf(op) }
func (op *permuteOp) String() string   { return fmt.Sprintf("PermuteRows{%d}", len(op.perm)) }
func (op *permuteOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return elementwiseShape(op, in)
}
func (op *permuteOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, permuteDo[float32], permuteDo[float64])
}
func permuteDo[T elem](op *permuteOp, in []G.Value) (G.Value, error) {
	v := in[0]
	if s := v.Shape(); len(s) < 1 || s[0] != len(op.perm) {
		return nil, fmt.Errorf("%v: input shape %v", op, s)
	}
	x, err := sliceOf[T](v)
	if err != nil {
		return nil, err
	}
	s := v.Shape().Clone()
	c := 1
	if len(s) == 2 {
		c = s[1]
	}
	out, y := reuseDense[T](&op.outBufs, 0, s...)
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
