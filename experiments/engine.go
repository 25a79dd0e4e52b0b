package experiments

// The compute side of a cell: Gorgonia graphs over a models.LM for the
// SFT step, the preference step and the forward-only probe pass. Each graph
// is built once per cell for a fixed batch shape and reused every step
// (GORGONIA.md: Let/RunAll/Step/Reset).

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/experiments/data"
	"gatedpo/gating"
	"gatedpo/graph"
	"gatedpo/models"
	"gatedpo/objectives"
)

// denseData copies v into the float32/float64 backing of t.
func denseFill(t *tensor.Dense, v []float64) {
	switch d := t.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = float32(v[i])
		}
	case []float64:
		copy(d, v)
	}
}

// valueFloats returns a copy of a graph value as float64s.
func valueFloats(v G.Value) []float64 {
	t, ok := v.(*tensor.Dense)
	if !ok {
		if s, ok := v.(*G.F64); ok {
			return []float64{float64(*s)}
		}
		if s, ok := v.(*G.F32); ok {
			return []float64{float64(*s)}
		}
		return nil
	}
	switch d := t.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return append([]float64(nil), d...)
	case float32:
		return []float64{float64(d)}
	case float64:
		return []float64{d}
	}
	return nil
}

// inputNode adds a named input of the given shape with its own zeroed value.
func inputNode(g *G.ExprGraph, dt tensor.Dtype, name string, shape ...int) (*G.Node, *tensor.Dense) {
	v := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	if len(shape) == 1 {
		return G.NewVector(g, dt, G.WithShape(shape...), G.WithName(name), G.WithValue(v)), v
	}
	return G.NewMatrix(g, dt, G.WithShape(shape...), G.WithName(name), G.WithValue(v)), v
}

// shiftedMask turns response masks over tokens [n][t] into the [n, t−1]
// mask over predicted positions (position i predicts token i+1).
func shiftedMask(masks [][]int, t int) []float64 {
	out := make([]float64, len(masks)*(t-1))
	for r, m := range masks {
		for i := 0; i < t-1; i++ {
			out[r*(t-1)+i] = float64(m[i+1])
		}
	}
	return out
}

// trainOutput is what one training step measured.
type trainOutput struct {
	Loss     float64
	Metrics  map[string]float64 // TRL names (objectives.Metrics) and gate/* statistics
	GradNorm float64
	LR       float64
}

// trainGraph is a compiled loss graph with its optimizer.
type trainGraph struct {
	g      *G.ExprGraph
	vm     G.VM
	fwd    *models.Forward
	names  []string
	params G.Nodes
	opt    *graph.Optimizer
	loss   G.Value
}

func (tg *trainGraph) close() {
	if tg.vm != nil {
		tg.vm.Close()
	}
}

// optimize runs the machine (forward and backward) and one optimizer step.
func (tg *trainGraph) optimize() (graph.StepInfo, error) {
	defer tg.vm.Reset()
	if err := tg.vm.RunAll(); err != nil {
		return graph.StepInfo{}, err
	}
	return tg.opt.StepNodes(tg.names, tg.params)
}

func compile(g *G.ExprGraph, fwd *models.Forward, loss *G.Node, opt *graph.Optimizer) (*trainGraph, error) {
	params := fwd.ParamNodes()
	if _, err := G.Grad(loss, params...); err != nil {
		return nil, fmt.Errorf("gradient: %w", err)
	}
	names := make([]string, len(fwd.Params))
	for i, p := range fwd.Params {
		names[i] = p.Name
	}
	tg := &trainGraph{g: g, fwd: fwd, names: names, params: params, opt: opt}
	G.Read(loss, &tg.loss)
	tg.vm = G.NewTapeMachine(g, G.BindDualValues(params...))
	return tg, nil
}

// sftGraph trains the SFT loss (mean NLL over the response tokens of the
// batch) on n sequences of length t.
type sftGraph struct {
	*trainGraph
	mask, lens *tensor.Dense
	n, t       int
}

func newSFTGraph(lm models.LM, opt *graph.Optimizer, n, t int) (s *sftGraph, err error) {
	defer recoverGraph("sft graph", &err)
	g := G.NewGraph()
	fwd, err := lm.Build(g, n, t)
	if err != nil {
		return nil, err
	}
	dt := lm.Dtype()
	maskN, mask := inputNode(g, dt, "sft_mask", n, t-1)
	lensN, lens := inputNode(g, dt, "sft_lens", n)
	seq, err := graph.MaskedRowSum(fwd.TokenLogps, maskN)
	if err != nil {
		return nil, err
	}
	spec, _ := objectives.Default(objectives.SFT)
	res, err := objectives.Build(spec, objectives.Inputs{PolicyChosen: seq, ChosenLens: lensN})
	if err != nil {
		return nil, err
	}
	tg, err := compile(g, fwd, res.Loss, opt)
	if err != nil {
		return nil, err
	}
	return &sftGraph{trainGraph: tg, mask: mask, lens: lens, n: n, t: t}, nil
}

