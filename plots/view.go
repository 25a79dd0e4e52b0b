package plots

// The figure builders F1–F8 (docs/method.md §6) live one per file
// (fig_f*.go). Each takes the loaded sweep and returns its figures, or a
// reason why the records do not support it. This file holds the view of a
// sweep they share and the table of builders.

import (
	"fmt"
	"strings"

	"gonum.org/v1/plot/vg/draw"

	"gatedpo/results"
)

// FigureIDs lists every figure id in order.
var FigureIDs = []string{"F1", "F1b", "F2", "F3", "F4", "F5", "F6", "F7", "F8"}

// ctxView is one context (everything but gate and seed) of a sweep: its
// ungated baseline group and its gated groups.
type ctxView struct {
	ctx   results.Context
	short string // what distinguishes it from the other contexts ("" when alone)
	base  *results.Group
	gated []*results.Group
}

// sweepView indexes a loaded sweep for the figure builders.
type sweepView struct {
	sw       *results.Sweep
	groups   []*results.Group
	contexts []*ctxView
	gateIdx  map[string]int // GateKey → colour index of a gated configuration
}

func newSweepView(sw *results.Sweep) *sweepView {
	v := &sweepView{sw: sw, groups: results.GroupCells(sw.Cells), gateIdx: map[string]int{}}
	byKey := map[string]*ctxView{}
	for _, g := range v.groups {
		cv := byKey[g.Context.Key]
		if cv == nil {
			cv = &ctxView{ctx: g.Context, base: results.Baseline(v.groups, g.Context.Key)}
			byKey[g.Context.Key] = cv
			v.contexts = append(v.contexts, cv)
		}
		if g == cv.base {
			continue
		}
		cv.gated = append(cv.gated, g)
		k := results.GateKey(g.Gate)
		if _, ok := v.gateIdx[k]; !ok && !g.Gate.Ungated() {
			v.gateIdx[k] = len(v.gateIdx)
		}
	}
	// Short labels: the context fields that differ between contexts.
	fields := results.Context.Fields
	for i := range 5 {
		differs := false
		for _, cv := range v.contexts {
			differs = differs || fields(cv.ctx)[i] != fields(v.contexts[0].ctx)[i]
		}
		if !differs {
			continue
		}
		for _, cv := range v.contexts {
			if f := fields(cv.ctx)[i]; f != "" {
				cv.short = strings.TrimPrefix(cv.short+" · "+f, " · ")
			}
		}
	}
	return v
}

// style returns the line style of a group.
func (v *sweepView) style(g *results.Group) draw.LineStyle {
	if g.Gate.Ungated() {
		return methodStyle(true, 0)
	}
	return methodStyle(false, v.gateIdx[results.GateKey(g.Gate)])
}

// groupLabel names a group for a legend: "ungated (DPO)" or the gate.
func groupLabel(g *results.Group) string {
	if g.Gate.Ungated() {
		if g.Gate.Kind != "" && g.Gate.Kind != "none" {
			return "ungated (" + g.Gate.Kind + " τ=0)"
		}
		return "ungated"
	}
	return "gated: " + results.GateLabel(g.Gate)
}

// fileName returns the figure file stem for a context.
func (cv *ctxView) fileName(stem string) string {
	if cv.short == "" {
		return stem
	}
	return stem + "_" + slug(cv.short)
}

// titleFor appends the context label to a title.
func (cv *ctxView) titleFor(t string) string {
	return t + " — " + cv.ctx.Label()
}

// all returns the context's groups, ungated first.
func (cv *ctxView) all() []*results.Group {
	if cv.base == nil {
		return cv.gated
	}
	return append([]*results.Group{cv.base}, cv.gated...)
}

func seedsNote(g *results.Group) string {
	return fmt.Sprintf("n=%d", len(g.Cells))
}

// probeCurves returns one xy per cell of a group: metric vs step on the
// cell's main split.
func probeCurves(g *results.Group, metric string) []xy {
	var out []xy
	for _, c := range g.Cells {
		steps, vals := c.ProbeSeries(c.MainSplit(), metric)
		out = append(out, xy{x: ints(steps), y: vals})
	}
	return out
}

func ints(s []int) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

// builders maps each figure id to its builder.
var builders = map[string]func(*sweepView) ([]*figure, string){
	"F1": figF1, "F1b": figF1b, "F2": figF2, "F3": figF3, "F4": figF4,
	"F5": figF5, "F6": figF6, "F7": figF7, "F8": figF8,
}
