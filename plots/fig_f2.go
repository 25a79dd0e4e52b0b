package plots

// F2: mass dynamics of every probe category over training.

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

func figF2(v *sweepView) ([]*figure, string) {
	var figs []*figure
	for _, cv := range v.contexts {
		var panels []*plot.Plot
		lo, hi := math.Inf(1), math.Inf(-1)
		present := map[string]bool{}
		for _, g := range cv.all() {
			title := groupLabel(g) + " (" + seedsNote(g) + ")"
			p := newPanel(title, "step", "ΔLP vs step 0 (nats)")
			st := draw.LineStyle{Width: vg.Points(1.6)}
			if !g.Gate.Ungated() {
				st.Dashes = gatedDashes
			}
			any := false
			// Chosen last, so that it is drawn on top of the others.
			order := append(append([]string(nil), CategoryOrder[1:]...), CategoryOrder[0])
			for _, cat := range order {
				var curves []xy
				for _, c := range g.Cells {
					steps, dlp := c.CategorySeries(c.MainSplit(), cat)
					if len(steps) > 0 {
						curves = append(curves, xy{ints(steps), dlp})
					}
				}
				if len(curves) == 0 {
					continue
				}
				b := aggregate(curves)
				s := st
				s.Color = CategoryColor[cat]
				addBandAlpha(p, b, s, 0.1)
				l, h := b.yRange()
				lo, hi = math.Min(lo, l), math.Max(hi, h)
				present[cat] = true
				any = true
			}
			if any {
				panels = append(panels, p)
			}
		}
		if len(panels) == 0 {
			continue
		}
		setYRange(panels, lo, hi)
		var legend []legendItem
		for _, cat := range CategoryOrder {
			if present[cat] {
				legend = append(legend, legendItem{cat, []plot.Thumbnailer{lineThumb(draw.LineStyle{Color: CategoryColor[cat], Width: vg.Points(2)})}})
			}
		}
		grey := color.Gray{Y: 110}
		legend = append(legend,
			legendItem{"ungated (solid)", []plot.Thumbnailer{lineThumb(draw.LineStyle{Color: grey, Width: vg.Points(1.6)})}},
			legendItem{"gated (dashed)", []plot.Thumbnailer{lineThumb(draw.LineStyle{Color: grey, Width: vg.Points(1.6), Dashes: gatedDashes})}})
		caption := "Mass dynamics on the held-out probe set: change in summed log-probability (nats) of each probe " +
			"category since step 0, averaged over the category's fields; mean over seeds with a 95 % band. " +
			"Ungated panel solid, gated panels dashed, same y scale. Look for the squeeze under plain DPO — every " +
			"category, chosen included, losing probability — and for the chosen (blue) curve staying higher when gated."
		figs = append(figs, newFigure("F2", cv.fileName("F2_mass_dynamics"), cv.titleFor("F2: mass dynamics per probe category"),
			caption, grid(panels, 3), vg.Points(168), vg.Points(155), legend))
	}
	if len(figs) == 0 {
		return nil, "no per-field probe records (probe_fields.csv) in any complete cell"
	}
	return figs, ""
}
