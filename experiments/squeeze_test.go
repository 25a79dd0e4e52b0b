package experiments

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"gatedpo/results"
)

// TestSyntheticDefaultSqueezes trains one cell of the built-in default
// grid end to end — seed 1, ungated DPO on the synthetic dataset with
// transformer-xs (SFT 20 epochs, then 300 DPO steps; ≈ 25 s on one core)
// — and checks the squeezing signature (docs/method.md §5) on the held-out
// probe set: chosen and rejected log-probs fall, the teacher-forced argmax
// log-prob and the top-1 mass rise, and the gap argmax − chosen widens.
// This is the end-to-end demonstration that the synthetic dataset is
// designed to squeeze (issue: preference data, item 4). Measured values
// for this cell: chosen −51.9 → −111.8, argmax −34.3 → −18.9, top-1 mass
// 0.379 → 0.534, gap 17.6 → 92.9; the thresholds below leave a wide
// margin for kernel-level rounding changes.
func TestSyntheticDefaultSqueezes(t *testing.T) {
	out := filepath.Join(t.TempDir(), "default")
	o := quietOptions("default", out, 1)
	o.Only = []string{"seed=1", "gate.kind=none"}
	oc, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("default grid, seed 1, ungated: %v", err)
	}
	if oc.Complete != 1 {
		t.Fatalf("%d complete cells, want 1", oc.Complete)
	}
	cells, err := os.ReadDir(filepath.Join(out, results.CellsDir))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]float64
	for _, c := range cells {
		if !c.IsDir() {
			continue
		}
		_, s, ok := results.ReadCellRecord(filepath.Join(out, results.CellsDir, c.Name()))
		if ok && s.Status == results.StatusComplete {
			m = s.Final
		}
	}
	if m == nil {
		t.Fatal("no complete cell record")
	}
	t.Logf("held-out: chosen %.1f → %.1f, rejected %.1f → %.1f, argmax %.1f → %.1f, top-1 %.3f → %.3f, gap %.1f → %.1f",
		m["lp_chosen_0"], m["lp_chosen_final"], m["lp_rejected_0"], m["lp_rejected_final"],
		m["lp_argmax_0"], m["lp_argmax_final"], m["top1_mass_0"], m["top1_mass_final"], m["gap_0"], m["gap_final"])
	checks := []struct {
		what string
		ok   bool
	}{
		{"chosen log-prob falls by > 20 nats", m["lp_chosen_final"] < m["lp_chosen_0"]-20},
		{"rejected log-prob falls by > 20 nats", m["lp_rejected_final"] < m["lp_rejected_0"]-20},
		{"argmax log-prob rises", m["lp_argmax_final"] > m["lp_argmax_0"]},
		{"top-1 mass rises", m["top1_mass_final"] > m["top1_mass_0"]},
		{"gap at least doubles", m["gap_final"] > 2*m["gap_0"]},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("squeezing signature: %s: not so", c.what)
		}
	}
}
