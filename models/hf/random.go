package hf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gorgonia.org/tensor"

	"gatedpo/graph"
	"gatedpo/graph/safetensors"
)

// NewRandom returns a model of config c in dtype dt with random weights
// drawn from a math/rand/v2 PCG stream seeded by seed, in module order (the
// same config, dtype and seed give bit-identical weights): every matrix
// N(0, 0.02²), every norm weight 1 and every bias 0 — the initialisation of
// the PyTorch speed peer (shared/hf/peer/bench_hf.py). Only the shapes
// matter for timing and memory; the values keep logits and gradients in a
// realistic range.
func NewRandom(c Config, dt tensor.Dtype, seed uint64) (*Model, error) {
	m, err := NewZero(c, dt)
	if err != nil {
		return nil, err
	}
	rng := graph.NewRNG(seed)
	for _, w := range m.weights {
		switch {
		case w.T.Shape().Dims() >= 2:
			graph.FillNormal(w.T, rng, 0, 0.02)
		case strings.HasSuffix(w.Name, ".bias"):
			// zero, as allocated
		default: // LayerNorm / RMSNorm weights
			graph.FillConst(w.T, 1)
		}
	}
	return m, nil
}

// HasWeights reports whether the model directory dir holds weight files
// (model.safetensors or a shard index).
func HasWeights(dir string) bool {
	for _, f := range []string{WeightsFile, safetensors.IndexFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}

// LoadDirOrRandom loads the model directory dir ("hf:" prefix optional) in
// dtype dt. A directory that holds only config.json (no weight files)
// gives NewRandom(config, dt, seed) instead; random reports which.
func LoadDirOrRandom(dir string, dt tensor.Dtype, seed uint64) (m *Model, random bool, err error) {
	dir = strings.TrimPrefix(dir, DirPrefix)
	if HasWeights(dir) {
		m, err = LoadDir(dir, dt)
		return m, false, err
	}
	cfgPath := filepath.Join(dir, ConfigFile)
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, false, fmt.Errorf("hf model %s: no %s (not a Hugging Face model directory)", dir, ConfigFile)
		}
		return nil, false, fmt.Errorf("hf model %s: %v", dir, err)
	}
	c, err := ParseConfig(raw, cfgPath)
	if err != nil {
		return nil, false, err
	}
	m, err = NewRandom(c, dt, seed)
	if err != nil {
		return nil, false, err
	}
	m.srcDir = dir
	return m, true, nil
}
