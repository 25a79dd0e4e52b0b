package models

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"gorgonia.org/tensor"

	"gatedpo/graph/safetensors"
)

// Checkpoint metadata keys.
const (
	MetaConfig = "config" // the model config as JSON
	MetaModel  = "model"  // the model kind: "transformer" or "mlp"
)

// Save writes lm's weights to path as safetensors (F32 or F64 per the
// model's dtype), atomically, with __metadata__ holding "config"
// (ConfigJSON), "model" (Kind) and every extraMeta entry (extraMeta cannot
// override "config" or "model").
func Save(lm LM, path string, extraMeta map[string]string) error {
	meta := map[string]string{}
	for k, v := range extraMeta {
		meta[k] = v
	}
	meta[MetaConfig] = lm.ConfigJSON()
	meta[MetaModel] = lm.Kind()
	ts := map[string]safetensors.Tensor{}
	for _, w := range lm.Weights() {
		st, err := TensorOf(w)
		if err != nil {
			return fmt.Errorf("save %s: %v", path, err)
		}
		ts[w.Name] = st
	}
	return safetensors.Write(path, ts, meta)
}

// Loader builds a model of a kind this package does not know (e.g. "hf",
// registered by gatedpo/models/hf) from a checkpoint's tensors and
// metadata, in dtype dt; path is for errors.
type Loader func(path string, ts map[string]safetensors.Tensor, meta map[string]string, dt tensor.Dtype) (LM, error)

var (
	loadersMu sync.RWMutex
	loaders   = map[string]Loader{}
)

// RegisterLoader makes Load hand checkpoints whose __metadata__["model"]
// is kind to f. Packages of further model families call it from init.
func RegisterLoader(kind string, f Loader) {
	loadersMu.Lock()
	defer loadersMu.Unlock()
	loaders[kind] = f
}

// Load reads a checkpoint written by Save or by the PyTorch peer and builds
// the model it describes, in dtype dt (F64 ↔ F32 converted as needed). The
// model kind comes from __metadata__["model"]: "mlp", or "transformer"
// (also the peer's "tinygpt", and the default when the key is absent).
// Every parameter must be present with its exact shape, and no others.
// The config's sizes are checked against the limits of limits.go and
// against the tensor elements in the file before the model is allocated.
func Load(path string, dt tensor.Dtype) (LM, error) {
	ts, meta, err := safetensors.Read(path)
	if err != nil {
		return nil, err
	}
	cfgJSON, ok := meta[MetaConfig]
	if !ok {
		return nil, fmt.Errorf("load %s: __metadata__ has no %q key", path, MetaConfig)
	}
	var lm LM
	switch kind := meta[MetaModel]; kind {
	case "", "transformer", "tinygpt":
		cfg := TransformerConfig{LNEps: 1e-5}
		if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
			return nil, fmt.Errorf("load %s: __metadata__.config is not a transformer config: %v", path, err)
		}
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("load %s: %v", path, err)
		}
		if err := checkParamBudget(path, transformerShapes(cfg), ts); err != nil {
			return nil, err
		}
		m, err := newTransformerZero(cfg, dt)
		if err != nil {
			return nil, fmt.Errorf("load %s: %v", path, err)
		}
		lm = m
	case "mlp":
		var cfg MLPConfig
		if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
			return nil, fmt.Errorf("load %s: __metadata__.config is not an mlp config: %v", path, err)
		}
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("load %s: %v", path, err)
		}
		if err := checkParamBudget(path, mlpShapes(cfg), ts); err != nil {
			return nil, err
		}
		m, err := newMLPZero(cfg, dt)
		if err != nil {
			return nil, fmt.Errorf("load %s: %v", path, err)
		}
		lm = m
	default:
		loadersMu.RLock()
		f, ok := loaders[kind]
		loadersMu.RUnlock()
		if ok {
			return f(path, ts, meta, dt)
		}
		return nil, fmt.Errorf("load %s: unknown __metadata__.model %q (want transformer or mlp)", path, kind)
	}
	want := map[string]bool{}
	for _, w := range lm.Weights() {
		want[w.Name] = true
		st, ok := ts[w.Name]
		if !ok {
			return nil, fmt.Errorf("load %s: tensor %q is missing", path, w.Name)
		}
		if err := SetWeight(w, st, "the config needs", false); err != nil {
			return nil, fmt.Errorf("load %s: %v", path, err)
		}
	}
	var extra []string
	for name := range ts {
		if !want[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return nil, fmt.Errorf("load %s: unexpected tensors %v for a %s model", path, extra, lm.Kind())
	}
	return lm, nil
}
