package models

import (
	"fmt"
	"sync/atomic"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/graph"
)

// NamedTensor is one parameter of a model: its checkpoint name and the
// tensor that holds its values (the model's own storage).
type NamedTensor struct {
	Name string
	T    *tensor.Dense
}

// LM is a language model over token ids. It owns its weights as tensors
// (one *tensor.Dense per parameter, float32 or float64). Build adds a graph
// whose parameter nodes are bound to those same tensors (shared storage), so
// several graphs — a training graph, a forward-only probe graph, graphs for
// different batch shapes — all see weight updates made in place by an
// optimizer.
type LM interface {
	// Kind is "transformer" or "mlp"; Save writes it as __metadata__["model"].
	Kind() string
	// Dtype is the element type of every weight (tensor.Float32 or Float64).
	Dtype() tensor.Dtype
	// Weights lists the parameters in checkpoint order (the order of
	// Forward.Params and of optimizer state).
	Weights() []NamedTensor
	// ConfigJSON is the model config as JSON (__metadata__["config"]).
	ConfigJSON() string
	// Build adds the forward pass over an [n, t] id matrix to g.
	Build(g *G.ExprGraph, n, t int) (*Forward, error)
	// Clone deep-copies the weights (e.g. the frozen reference model).
	Clone() LM
}

// PackedLM is an LM that can also build a packed forward: rows that hold
// one shared prefix and several segments (graph.PackLayout), so that
// sequences beginning with the same tokens compute those once. A packed
// forward gives every token of a segment the result it has in its own
// unpacked row (bit-identical in the default build). Callers use it when
// an LM implements it and fall back to Build otherwise.
type PackedLM interface {
	LM
	// BuildPacked adds the forward pass over n packed rows of t tokens to
	// g; set Forward.Layout (SetLayout) and the ids before each run. t may
	// exceed the model's position limit; the layout's position ids may not.
	BuildPacked(g *G.ExprGraph, n, t int) (*Forward, error)
}

// Forward holds the nodes one Build added to a graph.
type Forward struct {
	// Params are this graph's parameter nodes, in Weights() order.
	Params []graph.Param
	// IDs is the [n, t] input; fill it with SetIDs before each run. It
	// holds ids as floats of the model dtype.
	IDs *G.Node
	// TokenLogps is [n, t−1]: lp[:, i] = log π(ids[:, i+1] | ids[:, ≤i]).
	TokenLogps *G.Node
	// TokenLogpMax is [n, t−1]: max_v log π(v | ids[:, ≤i]); forward only
	// (G.Grad treats it as a constant).
	TokenLogpMax *G.Node
	// LogpMask, when non-nil, is the [n, t−1] input that selects the
	// positions at which TokenLogps and TokenLogpMax are computed (non-zero
	// = computed); both are exactly 0 elsewhere, and so is their gradient.
	// Build fills it with ones (every position, the values of a model
	// without it); callers that use only some positions (the response
	// tokens) set it per batch with SetLogpMask, so that the output head
	// runs on those rows only. Models whose head cannot skip rows leave
	// it nil.
	LogpMask *G.Node
	// Logits is [n·t, V]; row r is sequence r/t, position r%t. A model
	// whose TokenLogps never materialise the logits (the Hugging Face
	// models: graph.HeadTokenLogProbs) leaves it nil until LogitsNode adds
	// it, so that training graphs do not hold an [n·t, V] buffer; read the
	// logits through LogitsNode.
	Logits *G.Node
	// BuildLogits adds the logits node to the graph; set when Logits is
	// built on demand (see LogitsNode).
	BuildLogits func() (*G.Node, error)
	// Hidden is [n·t, D], the final hidden states the output head reads
	// (row r is sequence r/t, position r%t), and HeadWeight the head
	// matrix [V, D] (logits = Hidden·HeadWeightᵀ, no bias). Set by models
	// whose logits are built on demand (the Hugging Face models), so that
	// a forward-only pass can read Hidden and compute the logits of the
	// rows it needs block by block (graph.HeadLogits) instead of the full
	// [n·t, V] logits; nil otherwise.
	Hidden, HeadWeight *G.Node

	// Layout is the pack layout of a packed forward (PackedLM.BuildPacked),
	// nil otherwise. Set it (SetLayout) before each run. In a packed
	// forward, TokenLogps[:, i] and TokenLogpMax[:, i] are the log-probs of
	// the next token of the row: meaningful where tokens i and i+1 are in
	// the same segment (or both in the prefix), not across a boundary.
	Layout *graph.PackLayout

	// N and T are the batch shape the graph was built for; Vocab the
	// number of token ids.
	N, T, Vocab int
}

// SetIDs copies ids (n rows of t token ids) into the IDs input. It checks
// the shape and that every id is in [0, Vocab).
func (f *Forward) SetIDs(ids [][]int) error {
	if len(ids) != f.N {
		return fmt.Errorf("SetIDs: got %d rows, the graph was built for %d", len(ids), f.N)
	}
	for i, row := range ids {
		if len(row) != f.T {
			return fmt.Errorf("SetIDs: row %d has %d ids, the graph was built for %d", i, len(row), f.T)
		}
		for j, id := range row {
			if id < 0 || id >= f.Vocab {
				return fmt.Errorf("SetIDs: id %d at row %d, position %d is outside [0, %d)", id, i, j, f.Vocab)
			}
		}
	}
	d, ok := f.IDs.Value().(*tensor.Dense)
	if !ok {
		return fmt.Errorf("SetIDs: the IDs node holds a %T, want *tensor.Dense", f.IDs.Value())
	}
	switch data := d.Data().(type) {
	case []float64:
		for i, row := range ids {
			for j, id := range row {
				data[i*f.T+j] = float64(id)
			}
		}
	case []float32:
		for i, row := range ids {
			for j, id := range row {
				data[i*f.T+j] = float32(id)
			}
		}
	default:
		return fmt.Errorf("SetIDs: unsupported IDs dtype %v", d.Dtype())
	}
	return nil
}

