package models

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/graph"
	"gatedpo/graph/safetensors"
)

var smallGPT = TransformerConfig{VocabSize: 17, DModel: 8, NHeads: 2, NLayers: 2, MaxSeqLen: 12, LNEps: 1e-5}

// TestSameSeedSameWeights: model initialisation is a pure function of the
// seed (bit-identical), and different seeds differ.
func TestSameSeedSameWeights(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		a, err := NewTransformer(smallGPT, dt, 42)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := NewTransformer(smallGPT, dt, 42)
		c, _ := NewTransformer(smallGPT, dt, 43)
		for i, w := range a.Weights() {
			if !bytesEqual(w.T, b.Weights()[i].T) {
				t.Errorf("%v %s: same seed gave different weights", dt, w.Name)
			}
			if w.Name == "tok_emb" && bytesEqual(w.T, c.Weights()[i].T) {
				t.Errorf("%v %s: different seeds gave equal weights", dt, w.Name)
			}
		}
		ma, _ := NewMLP(MLPConfig{VocabSize: 9, Window: 2, DEmbed: 3, DHidden: 4, MaxSeqLen: 5}, dt, 5)
		mb, _ := NewMLP(MLPConfig{VocabSize: 9, Window: 2, DEmbed: 3, DHidden: 4, MaxSeqLen: 5}, dt, 5)
		for i, w := range ma.Weights() {
			if !bytesEqual(w.T, mb.Weights()[i].T) {
				t.Errorf("mlp %v %s: same seed gave different weights", dt, w.Name)
			}
		}
	}
}

// bytesEqual reports whether two tensors hold bit-identical values.
func bytesEqual(a, b *tensor.Dense) bool {
	x, y := graph.Float64s(a), graph.Float64s(b)
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
			return false
		}
	}
	return true
}

// TestCheckpointRoundTrip: Save then Load gives bit-identical weights and
// the same config, for both models and both dtypes, and F64 → F32 loading
// rounds to nearest.
func TestCheckpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	tr, _ := NewTransformer(smallGPT, tensor.Float64, 1)
	ml, _ := NewMLP(MLPConfig{VocabSize: 9, Window: 2, DEmbed: 3, DHidden: 4, Activation: ActGELU, MaxSeqLen: 5}, tensor.Float64, 2)
	for _, lm := range []LM{tr, ml} {
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			src := lm
			if dt == tensor.Float32 {
				p := filepath.Join(dir, "tmp64.safetensors")
				if err := Save(lm, p, nil); err != nil {
					t.Fatal(err)
				}
				var err error
				if src, err = Load(p, tensor.Float32); err != nil {
					t.Fatal(err)
				}
			}
			p := filepath.Join(dir, lm.Kind()+dt.String()+".safetensors")
			if err := Save(src, p, map[string]string{"step": "7", "model": "ignored"}); err != nil {
				t.Fatal(err)
			}
			got, err := Load(p, dt)
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind() != lm.Kind() || got.ConfigJSON() != src.ConfigJSON() || got.Dtype() != dt {
				t.Errorf("%s %v: kind/config/dtype changed: %s %s %v", lm.Kind(), dt, got.Kind(), got.ConfigJSON(), got.Dtype())
			}
			for i, w := range src.Weights() {
				if !bytesEqual(w.T, got.Weights()[i].T) {
					t.Errorf("%s %v: %s not bit-identical after a round trip", lm.Kind(), dt, w.Name)
				}
			}
			_, meta, err := safetensors.Read(p)
			if err != nil {
				t.Fatal(err)
			}
			if meta["step"] != "7" || meta["model"] != lm.Kind() {
				t.Errorf("metadata %v: want step=7 and model=%s", meta, lm.Kind())
			}
		}
	}
}

