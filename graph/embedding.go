package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Token ids travel through graphs as float values of the model's dtype (an
// [n, t] matrix; exact for ids below 2^24 in float32), so that every node
// of a model graph has one dtype. SetIDs-style helpers convert from ints.

// Embedding looks up rows of table [V, E] for the ids matrix [n, t]:
// a [n·t, E] node whose row s·t+p is table[ids[s, p]]. The gradient
// scatter-adds into the table rows (ids get none).
func Embedding(table, ids *G.Node) (*G.Node, error) {
	return WindowEmbedding(table, ids, 1, 0)
}

// WindowEmbedding is the fixed-window lookup of the MLP language model:
// row s·t+p of the [n·t, k·E] result is the concatenation of the embeddings
// of ids[s, p−k+1], …, ids[s, p] (oldest first); positions before the start
// of the row use padID. k = 1 is a plain Embedding.
func WindowEmbedding(table, ids *G.Node, k, padID int) (*G.Node, error) {
	if k < 1 {
		return nil, fmt.Errorf("WindowEmbedding: window %d < 1", k)
	}
	return G.ApplyOp(&embedOp{k: k, pad: padID}, table, ids)
}

// PositionEmbedding returns the [n·t, D] node whose row s·t+p is
// table[p] for a positional table [Tmax, D] (t ≤ Tmax).
func PositionEmbedding(table *G.Node, n, t int) (*G.Node, error) {
	if t > table.Shape()[0] {
		return nil, fmt.Errorf("PositionEmbedding: sequence length %d exceeds the table's %d positions", t, table.Shape()[0])
	}
	return G.ApplyOp(&positionOp{n: n, t: t}, table)
}

// idAt reads an id stored as a float and checks it is a valid index.
func idAt[T elem](ids []T, i, vocab int) (int, error) {
	v := float64(ids[i])
	id := int(v)
	if float64(id) != v || id < 0 || id >= vocab || math.IsNaN(v) {
		return 0, fmt.Errorf("id %v at flat position %d is not an integer in [0, %d)", v, i, vocab)
	}
	return id, nil
}

// embedOp: (table [V,E], ids [n,t]) -> [n·t, k·E].
type embedOp struct {
	pureOp
	k, pad int
}

func (op *embedOp) Arity() int            { return 2 }
func (op *embedOp) Type() hm.Type         { return fnType(2, 2, 2) }
func (op *embedOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gatedpo.Embed{%d,%d}", op.k, op.pad) }
func (op *embedOp) Hashcode() uint32      { return hashOf(op) }
func (op *embedOp) String() string        { return fmt.Sprintf("Embedding{window=%d,pad=%d}", op.k, op.pad) }
func (op *embedOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	tab, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	ids, err := shapeOf(in[1])
	if err != nil {
		return nil, err
	}
	if len(tab) != 2 || len(ids) != 2 {
		return nil, fmt.Errorf("Embedding: want table [V,E] and ids [n,t], got %v and %v", tab, ids)
	}
	return tensor.Shape{ids[0] * ids[1], op.k * tab[1]}, nil
}
func (op *embedOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, embedDo[float32], embedDo[float64])
}

// windowID returns the id feeding slot j of position p in row s.
func (op *embedOp) windowID(ids []float64, s, p, t, j int) int {
	q := p - (op.k - 1) + j
	if q < 0 {
		return op.pad
	}
	return int(ids[s*t+q])
}

// checkedIDs validates the ids and returns them as float64.
func checkedIDs[T elem](v G.Value, vocab int) ([]float64, error) {
	raw, err := sliceOf[T](v)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(raw))
	for i := range raw {
		id, err := idAt(raw, i, vocab)
		if err != nil {
			return nil, err
		}
		out[i] = float64(id)
	}
	return out, nil
}

func embedDo[T elem](op *embedOp, in []G.Value) (G.Value, error) {
	tab, err := sliceOf[T](in[0])
	if err != nil {
		return nil, err
	}
	vocab, e := in[0].Shape()[0], in[0].Shape()[1]
	ids, err := checkedIDs[T](in[1], vocab)
	if err != nil {
		return nil, fmt.Errorf("Embedding: %v", err)
	}
	if op.pad < 0 || op.pad >= vocab {
		return nil, fmt.Errorf("Embedding: pad id %d outside [0, %d)", op.pad, vocab)
	}
	n, t := in[1].Shape()[0], in[1].Shape()[1]
	width := op.k * e
	out, y := reuseDense[T](&op.outBufs, 0, n*t, width)
	for s := 0; s < n; s++ {
		for p := 0; p < t; p++ {
			row := y[(s*t+p)*width : (s*t+p+1)*width]
			for j := 0; j < op.k; j++ {
				id := op.windowID(ids, s, p, t, j)
				copy(row[j*e:(j+1)*e], tab[id*e:(id+1)*e])
			}
		}
	}
	return out, nil
}

