package hf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gorgonia.org/tensor"

	"gatedpo/graph/safetensors"
	"gatedpo/models"
)

// File names of a Hugging Face model directory.
const (
	ConfigFile  = "config.json"
	WeightsFile = "model.safetensors"
)

// DirPrefix marks a path as a Hugging Face model directory ("hf:DIR").
const DirPrefix = "hf:"

func init() {
	models.RegisterLoader(Kind, func(path string, ts map[string]safetensors.Tensor, meta map[string]string, dt tensor.Dtype) (models.LM, error) {
		c, err := ParseConfig([]byte(meta[models.MetaConfig]), path+" __metadata__.config")
		if err != nil {
			return nil, err
		}
		return FromTensors(c, ts, dt, path)
	})
}

// IsModelDir reports whether path (without the "hf:" prefix) is a
// directory holding a config.json.
func IsModelDir(path string) bool {
	st, err := os.Stat(filepath.Join(path, ConfigFile))
	return err == nil && st.Mode().IsRegular()
}

// ReadWeights reads the tensors of a model directory: the shards named by
// model.safetensors.index.json when it exists, else model.safetensors.
// It also returns the weight files read, relative to dir.
func ReadWeights(dir string) (map[string]safetensors.Tensor, []string, error) {
	index := filepath.Join(dir, safetensors.IndexFile)
	if _, err := os.Stat(index); err == nil {
		ix, err := safetensors.ReadShardIndex(index)
		if err != nil {
			return nil, nil, err
		}
		ts, _, err := safetensors.ReadSharded(index)
		return ts, ix.Shards(), err
	}
	single := filepath.Join(dir, WeightsFile)
	if _, err := os.Stat(single); err != nil {
		return nil, nil, fmt.Errorf("hf model %s: neither %s nor %s found", dir, WeightsFile, safetensors.IndexFile)
	}
	ts, _, err := safetensors.Read(single)
	return ts, []string{WeightsFile}, err
}

// LoadDir loads a Hugging Face model directory (config.json plus
// model.safetensors or a sharded set) in dtype dt (float32 or float64);
// stored F16, BF16, F32 and F64 weights are converted exactly or rounded
// to dt.
func LoadDir(dir string, dt tensor.Dtype) (*Model, error) {
	dir = strings.TrimPrefix(dir, DirPrefix)
	cfgPath := filepath.Join(dir, ConfigFile)
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("hf model %s: no %s (not a Hugging Face model directory)", dir, ConfigFile)
		}
		return nil, fmt.Errorf("hf model %s: %v", dir, err)
	}
	c, err := ParseConfig(raw, cfgPath)
	if err != nil {
		return nil, err
	}
	ts, _, err := ReadWeights(dir)
	if err != nil {
		return nil, err
	}
	m, err := FromTensors(c, ts, dt, dir)
	if err != nil {
		return nil, err
	}
	m.srcDir = dir
	return m, nil
}

