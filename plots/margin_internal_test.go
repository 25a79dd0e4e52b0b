package plots

import (
	"math"
	"testing"

	"gatedpo/results"
	"gatedpo/results/resultstest"
)

// TestMarginFiguresUseTheComparisonRule: F5's matched row draws exactly
// the comparison's "margin common" entries (same level, same paired
// differences), and F3_margin's band at a level L is the mean over seeds
// of each run interpolated by the matched-margin rule (Cell.AtMargin,
// Cell.ValueAt), not a first-probe read.
func TestMarginFiguresUseTheComparisonRule(t *testing.T) {
	dir := t.TempDir()
	if err := resultstest.Write(dir, resultstest.Options{Seeds: []int{1, 2, 3}, Steps: 60, EvalEvery: 20}); err != nil {
		t.Fatal(err)
	}
	sw, err := results.LoadSweep(dir)
	if err != nil {
		t.Fatal(err)
	}
	v := newSweepView(sw)
	cmp := results.CompareSweep(sw, results.CompareOptions{})
	checked := 0
	for _, cv := range v.contexts {
		if cv.base == nil {
			continue
		}
		for _, g := range cv.gated {
			for _, m := range f5Metrics {
				iv, lvl := matchedDiff(g, cv.base, m.Column)
				var row *results.ComparisonRow
				for i, r := range cmp.Rows {
					if r.At == results.MarginCommon && r.Metric.Column == m.Column && results.GateKey(r.Gate) == results.GateKey(g.Gate) &&
						r.Context.Key == g.Context.Key {
						row = &cmp.Rows[i]
					}
				}
				if row == nil || row.MarginLevel != lvl || row.Diff.N != iv.N || row.Diff.Mean != iv.Mean {
					t.Errorf("%s %s: F5 draws L %v n %d mean %v; comparison row %+v", results.GateLabel(g.Gate), m.Column, lvl, iv.N, iv.Mean, row)
				}
				checked++
			}
			b := marginBand(g, "dlp_chosen")
			if len(b.x) < 2 {
				t.Fatalf("%s: empty margin band", results.GateLabel(g.Gate))
			}
			k := len(b.x) / 2
			var ys []float64
			for _, c := range g.Cells {
				p := c.AtMargin(b.x[k])
				if p.F == 0 || p.F == 1 {
					continue
				}
				y, ok := c.ValueAt(c.MainSplit(), "dlp_chosen", p)
				if ok {
					ys = append(ys, y)
				}
			}
			if len(ys) == len(g.Cells) {
				s := 0.0
				for _, y := range ys {
					s += y
				}
				if math.Abs(b.mean[k]-s/float64(len(ys))) > 1e-12*math.Max(1, math.Abs(b.mean[k])) {
					t.Errorf("%s: F3_margin at L %v is %v, interpolated mean %v", results.GateLabel(g.Gate), b.x[k], b.mean[k], s/float64(len(ys)))
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no gated group with an ungated partner in the fixture")
	}
}
