package plots

// The figure builders F1–F8 (docs/method.md §6). Each takes the loaded sweep and
// returns its figures, or a reason why the records do not support it.

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
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
	fields := func(c results.Context) []string {
		return []string{c.Arch, c.Dataset, c.Pipeline, c.Objective, c.Variant}
	}
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

// ---------------------------------------------------------------- F1

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

// ---------------------------------------------------------------- F1b

func figF1b(v *sweepView) ([]*figure, string) {
	rows := v.sw.ToyF1b
	if len(rows) == 0 {
		return nil, "no multi-step toy records (toy/toy_f1b.csv)"
	}
	var methods []string
	seen := map[string]bool{}
	for _, r := range rows {
		if !seen[r.Method] {
			seen[r.Method] = true
			methods = append(methods, r.Method)
		}
	}
	sort.SliceStable(methods, func(i, j int) bool { return methods[i] == "dpo" && methods[j] != "dpo" })
	type toyMetric struct {
		title, ylabel string
		get           func(results.ToyF1bRow) float64
	}
	metrics := []toyMetric{
		{"log p(y+|x+) (chosen class, chosen context)", "log-prob (nats)", func(r results.ToyF1bRow) float64 { return r.LogpChosen }},
		{"log p(y−|x−) (rejected class, rejected context)", "log-prob (nats)", func(r results.ToyF1bRow) float64 { return r.LogpRejected }},
	}
	twoContexts := false
	for _, r := range rows {
		twoContexts = twoContexts || !math.IsNaN(r.Top1MassRejected)
	}
	if twoContexts {
		metrics = append(metrics,
			toyMetric{"top-1 mass of x− (rejected context)", "max_v p(v|x−)", func(r results.ToyF1bRow) float64 { return r.Top1MassRejected }},
			toyMetric{"top-1 mass of x+ (chosen context)", "max_v p(v|x+)", func(r results.ToyF1bRow) float64 { return r.Top1Mass }})
	} else { // records written before top1_mass_rejected existed
		metrics = append(metrics,
			toyMetric{"top-1 mass", "max_v p_v", func(r results.ToyF1bRow) float64 { return r.Top1Mass }},
			toyMetric{"entropy", "H(p) (nats)", func(r results.ToyF1bRow) float64 { return r.Entropy }})
	}
	var panels []*plot.Plot
	var legend []legendItem
	for mi, m := range metrics {
		p := newPanel(m.title, "step", m.ylabel)
		gi := 0
		for _, meth := range methods {
			bySeed := map[int]*xy{}
			var seeds []int
			for _, r := range rows {
				if r.Method != meth {
					continue
				}
				c := bySeed[r.Seed]
				if c == nil {
					c = &xy{}
					bySeed[r.Seed] = c
					seeds = append(seeds, r.Seed)
				}
				c.x, c.y = append(c.x, float64(r.Step)), append(c.y, m.get(r))
			}
			var curves []xy
			for _, s := range seeds {
				curves = append(curves, *bySeed[s])
			}
			ungated := meth == "dpo" || meth == "none"
			st := methodStyle(ungated, gi)
			if !ungated {
				gi++
			}
			addBand(p, aggregate(curves), st)
			if mi == 0 {
				label := meth
				if ungated {
					label += " (ungated)"
				}
				legend = append(legend, legendItem{fmt.Sprintf("%s, %d seeds", label, len(seeds)), []plot.Thumbnailer{lineThumb(st)}})
			}
		}
		panels = append(panels, p)
	}
	caption := "Multi-step toy (docs/method.md, F1b): DPO on one preference pair of the softmax toy, ungated (solid) and " +
		"with each gate (dashed); mean over seeds with a 95 % Student-t band. "
	if twoContexts {
		caption += "y⁺ is scored in its context x⁺ and y⁻ in its own context x⁻ (same peak class, y⁻ in a valley). " +
			"The squeezing signature is the top-1 mass of x⁻ rising while log p(y⁻|x⁻) falls: pushing down the unlikely " +
			"y⁻ moves mass onto the argmax of x⁻. " + toyF1bMeasured(rows, methods)
	} else {
		caption += "These records predate the two-context toy (no top1_mass_rejected column): chosen and rejected share " +
			"one context, where DPO moves only their two logits and cannot show squeezing."
	}
	return []*figure{newFigure("F1b", "F1b_toy_multistep", "F1b: multi-step toy, DPO vs gates", caption,
		grid(panels, 2), vg.Points(250), vg.Points(165), legend)}, ""
}

