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

// TestTIntervalByHand checks the interval against values worked out by hand:
// d = {1, 2, 3}: mean 2, s = 1, t(0.975, 2) = 4.302652729911275 (tables),
// half-width 4.302652729911275/√3 = 2.4841377... Tolerance 1e-9: the
// quantile comes from a numerical inverse.
func TestTIntervalByHand(t *testing.T) {
	iv := results.TInterval([]float64{1, 2, 3}, 0.95)
	half := 4.302652729911275 / math.Sqrt(3)
	if iv.N != 3 || iv.Mean != 2 || !iv.HasCI ||
		math.Abs(iv.Lo-(2-half)) > 1e-9 || math.Abs(iv.Hi-(2+half)) > 1e-9 {
		t.Fatalf("TInterval({1,2,3}) = %+v, want mean 2 ± %.9f", iv, half)
	}
	if iv.ExcludesZero() {
		t.Fatalf("[%g, %g] contains 0", iv.Lo, iv.Hi)
	}
	if iv := results.TInterval([]float64{3, 4, 5}, 0.95); !iv.ExcludesZero() {
		t.Fatalf("[%g, %g] should exclude 0", iv.Lo, iv.Hi)
	}
	// n = 2: d = {-1, 3}: mean 1, s = 2√2, t(0.975, 1) = 12.706204736174705,
	// half = 12.7062 · 2√2/√2 = 25.41240947...
	iv = results.TInterval([]float64{-1, 3}, 0.95)
	if math.Abs(iv.Hi-iv.Mean-2*12.706204736174705) > 1e-8 || iv.ExcludesZero() {
		t.Fatalf("TInterval({-1,3}) = %+v, want 1 ± 25.4124", iv)
	}
	iv = results.TInterval([]float64{5}, 0.95)
	if iv.HasCI || iv.Mean != 5 || !math.IsNaN(iv.Lo) || iv.ExcludesZero() {
		t.Fatalf("TInterval({5}) = %+v, want mean 5 and no CI", iv)
	}
	if q := results.TQuantile(0.975, 10); math.Abs(q-2.2281388519649385) > 1e-9 {
		t.Fatalf("t(0.975, 10) = %.12g, want 2.228138852", q)
	}
}

// writeCellFiles writes a minimal complete cell with the given final
// held-out dlp_chosen and train margins.
func writeCellFiles(t *testing.T, dir, id string, cfg results.CellConfig, dlp float64, margins []float64) {
	t.Helper()
	cdir := filepath.Join(dir, results.CellsDir, id)
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(cdir, results.CellConfigFile), mustJSON(cfg))
	mustWrite(t, filepath.Join(cdir, results.CellSummaryFile), `{"cell":"`+id+`","status":"complete"}`)
	var b strings.Builder
	b.WriteString(strings.Join(results.ProbeMetricColumns, ",") + "\n")
	for i, m := range margins {
		step := strconvI(i * 10)
		d := dlp * float64(i) / float64(len(margins)-1)
		// step,split,lp_chosen,lptok_chosen,dlp_chosen,lp_rejected,dlp_rejected,lp_argmax,gap,top1_mass,entropy,collision,suppression,reward_acc,reward_margin
		b.WriteString(step + ",heldout,0,0," + ftoa(d) + ",0,0,0,1,0.5,2,0.2,1,0.5,0\n")
		b.WriteString(step + ",train,0,0," + ftoa(d/2) + ",0,0,0,1,0.5,2,0.2,1,0.9," + ftoa(m) + "\n")
	}
	mustWrite(t, filepath.Join(cdir, results.ProbeMetricsFile), b.String())
}

