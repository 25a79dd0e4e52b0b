package models

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/graph"
)

// TransformerConfig sizes the GPT-style transformer pinned by
// shared/spec/transformer.md. Its JSON form is the checkpoint's
// __metadata__["config"], the same keys the PyTorch peer reads.
type TransformerConfig struct {
	VocabSize int     `json:"vocab_size"`  // V: token ids are 0 … V−1 (0 is the pad id)
	DModel    int     `json:"d_model"`     // D: residual width; must be divisible by NHeads
	NHeads    int     `json:"n_heads"`     // H: attention heads of size D/H
	NLayers   int     `json:"n_layers"`    // L: transformer blocks
	MaxSeqLen int     `json:"max_seq_len"` // Tmax: rows of pos_emb; Build's t must be ≤ Tmax
	LNEps     float64 `json:"ln_eps"`      // LayerNorm epsilon; the spec pins 1e-5
}

// Validate reports the first problem with the config, sizes above the
// limits of limits.go included.
func (c TransformerConfig) Validate() error {
	switch {
	case c.VocabSize < 2:
		return fmt.Errorf("transformer config: vocab_size %d < 2", c.VocabSize)
	case c.DModel < 1 || c.NHeads < 1 || c.DModel%c.NHeads != 0:
		return fmt.Errorf("transformer config: d_model %d must be a positive multiple of n_heads %d", c.DModel, c.NHeads)
	case c.NLayers < 0:
		return fmt.Errorf("transformer config: n_layers %d < 0", c.NLayers)
	case c.MaxSeqLen < 2:
		return fmt.Errorf("transformer config: max_seq_len %d < 2", c.MaxSeqLen)
	case !(c.LNEps > 0):
		return fmt.Errorf("transformer config: ln_eps %v must be > 0", c.LNEps)
	}
	return checkTransformerLimits(c)
}

// Transformer is the pre-LayerNorm GPT of shared/spec/transformer.md: token
// and learned position embeddings, NLayers blocks of causal multi-head
// attention and a tanh-GELU MLP (width 4D), a final LayerNorm and an untied
// lm_head; no biases except LayerNorm's, no dropout. Linear weights are
// stored [out, in] (PyTorch layout, y = x·Wᵀ).
type Transformer struct{ lmBase[TransformerConfig] }

// transformerShapes lists every parameter's name and shape in checkpoint
// order (the peer's named_parameters order).
func transformerShapes(c TransformerConfig) []paramShape {
	type ps = paramShape
	d := c.DModel
	out := []ps{{"tok_emb", []int{c.VocabSize, d}}, {"pos_emb", []int{c.MaxSeqLen, d}}}
	for i := 0; i < c.NLayers; i++ {
		b := fmt.Sprintf("blocks.%d.", i)
		out = append(out,
			ps{b + "ln1.weight", []int{d}}, ps{b + "ln1.bias", []int{d}},
			ps{b + "attn.wq", []int{d, d}}, ps{b + "attn.wk", []int{d, d}},
			ps{b + "attn.wv", []int{d, d}}, ps{b + "attn.wo", []int{d, d}},
			ps{b + "ln2.weight", []int{d}}, ps{b + "ln2.bias", []int{d}},
			ps{b + "mlp.w1", []int{4 * d, d}}, ps{b + "mlp.w2", []int{d, 4 * d}})
	}
	return append(out, ps{"ln_f.weight", []int{d}}, ps{"ln_f.bias", []int{d}}, ps{"lm_head", []int{c.VocabSize, d}})
}

// isLNWeight/isLNBias recognise LayerNorm affine parameters by name.
func isLNWeight(name string) bool { return hasSuffix(name, "ln1.weight", "ln2.weight", "ln_f.weight") }
func isLNBias(name string) bool   { return hasSuffix(name, ".bias") }

func hasSuffix(s string, sufs ...string) bool {
	for _, f := range sufs {
		if len(s) >= len(f) && s[len(s)-len(f):] == f {
			return true
		}
	}
	return false
}

// NewTransformer allocates a transformer and initialises it GPT-2 style,
// as the peer's init_weights(scheme="gpt2"): every matrix (embeddings,
// attention, MLP, lm_head) ~ N(0, 0.02²), LayerNorm weights 1 and biases 0.
// Draws come from graph.NewRNG(seed) (PCG), parameter by parameter in
// checkpoint order, row-major; the same seed gives bit-identical weights.
func NewTransformer(cfg TransformerConfig, dt tensor.Dtype, seed uint64) (*Transformer, error) {
	m, err := newTransformerZero(cfg, dt)
	if err != nil {
		return nil, err
	}
	rng := graph.NewRNG(seed)
	for _, w := range m.weights {
		switch {
		case isLNWeight(w.Name):
			graph.FillConst(w.T, 1)
		case isLNBias(w.Name):
			graph.FillConst(w.T, 0)
		default:
			graph.FillNormal(w.T, rng, 0, 0.02)
		}
	}
	return m, nil
}

