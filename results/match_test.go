package results_test

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatedpo/results"
	"gatedpo/results/resultstest"
)

// writeProbeCell writes a complete cell with probes at steps 0, 50, 100:
// train reward_margin m[i] and held-out dlp_chosen d[i] (every other
// metric constant). status "failed" writes a failed summary instead.
func writeProbeCell(t *testing.T, dir, id, status string, cfg results.CellConfig, m, d []float64) {
	t.Helper()
	cdir := filepath.Join(dir, results.CellsDir, id)
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(cdir, results.CellConfigFile), mustJSON(cfg))
	if status == results.StatusFailed {
		mustWrite(t, filepath.Join(cdir, results.CellSummaryFile),
			`{"cell":"`+id+`","status":"failed","failure":{"stage":"pref","step":30,"reason":"loss is NaN"}}`)
		return
	}
	mustWrite(t, filepath.Join(cdir, results.CellSummaryFile), `{"cell":"`+id+`","status":"complete"}`)
	var b strings.Builder
	b.WriteString(strings.Join(results.ProbeMetricColumns, ",") + "\n")
	for i := range m {
		step := strconvI(i * 50)
		// step,split,lp_chosen,lptok_chosen,dlp_chosen,lp_rejected,dlp_rejected,lp_argmax,gap,top1_mass,entropy,collision,suppression,reward_acc,reward_margin
		b.WriteString(step + ",heldout,0,0," + ftoa(d[i]) + ",0,0,0,1,0.5,2,0.2,1,0.5,0\n")
		b.WriteString(step + ",train,0,0,0,0,0,0,1,0.5,2,0.2,1,0.9," + ftoa(m[i]) + "\n")
	}
	mustWrite(t, filepath.Join(cdir, results.ProbeMetricsFile), b.String())
}