// toyF1bMeasured states the measured top-1 mass of x⁻ at the first and
// last recorded step, mean over seeds, per method.
func toyF1bMeasured(rows []results.ToyF1bRow, methods []string) string {
	last := map[string]int{}
	for _, r := range rows {
		last[r.Method] = max(last[r.Method], r.Step)
	}
	var parts []string
	for _, m := range methods {
		var a, b []float64
		for _, r := range rows {
			if r.Method == m && r.Step == 0 {
				a = append(a, r.Top1MassRejected)
			}
			if r.Method == m && r.Step == last[m] {
				b = append(b, r.Top1MassRejected)
			}
		}
		parts = append(parts, fmt.Sprintf("%s %.2f → %.2f", m, meanFinite(a), meanFinite(b)))
	}
	return "Measured top-1 mass of x⁻, step 0 → last step (mean over seeds): " + strings.Join(parts, "; ") + "."
}

func meanFinite(v []float64) float64 {
	s, n := 0.0, 0
	for _, x := range v {
		if !math.IsNaN(x) {
			s += x
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}

// ---------------------------------------------------------------- F2

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

// ---------------------------------------------------------------- F3, F4

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

// ---------------------------------------------------------------- F5

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

// ---------------------------------------------------------------- F6, F7

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
	fields := func(c results.Context) []string {
		return []string{c.Arch, c.Dataset, c.Pipeline, c.Objective, c.Variant}
	}
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

// modelSize is a size proxy for ordering archs: the model's "params" (or
// "n_params") entry if recorded, else an estimate from the resolved model
// table (transformer: 12·d_model²·n_layers; MLP: window·d_model·hidden),
// else d_model, else 0 (then archs are ordered by name).
func modelSize(c *results.Cell) float64 {
	num := func(keys ...string) float64 {
		for _, k := range keys {
			if x, ok := c.Config.Model[k].(float64); ok {
				return x
			}
		}
		return 0
	}
	if p := num("params", "n_params"); p > 0 {
		return p
	}
	d := num("d_model")
	if l := num("n_layers", "layers"); l > 0 {
		return 12 * d * d * l
	}
	if h, w := num("hidden"), num("window"); h > 0 {
		return max(w, 1) * d * h
	}
	return d
}

func figF6(v *sweepView) ([]*figure, string) {
	figs, _ := categoryFigure(v, "F6", "F6_model_size", "F6: model size, gated vs ungated",
		"Final held-out metrics for each model size (ordered by size), ungated (black, solid) and each gate "+
			"(coloured, dashed), mean over seeds with 95 % error bars. Does a small gated model keep more chosen "+
			"likelihood (higher ΔLP_chosen) than a larger ungated one?", "model (arch)",
		func(c results.CellConfig) results.CellConfig { c.Arch, c.Model = "", nil; return c },
		func(ctx results.Context, _ *results.Cell) string { return ctx.Arch },
		func(a, b *results.Cell) bool {
			sa, sb := modelSize(a), modelSize(b)
			if sa != sb {
				return sa < sb
			}
			return a.Config.Arch < b.Config.Arch
		}, f67Metrics)
	if len(figs) == 0 {
		return nil, "one model size (no two archs with otherwise equal settings)"
	}
	return figs, ""
}

func objectiveName(ctx results.Context) string {
	if ctx.Pipeline == "extended_sft" {
		return "ext-SFT→" + ctx.Objective
	}
	return ctx.Objective
}

var objectiveOrder = map[string]int{"dpo": 0, "ipo": 1, "cal_dpo": 2, "rpo": 3, "simpo": 4,
	"dpop": 5, "apo_zero": 6, "apo_down": 7, "nca_pair": 8, "sft": 9}

func figF7(v *sweepView) ([]*figure, string) {
	figs, _ := categoryFigure(v, "F7", "F7_objectives", "F7: objectives × {ungated, gated}",
		"Final held-out metrics for each objective (and the extended-SFT pipeline), ungated (black) and gated "+
			"(coloured), mean over seeds with 95 % error bars. Look for whether the gate adds to what each objective "+
			"already does against squeezing (complementarity) or only helps plain DPO.", "objective",
		func(c results.CellConfig) results.CellConfig {
			c.Objective, c.Pipeline = results.ObjectiveSpec{}, ""
			return c
		},
		func(ctx results.Context, _ *results.Cell) string { return objectiveName(ctx) },
		func(a, b *results.Cell) bool {
			if a.Config.Pipeline != b.Config.Pipeline {
				return a.Config.Pipeline < b.Config.Pipeline
			}
			oa, ob := objectiveOrder[a.Config.Objective.Name], objectiveOrder[b.Config.Objective.Name]
			if oa != ob {
				return oa < ob
			}
			return a.Config.Objective.Name < b.Config.Objective.Name
		}, f67Metrics)
	if len(figs) == 0 {
		return nil, "one objective (no two objectives or pipelines with otherwise equal settings)"
	}
	return figs, ""
}

// ---------------------------------------------------------------- F8

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

// builders maps each figure id to its builder.
var builders = map[string]func(*sweepView) ([]*figure, string){
	"F1": figF1, "F1b": figF1b, "F2": figF2, "F3": figF3, "F4": figF4,
	"F5": figF5, "F6": figF6, "F7": figF7, "F8": figF8,
}
