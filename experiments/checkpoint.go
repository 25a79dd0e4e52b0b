package experiments

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gorgonia.org/tensor"

	"gatedpo/graph"
	"gatedpo/graph/safetensors"
	"gatedpo/models"
	"gatedpo/results"
)

// Checkpoints of a training stage live in <dir>/ckpt/step-NNNNNNNN/, each
// holding model.safetensors (the weights, models.Save) and
// optim.safetensors (the optimizer state, graph.OptimState). A checkpoint
// directory is assembled under a temporary name and renamed into place,
// so a step-* directory is always complete; older ones are then removed.
// The batch position needs no state of its own: the batches of epoch e
// are a pure function of (seed, e), so the step number says where to go on.
const (
	ckptModelFile = "model.safetensors"
	ckptOptimFile = "optim.safetensors"
	ckptPrefix    = "step-"
)

// latestCheckpoint returns the newest complete checkpoint under ckptDir.
func latestCheckpoint(ckptDir string) (step int, dir string, ok bool) {
	entries, err := os.ReadDir(ckptDir)
	if err != nil {
		return 0, "", false
	}
	var steps []int
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), ckptPrefix) {
			continue
		}
		if k, err := strconv.Atoi(strings.TrimPrefix(e.Name(), ckptPrefix)); err == nil {
			steps = append(steps, k)
		}
	}
	if len(steps) == 0 {
		return 0, "", false
	}
	sort.Ints(steps)
	k := steps[len(steps)-1]
	return k, filepath.Join(ckptDir, fmt.Sprintf("%s%08d", ckptPrefix, k)), true
}

// saveCheckpoint writes the weights of lm and the state of opt (and, when
// extra is not nil, whatever extra writes into the directory) as the
// checkpoint of step, then removes older checkpoints and leftovers.
func saveCheckpoint(ckptDir string, step int, lm models.LM, opt *graph.Optimizer, extra func(dir string) error) error {
	if err := os.MkdirAll(ckptDir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(ckptDir, results.TempPrefix+"step-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // no-op after the rename
	if err := models.Save(lm, filepath.Join(tmp, ckptModelFile), map[string]string{"step": strconv.Itoa(step)}); err != nil {
		return err
	}
	st := opt.State()
	ts := map[string]safetensors.Tensor{}
	for _, k := range st.StateKeys() {
		t := st.Tensors[k]
		s := safetensors.Tensor{Shape: append([]int{}, t.Shape()...)}
		switch d := t.Data().(type) {
		case []float32:
			s.DType, s.F32 = safetensors.F32, d
		case []float64:
			s.DType, s.F64 = safetensors.F64, d
		}
		ts[k] = s
	}
	meta := map[string]string{"kind": string(st.Kind), "step": strconv.Itoa(st.Step)}
	if err := safetensors.Write(filepath.Join(tmp, ckptOptimFile), ts, meta); err != nil {
		return err
	}
	if extra != nil {
		if err := extra(tmp); err != nil {
			return err
		}
	}
	final := filepath.Join(ckptDir, fmt.Sprintf("%s%08d", ckptPrefix, step))
	os.RemoveAll(final)
	// durable before it counts: the files (synced by their writers), the
	// directory's entries, then the rename in ckptDir
	if err := results.SyncDir(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	if err := results.SyncDir(ckptDir); err != nil {
		return err
	}
	entries, _ := os.ReadDir(ckptDir)
	for _, e := range entries {
		if e.Name() != filepath.Base(final) && (strings.HasPrefix(e.Name(), ckptPrefix) || strings.HasPrefix(e.Name(), results.TempPrefix)) {
			os.RemoveAll(filepath.Join(ckptDir, e.Name()))
		}
	}
	return nil
}

// loadCheckpoint copies a checkpoint's weights into lm (in place, so graphs
// bound to lm see them) and restores opt.
func loadCheckpoint(dir string, lm models.LM, opt *graph.Optimizer) error {
	saved, err := models.Load(filepath.Join(dir, ckptModelFile), lm.Dtype())
	if err != nil {
		return err
	}
	if err := copyWeights(lm, saved); err != nil {
		return err
	}
	ts, meta, err := safetensors.Read(filepath.Join(dir, ckptOptimFile))
	if err != nil {
		return err
	}
	step, err := strconv.Atoi(meta["step"])
	if err != nil {
		return fmt.Errorf("%s: no optimizer step in metadata", dir)
	}
	st := graph.OptimState{Kind: graph.OptimKind(meta["kind"]), Step: step, Tensors: map[string]*tensor.Dense{}}
	for k, t := range ts {
		switch t.DType {
		case safetensors.F32:
			st.Tensors[k] = tensor.New(tensor.WithShape(t.Shape...), tensor.WithBacking(t.F32))
		case safetensors.F64:
			st.Tensors[k] = tensor.New(tensor.WithShape(t.Shape...), tensor.WithBacking(t.F64))
		default:
			return fmt.Errorf("%s: optimizer tensor %s has dtype %s", dir, k, t.DType)
		}
	}
	return opt.LoadState(st)
}

// copyWeights copies src's weights into dst's tensors (same names, shapes).
func copyWeights(dst, src models.LM) error {
	sw := map[string]*tensor.Dense{}
	for _, w := range src.Weights() {
		sw[w.Name] = w.T
	}
	for _, w := range dst.Weights() {
		s, ok := sw[w.Name]
		if !ok || !s.Shape().Eq(w.T.Shape()) || s.Dtype() != w.T.Dtype() {
			return fmt.Errorf("checkpoint does not match the model at %q", w.Name)
		}
		switch d := w.T.Data().(type) {
		case []float32:
			copy(d, s.Data().([]float32))
		case []float64:
			copy(d, s.Data().([]float64))
		}
	}
	return nil
}