// TestMatchedMarginByHand: runs whose train margins cross L between probes
// (probes at steps 0, 50, 100), checked against a hand computation of the
// rule: bracket m_k < L ≤ m_{k+1}, f = (L − m_k)/(m_{k+1} − m_k), every
// metric and the step interpolated linearly.
//
//	seed  ungated m / dlp          gated m / dlp
//	1     0 8 16 / 0 −4 −10        0 4 12 / 0 −1 −2
//	2     0 12 20 / 0 −6 −12       0 9 11 / 0 −2 −3
//	3     —                        0 5 9 / 0 0 0      (unpaired)
//	4     failed                   0 5 9 / 0 0 0      (failed)
//	5     0 3 6 / 0 −1 −2          0 5 15 / 0 −1 −3
//
// L = 10: seed 1 u f = 2/8 → step 62.5, dlp −5.5; g f = 6/8 → 87.5, −1.75;
// diff 3.75. Seed 2 u f = 10/12 → 41.67, −5; g f = 1/2 → 75, −2.5; diff
// 2.5. Seed 5: the ungated run never reaches 10 → not reached. Mean diff
// 3.125 (n 2), steps 81.25 / 52.083.
//
// margin common = min of the paired runs' maximum margins = min(16, 12,
// 20, 11, 6, 15) = 6. Seed 1 u f = 6/8 → −3; g f = 2/8 → −1.25; diff 1.75.
// Seed 2 u f = 1/2 → −3; g f = 6/9 → −4/3; diff 5/3. Seed 5 u f = 1 → −2;
// g f = 1/10 → −1.2; diff 0.8. Mean 1.405556 (n 3).
//
// A second gated run of seed 1 under another id, older, is a duplicate:
// set aside and listed. Every row counts failed 1 and unpaired 1.
func TestMatchedMarginByHand(t *testing.T) {
	dir := t.TempDir()
	base := results.CellConfig{Arch: "d64", Dataset: "hh-probe", Pipeline: "baseline",
		Objective: results.ObjectiveSpec{Name: "dpo", Beta: 0.1}, Gate: results.GateSpec{Kind: "none", Level: "token"}}
	cfg := func(seed int, gated bool) results.CellConfig {
		c := base
		c.Seed = seed
		if gated {
			c.Gate = resultstest.Ramp(0.01)
		}
		return c
	}
	complete := results.StatusComplete
	writeProbeCell(t, dir, "u1", complete, cfg(1, false), []float64{0, 8, 16}, []float64{0, -4, -10})
	writeProbeCell(t, dir, "g1", complete, cfg(1, true), []float64{0, 4, 12}, []float64{0, -1, -2})
	writeProbeCell(t, dir, "u2", complete, cfg(2, false), []float64{0, 12, 20}, []float64{0, -6, -12})
	writeProbeCell(t, dir, "g2", complete, cfg(2, true), []float64{0, 9, 11}, []float64{0, -2, -3})
	writeProbeCell(t, dir, "g3", complete, cfg(3, true), []float64{0, 5, 9}, []float64{0, 0, 0})
	writeProbeCell(t, dir, "u4", results.StatusFailed, cfg(4, false), nil, nil)
	writeProbeCell(t, dir, "g4", complete, cfg(4, true), []float64{0, 5, 9}, []float64{0, 0, 0})
	writeProbeCell(t, dir, "u5", complete, cfg(5, false), []float64{0, 3, 6}, []float64{0, -1, -2})
	writeProbeCell(t, dir, "g5", complete, cfg(5, true), []float64{0, 5, 15}, []float64{0, -1, -3})
	// The duplicate: same config as g1, older, with values that would
	// change every number above if it were counted.
	c1 := cfg(1, true)
	writeProbeCell(t, dir, "zz-old-g1", complete, c1, []float64{0, 100, 200}, []float64{0, 50, 100})
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(dir, results.CellsDir, "zz-old-g1", results.CellSummaryFile), old, old); err != nil {
		t.Fatal(err)
	}

	sw, err := results.LoadSweep(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sw.Duplicates) != 1 || sw.Duplicates[0] != (results.Duplicate{ID: "zz-old-g1", Kept: "g1"}) {
		t.Fatalf("duplicates %v, want zz-old-g1 set aside for g1", sw.Duplicates)
	}
	if len(sw.Failed) != 1 || sw.Failed[0].ID != "u4" {
		t.Fatalf("failed %v, want u4", sw.Failed)
	}
	cmp := results.CompareSweep(sw, results.CompareOptions{MarginLevels: []float64{10}})
	find := func(at string) results.ComparisonRow {
		for _, r := range cmp.Rows {
			if r.At == at && r.Metric.Column == "dlp_chosen" {
				return r
			}
		}
		t.Fatalf("no row %q", at)
		return results.ComparisonRow{}
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }
	r := find("margin 10")
	if r.Diff.N != 2 || !near(r.Diff.Mean, 3.125) || !near(r.Gated, (-1.75-2.5)/2) || !near(r.Ungated, (-5.5-5)/2) ||
		!near(r.StepGated, 81.25) || !near(r.StepUngated, (62.5+125.0/3)/2) || r.NotReached != 1 ||
		r.Reached != [2]string{"3/3", "2/3"} || r.Failed != 1 || r.Unpaired != 1 {
		t.Errorf("margin 10: %+v\nwant n 2, diff 3.125, gated −2.125, ungated −5.25, steps 81.25/52.083, not reached 1, failed 1, unpaired 1", r)
	}
	r = find(results.MarginCommon)
	if !near(r.MarginLevel, 6) || r.Diff.N != 3 || !near(r.Diff.Mean, (1.75+5.0/3+0.8)/3) || r.NotReached != 0 {
		t.Errorf("margin common: level %v n %d mean %v not reached %d, want 6, 3, 1.405556, 0", r.MarginLevel, r.Diff.N, r.Diff.Mean, r.NotReached)
	}
	if r := find("final"); r.Diff.N != 3 || !near(r.Diff.Mean, ((-2+10)+(-3+12)+(-3+2))/3.0) || r.Failed != 1 || r.Unpaired != 1 {
		t.Errorf("final: n %d mean %v failed %d unpaired %d", r.Diff.N, r.Diff.Mean, r.Failed, r.Unpaired)
	}

	// comparison.csv carries the same numbers, and the Markdown the counts
	// and the lists.
	paths, err := cmp.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	found := false
	for _, rec := range recs[1:] {
		if rec[col["at"]] != "margin 10" || rec[col["metric"]] != "dlp_chosen" {
			continue
		}
		found = true
		diff, _ := strconv.ParseFloat(rec[col["diff_mean"]], 64)
		sg, _ := strconv.ParseFloat(rec[col["step_gated"]], 64)
		if !near(diff, 3.125) || !near(sg, 81.25) || rec[col["n"]] != "2" || rec[col["not_reached"]] != "1" ||
			rec[col["failed"]] != "1" || rec[col["unpaired"]] != "1" || rec[col["seeds"]] != "1 2" {
			t.Errorf("comparison.csv margin 10 row: %v", rec)
		}
	}
	if !found {
		t.Error("comparison.csv has no margin 10 dlp_chosen row")
	}
	md := cmp.Markdown()
	for _, want := range []string{"| failed | unpaired |", "not reached", "`u4`: failed in pref at step 30: loss is NaN",
		"`zz-old-g1`: set aside, counted `g1`", "L = 6 nats", "nats of log-ratio"} {
		if !strings.Contains(md, want) {
			t.Errorf("comparison.md lacks %q:\n%s", want, md)
		}
	}
}

