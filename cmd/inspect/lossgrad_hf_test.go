package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"gatedpo/graph/safetensors"
	"gatedpo/internal/sharedtest"
)

// hfDir returns ../shared/hf next to the module root, or skips.
func hfDir(t *testing.T) string {
	t.Helper()
	g := filepath.Join(filepath.Dir(goldenDir(t)), "hf")
	if _, err := os.Stat(filepath.Join(g, "golden", "golden.json")); err != nil {
		t.Skipf("HF goldens absent (%s): skipping", g)
	}
	return g
}

// hfGolden is the part of shared/hf/golden/golden.json this test reads.
type hfGolden struct {
	Batch struct {
		IDs          [][]int `json:"ids"`
		ResponseMask [][]int `json:"response_mask"`
		ChosenRows   []int   `json:"chosen_rows"`
		RejectedRows []int   `json:"rejected_rows"`
		PromptLens   []int   `json:"prompt_lens"`
		ResponseLens []int   `json:"response_lens"`
		PadID        int     `json:"pad_id"`
	} `json:"batch"`
	Models map[string]struct {
		Dir    string `json:"dir"`
		Policy struct {
			SeqLogps []float64 `json:"seq_logps"`
		} `json:"policy"`
		Reference struct {
			File     string    `json:"file"`
			SeqLogps []float64 `json:"seq_logps"`
		} `json:"reference"`
		DPO        hfLoss `json:"dpo"`
		DPOSelfRef hfLoss `json:"dpo_selfref"`
	} `json:"models"`
}

type hfLoss struct {
	Loss           float64   `json:"loss"`
	PerPairLoss    []float64 `json:"per_pair_loss"`
	GradFile       string    `json:"grad_file"`
	GradGlobalNorm float64   `json:"grad_global_norm"`
}

// projectBatch converts the goldens' batch (ids rows + chosen_rows /
// rejected_rows) to the project's batch.json layout.
func projectBatch(g hfGolden) map[string]any {
	b := g.Batch
	pick := func(rows []int, x [][]int) [][]int {
		out := make([][]int, len(rows))
		for i, r := range rows {
			out[i] = x[r]
		}
		return out
	}
	lens := func(rows []int, x []int) []int {
		out := make([]int, len(rows))
		for i, r := range rows {
			out[i] = x[r]
		}
		return out
	}
	return map[string]any{
		"chosen_ids": pick(b.ChosenRows, b.IDs), "rejected_ids": pick(b.RejectedRows, b.IDs),
		"chosen_response_mask": pick(b.ChosenRows, b.ResponseMask), "rejected_response_mask": pick(b.RejectedRows, b.ResponseMask),
		"prompt_lens": lens(b.ChosenRows, b.PromptLens), "chosen_resp_lens": lens(b.ChosenRows, b.ResponseLens),
		"rejected_resp_lens": lens(b.RejectedRows, b.ResponseLens), "pad_id": b.PadID, "padding_side": "right",
	}
}

const hfDPOCase = `[[case]]
id = "dpo"
[case.objective]
name = "dpo"
beta = 0.1
label_smoothing = 0.0
[case.gate]
kind = "none"
tau = 0.0
level = "token"
relative = false
temperature = 1.0
alpha = 0.5
`

// TestLossgradHF runs inspect lossgrad on the four shared HF models in
// float64: the policy as "hf:DIR" with the weights-only NAME-ref file as
// reference (golden "dpo"), and as a plain directory with itself as
// reference (golden "dpo_selfref"); loss, per-pair losses, sequence
// log-probs (1e-12) and every grad_norms entry and the global norm (1e-10,
// from the golden gradient files, keyed by HF names) must match.
func TestLossgradHF(t *testing.T) { lossgradHFSet(t, hfDir(t)) }

// TestLossgradHFGeneratedSet generates a further golden set with
// shared/hf/peer/make_hf.py into a temporary directory (skips without
// /usr/bin/python3 + torch) and checks it as TestLossgradHF does.
func TestLossgradHFGeneratedSet(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping in -short mode: generates a golden set with PyTorch")
	}
	root := hfDir(t)
	py := sharedtest.Torch(t)
	out := t.TempDir()
	cmd := exec.Command(py, "make_hf.py", "--set", "gatedpo-issue13-inspect", "--out", out)
	cmd.Dir = filepath.Join(root, "peer")
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "OMP_NUM_THREADS=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make_hf.py: %v\n%s", err, b)
	}
	lossgradHFSet(t, out)
}