// FromTensors builds a model of config c from checkpoint tensors (names
// as stored; name is used in errors). Every parameter must be present with
// its shape and a float dtype; buffers (GPT-2 attn.bias, GPT-NeoX
// attention.bias/masked_bias/rotary_emb.inv_freq, Llama inv_freq) and an
// output head that tie_word_embeddings re-ties to the embedding are
// skipped; any other tensor is an error.
func FromTensors(c Config, ts map[string]safetensors.Tensor, dt tensor.Dtype, name string) (*Model, error) {
	m, err := NewZero(c, dt)
	if err != nil {
		return nil, err
	}
	if c.ModelType == GPT2 {
		if _, ok := ts["transformer.wte.weight"]; ok {
			m.prefix = "transformer."
		}
	}
	used := map[string]bool{}
	for i := range m.weights {
		w := &m.weights[i]
		w.Name = m.prefix + w.Name
		st, ok := ts[w.Name]
		if !ok {
			return nil, fmt.Errorf("hf model %s: tensor %q is missing (model_type %s)", name, w.Name, c.ModelType)
		}
		used[w.Name] = true
		if err := models.SetWeight(*w, st, "config.json implies", true); err != nil {
			return nil, fmt.Errorf("hf model %s: %v", name, err)
		}
	}
	var extra []string
	for _, k := range sortedKeys(ts) {
		switch {
		case used[k]:
		case bufferRE.MatchString(k):
			m.ignored = append(m.ignored, k)
		case c.Tie && isTiedHead(c, canonical(c.ModelType, k)):
			m.ignored = append(m.ignored, k)
		default:
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		return nil, fmt.Errorf("hf model %s: unexpected tensors for model_type %s: %s", name, c.ModelType, strings.Join(extra, ", "))
	}
	return m, nil
}

// isTiedHead reports whether a canonical name is the output head that
// tie_word_embeddings replaces by the embedding.
func isTiedHead(c Config, canon string) bool {
	if c.ModelType == GPTNeoX {
		return canon == "embed_out.weight"
	}
	return canon == "lm_head.weight"
}

// Load loads a model from path in dtype dt: "hf:DIR" or a directory
// holding config.json is a Hugging Face model directory; anything else is
// a checkpoint file for models.Load (which also reads this package's
// single-file checkpoints).
func Load(path string, dt tensor.Dtype) (models.LM, error) {
	if strings.HasPrefix(path, DirPrefix) {
		return LoadDir(path, dt)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		if !IsModelDir(path) {
			return nil, fmt.Errorf("%s is a directory without %s (not a Hugging Face model directory)", path, ConfigFile)
		}
		return LoadDir(path, dt)
	}
	return models.Load(path, dt)
}

// LoadReference loads a reference model for policy: anything Load
// accepts, or a weights-only safetensors file (no __metadata__ config, as
// shared/hf/golden/NAME-ref.safetensors) whose tensors carry the policy's
// parameter names and shapes, taken as policy's architecture.
func LoadReference(path string, policy models.LM) (models.LM, error) {
	if strings.HasPrefix(path, DirPrefix) {
		return Load(path, policy.Dtype())
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return Load(path, policy.Dtype())
	}
	ts, meta, err := safetensors.Read(path)
	if err != nil {
		return nil, err
	}
	if _, ok := meta[models.MetaConfig]; ok {
		return models.Load(path, policy.Dtype())
	}
	return WeightsLike(policy, ts, path)
}

// WeightsLike returns a copy of like whose weights are replaced by the
// tensors of ts (same names and shapes; F16/BF16/F32/F64, converted to the
// model's dtype). Buffers of Hugging Face checkpoints are skipped; any
// other missing or extra tensor is an error naming it.
func WeightsLike(like models.LM, ts map[string]safetensors.Tensor, name string) (models.LM, error) {
	lm := like.Clone()
	hm, isHF := lm.(*Model)
	used := map[string]bool{}
	for _, w := range lm.Weights() {
		st, ok := ts[w.Name]
		if !ok {
			return nil, fmt.Errorf("%s: tensor %q is missing", name, w.Name)
		}
		used[w.Name] = true
		if err := models.SetWeight(w, st, "the model needs", true); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
	}
	var extra []string
	for k := range ts {
		if used[k] || (isHF && (bufferRE.MatchString(k) || (hm.cfg.Tie && isTiedHead(hm.cfg, canonical(hm.cfg.ModelType, k))))) {
			continue
		}
		extra = append(extra, k)
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return nil, fmt.Errorf("%s: unexpected tensors for this model: %s", name, strings.Join(extra, ", "))
	}
	return lm, nil
}

// StoredDtypes returns the dtype of every tensor stored for path ("hf:DIR",
// a model directory or a safetensors file), reading only headers.
func StoredDtypes(path string) (map[string]string, error) {
	dir := strings.TrimPrefix(path, DirPrefix)
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return safetensors.ReadDtypes(path)
	}
	files := []string{WeightsFile}
	index := filepath.Join(dir, safetensors.IndexFile)
	if _, err := os.Stat(index); err == nil {
		ix, err := safetensors.ReadShardIndex(index)
		if err != nil {
			return nil, err
		}
		files = ix.Shards()
	}
	out := map[string]string{}
	for _, f := range files {
		d, err := safetensors.ReadDtypes(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		for k, v := range d {
			out[k] = v
		}
	}
	return out, nil
}

// WeightFiles lists the weight files of a model directory, relative to
// it: the shards of model.safetensors.index.json (sorted), or
// model.safetensors.
func WeightFiles(dir string) ([]string, error) {
	dir = strings.TrimPrefix(dir, DirPrefix)
	index := filepath.Join(dir, safetensors.IndexFile)
	if _, err := os.Stat(index); err == nil {
		ix, err := safetensors.ReadShardIndex(index)
		if err != nil {
			return nil, err
		}
		return ix.Shards(), nil
	}
	return []string{WeightsFile}, nil
}
