package hf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/graph/safetensors"
	"gatedpo/models"
)

// TestParseConfigDefaults checks Hugging Face's defaults for absent fields.
func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig([]byte(`{"model_type":"gpt2","n_inner":null}`), "c.json")
	if err != nil {
		t.Fatal(err)
	}
	if c.D != 768 || c.Heads != 12 || c.Layers != 12 || c.Vocab != 50257 || c.MaxPos != 1024 || c.Inner != 3072 ||
		c.Act != "gelu_new" || c.Eps != 1e-5 || !c.ScaleAttn || c.ScaleByLayer || !c.Tie || c.HeadDim != 64 {
		t.Errorf("gpt2 defaults: %+v", c)
	}
	c, err = ParseConfig([]byte(`{"model_type":"gpt_neox","hidden_size":64,"num_attention_heads":4,"num_hidden_layers":1,"vocab_size":10,"intermediate_size":8}`), "c.json")
	if err != nil {
		t.Fatal(err)
	}
	if c.Rot != 4 || c.Theta != 10000 || !c.Parallel || !c.QKVBias || !c.OBias || c.Tie || c.Act != "gelu" || c.Eps != 1e-5 || c.MaxPos != 2048 {
		t.Errorf("gpt_neox defaults: %+v", c)
	}
	c, err = ParseConfig([]byte(`{"model_type":"gpt_neox","hidden_size":64,"num_attention_heads":4,"num_hidden_layers":1,"vocab_size":10,"intermediate_size":8,"partial_rotary_factor":0.5,"rope_theta":500}`), "c.json")
	if err != nil || c.Rot != 8 || c.Theta != 500 {
		t.Errorf("gpt_neox newer field names: %+v, %v", c, err)
	}
	c, err = ParseConfig([]byte(`{"model_type":"llama","hidden_size":64,"num_attention_heads":4,"num_key_value_heads":null,"num_hidden_layers":1,"vocab_size":10,"intermediate_size":8,"rope_scaling":null}`), "c.json")
	if err != nil {
		t.Fatal(err)
	}
	if c.KVHeads != 4 || c.HeadDim != 16 || c.Rot != 16 || c.Theta != 10000 || c.Eps != 1e-6 || c.Tie || c.QKVBias || c.OBias || c.MLPBias || c.Act != "silu" {
		t.Errorf("llama defaults: %+v", c)
	}
	c, err = ParseConfig([]byte(`{"model_type":"llama","hidden_size":64,"num_attention_heads":4,"num_hidden_layers":1,"vocab_size":10,"intermediate_size":8,"attention_bias":true,"mlp_bias":true,"head_dim":8,"rope_parameters":{"rope_type":"default","rope_theta":123}}`), "c.json")
	if err != nil || !c.QKVBias || !c.OBias || !c.MLPBias || c.HeadDim != 8 || c.Theta != 123 {
		t.Errorf("llama biases / head_dim / rope_parameters: %+v, %v", c, err)
	}
	c, err = ParseConfig([]byte(`{"model_type":"qwen2","hidden_size":48,"num_attention_heads":6,"num_key_value_heads":2,"num_hidden_layers":1,"vocab_size":10,"intermediate_size":8,"attention_bias":false,"sliding_window":4096,"use_sliding_window":false}`), "c.json")
	if err != nil || !c.QKVBias || c.OBias || c.MLPBias || c.Tie || c.KVHeads != 2 {
		t.Errorf("qwen2: %+v, %v", c, err)
	}
}

// TestParseConfigErrors: unknown or unsupported settings are errors that
// name the file and the field.
func TestParseConfigErrors(t *testing.T) {
	llama := func(extra string) string {
		return `{"model_type":"llama","hidden_size":64,"num_attention_heads":4,"num_hidden_layers":1,"vocab_size":10,"intermediate_size":8` + extra + `}`
	}
	cases := map[string]string{
		`{"model_type":"mistral"}`: `"model_type": "mistral" is not supported`,
		`{"n_embd":4}`:             `"model_type" is missing`,
		`[1]`:                      "not a JSON object",
		llama(`,"rope_scaling":{"rope_type":"llama3","factor":8}`): `"rope_scaling": rope scaling "llama3" is not supported`,
		llama(`,"rope_scaling":{"type":"linear","factor":2}`):      `"rope_scaling": rope scaling "linear"`,
		llama(`,"rope_parameters":{"rope_type":"yarn"}`):           `"rope_parameters": rope scaling "yarn"`,
		llama(`,"hidden_act":"gelu"`):                              `"hidden_act": activation "gelu" is not supported`,
		llama(`,"num_key_value_heads":3`):                          `"num_key_value_heads": 3 does not divide`,
		llama(`,"vocab_size":"big"`):                               `"vocab_size": expected an integer`,
		llama(`,"vocab_size":1e12`):                                `"vocab_size": expected an integer`,
		llama(`,"rms_norm_eps":-1`):                                `"layer_norm_eps"`,
		llama(`,"tie_word_embeddings":"yes"`):                      `"tie_word_embeddings": expected true or false`,
		llama(`,"partial_rotary_factor":0.1`):                      "odd",
		strings.Replace(llama(""), `"hidden_size":64,`, "", 1):     `"hidden_size": missing`,
		`{"model_type":"qwen2","hidden_size":48,"num_attention_heads":6,"num_hidden_layers":1,"vocab_size":10,"intermediate_size":8,"use_sliding_window":true}`: `"use_sliding_window": sliding-window attention is not supported`,
		`{"model_type":"gpt2","add_cross_attention":true}`:       `"add_cross_attention"`,
		`{"model_type":"gpt2","activation_function":"relu"}`:     `"activation_function": activation "relu"`,
		`{"model_type":"gpt2","n_embd":10,"n_head":3}`:           "not divisible by 3 heads",
		`{"model_type":"gpt2","n_embd":16777200,"n_layer":1000}`: "parameters, more than this loader accepts",
	}
	for cfg, want := range cases {
		_, err := ParseConfig([]byte(cfg), "dir/config.json")
		if err == nil {
			t.Errorf("%s: no error", cfg)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "dir/config.json") {
			t.Errorf("%s:\n error %q\n want it to start with the file and contain %q", cfg, err, want)
		}
	}
}

