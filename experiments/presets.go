package experiments

import (
	"fmt"
	"gatedpo/experiments/config"
)

// modelConfig is the resolved model table recorded in a cell's config:
// the preset's sizes plus the vocabulary and context of the data.
func modelConfig(arch string, d config.DataConfig, dtype string) (map[string]any, error) {
	p, ok := config.ArchPresets[arch]
	if !ok {
		return nil, fmt.Errorf("unknown arch %q", arch)
	}
	vocab := byteVocabSize
	if d.Tokenizer == "bpe" {
		vocab = d.VocabSize
	}
	m := map[string]any{
		"kind":        p.Kind,
		"vocab_size":  vocab,
		"max_seq_len": d.MaxPromptTokens + d.MaxResponseTokens + seqExtraTokens,
		"dtype":       dtype,
	}
	switch p.Kind {
	case "transformer":
		m["d_model"], m["n_heads"], m["n_layers"], m["ln_eps"] = p.DModel, p.Heads, p.Layers, 1e-5
	case "mlp":
		m["d_embed"], m["window"], m["d_hidden"], m["activation"] = p.DModel, p.Window, p.Hidden, "tanh"
	}
	return m, nil
}
