package hf

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gorgonia.org/tensor"

	"gatedpo/graph/safetensors"
	"gatedpo/internal/sharedtest"
)

var sharedModels = []string{"gpt2-tiny", "llama-tiny", "pythia-tiny", "qwen2-tiny"}

// TestSaveDirRoundTrip saves each shared model in float64 and float32 and
// checks the directory: HF names in one model.safetensors with {"format":
// "pt"} metadata in the compute dtype, config.json with torch_dtype
// updated and every other field kept, tokenizer files copied, and a reload
// that gives bit-identical logits.
func TestSaveDirRoundTrip(t *testing.T) {
	for _, name := range sharedModels {
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(name+"/"+dt.String(), func(t *testing.T) {
				src := copyModel(t, name)
				if err := os.WriteFile(filepath.Join(src, "tokenizer.json"), []byte(`{"model":{}}`), 0o644); err != nil {
					t.Fatal(err)
				}
				m, err := LoadDir(src, dt)
				if err != nil {
					t.Fatal(err)
				}
				out := filepath.Join(t.TempDir(), "saved")
				if err := SaveDir(m, out, m.SourceDir()); err != nil {
					t.Fatal(err)
				}
				ts, meta, err := safetensors.Read(filepath.Join(out, WeightsFile))
				if err != nil {
					t.Fatal(err)
				}
				if len(meta) != 1 || meta["format"] != "pt" {
					t.Errorf("metadata %v, want {format: pt}", meta)
				}
				wantDT := map[tensor.Dtype]string{tensor.Float64: "F64", tensor.Float32: "F32"}[dt]
				if len(ts) != len(m.Weights()) {
					t.Errorf("%d tensors saved, %d parameters", len(ts), len(m.Weights()))
				}
				for _, w := range m.Weights() {
					if st, ok := ts[w.Name]; !ok || st.DType != wantDT {
						t.Errorf("tensor %q: saved %v with dtype %q, want %s", w.Name, ok, st.DType, wantDT)
					}
				}
				var got, orig map[string]any
				b, _ := os.ReadFile(filepath.Join(out, ConfigFile))
				if err := json.Unmarshal(b, &got); err != nil {
					t.Fatal(err)
				}
				json.Unmarshal(m.cfg.Raw, &orig)
				if got["torch_dtype"] != map[tensor.Dtype]string{tensor.Float64: "float64", tensor.Float32: "float32"}[dt] {
					t.Errorf("torch_dtype %v", got["torch_dtype"])
				}
				for k, v := range orig {
					if k != "torch_dtype" && !jsonEqual(got[k], v) {
						t.Errorf("config field %q changed: %v -> %v", k, v, got[k])
					}
				}
				if tb, err := os.ReadFile(filepath.Join(out, "tokenizer.json")); err != nil || string(tb) != `{"model":{}}` {
					t.Errorf("tokenizer.json not copied: %v", err)
				}
				back, err := LoadDir(out, dt)
				if err != nil {
					t.Fatal(err)
				}
				if e := relMax(logitsOf(t, back, testIDs), logitsOf(t, m, testIDs)); e != 0 {
					t.Errorf("reloaded logits differ by %g", e)
				}
			})
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// perturb changes every weight in place (w ← w·(1 + 0.05·sin(i+k))), so a
// saved model differs from the files it was loaded from.
func perturb(m *Model) {
	for k, w := range m.Weights() {
		switch d := w.T.Data().(type) {
		case []float64:
			for i := range d {
				d[i] *= 1 + 0.05*math.Sin(float64(i+k))
			}
		case []float32:
			for i := range d {
				d[i] *= float32(1 + 0.05*math.Sin(float64(i+k)))
			}
		}
	}
}

// TestSaveDirPyTorchRoundTrip perturbs each shared model (as training
// would), saves it in float64 and float32 and loads the directories with
// the PyTorch reference shared/hf/peer/hf_ref.py: its float64 logits must
// match ours to 1e-12 relative to max-abs for float64 saves, and our
// float32 logits to 1e-4 for float32 saves. Skips without /usr/bin/python3
// + torch.
func TestSaveDirPyTorchRoundTrip(t *testing.T) {
	peer := filepath.Join(sharedHF(t), "peer")
	sharedtest.Torch(t)
	type saved struct {
		label  string
		dir    string
		logits []float64
		lim    float64
	}
	var all []saved
	for _, name := range sharedModels {
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			m, err := LoadDir(filepath.Join(sharedHF(t), "models", name), dt)
			if err != nil {
				t.Fatal(err)
			}
			perturb(m)
			out := t.TempDir()
			if err := SaveDir(m, out, ""); err != nil {
				t.Fatal(err)
			}
			lim := 1e-12
			if dt == tensor.Float32 {
				lim = 1e-4
			}
			all = append(all, saved{name + " " + dt.String(), out, logitsOf(t, m, testIDs), lim})
		}
	}
	dirs := make([]string, len(all))
	for i, s := range all {
		dirs[i] = s.dir
	}
	refs := sharedtest.HFRefLogits(t, peer, testIDs, dirs...)
	for i, s := range all {
		e := relMax(s.logits, refs[i])
		t.Logf("%s: hf_ref.py logits differ from ours by %.2g relative to max-abs (tolerance %.0g)", s.label, e, s.lim)
		if !(e <= s.lim) {
			t.Errorf("%s: hf_ref.py logits differ by %.3g > %.0g", s.label, e, s.lim)
		}
	}
}