// copyModel copies a model directory of shared/hf into a temp dir.
func copyModel(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join(sharedHF(t), "models", name)
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// logitsOf runs a forward pass and returns the logits.
func logitsOf(t *testing.T, lm models.LM, ids [][]int) []float64 {
	t.Helper()
	return runLM(t, lm, ids, nil).logits
}

var testIDs = [][]int{{1, 5, 9, 200, 3, 0}, {255, 7, 7, 7, 1, 2}}

// TestGPT2PrefixedNames: "transformer."-prefixed GPT-2 files (the
// save_pretrained form) load to the same model, and keep their names.
func TestGPT2PrefixedNames(t *testing.T) {
	dir := copyModel(t, "gpt2-tiny")
	bare, err := LoadDir(dir, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	ts, _, err := safetensors.Read(filepath.Join(dir, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	pre := map[string]safetensors.Tensor{}
	for k, v := range ts {
		if v.DType != safetensors.F32 {
			continue // drop the mask buffers here (Encode writes F32/F64/I64)
		}
		pre["transformer."+k] = v
	}
	if err := safetensors.Write(filepath.Join(dir, WeightsFile), pre, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	m, err := LoadDir(dir, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range m.Weights() {
		if !strings.HasPrefix(w.Name, "transformer.") {
			t.Fatalf("weight %q lost the file's prefix", w.Name)
		}
	}
	if e := relMax(logitsOf(t, m, testIDs), logitsOf(t, bare, testIDs)); e != 0 {
		t.Errorf("prefixed and bare GPT-2 differ by %g", e)
	}
}

// TestLoadErrors: missing, mis-shaped and unexpected tensors, and a batch
// longer than max_position_embeddings, are errors naming them.
func TestLoadErrors(t *testing.T) {
	dir := copyModel(t, "qwen2-tiny")
	m, err := LoadDir(dir, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Build(G.NewGraph(), 1, m.MaxSeqLen()+1); err == nil || !strings.Contains(err.Error(), "max_position_embeddings 128") {
		t.Errorf("over-long batch: err = %v", err)
	}
	ts, _, err := safetensors.Read(filepath.Join(dir, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config()
	try := func(mut func(map[string]safetensors.Tensor), want string) {
		t.Helper()
		cp := map[string]safetensors.Tensor{}
		for k, v := range ts {
			cp[k] = v
		}
		mut(cp)
		_, err := FromTensors(c, cp, tensor.Float64, "x")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
	}
	try(func(m map[string]safetensors.Tensor) { delete(m, "model.norm.weight") }, `tensor "model.norm.weight" is missing`)
	try(func(m map[string]safetensors.Tensor) {
		m["model.norm.weight"] = safetensors.Tensor{DType: safetensors.F32, Shape: []int{3}, F32: make([]float32, 3)}
	}, `"model.norm.weight" has shape [3], config.json implies [48]`)
	try(func(m map[string]safetensors.Tensor) {
		m["model.extra"] = safetensors.Tensor{DType: safetensors.F32, Shape: []int{1}, F32: make([]float32, 1)}
	}, "unexpected tensors for model_type qwen2: model.extra")
	try(func(m map[string]safetensors.Tensor) {
		m["model.norm.weight"] = safetensors.Tensor{DType: "I32", Shape: []int{48}, Raw: make([]byte, 4*48)}
	}, "has dtype I32")
	// a tied model whose file also carries the head: ignored, as HF re-ties it
	withHead := map[string]safetensors.Tensor{}
	for k, v := range ts {
		withHead[k] = v
	}
	withHead["lm_head.weight"] = safetensors.Tensor{DType: safetensors.F32, Shape: []int{c.Vocab, c.D}, F32: make([]float32, c.Vocab*c.D)}
	m2, err := FromTensors(c, withHead, tensor.Float64, "x")
	if err != nil {
		t.Fatal(err)
	}
	if got := m2.Ignored(); len(got) != 1 || got[0] != "lm_head.weight" {
		t.Errorf("ignored = %v, want [lm_head.weight]", got)
	}
	// not a model directory
	if _, err := Load(t.TempDir(), tensor.Float64); err == nil || !strings.Contains(err.Error(), "without config.json") {
		t.Errorf("empty dir: err = %v", err)
	}
	os.Remove(filepath.Join(dir, WeightsFile))
	if _, err := LoadDir(DirPrefix+dir, tensor.Float64); err == nil || !strings.Contains(err.Error(), "neither model.safetensors nor model.safetensors.index.json") {
		t.Errorf("no weights: err = %v", err)
	}
}

// TestSingleFileCheckpoint: models.Save / models.Load round-trip an HF
// model exactly (kind "hf", config.json in the metadata), and a
// weights-only file loads as a reference like the policy.
func TestSingleFileCheckpoint(t *testing.T) {
	m, err := LoadDir(filepath.Join(sharedHF(t), "models", "pythia-tiny"), tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ckpt.safetensors")
	if err := models.Save(m, p, nil); err != nil {
		t.Fatal(err)
	}
	back, err := Load(p, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	if back.Kind() != Kind || back.ConfigJSON() != m.ConfigJSON() {
		t.Errorf("round trip: kind %q, config differs: %t", back.Kind(), back.ConfigJSON() != m.ConfigJSON())
	}
	if e := relMax(logitsOf(t, back, testIDs), logitsOf(t, m, testIDs)); e != 0 {
		t.Errorf("round-tripped logits differ by %g", e)
	}
	var cfg map[string]any
	if err := json.Unmarshal([]byte(back.ConfigJSON()), &cfg); err != nil || cfg["model_type"] != "gpt_neox" {
		t.Errorf("config JSON: %v %v", cfg["model_type"], err)
	}
	// weights-only file: LoadReference takes the policy's architecture
	ts := map[string]safetensors.Tensor{}
	for _, w := range m.Weights() {
		ts[w.Name] = safetensors.Tensor{DType: safetensors.F64, Shape: append([]int{}, w.T.Shape()...), F64: w.T.Data().([]float64)}
	}
	wp := filepath.Join(t.TempDir(), "weights.safetensors")
	if err := safetensors.Write(wp, ts, nil); err != nil {
		t.Fatal(err)
	}
	ref, err := LoadReference(wp, m)
	if err != nil {
		t.Fatal(err)
	}
	if e := relMax(logitsOf(t, ref, testIDs), logitsOf(t, m, testIDs)); e != 0 {
		t.Errorf("weights-only reference logits differ by %g", e)
	}
	delete(ts, "embed_out.weight")
	if err := safetensors.Write(wp, ts, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadReference(wp, m); err == nil || !strings.Contains(err.Error(), `"embed_out.weight" is missing`) {
		t.Errorf("incomplete weights-only file: err = %v", err)
	}
}

// TestNewRandomDeterministic: the same config, dtype and seed give
// bit-identical weights; another seed different ones; norm weights 1,
// biases 0; a directory with only config.json loads as random weights.
func TestNewRandomDeterministic(t *testing.T) {
	raw := `{"model_type":"gpt_neox","hidden_size":16,"intermediate_size":32,"num_hidden_layers":1,"num_attention_heads":2,"vocab_size":40,"max_position_embeddings":32}`
	c, err := ParseConfig([]byte(raw), "test")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := NewRandom(c, tensor.Float32, 3)
	b, _ := NewRandom(c, tensor.Float32, 3)
	d, _ := NewRandom(c, tensor.Float32, 4)
	same, differs := true, false
	for i, w := range a.Weights() {
		x, y, z := w.T.Data().([]float32), b.Weights()[i].T.Data().([]float32), d.Weights()[i].T.Data().([]float32)
		for j := range x {
			same = same && x[j] == y[j]
			differs = differs || x[j] != z[j]
		}
		switch {
		case strings.HasSuffix(w.Name, "layernorm.weight") || strings.HasSuffix(w.Name, "final_layer_norm.weight"):
			if x[0] != 1 {
				t.Errorf("%s = %v, want 1", w.Name, x[0])
			}
		case strings.HasSuffix(w.Name, ".bias"):
			if x[0] != 0 {
				t.Errorf("%s = %v, want 0", w.Name, x[0])
			}
		}
	}
	if !same || !differs {
		t.Errorf("same seed identical: %v (want true); other seed differs: %v (want true)", same, differs)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(raw), 0o644); err != nil {
		t.Fatal(err)
	}
	m, random, err := LoadDirOrRandom(DirPrefix+dir, tensor.Float32, 3)
	if err != nil || !random {
		t.Fatalf("LoadDirOrRandom: random %v, err %v", random, err)
	}
	if got, want := m.Weights()[3].T.Data().([]float32)[5], a.Weights()[3].T.Data().([]float32)[5]; got != want {
		t.Errorf("config-only directory: weight %v, NewRandom %v", got, want)
	}
	if _, _, err := LoadDirOrRandom(filepath.Join(dir, "absent"), tensor.Float32, 3); err == nil {
		t.Error("LoadDirOrRandom accepted a directory without config.json")
	}
}
