package results

// This file holds the matched-margin rule (docs/method.md §7, "Matched
// margin"): where a run is read when gated and ungated runs are compared
// at equal train-probe reward margin L (nats of log-ratio, r⁺ − r⁻, no β).
//
// For one run, take its probes in step order on the margin split (train
// when the cell has it) and find the first pair of consecutive probes k,
// k+1 with m_k < L ≤ m_{k+1}. Every metric of every split is read at the
// fraction f = (L − m_k)/(m_{k+1} − m_k) of the way from probe k to probe
// k+1 (linear interpolation), and so is the step: s = s_k + f·(s_{k+1} − s_k).
// When the first probe already has m ≥ L the run is read there (f = 0).
// A run with no probe at m ≥ L has "not reached" L.

import "math"

// MarginPoint is where a run is read at a train-probe margin level.
type MarginPoint struct {
	Level   float64 // L (nats of log-ratio, no β)
	Reached bool    // false: no probe has margin ≥ L
	From    int     // probe step k (the last probe below L; the first probe when it is already ≥ L)
	To      int     // probe step k+1 (= From when f = 0 at the first probe)
	F       float64 // fraction of the way from From to To, in (0, 1] (0 at the first probe)
	Step    float64 // interpolated step From + F·(To − From)
}

// MarginSplit is the split whose reward_margin defines matched margin: the
// train probe when the cell has it, else its main split.
func (c *Cell) MarginSplit() string {
	for _, s := range c.ProbeSplits() {
		if s == SplitTrain {
			return s
		}
	}
	return c.MainSplit()
}

// marginSeries is the cell's (step, margin) probes on its margin split in
// step order, NaN margins left out.
func (c *Cell) marginSeries() (steps []int, margins []float64) {
	s, m := c.ProbeSeries(c.MarginSplit(), "reward_margin")
	for i := range s {
		if !math.IsNaN(m[i]) {
			steps, margins = append(steps, s[i]), append(margins, m[i])
		}
	}
	return steps, margins
}

// MaxMargin is the largest train-probe margin the run records (−Inf when
// it has none).
func (c *Cell) MaxMargin() float64 {
	_, ms := c.marginSeries()
	best := math.Inf(-1)
	for _, m := range ms {
		best = math.Max(best, m)
	}
	return best
}

// AtMargin applies the matched-margin rule to the cell at level L.
func (c *Cell) AtMargin(level float64) MarginPoint {
	steps, ms := c.marginSeries()
	p := MarginPoint{Level: level}
	if len(ms) == 0 {
		return p
	}
	if ms[0] >= level {
		p.Reached, p.From, p.To, p.Step = true, steps[0], steps[0], float64(steps[0])
		return p
	}
	for k := 0; k+1 < len(ms); k++ {
		if ms[k] < level && level <= ms[k+1] {
			f := (level - ms[k]) / (ms[k+1] - ms[k])
			p.Reached, p.From, p.To, p.F = true, steps[k], steps[k+1], f
			p.Step = float64(steps[k]) + f*float64(steps[k+1]-steps[k])
			return p
		}
	}
	return p
}

// ValueAt reads a metric of a split at a margin point: v_k + f·(v_{k+1} − v_k)
// from the split's probes at steps From and To. It is false when the run
// did not reach the level, a probe is missing, or a value is NaN.
func (c *Cell) ValueAt(split, metric string, p MarginPoint) (float64, bool) {
	if !p.Reached {
		return 0, false
	}
	a, ok1 := c.ProbeAt(split, p.From)
	b, ok2 := c.ProbeAt(split, p.To)
	if !ok1 || !ok2 {
		return 0, false
	}
	va, ok1 := a.Value(metric)
	vb, ok2 := b.Value(metric)
	if !ok1 || !ok2 || math.IsNaN(va) || math.IsNaN(vb) {
		return 0, false
	}
	if p.F == 0 {
		return va, true
	}
	return va + p.F*(vb-va), true
}

// FinalPoint is the cell's last probe on its main split as a MarginPoint
// (F = 0), so "final" and matched-margin reads share ValueAt.
func (c *Cell) FinalPoint() MarginPoint {
	r, ok := c.FinalProbe(c.MainSplit())
	return MarginPoint{Reached: ok, From: r.Step, To: r.Step, Step: float64(r.Step)}
}

// CommonMargin is the "margin common" level of a gated group against its
// ungated baseline: the largest L that every paired run (gated and
// ungated, every seed both have) reaches, i.e. the smallest of their
// maximum train-probe margins. It is 0 when there is no pair or that
// level is not positive.
func CommonMargin(g, base *Group) float64 {
	level := math.Inf(1)
	for _, p := range pairBySeed(g, base) {
		level = math.Min(level, math.Min(p.g.MaxMargin(), p.u.MaxMargin()))
	}
	if math.IsInf(level, 0) || !(level > 0) {
		return 0
	}
	return level
}

type seedPair struct {
	seed int
	g, u *Cell
}

// pairBySeed pairs a gated group's cells with its baseline's by seed, in
// the gated group's (seed) order.
func pairBySeed(g, base *Group) []seedPair {
	bySeed := map[int]*Cell{}
	for _, c := range base.Cells {
		if _, dup := bySeed[c.Config.Seed]; !dup {
			bySeed[c.Config.Seed] = c
		}
	}
	var out []seedPair
	for _, gc := range g.Cells {
		if uc := bySeed[gc.Config.Seed]; uc != nil {
			out = append(out, seedPair{gc.Config.Seed, gc, uc})
		}
	}
	return out
}