func (s *sftGraph) step(b data.SeqBatch) (trainOutput, error) {
	if err := s.fwd.SetIDs(b.IDs); err != nil {
		return trainOutput{}, err
	}
	denseFill(s.mask, shiftedMask(b.Mask, s.t))
	lens := make([]float64, s.n)
	for i, l := range b.ResponseLens {
		lens[i] = float64(l)
	}
	denseFill(s.lens, lens)
	info, err := s.optimize()
	out := trainOutput{GradNorm: info.GradNorm, LR: info.LR, Metrics: map[string]float64{}}
	if v := valueFloats(s.loss); len(v) == 1 {
		out.Loss = v[0]
	}
	return out, err
}

// prefGraph trains a preference objective on B pairs: one forward pass over
// the rows [chosen; rejected] (2B × t), the gate on the rejected rows'
// token log-probs, masked sums to sequence log-probs, and the objective
// on the reference log-probs given as inputs (precomputed once per
// example). Chosen and rejected halves are separated with constant 0/1
// selection matrices (a matrix-vector product, exact).
type prefGraph struct {
	*trainGraph
	spec                  objectives.Spec
	gate                  gating.Spec
	mask, gateMask        *tensor.Dense // [2B, t−1]
	refC, refR            *tensor.Dense // [B]
	lensC, lensR          *tensor.Dense // [B]
	seqV, lpV, lmaxV      G.Value
	b, t                  int
	maskVals, gateMaskVal []float64
}

func newPrefGraph(lm models.LM, opt *graph.Optimizer, spec objectives.Spec, gate gating.Spec, b, t int) (p *prefGraph, err error) {
	defer recoverGraph("preference graph", &err)
	g := G.NewGraph()
	n := 2 * b
	fwd, err := lm.Build(g, n, t)
	if err != nil {
		return nil, err
	}
	dt := lm.Dtype()
	p = &prefGraph{spec: spec, gate: gate, b: b, t: t}
	maskN, mask := inputNode(g, dt, "pref_mask", n, t-1)
	gateMaskN, gateMask := inputNode(g, dt, "pref_gate_mask", n, t-1)
	p.mask, p.gateMask = mask, gateMask
	lp := fwd.TokenLogps
	gated, err := gating.Apply(gate, lp, gateMaskN, fwd.TokenLogpMax)
	if err != nil {
		return nil, err
	}
	seq, err := graph.MaskedRowSum(gated, maskN) // [2B]
	if err != nil {
		return nil, err
	}
	selC, selCV := inputNode(g, dt, "pref_sel_chosen", b, n)
	selR, selRV := inputNode(g, dt, "pref_sel_rejected", b, n)
	sc, sr := make([]float64, b*n), make([]float64, b*n)
	for i := 0; i < b; i++ {
		sc[i*n+i], sr[i*n+b+i] = 1, 1
	}
	denseFill(selCV, sc)
	denseFill(selRV, sr)
	pc := G.Must(G.Mul(selC, seq)) // [B]
	pr := G.Must(G.Mul(selR, seq)) // [B]
	var rcN, rrN *G.Node
	rcN, p.refC = inputNode(g, dt, "pref_ref_chosen", b)
	rrN, p.refR = inputNode(g, dt, "pref_ref_rejected", b)
	lcN, lensC := inputNode(g, dt, "pref_lens_chosen", b)
	lrN, lensR := inputNode(g, dt, "pref_lens_rejected", b)
	p.lensC, p.lensR = lensC, lensR
	res, err := objectives.Build(spec, objectives.Inputs{PolicyChosen: pc, PolicyRejected: pr,
		ReferenceChosen: rcN, ReferenceRejected: rrN, ChosenLens: lcN, RejectedLens: lrN})
	if err != nil {
		return nil, err
	}
	G.Read(seq, &p.seqV)
	G.Read(lp, &p.lpV)
	G.Read(fwd.TokenLogpMax, &p.lmaxV)
	tg, err := compile(g, fwd, res.Loss, opt)
	if err != nil {
		return nil, err
	}
	p.trainGraph = tg
	return p, nil
}

