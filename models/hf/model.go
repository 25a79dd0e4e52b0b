package hf

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/graph"
	"gatedpo/models"
)

// Kind is what Model.Kind returns and models.Save writes as
// __metadata__["model"]; models.Load hands such files to this package.
const Kind = "hf"

// pshape is one parameter: canonical name and shape.
type pshape struct {
	name  string
	shape []int
}

// shapes lists every parameter in Hugging Face's module order under its
// canonical name (GPT-2's bare "h.0…" names; the others as in their
// *ForCausalLM state dict). A tied output head is not a parameter.
func (c Config) shapes() []pshape {
	d, v, inner, hd := c.D, c.Vocab, c.Inner, c.HeadDim
	var s []pshape
	add := func(name string, shape ...int) { s = append(s, pshape{name, shape}) }
	switch c.ModelType {
	case GPT2:
		add("wte.weight", v, d)
		add("wpe.weight", c.MaxPos, d)
		for i := 0; i < c.Layers; i++ {
			p := fmt.Sprintf("h.%d.", i)
			add(p+"ln_1.weight", d)
			add(p+"ln_1.bias", d)
			add(p+"attn.c_attn.weight", d, 3*d)
			add(p+"attn.c_attn.bias", 3*d)
			add(p+"attn.c_proj.weight", d, d)
			add(p+"attn.c_proj.bias", d)
			add(p+"ln_2.weight", d)
			add(p+"ln_2.bias", d)
			add(p+"mlp.c_fc.weight", d, inner)
			add(p+"mlp.c_fc.bias", inner)
			add(p+"mlp.c_proj.weight", inner, d)
			add(p+"mlp.c_proj.bias", d)
		}
		add("ln_f.weight", d)
		add("ln_f.bias", d)
		if !c.Tie {
			add("lm_head.weight", v, d)
		}
	case GPTNeoX:
		add("gpt_neox.embed_in.weight", v, d)
		for i := 0; i < c.Layers; i++ {
			p := fmt.Sprintf("gpt_neox.layers.%d.", i)
			add(p+"input_layernorm.weight", d)
			add(p+"input_layernorm.bias", d)
			add(p+"post_attention_layernorm.weight", d)
			add(p+"post_attention_layernorm.bias", d)
			add(p+"attention.query_key_value.weight", 3*d, d)
			if c.QKVBias {
				add(p+"attention.query_key_value.bias", 3*d)
			}
			add(p+"attention.dense.weight", d, d)
			if c.OBias {
				add(p+"attention.dense.bias", d)
			}
			add(p+"mlp.dense_h_to_4h.weight", inner, d)
			add(p+"mlp.dense_h_to_4h.bias", inner)
			add(p+"mlp.dense_4h_to_h.weight", d, inner)
			add(p+"mlp.dense_4h_to_h.bias", d)
		}
		add("gpt_neox.final_layer_norm.weight", d)
		add("gpt_neox.final_layer_norm.bias", d)
		if !c.Tie {
			add("embed_out.weight", v, d)
		}
	default: // llama, qwen2
		h, kv := c.Heads, c.KVHeads
		add("model.embed_tokens.weight", v, d)
		for i := 0; i < c.Layers; i++ {
			p := fmt.Sprintf("model.layers.%d.", i)
			add(p+"input_layernorm.weight", d)
			add(p+"self_attn.q_proj.weight", h*hd, d)
			if c.QKVBias {
				add(p+"self_attn.q_proj.bias", h*hd)
			}
			add(p+"self_attn.k_proj.weight", kv*hd, d)
			if c.QKVBias {
				add(p+"self_attn.k_proj.bias", kv*hd)
			}
			add(p+"self_attn.v_proj.weight", kv*hd, d)
			if c.QKVBias {
				add(p+"self_attn.v_proj.bias", kv*hd)
			}
			add(p+"self_attn.o_proj.weight", d, h*hd)
			if c.OBias {
				add(p+"self_attn.o_proj.bias", d)
			}
			add(p+"post_attention_layernorm.weight", d)
			for _, m := range []string{"gate_proj", "up_proj"} {
				add(p+"mlp."+m+".weight", inner, d)
				if c.MLPBias {
					add(p+"mlp."+m+".bias", inner)
				}
			}
			add(p+"mlp.down_proj.weight", d, inner)
			if c.MLPBias {
				add(p+"mlp.down_proj.bias", d)
			}
		}
		add("model.norm.weight", d)
		if !c.Tie {
			add("lm_head.weight", v, d)
		}
	}
	return s
}

