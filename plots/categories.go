package plots

// Per-category panels shared by F6 and F7.

import (
	"fmt"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"gatedpo/results"
)

// categoryFigure draws, for sets of contexts that differ only in one axis
// (model size for F6, objective/pipeline for F7), each metric against that
// axis, one series per gate configuration.
func categoryFigure(v *sweepView, id, stem, title, caption, what string,
	strip func(results.CellConfig) results.CellConfig, label func(results.Context, *results.Cell) string,
	order func(a, b *results.Cell) bool, metrics []results.CompareMetric) ([]*figure, string) {
	type set struct {
		ctxs []*ctxView
	}
	sets := map[string]*set{}
	var keys []string
	for _, cv := range v.contexts {
		c := cv.all()[0].Cells[0]
		k := results.ContextKey(strip(c.Config))
		if sets[k] == nil {
			sets[k] = &set{}
			keys = append(keys, k)
		}
		sets[k].ctxs = append(sets[k].ctxs, cv)
	}
	// Each set's label: the context fields constant within the set that
	// differ between sets.
	fields := results.Context.Fields
	setLabel := map[string]string{}
	for i := range 5 {
		vals := map[string]string{}
		constant := true
		for _, k := range keys {
			f0 := fields(sets[k].ctxs[0].ctx)[i]
			for _, cv := range sets[k].ctxs {
				constant = constant && fields(cv.ctx)[i] == f0
			}
			vals[k] = f0
		}
		distinct := map[string]bool{}
		for _, v := range vals {
			distinct[v] = true
		}
		if !constant || len(distinct) < 2 {
			continue
		}
		for _, k := range keys {
			if vals[k] != "" {
				setLabel[k] = strings.TrimPrefix(setLabel[k]+" · "+vals[k], " · ")
			}
		}
	}
	var figs []*figure
	for si, k := range keys {
		s := sets[k]
		if len(s.ctxs) < 2 {
			continue
		}
		sort.SliceStable(s.ctxs, func(i, j int) bool {
			return order(s.ctxs[i].all()[0].Cells[0], s.ctxs[j].all()[0].Cells[0])
		})
		var names []string
		for _, cv := range s.ctxs {
			names = append(names, label(cv.ctx, cv.all()[0].Cells[0]))
		}
		// Strip a common "family-" prefix from the tick labels so that they
		// fit ("transformer-xs", "transformer-s" → "xs", "s"), and say it on
		// the axis.
		xlabel := what
		if pre := commonDashPrefix(names); pre != "" {
			for i := range names {
				names[i] = strings.TrimPrefix(names[i], pre)
			}
			xlabel = what + ", " + pre + "…"
		}
		// Series: ungated, then every gate configuration in any context.
		type series struct {
			key, label string
			ungated    bool
			idx        int
		}
		var ser []series
		seen := map[string]bool{}
		for _, cv := range s.ctxs {
			if cv.base != nil && !seen["ungated"] {
				seen["ungated"] = true
				ser = append([]series{{key: "ungated", label: "ungated", ungated: true}}, ser...)
			}
			for _, g := range cv.gated {
				gk := results.GateKey(g.Gate)
				if !seen[gk] && !g.Gate.Ungated() {
					seen[gk] = true
					ser = append(ser, series{key: gk, label: "gated: " + results.GateLabel(g.Gate), idx: v.gateIdx[gk]})
				}
			}
		}
		var panels []*plot.Plot
		var legend []legendItem
		nser := float64(len(ser))
		for mi, m := range metrics {
			ylabel := m.Label
			if m.Unit != "" {
				ylabel += " (" + m.Unit + ")"
			}
			p := newPanel(m.Label+" (final probe)", xlabel, ylabel)
			p.NominalX(names...)
			for si2, sr := range ser {
				off := (float64(si2) - (nser-1)/2) * 0.12
				var xs []float64
				var ivs []results.Interval
				for ci, cv := range s.ctxs {
					var g *results.Group
					if sr.ungated {
						g = cv.base
					} else {
						for _, gg := range cv.gated {
							if results.GateKey(gg.Gate) == sr.key {
								g = gg
							}
						}
					}
					if g == nil {
						continue
					}
					xs = append(xs, float64(ci)+off)
					ivs = append(ivs, pointStats(g, m.Column))
				}
				st := methodStyle(sr.ungated, sr.idx)
				errPoints(p, xs, ivs, st)
				if mi == 0 {
					legend = append(legend, legendItem{sr.label, []plot.Thumbnailer{lineThumb(st)}})
				}
			}
			p.X.Min, p.X.Max = -0.6, float64(len(names))-0.4
			fractionRange(p, m.Column)
			panels = append(panels, p)
		}
		name, ftitle := stem, title
		switch {
		case setLabel[k] != "":
			name, ftitle = stem+"_"+slug(setLabel[k]), title+" — "+setLabel[k]
		case len(keys) > 1:
			name = fmt.Sprintf("%s_%d", stem, si+1)
		}
		figs = append(figs, newFigure(id, name, ftitle, caption, grid(panels, 2), vg.Points(250), vg.Points(165), legend))
	}
	if len(figs) == 0 {
		return nil, ""
	}
	return figs, ""
}

// commonDashPrefix returns the longest prefix ending in '-' shared by all
// names ("" when there is none or it would leave a name empty).
func commonDashPrefix(names []string) string {
	if len(names) < 2 {
		return ""
	}
	pre := names[0]
	for _, n := range names[1:] {
		for !strings.HasPrefix(n, pre) {
			pre = pre[:len(pre)-1]
		}
	}
	i := strings.LastIndex(pre, "-")
	if i < 0 {
		return ""
	}
	pre = pre[:i+1]
	for _, n := range names {
		if n == pre {
			return ""
		}
	}
	return pre
}

var f67Metrics = []results.CompareMetric{
	{Column: "dlp_chosen", Label: "ΔLP_chosen", Unit: "nats"},
	{Column: "gap", Label: "gap", Unit: "nats"},
	{Column: "suppression", Label: "suppression"},
	{Column: "reward_acc", Label: "reward accuracy"},
}
