package experiments

// Thin adapters to packages owned by others. Each is the one place where
// the sweep meets an API that was still moving when it was written.

import (
	"gatedpo/experiments/config"
	"gatedpo/experiments/data"
)

// byteVocabSize is the vocabulary of the byte tokenizer (256 bytes plus
// the special tokens of experiments/data).
var byteVocabSize = data.NewByteTokenizer().VocabSize()

// seqExtraTokens is the room a row needs beyond max_prompt_tokens +
// max_response_tokens: none, rows are prompt ++ response; no BOS (as
// docs/method.md §9), and an EOS (data.append_eos) is appended before
// truncation, so it counts within max_response_tokens.
const seqExtraTokens = 0

// syntheticDataset generates the built-in dataset (experiments/data owns
// the generator).
func syntheticDataset(d config.DataConfig) (*data.Dataset, error) {
	return data.SyntheticChecked(d.Synthetic)
}