// TestAtMargin: the rule's edge cases on one run — a level already met at
// the first probe is read there (f = 0); a level equal to a probe's margin
// is read at that probe (f = 1 of the bracket below it); the first
// bracketing pair wins when the margin dips; a level above every probe is
// not reached.
func TestAtMargin(t *testing.T) {
	dir := t.TempDir()
	cfg := results.CellConfig{Arch: "a", Dataset: "d", Pipeline: "baseline", Objective: results.ObjectiveSpec{Name: "dpo"},
		Gate: results.GateSpec{Kind: "none"}, Seed: 1}
	writeProbeCell(t, dir, "c", results.StatusComplete, cfg, []float64{1, 6, 4, 10}, []float64{0, 2, 4, 6})
	sw, err := results.LoadSweep(dir)
	if err != nil || len(sw.Cells) != 1 {
		t.Fatalf("%v %d", err, len(sw.Cells))
	}
	c := sw.Cells[0]
	for _, tc := range []struct {
		level    float64
		reached  bool
		from, to int
		f, step  float64
		dlp      float64
	}{
		{0.5, true, 0, 0, 0, 0, 0},
		{6, true, 0, 50, 1, 50, 2},
		{5, true, 0, 50, 0.8, 40, 1.6},
		{8, true, 100, 150, 2.0 / 3, 100 + 100.0/3, 4 + 4.0/3},
		{10.5, false, 0, 0, 0, 0, 0},
	} {
		p := c.AtMargin(tc.level)
		if p.Reached != tc.reached || !tc.reached {
			if p.Reached != tc.reached {
				t.Errorf("L %v: reached %v", tc.level, p.Reached)
			}
			continue
		}
		v, ok := c.ValueAt(results.SplitHeldout, "dlp_chosen", p)
		if p.From != tc.from || p.To != tc.to || math.Abs(p.F-tc.f) > 1e-15 || math.Abs(p.Step-tc.step) > 1e-12 ||
			!ok || math.Abs(v-tc.dlp) > 1e-12 {
			t.Errorf("L %v: %+v dlp %v, want %d→%d f %v step %v dlp %v", tc.level, p, v, tc.from, tc.to, tc.f, tc.step, tc.dlp)
		}
	}
	if c.MaxMargin() != 10 {
		t.Errorf("max margin %v", c.MaxMargin())
	}
}
