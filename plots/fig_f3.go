package plots

// F3: chosen vs argmax log-prob and their gap, against step and against
// the matched train margin.

import (
	"gatedpo/results"
)

func figF3(v *sweepView) ([]*figure, string) {
	mets := []results.CompareMetric{metLPChosen, metLPArgmax, metGap}
	figs := metricFigure(v, "F3", "F3_chosen_argmax_gap", "F3: chosen vs argmax log-prob and their gap",
		"Held-out probe: summed log-prob of the chosen response, of the teacher-forced argmax path, and their gap "+
			"(nats) vs step; ungated solid black, gated dashed; mean over seeds with a 95 % band. Squeezing is the gap "+
			"widening (argmax rising while chosen falls), not the argmax rising alone.", mets, false)
	if len(figs) == 0 {
		return nil, "no probe metrics (probe_metrics.csv) in any complete cell"
	}
	mfigs := metricFigure(v, "F3", "F3_chosen_argmax_gap_margin", "F3 (margin on x): at matched preference margin",
		"The same metrics against the train-probe reward margin instead of the step: a gate also slows how fast the "+
			"margin grows, so compare the curves at equal x. The margin is the train-probe r⁺ − r⁻ in nats of log-ratio "+
			"(no β; TRL's rewards/margins in F8 carries β). At each margin level L every seed is read by linear "+
			"interpolation between the two consecutive probes whose train margins bracket L (the comparison table's "+
			"rule, docs/method.md §7), up to the largest level all seeds of the curve reach. A gated "+
			"curve above the ungated one at the same margin is a real change in where the mass goes, not just slower learning.", mets, true)
	return append(figs, mfigs...), ""
}