func (p *prefGraph) step(bt data.Batch, refC, refR []float64) (trainOutput, error) {
	ids := append(append([][]int{}, bt.ChosenIDs...), bt.RejectedIDs...)
	if err := p.fwd.SetIDs(ids); err != nil {
		return trainOutput{}, err
	}
	masks := append(append([][]int{}, bt.ChosenMask...), bt.RejectedMask...)
	p.maskVals = shiftedMask(masks, p.t)
	denseFill(p.mask, p.maskVals)
	p.gateMaskVal = make([]float64, len(p.maskVals))
	copy(p.gateMaskVal[p.b*(p.t-1):], p.maskVals[p.b*(p.t-1):]) // rejected rows only
	denseFill(p.gateMask, p.gateMaskVal)
	denseFill(p.refC, refC)
	denseFill(p.refR, refR)
	lc, lr := make([]float64, p.b), make([]float64, p.b)
	for i := 0; i < p.b; i++ {
		lc[i], lr[i] = float64(bt.ChosenLens[i]), float64(bt.RejectedLens[i])
	}
	denseFill(p.lensC, lc)
	denseFill(p.lensR, lr)
	info, err := p.optimize()
	out := trainOutput{GradNorm: info.GradNorm, LR: info.LR}
	if v := valueFloats(p.loss); len(v) == 1 {
		out.Loss = v[0]
	}
	seq := valueFloats(p.seqV)
	if len(seq) != 2*p.b {
		if err == nil {
			err = fmt.Errorf("preference graph: sequence log-probs not read")
		}
		return out, err
	}
	lps := objectives.Logps{PolicyChosen: seq[:p.b], PolicyRejected: seq[p.b:], ReferenceChosen: refC, ReferenceRejected: refR}
	out.Metrics = objectives.Metrics(p.spec, lps)
	// gate statistics over the rejected response tokens (SCIENCE.md §3)
	m := p.t - 1
	lp := valueFloats(p.lpV)[p.b*m:]
	lmax := valueFloats(p.lmaxV)[p.b*m:]
	mask := p.maskVals[p.b*m:]
	gv, gerr := gating.Values(p.gate, lp, lmax, mask, p.b, m, 0)
	if gerr == nil {
		st := gating.ComputeStats(gv, lp, mask)
		out.Metrics["gate/mean_g"] = st.MeanG
		out.Metrics["gate/frac_g_lt_0.5"] = st.FracLtHf
		out.Metrics["gate/logp_q10"] = st.LogpQ10
		out.Metrics["gate/logp_q50"] = st.LogpQ50
		out.Metrics["gate/logp_q90"] = st.LogpQ90
	}
	return out, err
}

// probeGraph is a forward-only graph over n sequences of length t that
// reads per-position log-probs, max log-probs, entropies and collisions.
type probeGraph struct {
	g                      *G.ExprGraph
	vm                     G.VM
	fwd                    *models.Forward
	lpV, lmaxV, entV, colV G.Value
	n, t                   int
}

// newProbeGraph builds a probe graph; withStats adds the entropy and
// collision of every position (needed on the chosen field only: they cost
// as much as the rest of a tiny model's forward pass).
func newProbeGraph(lm models.LM, n, t int, withStats bool) (p *probeGraph, err error) {
	defer recoverGraph("probe graph", &err)
	g := G.NewGraph()
	fwd, err := lm.Build(g, n, t)
	if err != nil {
		return nil, err
	}
	p = &probeGraph{g: g, fwd: fwd, n: n, t: t}
	G.Read(fwd.TokenLogps, &p.lpV)
	G.Read(fwd.TokenLogpMax, &p.lmaxV)
	if withStats {
		ent, err := graph.TokenLogitStat(fwd.Logits, n, t, graph.StatEntropy)
		if err != nil {
			return nil, err
		}
		col, err := graph.TokenLogitStat(fwd.Logits, n, t, graph.StatCollision)
		if err != nil {
			return nil, err
		}
		G.Read(ent, &p.entV)
		G.Read(col, &p.colV)
	}
	p.vm = G.NewTapeMachine(g)
	return p, nil
}

func (p *probeGraph) close() { p.vm.Close() }

// seqStats are the teacher-forced statistics of one sequence's response.
type seqStats struct {
	LP, LPArgmax, Top1, Entropy, Collision float64 // LP, LPArgmax summed; others means over positions
	NTok                                   int
}

// run teacher-forces seqs (any number; batched by n, the last batch padded
// with copies of its first row) and returns one seqStats per sequence.
func (p *probeGraph) run(seqs []data.Sequence, padID int) ([]seqStats, error) {
	out := make([]seqStats, 0, len(seqs))
	m := p.t - 1
	for lo := 0; lo < len(seqs); lo += p.n {
		chunk := seqs[lo:min(lo+p.n, len(seqs))]
		rows := append([]data.Sequence{}, chunk...)
		for len(rows) < p.n {
			rows = append(rows, chunk[0])
		}
		b := data.MakeSeqBatch(rows, padID, p.t)
		if err := p.fwd.SetIDs(b.IDs); err != nil {
			return nil, err
		}
		err := p.vm.RunAll()
		p.vm.Reset()
		if err != nil {
			return nil, err
		}
		lp, lmax := valueFloats(p.lpV), valueFloats(p.lmaxV)
		ent, col := lmax, lmax // placeholders when the graph has no statistics
		if p.entV != nil {
			ent, col = valueFloats(p.entV), valueFloats(p.colV)
		}
		mask := shiftedMask(b.Mask, p.t)
		for r := range chunk {
			var s seqStats
			for i := 0; i < m; i++ {
				k := r*m + i
				if mask[k] == 0 {
					continue
				}
				s.NTok++
				s.LP += lp[k]
				s.LPArgmax += lmax[k]
				s.Top1 += math.Exp(lmax[k])
				if p.entV != nil {
					s.Entropy += ent[k]
					s.Collision += col[k]
				}
			}
			if s.NTok > 0 {
				s.Top1 /= float64(s.NTok)
				s.Entropy /= float64(s.NTok)
				s.Collision /= float64(s.NTok)
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// recoverGraph turns a panic while building or running a graph into an error.
func recoverGraph(what string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: %v", what, r)
	}
}
