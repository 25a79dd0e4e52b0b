package hf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Supported model_type values.
const (
	GPT2    = "gpt2"
	GPTNeoX = "gpt_neox"
	Llama   = "llama"
	Qwen2   = "qwen2"
)

// maxDim bounds every size read from a config (vocabulary, widths, heads,
// layers, positions), and maxParams the parameter count it implies, so a
// hostile or mistyped config.json fails with a clear error instead of
// attempting a huge allocation.
const (
	maxDim    = 1 << 24
	maxParams = 1 << 36
)

// Config is a parsed Hugging Face config.json: the fields the four
// families read, with Hugging Face's defaults where a field is absent (the
// package documentation lists them). Raw keeps the file's own JSON object,
// which SaveDir writes back with only torch_dtype changed.
type Config struct {
	ModelType string // gpt2 | gpt_neox | llama | qwen2

	Vocab   int // vocab_size
	D       int // hidden size (n_embd / hidden_size)
	Heads   int // query heads
	KVHeads int // key/value heads (= Heads except grouped-query llama/qwen2)
	HeadDim int // columns per head
	Layers  int
	Inner   int // MLP width (n_inner / intermediate_size)
	MaxPos  int // n_positions / max_position_embeddings: longest sequence

	Act string  // activation_function / hidden_act
	Eps float64 // layer_norm_epsilon / layer_norm_eps / rms_norm_eps

	// gpt2
	ScaleAttn    bool // scale_attn_weights: scores / sqrt(head_dim)
	ScaleByLayer bool // scale_attn_by_inverse_layer_idx: scores / (layer+1)

	// RoPE (gpt_neox, llama, qwen2): Rot rotated dims per head, base Theta.
	Rot   int
	Theta float64

	Parallel bool // gpt_neox use_parallel_residual

	// Biases: gpt2 has them all; gpt_neox QKVBias = OBias = attention_bias
	// (its MLP always has biases); llama attention_bias (q, k, v, o) and
	// mlp_bias; qwen2 q/k/v always, o and MLP never.
	QKVBias, OBias, MLPBias bool

	Tie bool // tie_word_embeddings: the output head is the token embedding

	Raw json.RawMessage
}

// cfgReader reads typed fields of a config.json object, recording the
// first error with the file name and field.
type cfgReader struct {
	name string
	m    map[string]json.RawMessage
	err  error
}

func (r *cfgReader) fail(key, format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %q: %s", r.name, key, fmt.Sprintf(format, a...))
	}
}

// has reports whether key is present and not null.
func (r *cfgReader) has(key string) bool {
	v, ok := r.m[key]
	return ok && string(bytes.TrimSpace(v)) != "null"
}

// int reads key as a non-negative integer (def when absent or null; the
// first present key of keys wins).
func (r *cfgReader) int(def int, keys ...string) int {
	for _, k := range keys {
		if !r.has(k) {
			continue
		}
		var f float64
		if err := json.Unmarshal(r.m[k], &f); err != nil || f != math.Trunc(f) || f < 0 || f > maxDim {
			r.fail(k, "expected an integer in [0, %d], got %s", maxDim, r.m[k])
			return def
		}
		return int(f)
	}
	return def
}

// float reads key as a finite number.
func (r *cfgReader) float(def float64, keys ...string) float64 {
	for _, k := range keys {
		if !r.has(k) {
			continue
		}
		var f float64
		if err := json.Unmarshal(r.m[k], &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			r.fail(k, "expected a number, got %s", r.m[k])
			return def
		}
		return f
	}
	return def
}

func (r *cfgReader) bool(def bool, key string) bool {
	if !r.has(key) {
		return def
	}
	var b bool
	if err := json.Unmarshal(r.m[key], &b); err != nil {
		r.fail(key, "expected true or false, got %s", r.m[key])
		return def
	}
	return b
}

func (r *cfgReader) string(def, key string) string {
	if !r.has(key) {
		return def
	}
	var s string
	if err := json.Unmarshal(r.m[key], &s); err != nil {
		r.fail(key, "expected a string, got %s", r.m[key])
		return def
	}
	return s
}

// required reads an integer field that has no default.
func (r *cfgReader) required(key string) int {
	if !r.has(key) {
		r.fail(key, "missing (required for model_type %q)", r.string("", "model_type"))
		return 0
	}
	return r.int(0, key)
}

