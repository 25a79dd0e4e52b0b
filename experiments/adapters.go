package experiments

// Thin adapters to packages owned by others. Each is the one place where
// the sweep meets an API that was still moving when it was written.

import (
	"gatedpo/experiments/data"
	"gatedpo/objectives"
	"gatedpo/results"
)

// byteVocabSize is the vocabulary of the byte tokenizer (256 bytes plus
// the special tokens of experiments/data).
var byteVocabSize = data.NewByteTokenizer().VocabSize()

// seqExtraTokens is the room a row needs beyond max_prompt_tokens +
// max_response_tokens: none, rows are prompt ++ response; no BOS (as
// docs/method.md §9), and an EOS (data.append_eos) is appended before
// truncation, so it counts within max_response_tokens.
const seqExtraTokens = 0

// ParseObjective reads one [[grid.objective]] table with the objective
// vocabulary of objectives.ParseSpec (errors are *objectives.KeyError).
func ParseObjective(t map[string]any) (results.ObjectiveSpec, error) {
	s, err := objectives.ParseSpec(t)
	if err != nil {
		return results.ObjectiveSpec{}, err
	}
	return results.ObjectiveSpec(s), nil
}

// syntheticDataset generates the built-in dataset (experiments/data owns
// the generator).
func syntheticDataset(d DataConfig) (*data.Dataset, error) {
	return data.SyntheticChecked(d.Synthetic)
}