// TestComparePairing builds cells by hand: gated − ungated per seed is
// {3, 4, 5} for seeds 1..3 (seed 4 has no ungated partner and must be
// ignored), so the final ΔLP_chosen row is 4 ± 2.484, n = 3; at margin 20
// only seed 1 of the gated cells gets there: n = 1, "n<2: no CI"; margin 40
// is reached by nobody: "not reached".
func TestComparePairing(t *testing.T) {
	dir := t.TempDir()
	base := results.CellConfig{Arch: "d64", Dataset: "hh-probe", Pipeline: "baseline",
		Objective: results.ObjectiveSpec{Name: "dpo", Beta: 0.1}, Gate: results.GateSpec{Kind: "none", Level: "token"}}
	gate := resultstest.Ramp(0.01)
	for seed := 1; seed <= 4; seed++ {
		u, g := base, base
		u.Seed, g.Seed, g.Gate = seed, seed, gate
		if seed <= 3 {
			writeCellFiles(t, dir, "u"+strconvI(seed), u, -10*float64(seed), []float64{0, 15, 25})
		}
		gm := []float64{0, 5, 12}
		if seed == 1 {
			gm = []float64{0, 5, 21}
		}
		writeCellFiles(t, dir, "g"+strconvI(seed), g, -10*float64(seed)+float64(seed)+2, gm)
	}
	sw, err := results.LoadSweep(dir)
	if err != nil {
		t.Fatal(err)
	}
	cmp := results.Compare(sw.Cells, results.CompareOptions{})
	find := func(at, metric string) results.ComparisonRow {
		for _, r := range cmp.Rows {
			if r.At == at && r.Metric.Column == metric {
				return r
			}
		}
		t.Fatalf("no row %s %s in %d rows", at, metric, len(cmp.Rows))
		return results.ComparisonRow{}
	}
	r := find("final", "dlp_chosen")
	if r.Diff.N != 3 || math.Abs(r.Diff.Mean-4) > 1e-12 || math.Abs(r.Diff.Hi-4-4.302652729911275/math.Sqrt(3)) > 1e-9 {
		t.Fatalf("final dlp_chosen: %+v, want n=3 mean 4 ± 2.484", r.Diff)
	}
	if len(r.Seeds) != 3 || r.Seeds[2] != 3 {
		t.Fatalf("paired seeds %v, want [1 2 3]", r.Seeds)
	}
	if r := find("margin 20", "dlp_chosen"); r.Diff.N != 1 || r.Note != "n<2: no CI" || !strings.Contains(results.FormatCell(r), "n<2: no CI") {
		t.Fatalf("margin 20: n=%d note %q cell %q, want n=1 and n<2: no CI", r.Diff.N, r.Note, results.FormatCell(r))
	}
	if r := find("margin 40", "gap"); r.Diff.N != 0 || !strings.HasPrefix(r.Note, "not reached") {
		t.Fatalf("margin 40: n=%d note %q, want not reached", r.Diff.N, r.Note)
	}
	// Largest common margin: min over paired runs of their max margin =
	// min(25, 21, 12, 12) = 12, reached by every run: n = 3.
	if r := find(results.MarginCommon, "dlp_chosen"); r.MarginLevel != 12 || r.Diff.N != 3 {
		t.Fatalf("margin common: level %g n %d, want 12 and 3", r.MarginLevel, r.Diff.N)
	}
	md := cmp.Markdown()
	for _, want := range []string{"## Pipeline baseline", "ramp τ=0.01 token", "Not reached by any run", "n<2: no CI", " *"} {
		if !strings.Contains(md, want) {
			t.Errorf("comparison.md lacks %q:\n%s", want, md)
		}
	}
}

func TestLoadSweepSkipsUnfinished(t *testing.T) {
	dir := t.TempDir()
	if err := resultstest.Write(dir, resultstest.Options{Seeds: []int{1, 2}, Failed: true, Toy: true, Steps: 20}); err != nil {
		t.Fatal(err)
	}
	sw, err := results.LoadSweep(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sw.Cells) != 6 || len(sw.Skipped) != 2 {
		t.Fatalf("got %d cells, %d skipped (%v); want 6 and 2", len(sw.Cells), len(sw.Skipped), sw.Skipped)
	}
	if sw.ToyF1 == nil || len(sw.ToyF1.Rows) != 6 || len(sw.ToyF1b) == 0 || len(sw.SummaryRows) != 6 {
		t.Fatalf("toy/summary not loaded: %v %d %d", sw.ToyF1 != nil, len(sw.ToyF1b), len(sw.SummaryRows))
	}
	c := sw.Cells[0]
	if len(c.Train) == 0 || len(c.Probes) == 0 || len(c.Fields) == 0 || c.MainSplit() != results.SplitHeldout {
		t.Fatalf("cell files not loaded: train %d probes %d fields %d", len(c.Train), len(c.Probes), len(c.Fields))
	}
	ex, err := results.ReadRows[results.ProbeExampleRow](filepath.Join(c.Dir, results.ProbeExamplesFile))
	if err != nil || len(ex) == 0 {
		t.Fatalf("ReadRows[ProbeExampleRow]: %d rows, %v", len(ex), err)
	}
	if _, err := results.LoadSweep(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("missing dir: err = %v, want one naming the path", err)
	}
	if _, err := results.LoadSweep(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a sweep directory") {
		t.Fatalf("empty dir: err = %v, want not a sweep directory", err)
	}
	bad := filepath.Join(dir, results.CellsDir, c.ID, results.ProbeMetricsFile)
	mustWrite(t, bad, "step,split\nx,heldout\n")
	sw, _ = results.LoadSweep(dir)
	// the file no longer matches the sha256 in summary.json: damaged
	if len(sw.Cells) != 5 || len(sw.Damaged()) != 1 || !strings.Contains(sw.Damaged()[0].Reason, bad+" does not match the sha256") {
		t.Fatalf("a malformed probe_metrics.csv should skip its cell with the reason; skipped %v", sw.Skipped)
	}
}
