package models

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/graph"
)

// MLP activations.
const (
	ActTanh = "tanh" // tanh hidden units
	ActGELU = "gelu" // tanh-approximated GELU hidden units
)

// MLPConfig sizes the fixed-window neural language model (Bengio-style).
// Its JSON form is the checkpoint's __metadata__["config"].
type MLPConfig struct {
	VocabSize  int    `json:"vocab_size"`  // V: token ids 0 … V−1; id 0 is the pad id used left of the row start
	Window     int    `json:"window"`      // k: tokens of context (the current one and the k−1 before it)
	DEmbed     int    `json:"d_embed"`     // E: embedding width; the hidden layer sees k·E inputs
	DHidden    int    `json:"d_hidden"`    // H: hidden units
	Activation string `json:"activation"`  // "tanh" (default when empty) or "gelu"
	MaxSeqLen  int    `json:"max_seq_len"` // longest t Build accepts (the model itself has no length limit)
}

// Validate reports the first problem with the config, sizes above the
// limits of limits.go included.
func (c MLPConfig) Validate() error {
	switch {
	case c.VocabSize < 2:
		return fmt.Errorf("mlp config: vocab_size %d < 2", c.VocabSize)
	case c.Window < 1:
		return fmt.Errorf("mlp config: window %d < 1", c.Window)
	case c.DEmbed < 1 || c.DHidden < 1:
		return fmt.Errorf("mlp config: d_embed %d and d_hidden %d must be ≥ 1", c.DEmbed, c.DHidden)
	case c.Activation != "" && c.Activation != ActTanh && c.Activation != ActGELU:
		return fmt.Errorf("mlp config: activation %q (want %q or %q)", c.Activation, ActTanh, ActGELU)
	case c.MaxSeqLen < 2:
		return fmt.Errorf("mlp config: max_seq_len %d < 2", c.MaxSeqLen)
	}
	return checkMLPLimits(c)
}

// MLP is the fixed-window language model: at position p the embeddings of
// ids[p−k+1 … p] (left-padded with pad id 0) are concatenated, passed
// through one hidden layer, and mapped to next-token logits:
//
//	e = [emb[id_{p−k+1}], …, emb[id_p]]          (k·E)
//	h = act(e·hidden.weightᵀ + hidden.bias)      (H)
//	logits = h·out.weightᵀ + out.bias            (V)
//
// Parameters (checkpoint names, [out, in] layout): emb [V, E],
// hidden.weight [H, k·E], hidden.bias [H], out.weight [V, H], out.bias [V].
type MLP struct{ lmBase[MLPConfig] }

func mlpShapes(c MLPConfig) []paramShape {
	return []paramShape{
		{"emb", []int{c.VocabSize, c.DEmbed}},
		{"hidden.weight", []int{c.DHidden, c.Window * c.DEmbed}},
		{"hidden.bias", []int{c.DHidden}},
		{"out.weight", []int{c.VocabSize, c.DHidden}},
		{"out.bias", []int{c.VocabSize}},
	}
}

// NewMLP allocates an MLP LM and initialises it from graph.NewRNG(seed):
// emb ~ N(0, 1), hidden.weight ~ N(0, 1/(k·E)) (fan-in, so hidden
// pre-activations are O(1)), out.weight ~ N(0, 0.02²) (a near-uniform
// initial next-token distribution, as GPT-2's init gives), biases 0.
// Parameters are drawn in checkpoint order, row-major.
func NewMLP(cfg MLPConfig, dt tensor.Dtype, seed uint64) (*MLP, error) {
	m, err := newMLPZero(cfg, dt)
	if err != nil {
		return nil, err
	}
	rng := graph.NewRNG(seed)
	for _, w := range m.weights {
		switch w.Name {
		case "emb":
			graph.FillNormal(w.T, rng, 0, 1)
		case "hidden.weight":
			graph.FillNormal(w.T, rng, 0, 1/math.Sqrt(float64(cfg.Window*cfg.DEmbed)))
		case "out.weight":
			graph.FillNormal(w.T, rng, 0, 0.02)
		default:
			graph.FillConst(w.T, 0)
		}
	}
	return m, nil
}

func newMLPZero(cfg MLPConfig, dt tensor.Dtype) (*MLP, error) {
	if cfg.Activation == "" {
		cfg.Activation = ActTanh
	}
	b, err := newBase("mlp", cfg, dt, mlpShapes)
	if err != nil {
		return nil, err
	}
	return &MLP{b}, nil
}

// Config returns the model's config.
func (m *MLP) Config() MLPConfig { return m.cfg }

// Kind returns "mlp".
func (m *MLP) Kind() string { return "mlp" }

// Clone deep-copies the model.
func (m *MLP) Clone() LM { return &MLP{m.clone()} }

// Build adds the forward pass over ids [n, t] (t ≤ MaxSeqLen) to g.
func (m *MLP) Build(g *G.ExprGraph, n, t int) (f *Forward, err error) {
	defer recoverBuild("mlp", &err)
	c := m.cfg
	if err := checkBatch("mlp", n, t, c.MaxSeqLen); err != nil {
		return nil, err
	}
	prefix, params, w := bindWeights(g, m.Kind(), m.weights)
	ids := newIDsNode(g, prefix, m.dt, n, t)
	e := must(graph.WindowEmbedding(w["emb"], ids, c.Window, 0))                          // (n·t, k·E)
	h := must(graph.AddBias(must(graph.Linear(e, w["hidden.weight"])), w["hidden.bias"])) // (n·t, H)
	if c.Activation == ActGELU {
		h = must(graph.GELUTanh(h)) // (n·t, H)
	} else {
		h = must(G.Tanh(h)) // (n·t, H)
	}
	logits := must(graph.AddBias(must(graph.Linear(h, w["out.weight"])), w["out.bias"])) // (n·t, V)
	lp := must(graph.TokenLogProbs(logits, ids))                                         // (n, t−1)
	lpmax := must(graph.LogProbMaxOf(lp))                                                // (n, t−1)
	return &Forward{Params: params, IDs: ids, TokenLogps: lp, TokenLogpMax: lpmax, Logits: logits,
		N: n, T: t, Vocab: c.VocabSize}, nil
}