// bufferRE matches the non-parameter tensors real checkpoints carry and
// Hugging Face ignores on load: GPT-2's causal-mask buffers, GPT-NeoX's
// mask, masked_bias and rotary inv_freq, old Llama's inv_freq.
var bufferRE = regexp.MustCompile(`^(transformer\.)?h\.\d+\.attn\.(bias|masked_bias)$` +
	`|^gpt_neox\.layers\.\d+\.attention\.(bias|masked_bias|rotary_emb\.inv_freq)$` +
	`|^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$`)

// Model is a Hugging Face causal LM (gpt2, gpt_neox, llama or qwen2) as a
// Gorgonia graph builder implementing models.LM. Its weights carry the
// names they have in the checkpoint file (GPT-2 with or without the
// "transformer." prefix, as stored).
type Model struct {
	cfg     Config
	dt      tensor.Dtype
	prefix  string // "transformer." when a GPT-2 file used the prefixed names
	weights []models.NamedTensor
	byCanon map[string]int // canonical name -> index in weights
	ignored []string       // buffers and re-tied heads skipped on load, sorted
	srcDir  string         // the directory loaded from ("" otherwise)
}

var _ models.PackedLM = (*Model)(nil)

// NewZero allocates a model of config c with zeroed weights in dtype dt
// (canonical names).
func NewZero(c Config, dt tensor.Dtype) (*Model, error) {
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("hf: unsupported dtype %v (want float32 or float64)", dt)
	}
	m := &Model{cfg: c, dt: dt, byCanon: map[string]int{}}
	for _, s := range c.shapes() {
		m.byCanon[s.name] = len(m.weights)
		m.weights = append(m.weights, models.NamedTensor{Name: s.name, T: graph.NewTensor(dt, s.shape...)})
	}
	return m, nil
}

// Config returns the parsed config.
func (m *Model) Config() Config { return m.cfg }

// Kind returns "hf".
func (m *Model) Kind() string { return Kind }

// Dtype returns the compute dtype (float32 or float64).
func (m *Model) Dtype() tensor.Dtype { return m.dt }

// Weights returns the parameters in module order, named as in the
// checkpoint file (shared, not copies). Tied heads and buffers are not
// parameters.
func (m *Model) Weights() []models.NamedTensor { return m.weights }

// Ignored lists the tensors of the loaded checkpoint that are not
// parameters (buffers, a head re-tied to the embedding), sorted.
func (m *Model) Ignored() []string { return append([]string{}, m.ignored...) }

// SourceDir is the model directory the model was loaded from, or "".
func (m *Model) SourceDir() string { return m.srcDir }

// ConfigJSON returns the config.json text as loaded (compact JSON).
func (m *Model) ConfigJSON() string { return string(m.cfg.Raw) }

// Clone deep-copies the weights.
func (m *Model) Clone() models.LM {
	c := *m
	c.weights = make([]models.NamedTensor, len(m.weights))
	for i, w := range m.weights {
		c.weights[i] = models.NamedTensor{Name: w.Name, T: w.T.Clone().(*tensor.Dense)}
	}
	c.ignored = append([]string{}, m.ignored...)
	return &c
}

// MaxSeqLen is the longest sequence Build accepts
// (max_position_embeddings / n_positions).
func (m *Model) MaxSeqLen() int { return m.cfg.MaxPos }

// Build adds the forward pass over ids [n, t] (2 ≤ t ≤ MaxSeqLen) to g.
func (m *Model) Build(g *G.ExprGraph, n, t int) (f *models.Forward, err error) {
	c := m.cfg
	if n < 1 || t < 2 || t > c.MaxPos {
		return nil, fmt.Errorf("hf %s: batch [%d, %d] invalid (need n ≥ 1 and 2 ≤ t ≤ max_position_embeddings %d)", c.ModelType, n, t, c.MaxPos)
	}
	return m.build(g, n, t, nil)
}

