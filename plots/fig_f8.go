package plots

// F8: TRL training curves (train.csv), smoothed.

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// smooth returns a centred moving average of ys with window w (odd).
func smooth(ys []float64, w int) []float64 {
	if w <= 1 {
		return ys
	}
	out := make([]float64, len(ys))
	h := w / 2
	for i := range ys {
		s, n := 0.0, 0
		for j := max(0, i-h); j <= min(len(ys)-1, i+h); j++ {
			if !math.IsNaN(ys[j]) {
				s += ys[j]
				n++
			}
		}
		out[i] = math.NaN()
		if n > 0 {
			out[i] = s / float64(n)
		}
	}
	return out
}

func figF8(v *sweepView) ([]*figure, string) {
	cols := []struct{ col, label, unit string }{
		{"rewards/chosen", "rewards/chosen = β·r(y+) (with β)", "β × nats"},
		{"rewards/rejected", "rewards/rejected = β·r(y−) (with β)", "β × nats"},
		{"rewards/margins", "rewards/margins = β·(r(y+) − r(y−)) (with β)", "β × nats"},
		{"rewards/accuracies", "rewards/accuracies", "fraction"},
	}
	var figs []*figure
	window := 1
	for _, cv := range v.contexts {
		var panels []*plot.Plot
		var legend []legendItem
		for mi, cdef := range cols {
			p := newPanel(cdef.label, "step", cdef.col+" ("+cdef.unit+")")
			drawn := false
			for _, g := range cv.all() {
				var curves []xy
				for _, c := range g.Cells {
					steps, ys := c.TrainSeries("pref", cdef.col)
					if len(steps) == 0 {
						continue
					}
					window = max(1, len(steps)/40) | 1
					curves = append(curves, xy{ints(steps), smooth(ys, window)})
				}
				if len(curves) == 0 {
					continue
				}
				st := v.style(g)
				addBand(p, aggregate(curves), st)
				drawn = true
				if mi == 0 {
					legend = append(legend, legendItem{groupLabel(g) + ", " + seedsNote(g) + " seeds", []plot.Thumbnailer{lineThumb(st)}})
				}
			}
			fractionRange(p, cdef.col) // after the data: Add widens the axes
			if drawn {
				panels = append(panels, p)
			}
		}
		if len(panels) == 0 {
			continue
		}
		caption := fmt.Sprintf("Preference-stage training curves with TRL's names (train.csv), per optimizer step, "+
			"centred moving average over %d steps, mean over seeds with a 95 %% band; ungated solid black, gated "+
			"dashed. TRL's rewards carry β (β times the log-ratio, batch mean), unlike the probe reward margin r⁺ − r⁻ "+
			"of F3 and the comparison, which has no β. Look for the margin growing more slowly when gated, and rewards/chosen going negative "+
			"(the chosen log-ratio falling) under plain DPO.", window)
		figs = append(figs, newFigure("F8", cv.fileName("F8_trl_curves"), cv.titleFor("F8: training curves (TRL names)"),
			caption, grid(panels, 2), vg.Points(250), vg.Points(160), legend))
	}
	if len(figs) == 0 {
		return nil, "no preference-stage rows in any train.csv"
	}
	return figs, ""
}
