package plots

// F1b: the multi-step toy, plain DPO against the gates.

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"gatedpo/results"
)

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
