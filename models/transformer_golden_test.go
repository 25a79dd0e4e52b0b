package models

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/graph"
	"gatedpo/graph/safetensors"
	"gatedpo/internal/sharedtest"
)

// sharedDir finds ../shared next to the module root (the directory holding
// go.mod), or skips the test with the reason.
func sharedDir(t testing.TB) string {
	t.Helper()
	return sharedtest.Dir(t, "golden/policy.safetensors")
}

// goldenBatch is golden/batch.json.
type goldenBatch struct {
	ChosenIDs            [][]int `json:"chosen_ids"`
	RejectedIDs          [][]int `json:"rejected_ids"`
	ChosenResponseMask   [][]int `json:"chosen_response_mask"`
	RejectedResponseMask [][]int `json:"rejected_response_mask"`
	ChosenRespLens       []int   `json:"chosen_resp_lens"`
	RejectedRespLens     []int   `json:"rejected_resp_lens"`
	PadID                int     `json:"pad_id"`
}

func loadBatch(t testing.TB, shared string) goldenBatch {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(shared, "golden", "batch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var b goldenBatch
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

// ids8 returns [chosen; rejected] as 8 rows.
func (b goldenBatch) ids8() [][]int {
	return append(append([][]int{}, b.ChosenIDs...), b.RejectedIDs...)
}

// readGolden loads a golden safetensors file.
func readGolden(t testing.TB, shared, name string) map[string]safetensors.Tensor {
	t.Helper()
	ts, _, err := safetensors.Read(filepath.Join(shared, "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// relMaxErr is max|got − want| / max|want|.
func relMaxErr(got, want []float64) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(got[i]-want[i]))
		m = math.Max(m, math.Abs(want[i]))
	}
	if m == 0 {
		return d
	}
	return d / m
}

// runForward builds lm on [n, t] ids, runs it once and returns logits, lp
// and lpmax.
func runForward(t testing.TB, lm LM, ids [][]int) (logits, lp, lpmax []float64) {
	t.Helper()
	g := G.NewGraph()
	f, err := lm.Build(g, len(ids), len(ids[0]))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetIDs(ids); err != nil {
		t.Fatal(err)
	}
	var vl, vlp, vmax G.Value
	G.Read(f.Logits, &vl)
	G.Read(f.TokenLogps, &vlp)
	G.Read(f.TokenLogpMax, &vmax)
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	return graph.Float64s(vl), graph.Float64s(vlp), graph.Float64s(vmax)
}

// TestGoldenForward checks the policy and reference forward passes against
// golden/forward.safetensors. Tolerance 1e-12 relative to each tensor's
// max-abs (docs/method.md §8): the computation is float64 with the same
// operation order as the peer up to summation order inside gemm, which
// moves results by a few ulps (≈1e-15 relative).
func TestGoldenForward(t *testing.T) {
	shared := sharedDir(t)
	fwd := readGolden(t, shared, "forward.safetensors")
	ids := make([][]int, 8)
	idsT := fwd["ids"]
	for r := range ids {
		for c := 0; c < idsT.Shape[1]; c++ {
			ids[r] = append(ids[r], int(idsT.I64[r*idsT.Shape[1]+c]))
		}
	}
	for _, who := range []string{"policy", "reference"} {
		lm, err := Load(filepath.Join(shared, "golden", who+".safetensors"), tensor.Float64)
		if err != nil {
			t.Fatal(err)
		}
		logits, lp, lpmax := runForward(t, lm, ids)
		for _, c := range []struct {
			key string
			got []float64
		}{{who + "_logits", logits}, {who + "_token_logps", lp}, {who + "_token_logp_max", lpmax}} {
			e := relMaxErr(c.got, fwd[c.key].F64)
			t.Logf("%s: max rel err %.3g (tolerance 1e-12)", c.key, e)
			if e > 1e-12 {
				t.Errorf("%s: max rel err %.3g > 1e-12", c.key, e)
			}
		}
	}
}
