package experiments

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/experiments/config"
	"gatedpo/internal/sharedtest"
	"gatedpo/models"
	"gatedpo/models/hf"
	"gatedpo/plots"
	"gatedpo/results"
)

// sharedHFModel returns ../shared/hf/models/name next to the module root,
// or skips.
func sharedHFModel(t *testing.T, name string) string {
	t.Helper()
	p := sharedtest.Path(t, "hf/models/"+name)
	if !hf.IsModelDir(p) {
		t.Skipf("skipping: %s is not an HF model directory", p)
	}
	return p
}

// copyDir copies the files of src into dst (created).
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const hfGridHead = `name = "hf"
[data]
dataset = "synthetic"
tokenizer = "byte"
max_prompt_tokens = 8
max_response_tokens = 8
probe_examples = 4
[data.synthetic]
train_pairs = 8
eval_pairs = 4
[train]
sft_epochs = %SFT%
pref_epochs = 1
batch_pairs = 4
lr = 1e-3
warmup_steps = 0
eval_every = 1
checkpoint_every = 100
dtype = "float64"
`

// TestGridHFArchErrors: a bad hf: arch is a config error naming the key.
func TestGridHFArchErrors(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, sharedHFModel(t, "qwen2-tiny"), filepath.Join(dir, "m"))
	os.Mkdir(filepath.Join(dir, "empty"), 0o755)
	head := strings.Replace(hfGridHead, "%SFT%", "0", 1)
	for arch, want := range map[string]string{
		`"hf:no/such/dir"`: "no such model directory",
		`"hf:empty"`:       "is not a Hugging Face model directory",
		`"hf:"`:            "hf: needs a model directory path",
		`"gpt-9"`:          "hf:PATH (a local Hugging Face model directory) or hf:ORG/NAME",
	} {
		_, err := parseGrid("g.toml", dir, []byte(head+"[grid]\narch = ["+arch+"]\n"))
		if err == nil || !config.IsConfigError(err) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "grid.arch[0]") {
			t.Errorf("arch %s: err = %v, want a config error at grid.arch[0] containing %q", arch, err, want)
		}
	}
	long := strings.Replace(head, "max_response_tokens = 8", "max_response_tokens = 200", 1)
	if _, err := parseGrid("g.toml", dir, []byte(long+"[grid]\narch = [\"hf:m\"]\n")); err == nil || !strings.Contains(err.Error(), "at most 128 positions (max_position_embeddings)") {
		t.Errorf("sequence longer than max_position_embeddings: err = %v", err)
	}
	small := filepath.Join(dir, "small")
	copyDir(t, filepath.Join(dir, "m"), small)
	cfg, _ := os.ReadFile(filepath.Join(small, "config.json"))
	os.WriteFile(filepath.Join(small, "config.json"), []byte(strings.Replace(string(cfg), `"vocab_size": 352`, `"vocab_size": 200`, 1)), 0o644)
	if _, err := parseGrid("g.toml", dir, []byte(head+"[grid]\narch = [\"hf:small\"]\n")); err == nil || !strings.Contains(err.Error(), "vocab_size 200, but the byte tokenizer uses ids up to 258") {
		t.Errorf("too small a vocabulary: err = %v", err)
	}
	g, err := parseGrid("g.toml", dir, []byte(head+"[grid]\narch = [\"hf:m\", \"transformer-xs\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	cells := g.Cells()
	if cells[0].Config.Arch != "hf:m" || cells[0].Config.Model["kind"] != "hf" || cells[0].Config.Model["model_type"] != "qwen2" {
		t.Errorf("cell 0: arch %q, model %v", cells[0].Config.Arch, cells[0].Config.Model)
	}
	if h, _ := cells[0].Config.Model["source_sha256"].(string); len(h) != 64 {
		t.Errorf("source_sha256 = %v", cells[0].Config.Model["source_sha256"])
	}
}

// TestSweepHFModels runs a small sweep on local HF models (paths relative
// to the grid file): qwen2-tiny with sft_epochs = 0 (the loaded model is
// both the policy's start and the frozen reference) under every objective
// and every gate kind, and llama-tiny (F16, sharded) with one SFT epoch.
// Every cell must complete; the final policy is saved both as
// final.safetensors and as a model directory that loads to the same
// logits (and, when torch is present, gives them in hf_ref.py too).
func TestSweepHFModels(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping in -short mode: runs a sweep")
	}
	dir := t.TempDir()
	copyDir(t, sharedHFModel(t, "qwen2-tiny"), filepath.Join(dir, "models", "qwen2-tiny"))
	copyDir(t, sharedHFModel(t, "llama-tiny"), filepath.Join(dir, "models", "llama-tiny"))
	grid := strings.Replace(hfGridHead, "%SFT%", "0", 1) + `[grid]
arch = ["hf:models/qwen2-tiny"]
[[grid.objective]]
name = "dpo"
beta = 0.1
[[grid.objective]]
name = "ipo"
beta = 0.1
[[grid.objective]]
name = "cal_dpo"
beta = 0.1
[[grid.objective]]
name = "rpo"
beta = 0.1
[[grid.objective]]
name = "simpo"
beta = 2.0
[[grid.gate]]
kind = "none"
[[grid.gate]]
kind = "hard"
tau = 0.05
[[grid.gate]]
kind = "ramp"
tau = 0.05
[[grid.gate]]
kind = "sigmoid"
tau = 0.05
[[grid.gate]]
kind = "power"
tau = 0.05
`
	gp := filepath.Join(dir, "hf.toml")
	if err := os.WriteFile(gp, []byte(grid), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if _, err := Run(context.Background(), quietOptions(gp, out, 1)); err != nil {
		t.Fatal(err)
	}
	// llama-tiny with a real stage 1
	grid2 := strings.Replace(hfGridHead, "%SFT%", "1", 1) + "[grid]\narch = [\"hf:models/llama-tiny\"]\n"
	gp2 := filepath.Join(dir, "hf2.toml")
	if err := os.WriteFile(gp2, []byte(grid2), 0o644); err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(dir, "out2")
	if _, err := Run(context.Background(), quietOptions(gp2, out2, 1)); err != nil {
		t.Fatal(err)
	}

	var finals []string
	for _, o := range []string{out, out2} {
		cells, err := os.ReadDir(filepath.Join(o, results.CellsDir))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cells {
			if !c.IsDir() {
				continue
			}
			cd := filepath.Join(o, results.CellsDir, c.Name())
			cfg, sum, ok := results.ReadCellRecord(cd)
			if !ok || sum.Status != results.StatusComplete {
				t.Errorf("cell %s (%s %s/%v): status %q", c.Name(), cfg.Arch, cfg.Objective.Name, cfg.Gate, sum.Status)
				continue
			}
			if !strings.HasPrefix(cfg.Arch, "hf:models/") {
				t.Errorf("cell %s records arch %q, want it as written", c.Name(), cfg.Arch)
			}
			finals = append(finals, filepath.Join(cd, results.CheckpointDir))
		}
	}
	if len(finals) != 26 {
		t.Errorf("%d complete cells, want 25 + 1", len(finals))
	}
	// sft_epochs = 0: the stage-1 model is the loaded model, unchanged
	src, err := hf.LoadDir(filepath.Join(dir, "models", "qwen2-tiny"), tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	sfts, _ := filepath.Glob(filepath.Join(out, sftDirName, "*", sftModelFile))
	if len(sfts) != 1 {
		t.Fatalf("%d stage-1 models, want 1", len(sfts))
	}
	s1, err := models.Load(sfts[0], tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range s1.Weights() {
		a, b := w.T.Data().([]float64), src.Weights()[i].T.Data().([]float64)
		for j := range a {
			if a[j] != b[j] {
				t.Fatalf("sft_epochs = 0: stage-1 weight %s differs from the loaded model", w.Name)
			}
		}
	}
	// figures and report from the records of HF cells
	rep, err := plots.WriteAll(out)
	if err != nil {
		t.Fatalf("figures: %v", err)
	}
	if len(rep.Figures) == 0 || rep.HTML == "" {
		t.Errorf("figures: %d drawn, report %q; skipped %v", len(rep.Figures), rep.HTML, rep.Skipped)
	}
	t.Logf("figures: %d drawn, %d skipped", len(rep.Figures), len(rep.Skipped))
	// training moved the policy away from the loaded model
	fin, err := models.Load(filepath.Join(finals[0], "final.safetensors"), tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	moved := false
	for i, w := range fin.Weights() {
		a, b := w.T.Data().([]float64), src.Weights()[i].T.Data().([]float64)
		for j := range a {
			moved = moved || a[j] != b[j]
		}
	}
	if !moved {
		t.Error("the final policy equals the loaded model: no preference step was taken")
	}
	// final checkpoints: the HF directory and final.safetensors agree
	ids := [][]int{{1, 40, 7, 99, 258, 3}}
	var dirs []string
	var want [][]float64
	for _, f := range []string{finals[0], finals[len(finals)-1]} {
		a, err := models.Load(filepath.Join(f, "final.safetensors"), tensor.Float64)
		if err != nil {
			t.Fatal(err)
		}
		b, err := hf.LoadDir(filepath.Join(f, FinalHFDir), tensor.Float64)
		if err != nil {
			t.Fatal(err)
		}
		la, lb := hfLogits(t, a, ids), hfLogits(t, b, ids)
		for i := range la {
			if la[i] != lb[i] {
				t.Fatalf("%s: final-hf logits differ from final.safetensors", f)
			}
		}
		dirs = append(dirs, filepath.Join(f, FinalHFDir))
		want = append(want, la)
	}
	if ok, _ := sharedtest.HasTorch(); ok {
		peer := filepath.Join(filepath.Dir(filepath.Dir(sharedHFModel(t, "qwen2-tiny"))), "peer")
		got := sharedtest.HFRefLogits(t, peer, ids, dirs...)
		for k := range dirs {
			var d, m float64
			for i := range want[k] {
				d = max(d, abs(got[k][i]-want[k][i]))
				m = max(m, abs(want[k][i]))
			}
			t.Logf("%s: hf_ref.py logits differ by %.2g relative", dirs[k], d/m)
			if d > 1e-12*m {
				t.Errorf("%s: hf_ref.py logits differ by %.3g relative (tolerance 1e-12)", dirs[k], d/m)
			}
		}
	} else {
		t.Log("torch not available: the hf_ref.py check of the saved directories is skipped")
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// hfLogits runs one forward pass of lm and returns its logits.
func hfLogits(t *testing.T, lm models.LM, ids [][]int) []float64 {
	t.Helper()
	g := G.NewGraph()
	f, err := lm.Build(g, len(ids), len(ids[0]))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetIDs(ids); err != nil {
		t.Fatal(err)
	}
	logits, err := f.LogitsNode()
	if err != nil {
		t.Fatal(err)
	}
	var v G.Value
	G.Read(logits, &v)
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	return append([]float64{}, v.Data().([]float64)...)
}

// TestHFArchPrefix: the grid parser's "hf:" prefix is models/hf's (config
// does not import the model code for one constant).
func TestHFArchPrefix(t *testing.T) {
	if config.HFArchPrefix != hf.DirPrefix {
		t.Errorf("config.HFArchPrefix %q, hf.DirPrefix %q", config.HFArchPrefix, hf.DirPrefix)
	}
}
