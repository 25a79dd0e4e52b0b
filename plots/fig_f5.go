package plots

// F5: the gate threshold τ against the final and the matched-margin
// differences, per gate family.

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"gatedpo/results"
)

// pointStats is the mean and 95 % interval over seeds of one metric of a
// group at its final probe.
func pointStats(g *results.Group, metric string) results.Interval {
	var xs []float64
	for _, c := range g.Cells {
		if x, ok := c.ValueAt(c.MainSplit(), metric, c.FinalPoint()); ok {
			xs = append(xs, x)
		}
	}
	return results.TInterval(xs, 0.95)
}

// matchedDiff is the comparison's "margin common" entry for one gated
// group: the paired-by-seed difference gated − ungated of metric at the
// largest train margin every paired run reaches (results.CommonMargin),
// and that level (0 and N = 0 when there is none).
func matchedDiff(g, base *results.Group, metric string) (results.Interval, float64) {
	lvl := results.CommonMargin(g, base)
	if lvl == 0 {
		return results.Interval{}, 0
	}
	for _, r := range results.CompareGroup(g, base, results.MarginCommon, lvl, 0.95) {
		if r.Metric.Column == metric {
			return r.Diff, lvl
		}
	}
	return results.Interval{}, lvl
}

// errPoints draws means with vertical 95 % error bars at xs, joined by a line.
func errPoints(p *plot.Plot, xs []float64, ivs []results.Interval, st draw.LineStyle) {
	var pts plotter.XYs
	for i, iv := range ivs {
		if iv.N == 0 {
			continue
		}
		pts = append(pts, plotter.XY{X: xs[i], Y: iv.Mean})
		if iv.HasCI {
			bar := draw.LineStyle{Color: st.Color, Width: vg.Points(1.2)}
			if l, err := plotter.NewLine(plotter.XYs{{X: xs[i], Y: iv.Lo}, {X: xs[i], Y: iv.Hi}}); err == nil {
				l.LineStyle = bar
				p.Add(l)
			}
		}
	}
	if len(pts) == 0 {
		return
	}
	if len(pts) > 1 {
		if l, err := plotter.NewLine(pts); err == nil {
			l.LineStyle = st
			p.Add(l)
		}
	}
	if sc, err := plotter.NewScatter(pts); err == nil {
		sc.GlyphStyle = draw.GlyphStyle{Color: st.Color, Radius: vg.Points(2.6), Shape: draw.CircleGlyph{}}
		p.Add(sc)
	}
}

// hband draws a horizontal line at iv.Mean with a shaded interval over x in
// [x0, x1] (the ungated reference in F5).
func hband(p *plot.Plot, x0, x1 float64, iv results.Interval, st draw.LineStyle) {
	if iv.N == 0 {
		return
	}
	b := band{x: []float64{x0, x1}, mean: []float64{iv.Mean, iv.Mean}, lo: []float64{iv.Mean, iv.Mean}, hi: []float64{iv.Mean, iv.Mean}, n: []int{iv.N, iv.N}}
	if iv.HasCI {
		b.lo, b.hi = []float64{iv.Lo, iv.Lo}, []float64{iv.Hi, iv.Hi}
	}
	addBand(p, b, st)
}

var f5Metrics = []results.CompareMetric{
	{Column: "dlp_chosen", Label: "ΔLP_chosen", Unit: "nats"},
	{Column: "gap", Label: "gap", Unit: "nats"},
	{Column: "suppression", Label: "suppression"},
	{Column: "reward_acc", Label: "reward accuracy"},
}

// familyKey identifies a gate family: everything but τ.
func familyKey(g results.GateSpec) string {
	g.Tau = 0
	return results.GateKey(g)
}

func familyLabel(g results.GateSpec) string {
	g.Tau = 1
	return strings.Replace(results.GateLabel(g), " τ=1", "", 1)
}