// BuildPacked adds the forward pass over n packed rows of t tokens to g
// (graph.PackLayout; t may exceed MaxSeqLen, the layout's position ids
// may not): the position embedding (GPT-2), the rotary embeddings
// (GPT-NeoX, Llama, Qwen2) and the attention follow the layout set with
// Forward.SetLayout before each run.
func (m *Model) BuildPacked(g *G.ExprGraph, n, t int) (f *models.Forward, err error) {
	c := m.cfg
	if n < 1 || t < 2 {
		return nil, fmt.Errorf("hf %s: packed batch [%d, %d] invalid (need n ≥ 1 and t ≥ 2)", c.ModelType, n, t)
	}
	layout, err := graph.NewPackLayout(n, t, c.MaxPos)
	if err != nil {
		return nil, fmt.Errorf("hf %s: %v", c.ModelType, err)
	}
	return m.build(g, n, t, layout)
}

// build adds the forward pass, packed when layout is set.
func (m *Model) build(g *G.ExprGraph, n, t int, layout *graph.PackLayout) (f *models.Forward, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("hf %s: building the graph panicked: %v", m.cfg.ModelType, r)
		}
	}()
	c := m.cfg
	prefix := models.NextBuildPrefix("hf")
	params := make([]graph.Param, len(m.weights))
	nodes := make([]*G.Node, len(m.weights))
	for i, w := range m.weights {
		nodes[i] = graph.BindParam(g, prefix+w.Name, w.T)
		params[i] = graph.Param{Name: w.Name, Node: nodes[i]}
	}
	b := &builder{m: m, g: g, n: n, t: t, nodes: nodes, layout: layout}
	ids := G.NewMatrix(g, m.dt, G.WithShape(n, t), G.WithName(prefix+"ids"),
		G.WithValue(tensor.New(tensor.Of(m.dt), tensor.WithShape(n, t))))
	var hidden *G.Node
	switch c.ModelType {
	case GPT2:
		hidden = b.gpt2(ids)
	case GPTNeoX:
		hidden = b.neox(ids)
	default:
		hidden = b.llama(ids)
	}
	// The head is fused with the log-softmax and the target gather and
	// chunked over rows (graph.HeadTokenLogProbs): no [n·t, V] buffer in
	// training or reference graphs. The logits node is added only when a
	// caller asks for it (Forward.LogitsNode); forward-only passes read the
	// hidden states and the head weight instead (Forward.Hidden,
	// Forward.HeadWeight) and apply the head to the rows they need.
	// The head runs only at the positions LogpMask selects (all until a
	// caller sets it: Forward.SetLogpMask), so that prompt positions cost
	// no head product.
	w := b.headWeight()
	ones := tensor.New(tensor.Of(m.dt), tensor.WithShape(n, t-1))
	switch d := ones.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = 1
		}
	case []float64:
		for i := range d {
			d[i] = 1
		}
	}
	lpMask := G.NewMatrix(g, m.dt, G.WithShape(n, t-1), G.WithName(prefix+"logp_mask"), G.WithValue(ones))
	lp := must(graph.HeadTokenLogProbsMasked(hidden, w, ids, lpMask))
	lpmax := must(graph.HeadLogProbMaxOf(lp))
	f = &models.Forward{Params: params, IDs: ids, TokenLogps: lp, TokenLogpMax: lpmax, LogpMask: lpMask, Hidden: hidden, HeadWeight: w, Layout: layout, N: n, T: t, Vocab: c.Vocab}
	f.BuildLogits = func() (l *G.Node, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("hf %s: building the logits panicked: %v", c.ModelType, r)
			}
		}()
		return graph.Linear(hidden, w)
	}
	return f, nil
}

func must(x *G.Node, err error) *G.Node {
	if err != nil {
		panic(err)
	}
	return x
}

// builder holds one Build's state; layout is set for a packed forward.
type builder struct {
	m      *Model
	g      *G.ExprGraph
	n, t   int
	nodes  []*G.Node
	layout *graph.PackLayout
}

// attention is the model's attention over the batch: causal, or following
// the pack layout.
func (b *builder) attention(qkv *G.Node, spec graph.AttentionSpec) *G.Node {
	if b.layout != nil {
		return must(graph.PackedAttention(qkv, b.layout, spec))
	}
	return must(graph.CausalAttention(qkv, b.n, b.t, spec))
}

