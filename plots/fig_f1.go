package plots

// F1: the toy single-step experiment (before/after one gradient step).

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"gatedpo/results"
)

// figF1 draws the toy single-step experiment: six rows, before and after,
// linear and log y.
func figF1(v *sweepView) ([]*figure, string) {
	t := v.sw.ToyF1
	if t == nil || len(t.Rows) == 0 {
		return nil, "no toy records (toy/toy_f1.json; run the sweep with [toy] run = true)"
	}
	var panels [][]*plot.Plot
	grey := color.Gray{Y: 150}
	for _, r := range t.Rows {
		role := make([]color.Color, r.K)
		for j := range role {
			role[j] = grey
		}
		for _, c := range r.Positive {
			role[c] = CategoryColor[results.CategoryChosen]
		}
		for _, c := range r.Negative {
			role[c] = CategoryColor[results.CategoryRejected]
		}
		if r.ArgmaxAfter >= 0 && r.ArgmaxAfter < r.K {
			role[r.ArgmaxAfter] = black
		}
		minPos := 1.0
		for j := range r.K {
			for _, p := range []float64{r.Before[j], r.After[j]} {
				if p > 0 {
					minPos = math.Min(minPos, p)
				}
			}
		}
		// Log y spans at most 12 decades below 1: enough to see a class
		// collapse without drowning the plot in ticks.
		logMin := math.Pow(10, math.Floor(math.Log10(math.Max(minPos, 1e-12))))
		var row []*plot.Plot
		for col := range 4 {
			probs, when := r.Before, "before"
			if col%2 == 1 {
				probs, when = r.After, "after"
			}
			log := col >= 2
			title := fmt.Sprintf("(%d) %s", r.Row, when)
			if log {
				title += ", log y"
			}
			// Short label: a label longer than the panel is tall would make
			// plot.Align shift the panel.
			ylabel := "p"
			p := newPanel(title, "class", ylabel)
			p.Title.TextStyle.Font.Size = vg.Points(9.5)
			base := 0.0
			if log {
				useLogY(p)
				base = logMin
				p.Y.Min, p.Y.Max = logMin, 1
			} else {
				hi := 0.0
				for j := range r.K {
					hi = math.Max(hi, math.Max(r.Before[j], r.After[j]))
				}
				p.Y.Min, p.Y.Max = 0, hi*1.05
			}
			p.X.Min, p.X.Max = -0.5, float64(r.K)-0.5
			p.X.Tick.Marker = plot.ConstantTicks{{Value: 0, Label: "0"}, {Value: float64(r.K / 2), Label: fmt.Sprint(r.K / 2)},
				{Value: float64(r.K - 1), Label: fmt.Sprint(r.K - 1)}}
			p.Add(&stems{probs: probs, colors: role, base: base})
			row = append(row, p)
		}
		panels = append(panels, row)
	}
	legend := []legendItem{
		{"pushed up (positive)", []plot.Thumbnailer{lineThumb(draw.LineStyle{Color: CategoryColor[results.CategoryChosen], Width: vg.Points(3)})}},
		{"pushed down (negative)", []plot.Thumbnailer{lineThumb(draw.LineStyle{Color: CategoryColor[results.CategoryRejected], Width: vg.Points(3)})}},
		{"argmax after the step", []plot.Thumbnailer{lineThumb(draw.LineStyle{Color: black, Width: vg.Points(3)})}},
		{"other classes", []plot.Thumbnailer{lineThumb(draw.LineStyle{Color: grey, Width: vg.Points(3)})}},
	}
	caption := "Toy softmax model p = softmax(Wᵀx): class probabilities before and after one gradient step, " +
		"linear (left) and log (right) y. Look for the squeeze: a negative step on a low-probability class " +
		"(rows 3 and 5) moves its mass mostly to the argmax (black), which is the only class that rises in row 3; " +
		"the gated step of row 6 leaves the distribution almost unchanged."
	f := newFigure("F1", "F1_toy_squeeze", "F1: squeezing in a softmax toy model (one step)", caption,
		panels, vg.Points(128), vg.Points(108), legend)
	for _, r := range t.Rows {
		gate := ""
		if r.Gate != "" && r.Gate != "none" {
			gate = " · gate " + r.Gate
		}
		f.rowTitles = append(f.rowTitles, fmt.Sprintf("(%d) %s · K = %d, lr %g%s · argmax after: %d (p = %.3g)",
			r.Row, r.Title, r.K, r.LR, gate, r.ArgmaxAfter, r.After[r.ArgmaxAfter]))
	}
	return []*figure{f}, ""
}

// stems draws one vertical line per class from base to its probability.
type stems struct {
	probs  []float64
	colors []color.Color
	base   float64
}

// Plot implements plot.Plotter.
func (s *stems) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	w := vg.Points(1.2)
	if len(s.probs) <= 100 {
		w = (c.Max.X - c.Min.X) / vg.Length(len(s.probs)) * 0.7
	}
	// Grey first, coloured classes on top.
	for pass := range 2 {
		for j, v := range s.probs {
			col := s.colors[j]
			isGrey := col == color.Color(color.Gray{Y: 150})
			if (pass == 0) != isGrey {
				continue
			}
			y := math.Max(v, s.base)
			if p.Y.Scale != nil {
				if _, ok := p.Y.Scale.(plot.LogScale); ok && y <= 0 {
					continue
				}
			}
			pts := c.ClipLinesY([]vg.Point{{X: tx(float64(j)), Y: ty(s.base)}, {X: tx(float64(j)), Y: ty(y)}})
			c.StrokeLines(draw.LineStyle{Color: col, Width: w}, pts...)
		}
	}
}

// DataRange implements plot.DataRanger.
func (s *stems) DataRange() (xmin, xmax, ymin, ymax float64) {
	ymin, ymax = s.base, s.base
	for _, v := range s.probs {
		ymax = math.Max(ymax, v)
	}
	return -0.5, float64(len(s.probs)) - 0.5, ymin, ymax
}

// fractionRange fixes the y range of suppression and reward accuracy
// (fractions, 0..1) so that a constant 1 does not sit mid-axis and a wide
// interval does not stretch the axis past 1.
func fractionRange(p *plot.Plot, column string) {
	if column == "suppression" || column == "reward_acc" || column == "rewards/accuracies" {
		p.Y.Min, p.Y.Max = -0.03, 1.03
	}
}
