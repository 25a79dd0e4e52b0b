package experiments

import (
	"math"
	"testing"

	"gatedpo/results"
)

// TestProbeRecords checks the §5 metric definitions on hand-made values
// (exact arithmetic on small binary fractions: tolerance 0).
func TestProbeRecords(t *testing.T) {
	base := &probePass{Step: 0, Split: results.SplitHeldout, Fields: []fieldValues{
		{Field: "chosen", Example: []int{0, 1}, LP: []float64{-10, -20}, NTok: []int{2, 4}},
		{Field: "rejected", Example: []int{0, 1}, LP: []float64{-12, -16}, NTok: []int{3, 4}},
		{Field: "irr_hum", Example: []int{1}, LP: []float64{-30}, NTok: []int{5}},
		{Field: "chosen_initial", Example: []int{0}, LP: []float64{-8}, NTok: []int{2}},
	}, Chosen: chosenStats{LPArgmax: []float64{-4, -6}, Top1: []float64{0.5, 0.25}, Entropy: []float64{1, 2}, Collision: []float64{0.25, 0.5}}}
	now := &probePass{Step: 50, Split: results.SplitHeldout, Fields: []fieldValues{
		{Field: "chosen", Example: []int{0, 1}, LP: []float64{-12, -22}, NTok: []int{2, 4}},
		{Field: "rejected", Example: []int{0, 1}, LP: []float64{-20, -14}, NTok: []int{3, 4}},
		{Field: "irr_hum", Example: []int{1}, LP: []float64{-31}, NTok: []int{5}},
		{Field: "chosen_initial", Example: []int{0}, LP: []float64{-7}, NTok: []int{2}},
	}, Chosen: chosenStats{LPArgmax: []float64{-2, -4}, Top1: []float64{0.75, 0.5}, Entropy: []float64{0.5, 1}, Collision: []float64{0.5, 0.5}}}
	metric, fields, examples := probeRecords(now, base)
	got := map[string]float64{"step": float64(metric.Step)}
	for _, c := range results.FloatColumns[results.ProbeMetricRow]() {
		got[c], _ = metric.Value(c)
	}
	if metric.Split != results.SplitHeldout {
		t.Errorf("split %q", metric.Split)
	}
	want := map[string]float64{
		"step": 50, "lp_chosen": -17, "lptok_chosen": (-6 - 5.5) / 2, "dlp_chosen": -2,
		"lp_rejected": -17, "dlp_rejected": -3, "lp_argmax": -3, "gap": 14,
		"top1_mass": 0.625, "entropy": 0.75, "collision": 0.5,
		"suppression": 2.0 / 3, // rejected and irr_hum fell, chosen_initial rose
		// rewards r = LP − LP₀: pair 0 r⁺ −2, r⁻ −8 (win); pair 1 r⁺ −2, r⁻ +2 (loss)
		"reward_acc": 0.5, "reward_margin": (6 + -4) / 2.0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if len(fields) != 4 || fields[2].Field != "irr_hum" || fields[2].Category != results.CategoryIrrelevant || fields[2].DLP != -1 || fields[2].N != 1 {
		t.Errorf("field rows: %v", fields)
	}
	if len(examples) != 6 {
		t.Errorf("%d example rows, want 6", len(examples))
	}
	// a split without other fields has no suppression
	m, _, _ := probeRecords(&probePass{Fields: now.Fields[:2], Chosen: now.Chosen}, &probePass{Fields: base.Fields[:2], Chosen: base.Chosen})
	if m.Suppression != 1 {
		t.Errorf("suppression with only rejected: %v", m.Suppression)
	}
	if !math.IsNaN(meanOf(nil)) {
		t.Error("mean of nothing is not NaN")
	}
}
