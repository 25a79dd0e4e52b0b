package plots

// F4: peakiness of the predictive distribution (top-1 mass, entropy).

import (
	"gatedpo/results"
)

func figF4(v *sweepView) ([]*figure, string) {
	figs := metricFigure(v, "F4", "F4_peakiness", "F4: peakiness of the predictive distribution",
		"Held-out probe, chosen positions: mean top-1 probability and mean entropy (nats) vs step; ungated solid "+
			"black, gated dashed; 95 % bands over seeds. Look for the distribution getting peakier (top-1 up, "+
			"entropy down) under plain DPO, and less so when gated.", []results.CompareMetric{metTop1, metEntropy}, false)
	if len(figs) == 0 {
		return nil, "no probe metrics (probe_metrics.csv) in any complete cell"
	}
	return figs, ""
}
