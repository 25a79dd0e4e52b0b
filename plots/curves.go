package plots

// Metric-vs-step and metric-vs-margin panels shared by F2–F4.

import (
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"gatedpo/results"
)

// metricFigure draws one panel per metric with one band per group of each
// context, step on x (or the train margin when marginX).
func metricFigure(v *sweepView, id, stem, title, caption string, metrics []results.CompareMetric, marginX bool) []*figure {
	var figs []*figure
	for _, cv := range v.contexts {
		var panels []*plot.Plot
		var legend []legendItem
		for mi, m := range metrics {
			ylabel := m.Unit
			if m.Unit == "" {
				ylabel = "fraction"
			}
			xlabel := "step"
			if marginX {
				xlabel = "train margin r+ − r− (nats, no β)"
			}
			p := newPanel(m.Label, xlabel, ylabel)
			drawn := false
			for _, g := range cv.all() {
				var b band
				if marginX {
					b = marginBand(g, m.Column)
				} else {
					b = aggregate(probeCurves(g, m.Column))
				}
				if len(b.x) == 0 {
					continue
				}
				st := v.style(g)
				addBand(p, b, st)
				drawn = true
				if mi == 0 {
					legend = append(legend, legendItem{groupLabel(g) + ", " + seedsNote(g) + " seeds", []plot.Thumbnailer{lineThumb(st)}})
				}
			}
			if drawn {
				panels = append(panels, p)
			}
		}
		if len(panels) == 0 {
			continue
		}
		figs = append(figs, newFigure(id, cv.fileName(stem), cv.titleFor(title), caption,
			grid(panels, 3), vg.Points(168), vg.Points(155), legend))
	}
	return figs
}

// marginBand aggregates metric against the train-probe margin with the
// comparison's matched-margin rule (results.Cell.AtMargin): at each of 31
// levels L from 0 to the largest margin every seed of the group reaches,
// each seed contributes its metric on the main split interpolated between
// the two consecutive probes whose train margins bracket L; the band is
// the mean and 95 % interval over seeds at each L.
func marginBand(g *results.Group, metric string) band {
	lmax := math.Inf(1)
	for _, c := range g.Cells {
		lmax = math.Min(lmax, c.MaxMargin())
	}
	var b band
	if len(g.Cells) == 0 || !(lmax > 0) || math.IsInf(lmax, 0) {
		return b
	}
	const levels = 30
	for i := 0; i <= levels; i++ {
		l := lmax * float64(i) / levels
		var ys []float64
		for _, c := range g.Cells {
			if y, ok := c.ValueAt(c.MainSplit(), metric, c.AtMargin(l)); ok {
				ys = append(ys, y)
			}
		}
		if len(ys) == 0 {
			continue
		}
		iv := results.TInterval(ys, 0.95)
		lo, hi := iv.Lo, iv.Hi
		if !iv.HasCI {
			lo, hi = iv.Mean, iv.Mean
		}
		b.x, b.mean, b.lo, b.hi, b.n = append(b.x, l), append(b.mean, iv.Mean), append(b.lo, lo), append(b.hi, hi), append(b.n, iv.N)
	}
	return b
}

var (
	metLPChosen = results.CompareMetric{Column: "lp_chosen", Label: "LP_chosen (summed log-prob)", Unit: "log-prob (nats)"}
	metLPArgmax = results.CompareMetric{Column: "lp_argmax", Label: "LP_argmax (teacher-forced argmax)", Unit: "log-prob (nats)"}
	metGap      = results.CompareMetric{Column: "gap", Label: "gap = LP_argmax − LP_chosen", Unit: "gap (nats)"}
	metTop1     = results.CompareMetric{Column: "top1_mass", Label: "top-1 mass (mean over positions)", Unit: "max_v p (fraction)"}
	metEntropy  = results.CompareMetric{Column: "entropy", Label: "entropy (mean over positions)", Unit: "H(p) (nats)"}
)