// TestLoadErrors: malformed checkpoints fail with messages that name the
// file and the offending tensor or key.
func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	tr, _ := NewTransformer(smallGPT, tensor.Float64, 1)
	good := filepath.Join(dir, "good.safetensors")
	if err := Save(tr, good, nil); err != nil {
		t.Fatal(err)
	}
	ts, meta, _ := safetensors.Read(good)
	write := func(name string, ts map[string]safetensors.Tensor, meta map[string]string) string {
		p := filepath.Join(dir, name)
		if err := safetensors.Write(p, ts, meta); err != nil {
			t.Fatal(err)
		}
		return p
	}
	clone := func() map[string]safetensors.Tensor {
		out := map[string]safetensors.Tensor{}
		for k, v := range ts {
			out[k] = v
		}
		return out
	}
	missing := clone()
	delete(missing, "lm_head")
	extra := clone()
	extra["surprise"] = safetensors.Tensor{DType: "F64", Shape: []int{1}, F64: []float64{1}}
	badShape := clone()
	badShape["ln_f.bias"] = safetensors.Tensor{DType: "F64", Shape: []int{3}, F64: []float64{1, 2, 3}}
	noCfg := map[string]string{"model": "transformer"}
	badKind := map[string]string{"model": "lstm", "config": meta["config"]}
	cases := []struct{ path, want string }{
		{write("missing.safetensors", missing, meta), `"lm_head" is missing`},
		{write("extra.safetensors", extra, meta), "surprise"},
		{write("shape.safetensors", badShape, meta), `"ln_f.bias" has shape`},
		{write("nocfg.safetensors", ts, noCfg), `no "config"`},
		{write("kind.safetensors", ts, badKind), `"lstm"`},
		{filepath.Join(dir, "absent.safetensors"), "absent.safetensors"},
	}
	for _, c := range cases {
		_, err := Load(c.path, tensor.Float64)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), filepath.Base(c.path)) {
			t.Errorf("Load(%s): error %v, want one naming the file and containing %q", filepath.Base(c.path), err, c.want)
		}
	}
}

