package hftok

import (
	"fmt"
	"os"
	"path/filepath"

	"gatedpo/experiments/data"
)

// Data returns t as a data.Tokenizer, so a sweep can feed a model the text
// its own tokenizer makes (a grid's tokenizer = "model"):
//
//   - Encode is t.Encode: no BOS/EOS added (data.Encode adds them when its
//     Limits say so, from data.Specials), added tokens in the text matched
//     as Hugging Face matches them.
//   - Decode is t.Decode skipping special tokens, as data.Tokenizer asks.
//     So Decode(Encode(s)) == s except that literal special-token strings
//     in s (e.g. "<|endoftext|>") are dropped and the normalizer (NFC for
//     Qwen2 and Pythia) is applied; t.Decode(ids, false) keeps the former.
//   - VocabSize is t.VocabSize(); check the model's with t.CheckVocab.
//   - PadID is the pad token, else EOS, else 0 (pads are masked out).
//   - Name is "hf-<VocabSize>", Hash the SHA-256 of tokenizer.json, and
//     SaveJSON writes the file exactly as it was read.
//   - data.Specials gives its pad, BOS and EOS ids (-1 when absent).
func (t *Tokenizer) Data() data.Tokenizer { return dataTokenizer{t} }

type dataTokenizer struct{ t *Tokenizer }

func (d dataTokenizer) Encode(s string) []int      { return d.t.Encode(s) }
func (d dataTokenizer) Decode(ids []int) string    { return d.t.Decode(ids, true) }
func (d dataTokenizer) VocabSize() int             { return d.t.VocabSize() }
func (d dataTokenizer) Name() string               { return fmt.Sprintf("hf-%d", d.t.VocabSize()) }
func (d dataTokenizer) Hash() string               { return d.t.hash }
func (d dataTokenizer) SaveJSON(path string) error { return writeFileAtomic(path, d.t.raw) }

func (d dataTokenizer) PadID() int {
	switch {
	case d.t.pad >= 0:
		return d.t.pad
	case d.t.eos >= 0:
		return d.t.eos
	}
	return 0
}

func (d dataTokenizer) SpecialIDs() data.SpecialIDs {
	return data.SpecialIDs{Pad: d.PadID(), BOS: d.t.bos, EOS: d.t.eos}
}

// ForModel loads the tokenizer of a Hugging Face model directory (or a
// tokenizer.json) as a data.Tokenizer and checks that its ids fit the
// model's vocabulary (vocabSize ≤ 0: read config.json's vocab_size, as
// LoadDir does).
func ForModel(path string, vocabSize int) (data.Tokenizer, error) {
	t, err := Load(path)
	if err != nil {
		return nil, err
	}
	if vocabSize > 0 {
		if err := t.CheckVocab(vocabSize); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
	}
	return t.Data(), nil
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it into place, so a reader never sees a partial file.
func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: cannot create directory: %v", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("%s: cannot write: %v", path, err)
	}
	_, werr := tmp.Write(b)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("%s: cannot write: %v", path, werr)
	}
	return nil
}
