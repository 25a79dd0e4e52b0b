package plots_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gatedpo/plots"
	"gatedpo/results"
	"gatedpo/results/resultstest"
)

// TestFixObjectivesF7: a sweep with dpo and the likelihood-displacement
// fixes (dpop, apo_zero, apo_down, nca_pair), each ungated and gated, gives
// one F7 figure with the objectives in docs order (dpo first, then the
// fixes in the order objectives.Names lists them), and a comparison row per
// objective.
func TestFixObjectivesF7(t *testing.T) {
	objs := []string{"nca_pair", "apo_down", "dpo", "apo_zero", "dpop"} // shuffled on purpose
	o := resultstest.Options{Seeds: []int{1, 2}, Steps: 10, EvalEvery: 5, Objectives: objs,
		Gates: []results.GateSpec{{Kind: "none", Level: "token"}, resultstest.Ramp(1e-2)}}
	dir, rep := generate(t, o, plots.Options{Formats: []string{"svg"}, NoReport: true})
	var f7 []plots.FigureFile
	for _, f := range rep.Figures {
		if f.ID == "F7" {
			f7 = append(f7, f)
		}
	}
	if len(f7) != 1 {
		t.Fatalf("%d F7 figures, want 1; skipped %v", len(f7), rep.Skipped)
	}
	svg, err := os.ReadFile(f7[0].Files[0])
	if err != nil {
		t.Fatal(err)
	}
	var ticks []string
	for _, m := range regexp.MustCompile(`>([a-z_]+)</text>`).FindAllStringSubmatch(string(svg), -1) {
		switch m[1] {
		case "dpo", "dpop", "apo_zero", "apo_down", "nca_pair":
			ticks = append(ticks, m[1])
		}
	}
	want := "dpo dpop apo_zero apo_down nca_pair"
	if len(ticks) < 5 || strings.Join(ticks[:5], " ") != want {
		t.Errorf("F7 tick labels %v, want %s first", ticks, want)
	}
	md, err := os.ReadFile(filepath.Join(dir, results.ComparisonMDFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range objs {
		if !strings.Contains(string(md), "| "+obj+" |") {
			t.Errorf("comparison.md has no row for %s", obj)
		}
	}
}