// w returns the node of a parameter by canonical name.
func (b *builder) w(name string) *G.Node {
	i, ok := b.m.byCanon[name]
	if !ok {
		panic(fmt.Sprintf("no parameter %q", name))
	}
	return b.nodes[i]
}

// linear is x·Wᵀ (+ bias) for an nn.Linear weight [out, in].
func (b *builder) linear(x *G.Node, name string, bias bool) *G.Node {
	if bias {
		return must(graph.LinearBias(x, b.w(name+".weight"), b.w(name+".bias")))
	}
	return must(graph.Linear(x, b.w(name+".weight")))
}

// conv1d is x·W + bias for a GPT-2 Conv1D weight [in, out].
func (b *builder) conv1d(x *G.Node, name string) *G.Node {
	y := must(graph.MatMul(x, b.w(name+".weight"), false, false))
	return must(graph.AddBias(y, b.w(name+".bias")))
}

func (b *builder) layerNorm(x *G.Node, name string) *G.Node {
	return must(graph.LayerNorm(x, b.w(name+".weight"), b.w(name+".bias"), b.m.cfg.Eps))
}

func (b *builder) act(x *G.Node) *G.Node {
	switch b.m.cfg.Act {
	case "gelu":
		return must(graph.GELUErf(x))
	case "gelu_new", "gelu_pytorch_tanh":
		return must(graph.GELUTanh(x))
	}
	panic(fmt.Sprintf("activation %q", b.m.cfg.Act))
}

// headWeight is the output head [V, D]: the token embedding when tied,
// else the head matrix (lm_head / embed_out).
func (b *builder) headWeight() *G.Node {
	if b.m.cfg.Tie {
		switch b.m.cfg.ModelType {
		case GPT2:
			return b.w("wte.weight")
		case GPTNeoX:
			return b.w("gpt_neox.embed_in.weight")
		}
		return b.w("model.embed_tokens.weight")
	}
	if b.m.cfg.ModelType == GPTNeoX {
		return b.w("embed_out.weight")
	}
	return b.w("lm_head.weight")
}

func (b *builder) add(xs ...*G.Node) *G.Node {
	y := xs[0]
	for _, x := range xs[1:] {
		y = must(G.Add(y, x))
	}
	return y
}

func (b *builder) gpt2(ids *G.Node) *G.Node {
	c := b.m.cfg
	var pos *G.Node
	if b.layout != nil {
		pos = must(graph.PackedPositionEmbedding(b.w("wpe.weight"), b.layout))
	} else {
		pos = must(graph.PositionEmbedding(b.w("wpe.weight"), b.n, b.t))
	}
	x := b.add(must(graph.Embedding(b.w("wte.weight"), ids)), pos)
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("h.%d.", i)
		qkv := b.conv1d(b.layerNorm(x, p+"ln_1"), p+"attn.c_attn")
		scale := 1.0
		if c.ScaleAttn {
			scale = 1 / math.Sqrt(float64(c.HeadDim))
		}
		if c.ScaleByLayer {
			scale /= float64(i + 1)
		}
		o := b.attention(qkv, graph.AttentionSpec{Heads: c.Heads, KVHeads: c.Heads, HeadDim: c.HeadDim, Scale: scale})
		x = b.add(x, b.conv1d(o, p+"attn.c_proj"))
		h := b.act(b.conv1d(b.layerNorm(x, p+"ln_2"), p+"mlp.c_fc"))
		x = b.add(x, b.conv1d(h, p+"mlp.c_proj"))
	}
	return b.layerNorm(x, "ln_f")
}

// neoxPerm maps the blocked layout (q heads | k heads | v heads) to GPT-NeoX's
// fused rows [H, 3, hd]: row r of the blocked weight is row perm[r] of
// query_key_value.
func neoxPerm(heads, hd int) []int {
	perm := make([]int, 3*heads*hd)
	for blk := 0; blk < 3; blk++ {
		for h := 0; h < heads; h++ {
			for j := 0; j < hd; j++ {
				perm[blk*heads*hd+h*hd+j] = h*3*hd + blk*hd + j
			}
		}
	}
	return perm
}