// SetLogpMask sets the LogpMask input: mask holds N·(T−1) values, row
// major (position i of row r selects the prediction of token i+1, the
// layout of TokenLogps); non-zero selects. A no-op for a model without
// LogpMask, whose TokenLogps cover every position anyway.
func (f *Forward) SetLogpMask(mask []float64) error {
	if f.LogpMask == nil {
		return nil
	}
	if len(mask) != f.N*(f.T-1) {
		return fmt.Errorf("SetLogpMask: got %d values, the graph was built for %d×%d", len(mask), f.N, f.T-1)
	}
	if err := graph.SetFloat64s(f.LogpMask.Value(), mask); err != nil {
		return fmt.Errorf("SetLogpMask: %v", err)
	}
	return nil
}

// SetLayout sets the pack layout of a packed forward (graph.PackLayout.Set).
func (f *Forward) SetLayout(rows []graph.PackRow) error {
	if f.Layout == nil {
		return fmt.Errorf("SetLayout: the forward was not built packed")
	}
	return f.Layout.Set(rows)
}

// LogitsNode returns the [n·t, V] logits node, adding it to the graph on
// first use when the model builds it on demand (BuildLogits). A graph
// that never asks for it never computes the logits.
func (f *Forward) LogitsNode() (*G.Node, error) {
	if f.Logits == nil && f.BuildLogits != nil {
		l, err := f.BuildLogits()
		if err != nil {
			return nil, err
		}
		f.Logits = l
	}
	if f.Logits == nil {
		return nil, fmt.Errorf("forward: the model built no logits node")
	}
	return f.Logits, nil
}

// ParamNodes returns the parameter nodes in Weights() order.
func (f *Forward) ParamNodes() G.Nodes { return graph.ParamNodes(f.Params) }

// buildSeq numbers Builds so node names are unique within a graph: Gorgonia
// merges input nodes with equal name, type and shape, which would join the
// parameters of two models built into one graph.
var buildSeq atomic.Uint64

// NextBuildPrefix returns a node-name prefix ("kind7.") unique within the
// process, for LM implementations outside this package: Gorgonia merges
// input nodes with equal name, type and shape, so every Build must name
// its nodes apart.
func NextBuildPrefix(kind string) string { return fmt.Sprintf("%s%d.", kind, buildSeq.Add(1)) }

// bindWeights adds every weight to g under a per-Build prefix and returns
// the params plus a name → node map.
func bindWeights(g *G.ExprGraph, kind string, ws []NamedTensor) (string, []graph.Param, map[string]*G.Node) {
	prefix := fmt.Sprintf("%s%d.", kind, buildSeq.Add(1))
	ps := make([]graph.Param, len(ws))
	byName := make(map[string]*G.Node, len(ws))
	for i, w := range ws {
		n := graph.BindParam(g, prefix+w.Name, w.T)
		ps[i] = graph.Param{Name: w.Name, Node: n}
		byName[w.Name] = n
	}
	return prefix, ps, byName
}

// newIDsNode adds the [n, t] ids input (zero-filled) to g.
func newIDsNode(g *G.ExprGraph, prefix string, dt tensor.Dtype, n, t int) *G.Node {
	v := tensor.New(tensor.Of(dt), tensor.WithShape(n, t))
	return G.NewMatrix(g, dt, G.WithShape(n, t), G.WithName(prefix+"ids"), G.WithValue(v))
}

// recoverBuild turns a Gorgonia Must*-style panic during graph building
// into an error.
func recoverBuild(what string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: building the graph panicked: %v", what, r)
	}
}

// must returns x, or panics with e (Build recovers it with recoverBuild,
// so that a graph is written as one expression per line).
func must(x *G.Node, e error) *G.Node {
	if e != nil {
		panic(e)
	}
	return x
}

// cloneWeights deep-copies a weight list.
func cloneWeights(ws []NamedTensor) []NamedTensor {
	out := make([]NamedTensor, len(ws))
	for i, w := range ws {
		out[i] = NamedTensor{Name: w.Name, T: w.T.Clone().(*tensor.Dense)}
	}
	return out
}

// checkDtype accepts float32 and float64 only.
func checkDtype(dt tensor.Dtype) error {
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return fmt.Errorf("unsupported dtype %v (want tensor.Float32 or tensor.Float64)", dt)
	}
	return nil
}

// Stat adds a forward-only [n, t−1] node with one statistic of the
// next-token distribution at every position (graph.StatMaxLogProb,
// graph.StatEntropy — H(p) in nats — or graph.StatCollision — Σ_v p_v²),
// computed from Logits. Probes add it to their forward-only graph; G.Grad
// treats it as a constant. For values already read out of Logits,
// graph.RowLogitStats computes the same three in plain Go.
func (f *Forward) Stat(stat string) (*G.Node, error) {
	logits, err := f.LogitsNode()
	if err != nil {
		return nil, err
	}
	return graph.TokenLogitStat(logits, f.N, f.T, stat)
}