// ropeTheta reads rope_theta, or rope_parameters.rope_theta (newer
// configs), and rejects any rope scaling other than the default.
func (r *cfgReader) ropeTheta(def float64, legacy ...string) float64 {
	for _, key := range []string{"rope_scaling", "rope_parameters"} {
		if !r.has(key) {
			continue
		}
		var rs map[string]any
		if err := json.Unmarshal(r.m[key], &rs); err != nil {
			r.fail(key, "expected an object or null, got %s", r.m[key])
			return def
		}
		kind, _ := rs["rope_type"].(string)
		if kind == "" {
			kind, _ = rs["type"].(string)
		}
		if kind != "" && kind != "default" {
			r.fail(key, "rope scaling %q is not supported (only null or \"default\")", kind)
			return def
		}
		if key == "rope_parameters" && !r.has("rope_theta") {
			if th, ok := rs["rope_theta"].(float64); ok {
				def = th
			}
		}
	}
	return r.float(def, append(legacy, "rope_theta")...)
}

// ParseConfig parses the bytes of a config.json; name (the file path) is
// used in errors. An unknown model_type, a config feature this package
// does not implement (rope scaling, sliding windows, cross-attention, an
// activation other than the supported ones) or an inconsistent size is an
// error naming the field.
func ParseConfig(raw []byte, name string) (Config, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return Config{}, fmt.Errorf("%s: not a JSON object: %v", name, err)
	}
	r := &cfgReader{name: name, m: m}
	c := Config{ModelType: r.string("", "model_type"), Raw: append(json.RawMessage{}, bytes.TrimSpace(raw)...)}
	switch c.ModelType {
	case GPT2:
		c.D = r.int(768, "n_embd", "hidden_size")
		c.Heads = r.int(12, "n_head", "num_attention_heads")
		c.Layers = r.int(12, "n_layer", "num_hidden_layers")
		c.Vocab = r.int(50257, "vocab_size")
		c.MaxPos = r.int(1024, "n_positions", "max_position_embeddings")
		c.Inner = r.int(4*c.D, "n_inner")
		c.Act = r.string("gelu_new", "activation_function")
		c.Eps = r.float(1e-5, "layer_norm_epsilon")
		c.ScaleAttn = r.bool(true, "scale_attn_weights")
		c.ScaleByLayer = r.bool(false, "scale_attn_by_inverse_layer_idx")
		c.Tie = r.bool(true, "tie_word_embeddings")
		c.QKVBias, c.OBias, c.MLPBias = true, true, true
		if r.bool(false, "add_cross_attention") {
			r.fail("add_cross_attention", "cross-attention is not supported")
		}
		c.KVHeads = c.Heads
		if c.Heads > 0 {
			c.HeadDim = c.D / c.Heads
		}
		checkAct(r, "activation_function", c.Act, "gelu_new", "gelu_pytorch_tanh", "gelu")
	case GPTNeoX:
		c.D = r.required("hidden_size")
		c.Heads = r.required("num_attention_heads")
		c.Layers = r.required("num_hidden_layers")
		c.Vocab = r.required("vocab_size")
		c.Inner = r.required("intermediate_size")
		c.MaxPos = r.int(2048, "max_position_embeddings")
		c.Act = r.string("gelu", "hidden_act")
		c.Eps = r.float(1e-5, "layer_norm_eps")
		c.Parallel = r.bool(true, "use_parallel_residual")
		c.QKVBias = r.bool(true, "attention_bias")
		c.OBias, c.MLPBias = c.QKVBias, true
		c.Tie = r.bool(false, "tie_word_embeddings")
		c.KVHeads = c.Heads
		if c.Heads > 0 {
			c.HeadDim = c.D / c.Heads
		}
		pct := r.float(0.25, "rotary_pct", "partial_rotary_factor")
		if pct < 0 || pct > 1 {
			r.fail("rotary_pct", "expected a fraction in [0, 1], got %v", pct)
		}
		c.Rot = int(float64(c.HeadDim) * pct)
		c.Theta = r.ropeTheta(10000, "rotary_emb_base")
		checkAct(r, "hidden_act", c.Act, "gelu", "gelu_new", "gelu_pytorch_tanh")
	case Llama, Qwen2:
		c.D = r.required("hidden_size")
		c.Heads = r.required("num_attention_heads")
		c.Layers = r.required("num_hidden_layers")
		c.Vocab = r.required("vocab_size")
		c.Inner = r.required("intermediate_size")
		c.KVHeads = r.int(c.Heads, "num_key_value_heads")
		if c.Heads > 0 {
			c.HeadDim = r.int(c.D/c.Heads, "head_dim")
		}
		c.MaxPos = r.int(2048, "max_position_embeddings")
		c.Act = r.string("silu", "hidden_act")
		c.Eps = r.float(1e-6, "rms_norm_eps")
		c.Tie = r.bool(false, "tie_word_embeddings")
		pf := r.float(1, "partial_rotary_factor")
		if pf < 0 || pf > 1 {
			r.fail("partial_rotary_factor", "expected a fraction in [0, 1], got %v", pf)
		}
		c.Rot = int(float64(c.HeadDim) * pf)
		c.Theta = r.ropeTheta(10000)
		if c.ModelType == Qwen2 {
			c.QKVBias = true
			if r.bool(false, "use_sliding_window") {
				r.fail("use_sliding_window", "sliding-window attention is not supported")
			}
		} else {
			c.QKVBias = r.bool(false, "attention_bias")
			c.OBias = c.QKVBias
			c.MLPBias = r.bool(false, "mlp_bias")
		}
		checkAct(r, "hidden_act", c.Act, "silu", "swish")
	case "":
		return Config{}, fmt.Errorf("%s: \"model_type\" is missing (want one of gpt2, gpt_neox, llama, qwen2)", name)
	default:
		return Config{}, fmt.Errorf("%s: \"model_type\": %q is not supported (want one of gpt2, gpt_neox, llama, qwen2)", name, c.ModelType)
	}
	if r.err != nil {
		return Config{}, r.err
	}
	if err := c.validate(name); err != nil {
		return Config{}, err
	}
	return c, nil
}