func (b *builder) neox(ids *G.Node) *G.Node {
	c := b.m.cfg
	x := must(graph.Embedding(b.w("gpt_neox.embed_in.weight"), ids))
	perm := neoxPerm(c.Heads, c.HeadDim)
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("gpt_neox.layers.%d.", i)
		a := b.layerNorm(x, p+"input_layernorm")
		wqkv := must(graph.PermuteRows(b.w(p+"attention.query_key_value.weight"), perm))
		var qkv *G.Node
		if c.QKVBias {
			qkv = must(graph.LinearBias(a, wqkv, must(graph.PermuteRows(b.w(p+"attention.query_key_value.bias"), perm))))
		} else {
			qkv = must(graph.Linear(a, wqkv))
		}
		qkv = b.rope(qkv, 2*c.Heads)
		o := b.attention(qkv, graph.AttentionSpec{Heads: c.Heads, KVHeads: c.Heads, HeadDim: c.HeadDim, Scale: 1 / math.Sqrt(float64(c.HeadDim))})
		attn := b.linear(o, p+"attention.dense", c.OBias)
		mlp := func(h *G.Node) *G.Node {
			return b.linear(b.act(b.linear(h, p+"mlp.dense_h_to_4h", true)), p+"mlp.dense_4h_to_h", true)
		}
		if c.Parallel {
			x = b.add(x, attn, mlp(b.layerNorm(x, p+"post_attention_layernorm")))
		} else {
			x = b.add(x, attn)
			x = b.add(x, mlp(b.layerNorm(x, p+"post_attention_layernorm")))
		}
	}
	return b.layerNorm(x, "gpt_neox.final_layer_norm")
}

// rope rotates the first heads head blocks of qkv (the query and key heads).
func (b *builder) rope(qkv *G.Node, heads int) *G.Node {
	c := b.m.cfg
	if c.Rot == 0 {
		return qkv
	}
	spec := graph.RoPESpec{Heads: heads, HeadDim: c.HeadDim, Rot: c.Rot, Theta: c.Theta}
	if b.layout != nil {
		return must(graph.PackedRoPE(qkv, b.layout, spec))
	}
	return must(graph.RoPE(qkv, b.n, b.t, spec))
}

func (b *builder) llama(ids *G.Node) *G.Node {
	c := b.m.cfg
	x := must(graph.Embedding(b.w("model.embed_tokens.weight"), ids))
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		a := must(graph.RMSNorm(x, b.w(p+"input_layernorm.weight"), c.Eps))
		sa := p + "self_attn."
		wqkv := must(graph.ConcatRows(b.w(sa+"q_proj.weight"), b.w(sa+"k_proj.weight"), b.w(sa+"v_proj.weight")))
		var qkv *G.Node
		if c.QKVBias {
			qkv = must(graph.LinearBias(a, wqkv, must(graph.ConcatVectors(b.w(sa+"q_proj.bias"), b.w(sa+"k_proj.bias"), b.w(sa+"v_proj.bias")))))
		} else {
			qkv = must(graph.Linear(a, wqkv))
		}
		qkv = b.rope(qkv, c.Heads+c.KVHeads)
		o := b.attention(qkv, graph.AttentionSpec{Heads: c.Heads, KVHeads: c.KVHeads, HeadDim: c.HeadDim, Scale: 1 / math.Sqrt(float64(c.HeadDim))})
		x = b.add(x, b.linear(o, sa+"o_proj", c.OBias))
		h := must(graph.RMSNorm(x, b.w(p+"post_attention_layernorm.weight"), c.Eps))
		gate := b.linear(h, p+"mlp.gate_proj", c.MLPBias)
		up := b.linear(h, p+"mlp.up_proj", c.MLPBias)
		x = b.add(x, b.linear(must(graph.SwiGLU(gate, up)), p+"mlp.down_proj", c.MLPBias))
	}
	return must(graph.RMSNorm(x, b.w("model.norm.weight"), c.Eps))
}

// canonical maps a checkpoint name to the canonical parameter name (GPT-2:
// strips "transformer.").
func canonical(modelType, name string) string {
	if modelType == GPT2 {
		return strings.TrimPrefix(name, "transformer.")
	}
	return name
}
