package models

import (
	"encoding/json"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"gatedpo/graph/safetensors"
)

// TestLoadAbsurdConfigSizes: a checkpoint whose __metadata__ config asks
// for an absurd vocabulary, width, context or depth is refused with a
// message naming the file, the key and the limit, before the model is
// allocated (memory stays flat), and so is a config within the limits that
// needs more parameters than the file holds.
func TestLoadAbsurdConfigSizes(t *testing.T) {
	dir := t.TempDir()
	tr, _ := NewTransformer(smallGPT, tensor.Float32, 1)
	good := filepath.Join(dir, "good.safetensors")
	if err := Save(tr, good, nil); err != nil {
		t.Fatal(err)
	}
	ts, meta, err := safetensors.Read(good)
	if err != nil {
		t.Fatal(err)
	}
	withCfg := func(name string, edit func(c map[string]any)) string {
		var c map[string]any
		if err := json.Unmarshal([]byte(meta["config"]), &c); err != nil {
			t.Fatal(err)
		}
		edit(c)
		b, _ := json.Marshal(c)
		m := map[string]string{"model": meta["model"], "config": string(b)}
		p := filepath.Join(dir, name+".safetensors")
		if err := safetensors.Write(p, ts, m); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mlp := func(name string, c MLPConfig) string {
		b, _ := json.Marshal(c)
		p := filepath.Join(dir, name+".safetensors")
		if err := safetensors.Write(p, ts, map[string]string{"model": "mlp", "config": string(b)}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct{ path, want string }{
		{withCfg("vocab", func(c map[string]any) { c["vocab_size"] = 1e12 }), "vocab_size = 1000000000000, expected ≤ 4194304"},
		{withCfg("dmodel", func(c map[string]any) { c["d_model"], c["n_heads"] = 1e9, 1 }), "d_model = 1000000000, expected ≤ 32768"},
		{withCfg("seqlen", func(c map[string]any) { c["max_seq_len"] = 1e12 }), "max_seq_len = 1000000000000, expected ≤ 131072"},
		{withCfg("layers", func(c map[string]any) { c["n_layers"] = 1e9 }), "n_layers = 1000000000, expected ≤ 1024"},
		{withCfg("budget", func(c map[string]any) { c["vocab_size"], c["d_model"], c["n_heads"] = MaxVocabSize, MaxDModel, 1 }), "needs far more parameters"},
		{withCfg("layerbudget", func(c map[string]any) { c["n_layers"] = MaxLayers }), `"blocks.2.ln1.weight" is missing`},
		{mlp("mlpwindow", MLPConfig{VocabSize: 9, Window: 1e9, DEmbed: 3, DHidden: 4, MaxSeqLen: 5}), "window = 1000000000, expected ≤ 4096"},
		{mlp("mlpbudget", MLPConfig{VocabSize: MaxVocabSize, Window: MaxWindow, DEmbed: MaxDModel, DHidden: MaxDHidden, MaxSeqLen: 5}), "needs far more parameters"},
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, c := range cases {
		_, err := Load(c.path, tensor.Float32)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), filepath.Base(c.path)) {
			t.Errorf("Load(%s): error %v, want one naming the file and containing %q", filepath.Base(c.path), err, c.want)
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("refusing absurd configs allocated %d MB", grew>>20)
	}
}
