package experiments

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatedpo/experiments/config"
	"gatedpo/results"
)

// fixObjectives are the objectives built against likelihood displacement.
var fixObjectives = []string{"dpop", "apo_zero", "apo_down", "nca_pair"}

// TestSweepFixObjectives: dpop, apo_zero, apo_down and nca_pair, each
// ungated and under a ramp gate, run through a whole sweep on the test
// grid's tiny settings: every cell completes with finite losses, gradient
// norms and TRL rewards/* (margins = chosen − rejected), the gate binds
// (mean g < 1) only in the gated cells, each gated cell ends with other final
// metrics than its ungated twin, and -only selects by objective.lambda.
func TestSweepFixObjectives(t *testing.T) {
	src, _ := config.BuiltinGrid("test")
	objs := `[[grid.objective]]
name = "dpop"
beta = 0.1
lambda = 5.0

[[grid.objective]]
name = "apo_zero"

[[grid.objective]]
name = "apo_down"
beta = 0.1

[[grid.objective]]
name = "nca_pair"
beta = 0.1
`
	text := strings.Replace(string(src), "[[grid.objective]]\nname = \"dpo\"\nbeta = 0.1\n", objs, 1)
	text = strings.Replace(text, "seed = [1, 2]", "seed = [1]", 1)
	text = strings.Replace(text, "run = true", "run = false", 1)
	if text == string(src) || !strings.Contains(text, "nca_pair") || !strings.Contains(text, "seed = [1]\n") {
		t.Fatal("the test grid changed; update this test's edits")
	}
	tmp := t.TempDir()
	grid := filepath.Join(tmp, "fixes.toml")
	if err := os.WriteFile(grid, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out")
	oc, err := Run(context.Background(), quietOptions(grid, out, 2))
	if err != nil {
		t.Fatal(err)
	}
	if oc.Cells != 8 {
		t.Fatalf("%d cells, want 4 objectives × 2 gates = 8", oc.Cells)
	}
	sw, err := results.LoadSweep(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(sw.Cells) != 8 || len(sw.Skipped) != 0 {
		t.Fatalf("%d complete cells, skipped %v", len(sw.Cells), sw.Skipped)
	}
	type key struct{ obj, gate string }
	byKey := map[key]*results.Cell{}
	for _, c := range sw.Cells {
		byKey[key{c.Config.Objective.Name, c.Config.Gate.Kind}] = c
		if c.Config.Objective.Beta != 0.1 {
			t.Errorf("%s: beta %v, want the default 0.1", c.Config.Objective.Name, c.Config.Objective.Beta)
		}
		if (c.Config.Objective.Name == "dpop") != (c.Config.Objective.Lambda == 5) {
			t.Errorf("%s: lambda %v", c.Config.Objective.Name, c.Config.Objective.Lambda)
		}
		pref, minG := 0, math.Inf(1)
		for _, r := range c.Train {
			if r.Stage != "pref" {
				continue
			}
			pref++
			v := map[string]float64{}
			for _, k := range results.FloatColumns[results.TrainRow]() {
				v[k], _ = r.Value(k)
			}
			for _, k := range []string{"loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "grad_norm"} {
				if math.IsNaN(v[k]) || math.IsInf(v[k], 0) {
					t.Fatalf("%s/%s step %d: %s = %v", c.Config.Objective.Name, c.Config.Gate.Kind, r.Step, k, v[k])
				}
			}
			if d := v["rewards/margins"] - (v["rewards/chosen"] - v["rewards/rejected"]); math.Abs(d) > 1e-5 {
				t.Errorf("%s step %d: margins %v ≠ chosen − rejected (%v − %v)", c.Config.Objective.Name, r.Step, v["rewards/margins"], v["rewards/chosen"], v["rewards/rejected"])
			}
			minG = math.Min(minG, v["gate/mean_g"])
		}
		if gated := c.Config.Gate.Kind != "none"; gated && !(minG < 1) || !gated && minG != 1 {
			t.Errorf("%s/%s: smallest gate/mean_g %v (want < 1 gated, exactly 1 ungated)", c.Config.Objective.Name, c.Config.Gate.Kind, minG)
		}
		if pref == 0 || c.Summary.Steps == 0 {
			t.Errorf("%s/%s: %d preference rows, %d steps", c.Config.Objective.Name, c.Config.Gate.Kind, pref, c.Summary.Steps)
		}
	}
	for _, o := range fixObjectives {
		u, g := byKey[key{o, "none"}], byKey[key{o, "ramp"}]
		if u == nil || g == nil {
			t.Fatalf("%s: missing the ungated or the gated cell", o)
		}
		same := true
		for k, v := range u.Summary.Final {
			if w, ok := g.Summary.Final[k]; ok && !(v == w || math.IsNaN(v) && math.IsNaN(w)) {
				same = false
			}
		}
		if same {
			t.Errorf("%s: the ramp gate changed no final metric (%v)", o, u.Summary.Final)
		}
	}
	var b bytes.Buffer
	o := quietOptions(grid, out, 1)
	o.DryRun, o.Stdout, o.Only = true, &b, []string{"objective.lambda=5"}
	if oc, err := Run(context.Background(), o); err != nil || oc.Cells != 2 || strings.Count(b.String(), "dpop/") != 2 {
		t.Errorf("-only objective.lambda=5: %+v %v\n%s", oc, err, b.String())
	}
}

// TestPaperSmallFixesGrid: the built-in paper-small-fixes grid, read from
// the repository root as a sweep would, lists 30 cells in a dry run:
// dpo and the four fixes, each ungated and under ramp τ = 0.01, seeds
// 1–3, on hh-probe with transformer-xs. Skipped without ../shared/data.
func TestPaperSmallFixesGrid(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod in %s: %v", root, err)
	}
	if _, err := os.Stat(filepath.Join(root, "..", "shared", "data", "hh-probe", "train.jsonl")); errors.Is(err, os.ErrNotExist) {
		t.Skip("../shared/data/hh-probe absent: skipping")
	}
	t.Chdir(root)
	g, err := loadGrid("paper-small-fixes")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.LoadDatasets(); err != nil {
		t.Fatal(err)
	}
	cells := g.Cells()
	if len(cells) != 30 {
		t.Fatalf("%d cells, want 30", len(cells))
	}
	count := map[string]int{}
	for _, c := range cells {
		cfg := c.Config
		if cfg.Arch != "transformer-xs" || cfg.Pipeline != "baseline" || cfg.Train["sft_epochs"] != 20.0 || cfg.Train["pref_epochs"] != 6.0 ||
			cfg.Train["lr"] != 1e-3 || cfg.Train["lr_schedule"] != "constant" || cfg.Train["eval_every"] != 50.0 || cfg.Data["max_prompt_tokens"] != 96.0 {
			t.Errorf("cell %s: %+v", c.ID, cfg)
		}
		if g := cfg.Gate; !(g.Kind == "none" || g.Kind == "ramp" && g.Tau == 0.01 && g.Level == "token") {
			t.Errorf("cell %s: gate %+v", c.ID, g)
		}
		count[cfg.Objective.Name+"/"+cfg.Gate.Kind]++
	}
	for _, o := range append([]string{"dpo"}, fixObjectives...) {
		for _, gk := range []string{"none", "ramp"} {
			if n := count[o+"/"+gk]; n != 3 {
				t.Errorf("%s/%s: %d cells, want 3 seeds (%v)", o, gk, n, count)
			}
		}
	}
	var b bytes.Buffer
	o := quietOptions("paper-small-fixes", filepath.Join(t.TempDir(), "dry"), 1)
	o.DryRun, o.Stdout = true, &b
	if oc, err := Run(context.Background(), o); err != nil || oc.Cells != 30 {
		t.Fatalf("dry run: %+v %v", oc, err)
	}
}

// TestPaperSmallGrids: the two built-in grids of docs/results/paper-small,
// read from the repository root, have 60 cells each with the axes the
// results page describes, and the baseline SFT models of the objectives
// grid are those of the DPO grid (same stage-1 key, one directory).
// Skipped without ../shared/data.
func TestPaperSmallGrids(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, ds := range []string{"hh-probe", "ultrafeedback"} {
		if _, err := os.Stat(filepath.Join(root, "..", "shared", "data", ds, "train.jsonl")); errors.Is(err, os.ErrNotExist) {
			t.Skipf("../shared/data/%s absent: skipping", ds)
		}
	}
	t.Chdir(root)
	load := func(name string) []*Cell {
		g, err := loadGrid(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.LoadDatasets(); err != nil {
			t.Fatal(err)
		}
		return g.Cells()
	}
	dpo, objs := load("paper-small-dpo"), load("paper-small-objectives")
	if len(dpo) != 60 || len(objs) != 60 {
		t.Fatalf("cells: %d and %d, want 60 and 60", len(dpo), len(objs))
	}
	dpoSFT := map[string]bool{}
	for _, c := range dpo {
		cfg := c.Config
		if cfg.Objective.Name != "dpo" || cfg.Pipeline != config.PipelineBaseline || cfg.Train["max_grad_norm"] != 0.0 {
			t.Errorf("paper-small-dpo cell %s: %s %s clip %v", c.ID, cfg.Objective.Name, cfg.Pipeline, cfg.Train["max_grad_norm"])
		}
		dpoSFT[sftKey(cfg)] = true
	}
	if len(dpoSFT) != 12 {
		t.Errorf("paper-small-dpo: %d SFT models, want 12", len(dpoSFT))
	}
	combos := map[string]int{}
	newSFT := map[string]bool{}
	for _, c := range objs {
		cfg := c.Config
		combos[cfg.Pipeline+"/"+cfg.Objective.Name+"/"+cfg.Gate.Kind]++
		k := sftKey(cfg)
		if cfg.Pipeline == config.PipelineBaseline && !dpoSFT[k] {
			t.Errorf("paper-small-objectives cell %s: baseline SFT model %s not shared with paper-small-dpo", c.ID, k)
		}
		if !dpoSFT[k] {
			newSFT[k] = true
		}
	}
	for _, o := range []string{"baseline/ipo", "baseline/cal_dpo", "baseline/simpo", "baseline/rpo", "extended_sft/dpo"} {
		for _, g := range []string{"none", "ramp"} {
			if combos[o+"/"+g] != 6 {
				t.Errorf("paper-small-objectives %s/%s: %d cells, want 6", o, g, combos[o+"/"+g])
			}
		}
	}
	if len(newSFT) != 6 {
		t.Errorf("paper-small-objectives: %d new SFT models, want 6", len(newSFT))
	}
}