// newTransformerZero allocates zeroed weights.
func newTransformerZero(cfg TransformerConfig, dt tensor.Dtype) (*Transformer, error) {
	b, err := newBase("transformer", cfg, dt, transformerShapes)
	if err != nil {
		return nil, err
	}
	return &Transformer{b}, nil
}

var _ PackedLM = (*Transformer)(nil)

// Config returns the model's config.
func (m *Transformer) Config() TransformerConfig { return m.cfg }

// Kind returns "transformer".
func (m *Transformer) Kind() string { return "transformer" }

// Clone deep-copies the model.
func (m *Transformer) Clone() LM {
	return &Transformer{m.clone()}
}

// Build adds the forward pass over ids [n, t] (t ≤ MaxSeqLen) to g.
func (m *Transformer) Build(g *G.ExprGraph, n, t int) (f *Forward, err error) {
	defer recoverBuild("transformer", &err)
	if err := checkBatch("transformer", n, t, m.cfg.MaxSeqLen); err != nil {
		return nil, err
	}
	return m.build(g, n, t, nil)
}

// BuildPacked adds the forward pass over n packed rows of t tokens to g
// (graph.PackLayout; t may exceed MaxSeqLen, the layout's position ids
// may not): the position embedding and the attention follow the layout
// set with Forward.SetLayout before each run.
func (m *Transformer) BuildPacked(g *G.ExprGraph, n, t int) (f *Forward, err error) {
	defer recoverBuild("transformer", &err)
	if n < 1 || t < 2 {
		return nil, fmt.Errorf("transformer: packed batch [%d, %d] invalid (need n ≥ 1 and t ≥ 2)", n, t)
	}
	layout, err := graph.NewPackLayout(n, t, m.cfg.MaxSeqLen)
	if err != nil {
		return nil, fmt.Errorf("transformer: %v", err)
	}
	return m.build(g, n, t, layout)
}

// build adds the forward pass, packed when layout is set.
func (m *Transformer) build(g *G.ExprGraph, n, t int, layout *graph.PackLayout) (*Forward, error) {
	c := m.cfg
	prefix, params, w := bindWeights(g, m.Kind(), m.weights)
	ids := newIDsNode(g, prefix, m.dt, n, t)
	tok := must(graph.Embedding(w["tok_emb"], ids)) // (n·t, D)
	var pos *G.Node                                 // (n·t, D)
	if layout != nil {
		pos = must(graph.PackedPositionEmbedding(w["pos_emb"], layout))
	} else {
		pos = must(graph.PositionEmbedding(w["pos_emb"], n, t))
	}
	x := must(G.Add(tok, pos)) // (n·t, D)
	dh := c.DModel / c.NHeads
	attn := graph.AttentionSpec{Heads: c.NHeads, KVHeads: c.NHeads, HeadDim: dh, Scale: 1 / math.Sqrt(float64(dh))}
	for i := 0; i < c.NLayers; i++ {
		b := fmt.Sprintf("blocks.%d.", i)
		a := must(graph.LayerNorm(x, w[b+"ln1.weight"], w[b+"ln1.bias"], c.LNEps))     // (n·t, D)
		wqkv := must(graph.ConcatRows(w[b+"attn.wq"], w[b+"attn.wk"], w[b+"attn.wv"])) // (3D, D)
		qkv := must(graph.Linear(a, wqkv))                                             // (n·t, 3D)
		var o *G.Node                                                                  // (n·t, D)
		if layout != nil {
			o = must(graph.PackedAttention(qkv, layout, attn))
		} else {
			o = must(graph.CausalSelfAttention(qkv, n, t, c.NHeads))
		}
		x = must(G.Add(x, must(graph.Linear(o, w[b+"attn.wo"]))))                  // (n·t, D)
		h := must(graph.LayerNorm(x, w[b+"ln2.weight"], w[b+"ln2.bias"], c.LNEps)) // (n·t, D)
		h = must(graph.GELUTanh(must(graph.Linear(h, w[b+"mlp.w1"]))))             // (n·t, 4D)
		x = must(G.Add(x, must(graph.Linear(h, w[b+"mlp.w2"]))))                   // (n·t, D)
	}
	x = must(graph.LayerNorm(x, w["ln_f.weight"], w["ln_f.bias"], c.LNEps)) // (n·t, D)
	logits := must(graph.Linear(x, w["lm_head"]))                           // (n·t, V)
	lp := must(graph.TokenLogProbs(logits, ids))                            // (n, t−1)
	lpmax := must(graph.LogProbMaxOf(lp))                                   // (n, t−1)
	return &Forward{Params: params, IDs: ids, TokenLogps: lp, TokenLogpMax: lpmax, Logits: logits,
		Layout: layout, N: n, T: t, Vocab: c.VocabSize}, nil
}