// checkAct accepts only the activations this package implements.
func checkAct(r *cfgReader, key, act string, ok ...string) {
	for _, a := range ok {
		if act == a {
			return
		}
	}
	r.fail(key, "activation %q is not supported (want one of %s)", act, strings.Join(ok, ", "))
}

// validate checks sizes and their consistency.
func (c Config) validate(name string) error {
	fail := func(key, format string, a ...any) error {
		return fmt.Errorf("%s: %q: %s", name, key, fmt.Sprintf(format, a...))
	}
	switch {
	case c.Vocab < 2:
		return fail("vocab_size", "%d < 2", c.Vocab)
	case c.D < 1:
		return fail("hidden_size", "%d < 1", c.D)
	case c.Heads < 1:
		return fail("num_attention_heads", "%d < 1", c.Heads)
	case c.Layers < 1:
		return fail("num_hidden_layers", "%d < 1", c.Layers)
	case c.Inner < 1:
		return fail("intermediate_size", "%d < 1", c.Inner)
	case c.MaxPos < 2:
		return fail("max_position_embeddings", "%d < 2", c.MaxPos)
	case !(c.Eps > 0):
		return fail("layer_norm_eps", "%v must be > 0", c.Eps)
	}
	if (c.ModelType == GPT2 || c.ModelType == GPTNeoX) && c.D%c.Heads != 0 {
		return fail("num_attention_heads", "hidden size %d is not divisible by %d heads", c.D, c.Heads)
	}
	if c.KVHeads < 1 || c.Heads%c.KVHeads != 0 {
		return fail("num_key_value_heads", "%d does not divide num_attention_heads %d", c.KVHeads, c.Heads)
	}
	if c.HeadDim < 1 {
		return fail("head_dim", "%d < 1", c.HeadDim)
	}
	if c.ModelType != GPT2 {
		if c.Rot%2 != 0 {
			key := "partial_rotary_factor"
			if c.ModelType == GPTNeoX {
				key = "rotary_pct"
			}
			return fail(key, "gives %d rotary dims per head, which is odd", c.Rot)
		}
		if !(c.Theta > 0) {
			return fail("rope_theta", "%v must be > 0", c.Theta)
		}
	}
	var total float64
	for _, s := range c.shapes() {
		n := 1.0
		for _, d := range s.shape {
			n *= float64(d)
		}
		total += n
	}
	if total > maxParams {
		return fmt.Errorf("%s: the config implies %.3g parameters, more than this loader accepts (%d)", name, total, int64(maxParams))
	}
	return nil
}

// Summary is a one-line description of the architecture.
func (c Config) Summary() string {
	return fmt.Sprintf("%s: vocab %d, hidden %d, %d layers, %d heads (%d kv) of %d, MLP %d, max positions %d, tied head %t",
		c.ModelType, c.Vocab, c.D, c.Layers, c.Heads, c.KVHeads, c.HeadDim, c.Inner, c.MaxPos, c.Tie)
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
