package results_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatedpo/results"
	"gatedpo/results/resultstest"
)

// TestCompareSizes: the size comparison pairs each gated group of the
// smaller model with the larger model's ungated group (never the other
// way round), and its final ΔLP_chosen is the mean over seeds of the two
// cells' last held-out values, computed here by hand; comparison_size.csv
// is written only when there is such a pair.
func TestCompareSizes(t *testing.T) {
	dir := t.TempDir()
	ramp := results.GateSpec{Kind: "ramp", Tau: 1e-2, Level: "token"}
	if err := resultstest.Write(dir, resultstest.Options{Archs: []string{"d128", "d64"}, Steps: 40, EvalEvery: 10,
		Gates: []results.GateSpec{{Kind: "none"}, ramp}}); err != nil {
		t.Fatal(err)
	}
	sw, err := results.LoadSweep(dir)
	if err != nil {
		t.Fatal(err)
	}
	cmp := results.CompareSweep(sw, results.CompareOptions{})
	if len(cmp.Sizes) == 0 {
		t.Fatal("no size rows")
	}
	final := 0
	for _, r := range cmp.Sizes {
		if r.Context.Arch != "d64" || r.LargerArch != "d128" || r.Gate.Kind != "ramp" {
			t.Fatalf("row %s %s vs %s", r.Context.Arch, r.GateLabel, r.LargerArch)
		}
		if r.At != "final" {
			continue
		}
		final++
		if r.Metric.Column != "dlp_chosen" {
			continue
		}
		last := func(arch string, gate string, seed int) float64 {
			for _, c := range sw.Cells {
				if c.Config.Arch == arch && c.Config.Gate.Kind == gate && c.Config.Seed == seed {
					var last results.ProbeMetricRow
					for _, r := range c.Probes {
						if r.Split == c.MainSplit() && r.Step >= last.Step {
							last = r
						}
					}
					return last.DLPChosen
				}
			}
			t.Fatalf("no cell %s %s %d", arch, gate, seed)
			return 0
		}
		var sum float64
		for _, s := range r.Seeds {
			sum += last("d64", "ramp", s) - last("d128", "none", s)
		}
		if want := sum / float64(len(r.Seeds)); len(r.Seeds) != 3 || math.Abs(r.Diff.Mean-want) > 1e-12 {
			t.Errorf("ΔLP_chosen: %v over seeds %v, want %v over 3", r.Diff.Mean, r.Seeds, want)
		}
	}
	if final != len(results.CompareMetrics) {
		t.Errorf("%d final rows, want %d", final, len(results.CompareMetrics))
	}
	paths, err := cmp.WriteFiles(dir)
	if err != nil || len(paths) != 3 {
		t.Fatalf("WriteFiles: %v %v", paths, err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, results.ComparisonSizeCSVFile))
	if lines := strings.Count(string(b), "\n"); lines != 1+len(cmp.Sizes) || !strings.HasSuffix(strings.SplitN(string(b), "\n", 2)[0], ",larger_arch") {
		t.Errorf("%s: %d lines for %d rows", results.ComparisonSizeCSVFile, lines, len(cmp.Sizes))
	}
	md, _ := os.ReadFile(filepath.Join(dir, results.ComparisonMDFile))
	if !strings.Contains(string(md), "Smaller gated model vs larger ungated model") ||
		!strings.Contains(string(md), "| baseline | hh-probe | dpo | d64 ramp τ=0.01 token | d128 | 3 |") {
		t.Errorf("comparison.md has no size table:\n%s", md)
	}
	// one arch: no size rows, and a stale comparison_size.csv is removed
	one := results.CompareSweep(&results.Sweep{Dir: dir}, results.CompareOptions{})
	if _, err := one.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, results.ComparisonSizeCSVFile)); !os.IsNotExist(err) {
		t.Errorf("stale %s kept: %v", results.ComparisonSizeCSVFile, err)
	}
}

// TestLoadSweepGrids: the grids/<name>.toml copies of a directory several
// grids wrote into load by name, in name order.
func TestLoadSweepGrids(t *testing.T) {
	dir := t.TempDir()
	if err := resultstest.Write(dir, resultstest.Options{Seeds: []int{1}, Steps: 10, EvalEvery: 5}); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, results.GridsDir), 0o755)
	os.WriteFile(filepath.Join(dir, results.GridsDir, "b-grid.toml"), []byte("name = \"b-grid\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, results.GridsDir, "a-grid.toml"), []byte("name = \"a-grid\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, results.GridsDir, "a-grid.resolved.json"), []byte("{}\n"), 0o644)
	sw, err := results.LoadSweep(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sw.Grids) != 2 || sw.Grids[0].Name != "a-grid" || sw.Grids[1].Name != "b-grid" || sw.Grids[1].TOML != "name = \"b-grid\"\n" {
		t.Errorf("grids: %+v", sw.Grids)
	}
}

// TestDatasetLabel: paths keep their last two elements, hub datasets their
// ORG/NAME, anything else is kept.
func TestDatasetLabel(t *testing.T) {
	for in, want := range map[string]string{
		"../shared/data/hh-probe/train.jsonl": "hh-probe/train.jsonl",
		"synthetic":                           "synthetic",
		"train.jsonl":                         "train.jsonl",
		"hf://datasets/Anthropic/hh-rlhf@main/data/train.parquet": "hf:Anthropic/hh-rlhf",
	} {
		if got := results.DatasetLabel(in); got != want {
			t.Errorf("DatasetLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestContextsTwoDatasets: a cell's [data] entries that follow from its
// dataset (its path, its content hash) are not "settings" of a
// two-dataset sweep, and labels show the dataset's short name.
func TestContextsTwoDatasets(t *testing.T) {
	var cells []*results.Cell
	for _, ds := range []string{"../data/a/train.jsonl", "../data/b/train.jsonl"} {
		for _, lr := range []float64{1e-3, 1e-4} {
			cells = append(cells, &results.Cell{Config: results.CellConfig{Arch: "d64", Dataset: ds, Pipeline: "baseline",
				Objective: results.ObjectiveSpec{Name: "dpo", Beta: 0.1},
				Data:      map[string]any{"dataset": ds, "dataset_hash": "h-" + ds, "max_prompt_tokens": 96.0},
				Train:     map[string]any{"lr": lr}}})
		}
	}
	for i, c := range results.Contexts(cells) {
		if want := "train.lr=" + map[bool]string{true: "0.001", false: "0.0001"}[i%2 == 0]; c.Variant != want {
			t.Errorf("cell %d: variant %q, want %q", i, c.Variant, want)
		}
		if l := c.Label(); !strings.Contains(l, "/train.jsonl · ") || strings.Contains(l, "../") {
			t.Errorf("label %q", l)
		}
	}
}
