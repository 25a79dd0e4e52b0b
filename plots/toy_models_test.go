package plots_test

import (
	"path/filepath"
	"testing"

	"gatedpo/experiments/toy"
	"gatedpo/gating"
	"gatedpo/plots"
	"gatedpo/results"
	"gatedpo/results/resultstest"
)

// writeRealToy writes the toy records exactly as a sweep does (toy.Write:
// the real toy model, not a fixture) into a fixture sweep directory, with
// F1b for DPO and F1's gate, 2 seeds of steps steps.
func writeRealToy(t *testing.T, steps int) string {
	t.Helper()
	dir := t.TempDir()
	if err := resultstest.Write(dir, resultstest.Options{Seeds: []int{1}, Steps: 5, EvalEvery: 5}); err != nil {
		t.Fatal(err)
	}
	if err := toy.Write(dir, steps, 2, []gating.Spec{toy.F1Gate}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestToyFiguresFromModel loads the real toy's records, checks F1's shape
// (checkToyShape) and F1b's squeezing from the CSV — under "dpo" the top-1
// mass of the rejected context x⁻ rises by more than 0.08 for every seed,
// under the gate it ends at least 0.05 below DPO's — and draws F1 and F1b.
func TestToyFiguresFromModel(t *testing.T) {
	const steps = 100
	dir := writeRealToy(t, steps)
	sw, err := results.LoadSweep(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkToyShape(t, sw.ToyF1)
	first, last := map[string]results.ToyF1bRow{}, map[string]results.ToyF1bRow{}
	for _, r := range sw.ToyF1b {
		k := r.Method + "/" + results.FormatInt(r.Seed)
		if r.Step == 0 {
			first[k] = r
		}
		if r.Step == steps {
			last[k] = r
		}
	}
	gated := toy.Method(toy.F1Gate)
	for _, seed := range []string{"1", "2"} {
		d0, d, g := first["dpo/"+seed], last["dpo/"+seed], last[gated+"/"+seed]
		if !(d.Top1MassRejected > d0.Top1MassRejected+0.08) {
			t.Errorf("seed %s: dpo top1_mass_rejected %v → %v, want a rise above 0.08", seed, d0.Top1MassRejected, d.Top1MassRejected)
		}
		if !(g.Top1MassRejected < d.Top1MassRejected-0.05) {
			t.Errorf("seed %s: %s ends at top1_mass_rejected %v, dpo at %v", seed, gated, g.Top1MassRejected, d.Top1MassRejected)
		}
	}
	rep, err := plots.Generate(dir, plots.Options{Only: []string{"F1", "F1b"}, Formats: []string{"png"}, DPI: 60})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Figures) != 2 || len(rep.Skipped) != 0 {
		t.Fatalf("drew %d figures, skipped %v; want F1 and F1b", len(rep.Figures), rep.Skipped)
	}
}

// TestToyF1Shape checks the real toy's F1 record (as the sweep writes and
// results.LoadToyF1 reads it) has the shape docs/method.md describes: in
// row 3 the argmax ends above 0.95 and is the only class that rises; in
// row 6 (gated) no class jumps.
func TestToyF1Shape(t *testing.T) {
	dir := writeRealToy(t, 1)
	f1, err := results.LoadToyF1(filepath.Join(dir, results.ToyDir, results.ToyF1File))
	if err != nil {
		t.Fatal(err)
	}
	checkToyShape(t, f1)
}