func figF5(v *sweepView) ([]*figure, string) {
	var figs []*figure
	for _, cv := range v.contexts {
		fams := map[string][]*results.Group{}
		var order []string
		for _, g := range cv.gated {
			if g.Gate.Ungated() {
				continue
			}
			k := familyKey(g.Gate)
			if fams[k] == nil {
				order = append(order, k)
			}
			fams[k] = append(fams[k], g)
		}
		multi := false
		for _, k := range order {
			multi = multi || len(fams[k]) >= 2
		}
		if !multi {
			continue
		}
		// Bottom row (matched margin): for each gated group, the comparison's
		// "margin common" entry: paired by seed, gated − ungated at the
		// largest train margin every paired run of that group reaches.
		matched := false
		if cv.base != nil {
			for _, k := range order {
				for _, g := range fams[k] {
					matched = matched || results.CommonMargin(g, cv.base) > 0
				}
			}
		}
		rows := []bool{false}
		if matched {
			rows = append(rows, true)
		}
		var panels [][]*plot.Plot
		var legend []legendItem
		var levels []string
		for ri, atMargin := range rows {
			var row []*plot.Plot
			for mi, m := range f5Metrics {
				title := m.Label + " (final probe)"
				ylabel := m.Label
				if m.Unit != "" {
					ylabel += " (" + m.Unit + ")"
				}
				if atMargin {
					title = "gated − ungated " + m.Label + " at matched margin"
					ylabel = "gated − ungated"
					if m.Unit != "" {
						ylabel += " (" + m.Unit + ")"
					}
				}
				p := newPanel(title, "gate threshold τ (log scale)", ylabel)
				useLogX(p)
				tmin, tmax := math.Inf(1), math.Inf(-1)
				for fi, k := range order {
					gs := fams[k]
					sort.Slice(gs, func(i, j int) bool { return gs[i].Gate.Tau < gs[j].Gate.Tau })
					var xs []float64
					var ivs []results.Interval
					for _, g := range gs {
						xs = append(xs, g.Gate.Tau)
						tmin, tmax = math.Min(tmin, g.Gate.Tau), math.Max(tmax, g.Gate.Tau)
						if !atMargin {
							ivs = append(ivs, pointStats(g, m.Column))
							continue
						}
						iv, lvl := matchedDiff(g, cv.base, m.Column)
						ivs = append(ivs, iv)
						if mi == 0 {
							lv := "—"
							if lvl > 0 {
								lv = fmt.Sprintf("%.3g", lvl)
							}
							levels = append(levels, fmt.Sprintf("%s τ=%g: L = %s (n = %d)", familyLabel(g.Gate), g.Gate.Tau, lv, iv.N))
						}
					}
					st := methodStyle(false, fi)
					errPoints(p, xs, ivs, st)
					if ri == 0 && mi == 0 {
						n := 0
						for _, g := range gs {
							n = max(n, len(g.Cells))
						}
						legend = append(legend, legendItem{fmt.Sprintf("gated: %s, ≤%d seeds", familyLabel(gs[0].Gate), n), []plot.Thumbnailer{lineThumb(st)}})
					}
				}
				if cv.base != nil {
					st := methodStyle(true, 0)
					if atMargin {
						hband(p, tmin/2, tmax*2, results.Interval{N: 1, Mean: 0}, st)
					} else {
						hband(p, tmin/2, tmax*2, pointStats(cv.base, m.Column), st)
					}
					if ri == 0 && mi == 0 {
						legend = append(legend, legendItem{fmt.Sprintf("τ = 0: DPO (ungated), %d seeds, 95 %% band", len(cv.base.Cells)), []plot.Thumbnailer{lineThumb(st)}})
					}
				}
				p.X.Min, p.X.Max = tmin/2, tmax*2
				if !atMargin {
					fractionRange(p, m.Column)
				}
				row = append(row, p)
			}
			panels = append(panels, row)
		}
		caption := "Gate-threshold sweep: each metric at the final held-out probe against τ (log x), mean over seeds " +
			"with 95 % Student-t error bars; the black line and band are plain DPO (τ = 0). "
		if matched {
			caption += "Bottom row: paired by seed, gated − ungated at matched train-probe reward margin (the black line " +
				"is 0), as in comparison.md's \"margin common\" rows: for each τ the level L is the largest train margin " +
				"r⁺ − r⁻ (nats of log-ratio, no β) that every paired run reaches, and each run is read by linear " +
				"interpolation between the two probes that bracket L. Levels: " + strings.Join(levels, "; ") + ". "
		}
		caption += "Look for ΔLP_chosen rising and the gap shrinking as τ grows, and at what τ reward accuracy starts to suffer."
		var flat []*plot.Plot
		for _, row := range panels {
			flat = append(flat, row...)
		}
		figs = append(figs, newFigure("F5", cv.fileName("F5_tau_sweep"), cv.titleFor("F5: gate-threshold sweep"), caption,
			grid(flat, 2), vg.Points(250), vg.Points(160), legend))
	}
	if len(figs) == 0 {
		taus := map[float64]bool{}
		for _, g := range v.groups {
			if !g.Gate.Ungated() {
				taus[g.Gate.Tau] = true
			}
		}
		switch len(taus) {
		case 0:
			return nil, "no τ axis (no gated cell)"
		case 1:
			for t := range taus {
				return nil, fmt.Sprintf("no τ axis (one τ value: %g)", t)
			}
		}
		return nil, "no τ axis (no gate kind with two or more τ > 0 values in one setting)"
	}
	return figs, ""
}
