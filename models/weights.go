package models

import (
	"encoding/json"
	"fmt"

	"gorgonia.org/tensor"

	"gatedpo/graph"
	"gatedpo/graph/safetensors"
)

// The weight-list plumbing every model family shares (this package's MLP
// and Transformer, and gatedpo/models/hf): allocation, checkpoint tensors
// in and out.

// lmBase is the state of a model of this package: its config C, the
// dtype, and the weights in checkpoint order. It gives the dtype, weight
// and config-JSON accessors of LM (each model declares Config, so that its
// documentation names the config type).
type lmBase[C any] struct {
	cfg     C
	dt      tensor.Dtype
	weights []NamedTensor
}

// Dtype returns the weights' element type.
func (m *lmBase[C]) Dtype() tensor.Dtype { return m.dt }

// Weights returns the parameters in checkpoint order (shared, not copies).
func (m *lmBase[C]) Weights() []NamedTensor { return m.weights }

// ConfigJSON returns the config as JSON (its json tags are the keys of the
// PyTorch peer's config).
func (m *lmBase[C]) ConfigJSON() string {
	b, _ := json.Marshal(m.cfg)
	return string(b)
}

// newBase checks cfg (its Validate) and dt, and allocates zeroed weights
// of the shapes cfg needs, for a model named kind.
func newBase[C interface{ Validate() error }](kind string, cfg C, dt tensor.Dtype, shapes func(C) []paramShape) (lmBase[C], error) {
	if err := cfg.Validate(); err != nil {
		return lmBase[C]{}, err
	}
	if err := checkDtype(dt); err != nil {
		return lmBase[C]{}, fmt.Errorf("%s: %v", kind, err)
	}
	return lmBase[C]{cfg: cfg, dt: dt, weights: zeroWeights(dt, shapes(cfg))}, nil
}

// clone deep-copies the state.
func (m *lmBase[C]) clone() lmBase[C] {
	return lmBase[C]{cfg: m.cfg, dt: m.dt, weights: cloneWeights(m.weights)}
}

// paramShape is one parameter's checkpoint name and shape.
type paramShape struct {
	name  string
	shape []int
}

// zeroWeights allocates a zeroed tensor of dtype dt for every parameter,
// in the given (checkpoint) order.
func zeroWeights(dt tensor.Dtype, ps []paramShape) []NamedTensor {
	ws := make([]NamedTensor, 0, len(ps))
	for _, p := range ps {
		ws = append(ws, NamedTensor{Name: p.name, T: graph.NewTensor(dt, p.shape...)})
	}
	return ws
}

// checkBatch checks an [n, t] batch of ids for a model named kind whose
// positions go up to maxSeqLen.
func checkBatch(kind string, n, t, maxSeqLen int) error {
	if n < 1 || t < 2 || t > maxSeqLen {
		return fmt.Errorf("%s: batch [%d, %d] invalid (need n ≥ 1 and 2 ≤ t ≤ max_seq_len %d)", kind, n, t, maxSeqLen)
	}
	return nil
}

// TensorOf returns w as a safetensors tensor (F32 or F64 per its data,
// sharing it).
func TensorOf(w NamedTensor) (safetensors.Tensor, error) {
	st := safetensors.Tensor{Shape: append([]int{}, w.T.Shape()...)}
	switch d := w.T.Data().(type) {
	case []float32:
		st.DType, st.F32 = safetensors.F32, d
	case []float64:
		st.DType, st.F64 = safetensors.F64, d
	default:
		return st, fmt.Errorf("tensor %q has unsupported data %T", w.Name, d)
	}
	return st, nil
}

// SetWeight copies st into w's tensor, converted to w's dtype. st must
// have w's shape (else the error says "tensor NAME has shape S, "+want+
// " W", e.g. want = "the config needs") and hold F32 or F64 data, or with
// halfToo also F16 or BF16.
func SetWeight(w NamedTensor, st safetensors.Tensor, want string, halfToo bool) error {
	if !equalShape(st.Shape, w.T.Shape()) {
		return fmt.Errorf("tensor %q has shape %v, %s %v", w.Name, st.Shape, want, []int(w.T.Shape()))
	}
	switch {
	case halfToo && !st.IsFloat():
		return fmt.Errorf("tensor %q has dtype %s (want F16, BF16, F32 or F64)", w.Name, st.DType)
	case !halfToo && st.DType != safetensors.F32 && st.DType != safetensors.F64:
		return fmt.Errorf("tensor %q has dtype %s (want F32 or F64)", w.Name, st.DType)
	}
	switch d := w.T.Data().(type) {
	case []float64:
		copy(d, st.Float64s())
	case []float32:
		copy(d, st.Float32s())
	}
	return nil
}

func equalShape(a []int, b tensor.Shape) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