func (op *embedOp) DiffWRT(int) []bool { return []bool{true, false} }
func (op *embedOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dt, err := G.ApplyOp(&embedGradOp{fwd: *op, vocab: in[0].Shape()[0]}, in[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dt, nil}, nil
}

// embedGradOp: (ids [n,t], dy [n·t, k·E]) -> dtable [V, E], scatter-add.
type embedGradOp struct {
	pureOp
	fwd   embedOp
	vocab int
}

func (op *embedGradOp) Arity() int    { return 2 }
func (op *embedGradOp) Type() hm.Type { return fnType(2, 2, 2) }
func (op *embedGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gatedpo.EmbedGrad{%d,%d,%d}", op.fwd.k, op.fwd.pad, op.vocab)
}
func (op *embedGradOp) Hashcode() uint32 { return hashOf(op) }
func (op *embedGradOp) String() string   { return fmt.Sprintf("EmbeddingGrad{window=%d}", op.fwd.k) }
func (op *embedGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	dy, err := shapeOf(in[1])
	if err != nil {
		return nil, err
	}
	return tensor.Shape{op.vocab, dy[1] / op.fwd.k}, nil
}
func (op *embedGradOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, embedGradDo[float32], embedGradDo[float64]) // ids and dy share the model's dtype
}
func embedGradDo[T elem](op *embedGradOp, in []G.Value) (G.Value, error) {
	ids, err := checkedIDs[T](in[0], op.vocab)
	if err != nil {
		return nil, fmt.Errorf("EmbeddingGrad: %v", err)
	}
	dy, err := sliceOf[T](in[1])
	if err != nil {
		return nil, err
	}
	n, t := in[0].Shape()[0], in[0].Shape()[1]
	width := in[1].Shape()[1]
	e := width / op.fwd.k
	out, dt := reuseZeroDense[T](&op.outBufs, 0, op.vocab, e)
	for s := 0; s < n; s++ {
		for p := 0; p < t; p++ {
			row := dy[(s*t+p)*width : (s*t+p+1)*width]
			for j := 0; j < op.fwd.k; j++ {
				id := op.fwd.windowID(ids, s, p, t, j)
				dst := dt[id*e : (id+1)*e]
				for c, g := range row[j*e : (j+1)*e] {
					dst[c] += g
				}
			}
		}
	}
	return out, nil
}

// positionOp: (table [Tmax, D]) -> [n·t, D], row s·t+p = table[p].
// With grad set: (dy [n·t, D]) -> [Tmax, D] (rows ≥ t are zero).
//
// With a pack layout, row i uses the layout's position id pos_i instead
// of i % t (and the gradient scatters by it).
type positionOp struct {
	pureOp
	n, t   int
	tmax   int // grad only
	grad   bool
	layout *PackLayout
}

func (op *positionOp) Arity() int    { return 1 }
func (op *positionOp) Type() hm.Type { return fnType(2, 2) }
func (op *positionOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gatedpo.Position{%d,%d,%d,%t}", op.n, op.t, op.tmax, op.grad)
	if op.layout != nil {
		fmt.Fprintf(h, "L%d", op.layout.id)
	}
}
func (op *positionOp) Hashcode() uint32 { return hashOf(op) }
func (op *positionOp) String() string {
	return fmt.Sprintf("PositionEmbedding{n=%d,t=%d,grad=%t}", op.n, op.t, op.grad)
}
func (op *positionOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	if op.grad {
		return tensor.Shape{op.tmax, s[1]}, nil
	}
	return tensor.Shape{op.n * op.t, s[1]}, nil
}
func (op *positionOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, positionDo[float32], positionDo[float64])
}
func positionDo[T elem](op *positionOp, in []G.Value) (G.Value, error) {
	v := in[0]
	x, err := sliceOf[T](v)
	if err != nil {
		return nil, err
	}
	d := v.Shape()[1]
	if op.layout != nil {
		return packedPositionDo(op, x, d)
	}
	if op.grad {
		out, y := reuseZeroDense[T](&op.outBufs, 0, op.tmax, d)
		for s := 0; s < op.n; s++ {
			for p := 0; p < op.t; p++ {
				src := x[(s*op.t+p)*d : (s*op.t+p+1)*d]
				dst := y[p*d : (p+1)*d]
				for j, g := range src {
					dst[j] += g
				}
			}
		}
		return out, nil
	}
	out, y := reuseDense[T](&op.outBufs, 0, op.n*op.t, d)
	for s := 0; s < op.n; s++ {
		copy(y[s*op.t*d:(s+1)*op.t*d], x[:op.t*d])
	}
	return out, nil
}
func (op *positionOp) DiffWRT(int) []bool { return []bool{true} }
func (op *positionOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if op.grad {
		return nil, fmt.Errorf("PositionEmbeddingGrad: second-order gradients are not supported")
	}
	d, err := G.ApplyOp(&positionOp{n: op.n, t: op.t, tmax: in[0].Shape()[0], grad: true, layout: op.layout}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

// packedPositionDo is positionDo with the position ids of op.layout: row i
// is table[pos_i]; the gradient adds row i of dy into row pos_i.
func packedPositionDo[T elem](op *positionOp, x []T, d int) (G.Value, error) {
	if err := op.layout.check(op.String(), op.n, op.t); err != nil {
		return nil, err
	}
	pos := op.layout.pos
	if op.grad {
		out, y := reuseZeroDense[T](&op.outBufs, 0, op.tmax, d)
		for i, p := range pos {
			src := x[i*d : (i+1)*d]
			dst := y[p*d : (p+1)*d]
			for j, g := range src {
				dst[j] += g
			}
		}
		return out, nil
	}
	out, y := reuseDense[T](&op.outBufs, 0, op.n*op.t, d)
	for i, p := range pos {
		copy(y[i*d:(i+1)*d], x[p*d:(p+1)*d])
	}
	return out, nil
}