// TestSharedStorageAcrossGraphs: two graphs built from one model see an
// in-place weight update, and a Clone does not.
func TestSharedStorageAcrossGraphs(t *testing.T) {
	m, _ := NewTransformer(smallGPT, tensor.Float64, 3)
	ref := m.Clone()
	ids := [][]int{{1, 2, 3, 4}, {5, 6, 7, 0}}
	before, _, _ := runForward(t, m, ids)
	g := G.NewGraph()
	f, err := m.Build(g, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetIDs(ids); err != nil {
		t.Fatal(err)
	}
	var v G.Value
	G.Read(f.Logits, &v)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	// update lm_head in place, as an optimizer does
	for _, w := range m.Weights() {
		if w.Name == "lm_head" {
			d := w.T.Data().([]float64)
			for i := range d {
				d[i] *= 3
			}
		}
	}
	vm.Reset()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	after := graph.Float64s(v)
	fresh, _, _ := runForward(t, m, ids)
	refL, _, _ := runForward(t, ref, ids)
	if relMaxErr(after, fresh) != 0 {
		t.Errorf("reused graph does not see the in-place update")
	}
	if relMaxErr(after, before) == 0 {
		t.Errorf("update had no effect")
	}
	if relMaxErr(refL, before) != 0 {
		t.Errorf("Clone shares storage with the original")
	}
}

// TestBuildAndSetIDsErrors: bad shapes and ids are errors, not panics.
func TestBuildAndSetIDsErrors(t *testing.T) {
	m, _ := NewTransformer(smallGPT, tensor.Float32, 3)
	if _, err := m.Build(G.NewGraph(), 2, smallGPT.MaxSeqLen+1); err == nil {
		t.Errorf("Build with t > max_seq_len: no error")
	}
	f, err := m.Build(G.NewGraph(), 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, ids := range [][][]int{{{1, 2, 3}}, {{1, 2, 3}, {1, 2}}, {{1, 2, 3}, {1, 2, 17}}, {{1, 2, 3}, {-1, 2, 3}}} {
		if err := f.SetIDs(ids); err == nil {
			t.Errorf("SetIDs(%v): no error", ids)
		}
	}
	if _, err := NewTransformer(TransformerConfig{VocabSize: 5, DModel: 6, NHeads: 4, NLayers: 1, MaxSeqLen: 4, LNEps: 1e-5}, tensor.Float32, 1); err == nil {
		t.Errorf("d_model not divisible by n_heads: no error")
	}
}

// TestTwoModelsOneGraph: policy and reference built into one graph keep
// separate parameters (node names are unique per Build).
func TestTwoModelsOneGraph(t *testing.T) {
	a, _ := NewTransformer(smallGPT, tensor.Float64, 1)
	b := a.Clone()
	for _, w := range b.Weights() {
		graphScale(w.T, 2)
	}
	g := G.NewGraph()
	fa, err := a.Build(g, 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := b.Build(g, 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range fa.Params {
		if fa.Params[i].Node == fb.Params[i].Node {
			t.Fatalf("%s: the two models share a node", fa.Params[i].Name)
		}
	}
	if fa.Logits == fb.Logits {
		t.Fatalf("the two models share logits")
	}
}

func graphScale(t *tensor.Dense, s float64) {
	d := t.Data().([]float64)
	for i := range d {
		d[i] *= s
	}
}

// TestPeerRoundTrip writes a checkpoint, has the PyTorch peer
// (shared/peer/logits.py) load it and compute logits in float64, and
// compares with ours. Tolerance 1e-12 relative to max-abs (float64 on both
// sides; only summation order differs). Skips when ../shared or
// /usr/bin/python3 with torch is absent.
func TestPeerRoundTrip(t *testing.T) {
	shared := sharedDir(t)
	script := filepath.Join(shared, "peer", "logits.py")
	if _, err := os.Stat(script); err != nil {
		t.Skipf("skipping: %s not found", script)
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import torch").Run(); err != nil {
		t.Skipf("skipping: /usr/bin/python3 cannot import torch (%v)", err)
	}
	cfg := TransformerConfig{VocabSize: 23, DModel: 12, NHeads: 3, NLayers: 2, MaxSeqLen: 10, LNEps: 1e-5}
	m, err := NewTransformer(cfg, tensor.Float64, 11)
	if err != nil {
		t.Fatal(err)
	}
	// make the weights large enough that logits are far from uniform
	rng := 0.0
	for _, w := range m.Weights() {
		d := w.T.Data().([]float64)
		for i := range d {
			rng += 1
			d[i] += 0.3 * math.Sin(rng*1.7)
		}
	}
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "m.safetensors")
	if err := Save(m, ckpt, nil); err != nil {
		t.Fatal(err)
	}
	ids := [][]int{{1, 5, 9, 22, 3, 0, 0}, {7, 7, 2, 4, 18, 11, 6}}
	raw, _ := json.Marshal(map[string]any{"ids": ids})
	idsPath := filepath.Join(dir, "ids.json")
	if err := os.WriteFile(idsPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", script, ckpt, idsPath)
	cmd.Dir = filepath.Dir(script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("peer failed: %v\n%s", err, stderr.String())
	}
	var res struct {
		Logits [][][]float64 `json:"logits"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	var peer []float64
	for _, r := range res.Logits {
		for _, p := range r {
			peer = append(peer, p...)
		}
	}
	ours, _, _ := runForward(t, m, ids)
	if len(peer) != len(ours) {
		t.Fatalf("peer returned %d logits, we have %d", len(peer), len(ours))
	}
	e := relMaxErr(ours, peer)
	t.Logf("peer round trip: max rel err %.3g (tolerance 1e-12)", e)
	if e > 1e-12 {
		t.Errorf("peer logits differ: %.3g > 1e-12", e)
	}
}
