package hf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"gorgonia.org/tensor"

	"gatedpo/graph/safetensors"
	"gatedpo/models"
)

// TokenizerFiles are the files SaveDir copies from the source directory
// when present: the tokenizer in its Hugging Face forms, and the
// generation config that usually travels with it.
var TokenizerFiles = []string{
	"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
	"vocab.json", "merges.txt", "tokenizer.model", "generation_config.json",
}

// SaveDir writes m as a Hugging Face model directory dir (created if
// needed): model.safetensors with the parameters under their checkpoint
// names, in the compute dtype (F32 or F64), with __metadata__
// {"format": "pt"}; config.json — the loaded config with torch_dtype set to
// the compute dtype, every other field as it was; and the TokenizerFiles
// found in tokenizerDir ("" copies none; m.SourceDir() is the directory
// the model came from). Each file is written atomically (temporary file,
// then rename).
// Buffers and tied heads are not written (Hugging Face rebuilds them).
func SaveDir(m *Model, dir, tokenizerDir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("hf save: %w", err)
	}
	ts := map[string]safetensors.Tensor{}
	for _, w := range m.weights {
		st, err := models.TensorOf(w)
		if err != nil {
			return fmt.Errorf("hf save %s: %v", dir, err)
		}
		ts[w.Name] = st
	}
	cfg, err := m.savedConfig()
	if err != nil {
		return fmt.Errorf("hf save %s: %v", dir, err)
	}
	if err := safetensors.Write(filepath.Join(dir, WeightsFile), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, ConfigFile), cfg); err != nil {
		return err
	}
	// A stale index from an earlier sharded save would shadow model.safetensors.
	if err := os.Remove(filepath.Join(dir, safetensors.IndexFile)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("hf save: %w", err)
	}
	if tokenizerDir == "" || sameDir(tokenizerDir, dir) {
		return nil
	}
	for _, f := range TokenizerFiles {
		b, err := os.ReadFile(filepath.Join(tokenizerDir, f))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("hf save: copying %s: %w", f, err)
		}
		if err := writeAtomic(filepath.Join(dir, f), b); err != nil {
			return err
		}
	}
	return nil
}

// savedConfig is config.json with torch_dtype set to the compute dtype,
// indented by 2 with sorted keys (as Hugging Face writes it); numbers keep
// their exact text.
func (m *Model) savedConfig() ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(m.cfg.Raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("config: %v", err)
	}
	obj["torch_dtype"] = "float32"
	if m.dt == tensor.Float64 {
		obj["torch_dtype"] = "float64"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sameDir(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// writeAtomic writes b to path atomically and durably.
func writeAtomic(path string, b []byte) error {
	if err := safetensors.WriteFileAtomic(path, b); err != nil {
		return fmt.Errorf("hf save: %w", err)
	}
	return nil
}

// SaveLM is SaveDir for a models.LM that is an HF model.
func SaveLM(lm models.LM, dir, tokenizerDir string) error {
	m, ok := lm.(*Model)
	if !ok {
		return fmt.Errorf("hf save %s: a %s model is not a Hugging Face model", dir, lm.Kind())
	}
	return SaveDir(m, dir, tokenizerDir)
}