func lossgradHFSet(t *testing.T, root string) {
	raw, err := os.ReadFile(filepath.Join(root, "golden", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g hfGolden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	batchPath, casesPath := filepath.Join(tmp, "batch.json"), filepath.Join(tmp, "cases.toml")
	bj, _ := json.Marshal(projectBatch(g))
	if err := os.WriteFile(batchPath, bj, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(casesPath, []byte(hfDPOCase), 0o644); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(g.Models))
	for n := range g.Models {
		names = append(names, n)
	}
	sort.Strings(names)
	rel := func(a, b float64) float64 { return math.Abs(a-b) / math.Max(math.Abs(b), 1e-300) }
	for _, name := range names {
		gm := g.Models[name]
		dir := filepath.Join(root, gm.Dir)
		for _, run := range []struct {
			label, policy, ref string
			selfref            bool
		}{
			{"dpo", "hf:" + dir, filepath.Join(root, gm.Reference.File), false},
			{"dpo_selfref", dir, "hf:" + dir, true},
		} {
			t.Run(name+"/"+run.label, func(t *testing.T) {
				var out, errb bytes.Buffer
				code := lossgrad([]string{"-policy", run.policy, "-reference", run.ref, "-batch", batchPath, "-cases", casesPath, "-dtype", "float64"}, &out, &errb)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errb.String())
				}
				var l lossgradLine
				if err := json.Unmarshal(out.Bytes(), &l); err != nil {
					t.Fatalf("output is not one JSON line: %v\n%s", err, out.String())
				}
				gold, refSeq := gm.DPO, gm.Reference.SeqLogps
				if run.selfref {
					gold, refSeq = gm.DPOSelfRef, gm.Policy.SeqLogps
				}
				worst := rel(l.Loss, gold.Loss)
				for i := range gold.PerPairLoss {
					worst = math.Max(worst, rel(l.PerPairLoss[i], gold.PerPairLoss[i]))
				}
				seq := func(rows []int, v []float64) []float64 {
					out := make([]float64, len(rows))
					for i, r := range rows {
						out[i] = v[r]
					}
					return out
				}
				for _, c := range []struct {
					got, want []float64
				}{{l.Logps.PolicyChosen, seq(g.Batch.ChosenRows, gm.Policy.SeqLogps)}, {l.Logps.PolicyRejected, seq(g.Batch.RejectedRows, gm.Policy.SeqLogps)},
					{l.Logps.ReferenceChosen, seq(g.Batch.ChosenRows, refSeq)}, {l.Logps.ReferenceRejected, seq(g.Batch.RejectedRows, refSeq)}} {
					for i := range c.want {
						worst = math.Max(worst, rel(c.got[i], c.want[i]))
					}
				}
				if worst > 1e-12 {
					t.Errorf("loss / per-pair loss / log-probs differ by %.3g relative (tolerance 1e-12)", worst)
				}
				grads, _, err := safetensors.Read(filepath.Join(root, gold.GradFile))
				if err != nil {
					t.Fatal(err)
				}
				if len(l.GradNorms) != len(grads) {
					t.Errorf("%d grad_norms, the golden gradient file has %d tensors", len(l.GradNorms), len(grads))
				}
				var gw float64
				var gwName string
				for k, gt := range grads {
					var s float64
					for _, v := range gt.F64 {
						s += v * v
					}
					got, ok := l.GradNorms[k]
					if !ok {
						t.Errorf("grad_norms has no %q", k)
						continue
					}
					if e := rel(got, math.Sqrt(s)); e > gw {
						gw, gwName = e, k
					}
				}
				ge := rel(l.GradGlobalNorm, gold.GradGlobalNorm)
				if gw > 1e-10 || ge > 1e-10 {
					t.Errorf("grad_norms differ by %.3g (%s), global norm by %.3g (tolerance 1e-10)", gw, gwName, ge)
				}
				t.Logf("%s %s: values %.2g, grad_norms %.2g (%s), global %.2g", name, run.label, worst, gw, gwName, ge)
			})
		}
	}
}
