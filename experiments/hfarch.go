package experiments

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gatedpo/models/hf"
)

// HFArchPrefix marks a grid arch value that names a local Hugging Face
// model directory: "hf:PATH", PATH relative to the grid file's directory
// (or absolute). The cell config records the value as written.
const HFArchPrefix = hf.DirPrefix

// hfArch is a resolved "hf:PATH" arch.
type hfArch struct {
	Path string    // the model directory, resolved
	Cfg  hf.Config // its config.json
	Hash string    // SHA-256 of config.json and the weight files, in order
}

// arch validates one grid.arch value: a preset name or "hf:PATH". For an
// HF directory it parses config.json and checks that the data fit the
// model: the tokenizer's ids must be < vocab_size and
// max_prompt_tokens + max_response_tokens ≤ max_position_embeddings.
func (p *tableParser) arch(g *Grid, key, a string) error {
	if _, ok := ArchPresets[a]; ok {
		return nil
	}
	if !strings.HasPrefix(a, HFArchPrefix) {
		return p.errf(key, "expected one of %s, or hf:PATH (a local Hugging Face model directory), got %q", strings.Join(ArchNames(), ", "), a)
	}
	rel := strings.TrimPrefix(a, HFArchPrefix)
	if rel == "" {
		return p.errf(key, "hf: needs a model directory path, e.g. \"hf:models/pythia-160m\"")
	}
	path := rel
	if !filepath.IsAbs(path) {
		path = filepath.Join(g.Dir, path)
	}
	path = filepath.Clean(path)
	if !hf.IsModelDir(path) {
		return p.errf(key, "%s is not a Hugging Face model directory (no config.json); only local directories are supported", path)
	}
	raw, err := os.ReadFile(filepath.Join(path, hf.ConfigFile))
	if err != nil {
		return p.errf(key, "%v", err)
	}
	cfg, err := hf.ParseConfig(raw, filepath.Join(path, hf.ConfigFile))
	if err != nil {
		return p.errf(key, "%v", err)
	}
	vocab, what := byteVocabSize, "the byte tokenizer"
	if g.Data.Tokenizer == "bpe" {
		vocab, what = g.Data.VocabSize, "data.vocab_size"
	}
	if cfg.Vocab < vocab {
		return p.errf(key, "%s has vocab_size %d, but %s uses ids up to %d: the model's vocabulary is too small", path, cfg.Vocab, what, vocab-1)
	}
	if t := g.Data.MaxPromptTokens + g.Data.MaxResponseTokens + seqExtraTokens; t > cfg.MaxPos {
		return p.errf(key, "%s accepts at most %d positions (max_position_embeddings), but data.max_prompt_tokens + data.max_response_tokens = %d", path, cfg.MaxPos, t)
	}
	hash, err := hashModelDir(path)
	if err != nil {
		return p.errf(key, "%v", err)
	}
	if g.hfArchs == nil {
		g.hfArchs = map[string]hfArch{}
	}
	g.hfArchs[a] = hfArch{Path: path, Cfg: cfg, Hash: hash}
	return nil
}

// hashModelDir hashes config.json and the weight files (the shard index
// and its shards, or model.safetensors), so changed weights give new cell
// ids as a changed dataset does.
func hashModelDir(dir string) (string, error) {
	files := []string{hf.ConfigFile}
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors.index.json")); err == nil {
		names, err := hf.WeightFiles(dir)
		if err != nil {
			return "", err
		}
		files = append(files, "model.safetensors.index.json")
		files = append(files, names...)
	} else {
		files = append(files, hf.WeightsFile)
	}
	h := sha256.New()
	for _, f := range files {
		fh, err := os.Open(filepath.Join(dir, f))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00", f)
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hfModelConfig is the model table a cell with an "hf:PATH" arch records.
func (g *Grid) hfModelConfig(a hfArch) map[string]any {
	return map[string]any{
		"kind":                    hf.Kind,
		"model_type":              a.Cfg.ModelType,
		"vocab_size":              a.Cfg.Vocab,
		"max_position_embeddings": a.Cfg.MaxPos,
		"max_seq_len":             g.Data.MaxPromptTokens + g.Data.MaxResponseTokens + seqExtraTokens,
		"dtype":                   g.Train.DType,
		"source_sha256":           a.Hash,
	}
}

// cellModelConfig resolves the model table of an arch value.
func (g *Grid) cellModelConfig(arch string) (map[string]any, error) {
	if a, ok := g.hfArchs[arch]; ok {
		return g.hfModelConfig(a), nil
	}
	return modelConfig(arch, g.Data, g.Train.DType)
}

// FinalHFDir is the directory under a cell's checkpoint folder where the
// final policy of an "hf:PATH" arch is saved as a Hugging Face model
// directory (besides final.safetensors). No tokenizer files are copied:
// the sweep's token ids come from its own tokenizer (tokenizer.json of
// the sweep), not from the model's.
const FinalHFDir = "final-hf"
