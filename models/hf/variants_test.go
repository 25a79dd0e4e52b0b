package hf

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"gatedpo/graph"
	"gatedpo/internal/sharedtest"
)

// variantConfigs are configs of the four families with the options the
// shared goldens do not exercise.
var variantConfigs = map[string]string{
	"gpt2 untied, erf gelu, scale by layer": `{"model_type":"gpt2","n_embd":24,"n_head":3,"n_layer":2,"vocab_size":300,"n_positions":16,
		"activation_function":"gelu","scale_attn_by_inverse_layer_idx":true,"tie_word_embeddings":false,"n_inner":40}`,
	"gpt2 unscaled attention, pytorch tanh gelu": `{"model_type":"gpt2","n_embd":16,"n_head":2,"n_layer":1,"vocab_size":300,"n_positions":16,
		"activation_function":"gelu_pytorch_tanh","scale_attn_weights":false}`,
	"gpt_neox sequential residual, no attention bias, tied, rotary 0.5": `{"model_type":"gpt_neox","hidden_size":32,"num_attention_heads":2,
		"num_hidden_layers":2,"vocab_size":300,"intermediate_size":48,"max_position_embeddings":16,"use_parallel_residual":false,
		"attention_bias":false,"tie_word_embeddings":true,"rotary_pct":0.5,"rotary_emb_base":500,"hidden_act":"gelu_new"}`,
	"llama MQA, biases, head_dim, partial rotary, tied": `{"model_type":"llama","hidden_size":24,"num_attention_heads":4,"num_key_value_heads":1,
		"head_dim":8,"num_hidden_layers":2,"vocab_size":300,"intermediate_size":40,"max_position_embeddings":16,"attention_bias":true,
		"mlp_bias":true,"tie_word_embeddings":true,"partial_rotary_factor":0.5,"rope_theta":1000.0,"rms_norm_eps":1e-5}`,
	"qwen2 untied, MHA": `{"model_type":"qwen2","hidden_size":24,"num_attention_heads":3,"num_key_value_heads":3,"num_hidden_layers":1,
		"vocab_size":300,"intermediate_size":40,"max_position_embeddings":16,"tie_word_embeddings":false,"use_sliding_window":false}`,
}

// randomModel builds a model of config raw with random weights: norm
// gains 1 + 0.1·N(0,1), biases 0.05·N(0,1), matrices 0.1·N(0,1).
func randomModel(t testing.TB, raw string, dt tensor.Dtype, seed uint64) *Model {
	t.Helper()
	c, err := ParseConfig([]byte(raw), "variant")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewZero(c, dt)
	if err != nil {
		t.Fatal(err)
	}
	rng := graph.NewRNG(seed)
	for _, w := range m.Weights() {
		switch {
		case strings.HasSuffix(w.Name, ".bias"):
			graph.FillNormal(w.T, rng, 0, 0.05)
		case w.T.Shape().Dims() == 1:
			graph.FillNormal(w.T, rng, 1, 0.1)
		default:
			graph.FillNormal(w.T, rng, 0, 0.1)
		}
	}
	return m
}

// TestVariantsAgainstHFRef builds random models of configs the goldens do
// not cover (untied GPT-2 with erf GELU and per-layer attention scaling,
// unscaled GPT-2 attention, sequential-residual GPT-NeoX without attention
// biases and with a tied head, Llama with one kv head, all biases, an
// explicit head_dim and partial rotary, untied Qwen2), saves each with
// SaveDir and checks the logits of shared/hf/peer/hf_ref.py on the saved
// directory (float64, 1e-12 relative to max-abs). Skips without torch.
func TestVariantsAgainstHFRef(t *testing.T) {
	peer := filepath.Join(sharedHF(t), "peer")
	sharedtest.Torch(t)
	ids := [][]int{{5, 299, 17, 0, 42, 42, 7, 100, 3, 250, 1, 2}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 12}}
	names := sortedKeys(variantConfigs)
	var dirs []string
	var ours [][]float64
	for i, name := range names {
		m := randomModel(t, variantConfigs[name], tensor.Float64, uint64(10+i))
		dir := t.TempDir()
		if err := SaveDir(m, dir, ""); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
		ours = append(ours, logitsOf(t, m, ids))
	}
	refs := sharedtest.HFRefLogits(t, peer, ids, dirs...)
	for i, name := range names {
		e := relMax(ours[i], refs[i])
		t.Logf("%s: %.2g", name, e)
		if !(e <= 1e-12) {
			t.Errorf("%s: logits differ from hf_ref.py by %.3g relative (tolerance 1e-12)", name, e)
		}
	}
}

// TestVariantsGradFD checks whole-model gradients of the variants by
// central finite differences on a few elements of every parameter
// (float64; the fused ops have their own element-wise tests in graph).
func TestVariantsGradFD(t *testing.T) {
	ids := [][]int{{5, 299, 17, 0, 42, 42}, {9, 8, 7, 6, 5, 4}}
	masks := [][]int{{0, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 0}}
	coef := []float64{0.7, -1.3}
	w := lpWeights(masks, coef)
	for i, name := range sortedKeys(variantConfigs) {
		t.Run(name, func(t *testing.T) {
			m := randomModel(t, variantConfigs[name], tensor.Float64, uint64(30+i))
			ana := runLM(t, m, ids, w).grads
			loss := func() float64 {
				r := runLM(t, m, ids, nil)
				var s float64
				for r0 := range w {
					for p, v := range w[r0] {
						s += v * r.lp[r0*(len(ids[0])-1)+p]
					}
				}
				return s
			}
			const eps = 1e-6
			var worst float64
			var worstName string
			for _, wt := range m.Weights() {
				d := wt.T.Data().([]float64)
				g := ana[wt.Name]
				scale := 1e-3
				for _, v := range g {
					scale = max(scale, abs(v))
				}
				for k := 0; k < 3; k++ {
					j := (k*7919 + 13) % len(d)
					x0 := d[j]
					d[j] = x0 + eps
					lp := loss()
					d[j] = x0 - eps
					lm := loss()
					d[j] = x0
					if e := abs((lp-lm)/(2*eps)-g[j]) / scale; e > worst {
						worst, worstName = e, fmt.Sprintf("%s[%d]", wt.Name, j)
					}
				}
			}
			t.Logf("worst |fd − analytic| / max|grad| = %.2g (%s)", worst, worstName)
			if worst > 1e-6 {
				t.Errorf("finite differences disagree: %.3g at %s", worst, worstName)
			}
		})
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
