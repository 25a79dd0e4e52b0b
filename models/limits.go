package models

import (
	"fmt"

	"gatedpo/graph/safetensors"
)

// Limits on model sizes. A config beyond them is refused before anything
// is allocated (a checkpoint's __metadata__ is untrusted input: an absurd
// size would otherwise end the process with a runtime out-of-memory
// error). They are far above every arch preset and the usual Hugging Face
// models.
const (
	MaxVocabSize = 1 << 22 // 4,194,304 token ids
	MaxDModel    = 1 << 15 // 32,768 residual / embedding width
	MaxLayers    = 1024    // transformer blocks
	MaxSeqLen    = 1 << 17 // 131,072 positions
	MaxWindow    = 4096    // MLP context window
	MaxDHidden   = 1 << 17 // MLP hidden units
)

// sizeLimit is one config size and its limit.
type sizeLimit struct {
	key      string
	v, limit int
}

// checkLimits reports the first size of a kind config above its limit.
func checkLimits(kind string, ls ...sizeLimit) error {
	for _, l := range ls {
		if l.v > l.limit {
			return fmt.Errorf("%s config: %s = %d, expected ≤ %d", kind, l.key, l.v, l.limit)
		}
	}
	return nil
}

// checkTransformerLimits checks the sizes of a transformer config.
func checkTransformerLimits(c TransformerConfig) error {
	return checkLimits("transformer", sizeLimit{"vocab_size", c.VocabSize, MaxVocabSize}, sizeLimit{"d_model", c.DModel, MaxDModel},
		sizeLimit{"n_heads", c.NHeads, MaxDModel}, sizeLimit{"n_layers", c.NLayers, MaxLayers}, sizeLimit{"max_seq_len", c.MaxSeqLen, MaxSeqLen})
}

// checkMLPLimits checks the sizes of an MLP config.
func checkMLPLimits(c MLPConfig) error {
	return checkLimits("mlp", sizeLimit{"vocab_size", c.VocabSize, MaxVocabSize}, sizeLimit{"window", c.Window, MaxWindow},
		sizeLimit{"d_embed", c.DEmbed, MaxDModel}, sizeLimit{"d_hidden", c.DHidden, MaxDHidden}, sizeLimit{"max_seq_len", c.MaxSeqLen, MaxSeqLen})
}

// checkParamBudget compares the parameters a config needs with the tensor
// elements a checkpoint holds, before the model is allocated. Load needs
// every parameter in the file, so a config asking for far more than the
// file holds is wrong, whatever its individual sizes; it is refused here,
// so allocation stays within twice the file's elements (plus 1 Mi). Small
// mismatches are left to the per-tensor checks, which name the tensor.
func checkParamBudget(path string, shapes []paramShape, ts map[string]safetensors.Tensor) error {
	var have int64
	for _, t := range ts {
		have += int64(t.Len())
	}
	budget := 2*have + 1<<20
	var need int64
	for _, p := range shapes {
		n := int64(1)
		for _, d := range p.shape {
			if d > 0 && n > budget/int64(d) {
				n = budget + 1
				break
			}
			n *= int64(d)
		}
		need += n
		if need > budget {
			return fmt.Errorf("load %s: __metadata__.config needs far more parameters than the %d tensor elements in the file (tensor %q has shape %v)", path, have, p.name, p.shape)
		}
	}
	return nil
}
