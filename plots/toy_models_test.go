package plots_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gatedpo/gating"
	"gatedpo/models"
	"gatedpo/plots"
	"gatedpo/plots/fixture"
	"gatedpo/results"
)

// TestToyFiguresFromModel writes the toy records the way the sweep does,
// from the toy model itself (models.ToyF1, models.ToyF1b), checks F1's
// numbers — row 3: the argmax ends above 0.95 and is the only class that
// rises; row 6 (gated): no class jumps — and draws F1 and F1b from them.
func TestToyFiguresFromModel(t *testing.T) {
	rows, err := models.ToyF1(1)
	if err != nil {
		t.Fatal(err)
	}
	toy := &results.ToyF1{Seed: 1}
	for _, r := range rows {
		toy.Rows = append(toy.Rows, results.ToyF1Row(r))
	}
	checkToyShape(t, toy)

	dir := t.TempDir()
	if err := fixture.Write(dir, fixture.Options{Seeds: []int{1}, Steps: 5, EvalEvery: 5}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, results.ToyDir), 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(toy)
	if err := os.WriteFile(filepath.Join(dir, results.ToyDir, results.ToyF1File), b, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := models.DefaultToyF1bConfig()
	cfg.Steps = 30
	var csv strings.Builder
	csv.WriteString(strings.Join(results.ToyF1bColumns, ",") + "\n")
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, gate := range []gating.Spec{{Kind: gating.KindNone, Level: gating.LevelToken, Temperature: 1, Alpha: 0.5}, models.ToyF1Gate} {
		for seed := uint64(1); seed <= 2; seed++ {
			pts, err := models.ToyF1b(cfg, seed, gate)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pts {
				csv.WriteString(strings.Join([]string{models.ToyF1bMethod(gate), strconv.FormatUint(seed, 10), strconv.Itoa(p.Step),
					g(p.LogpChosen), g(p.LogpRejected), g(p.Top1Mass), g(p.Entropy)}, ",") + "\n")
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, results.ToyDir, results.ToyF1bFile), []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := plots.Generate(dir, plots.Options{Only: []string{"F1", "F1b"}, Formats: []string{"png"}, DPI: 60})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Figures) != 2 || len(rep.Skipped) != 0 {
		t.Fatalf("drew %d figures, skipped %v; want F1 and F1b", len(rep.Figures), rep.Skipped)
	}
}
