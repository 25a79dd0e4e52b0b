package train

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"

	"gatedpo/experiments/data"
	"gatedpo/experiments/loss"
	"gatedpo/gating"
	"gatedpo/graph"
	"gatedpo/models"
	"gatedpo/objectives"
)

// Output is what one training step measured.
type Output struct {
	Loss     float64
	Metrics  map[string]float64 // TRL names (objectives.Metrics) and gate/* statistics
	GradNorm float64            // global L2 norm of the gradient before clipping
	LR       float64            // the learning rate of the step
}

// stepper runs one optimizer step on the parameters of a graph after the
// graph's Run (forward and backward); it keeps their names and nodes so a
// step allocates none. With micro-batches (acc non-nil) the step is taken
// on the accumulated gradients instead.
type stepper struct {
	opt   *graph.Optimizer
	names []string
	nodes []*G.Node
	acc   *accumulator
}

// newStepper returns the stepper of a graph with parameters params, with
// an accumulator of lm's weights when micro-batches split the batch
// (micro < batch).
func newStepper(lm models.LM, opt *graph.Optimizer, params []graph.Param, micro, batch int) (stepper, error) {
	s := stepper{opt: opt}
	for _, p := range params {
		s.names = append(s.names, p.Name)
		s.nodes = append(s.nodes, p.Node)
	}
	if micro < batch {
		acc, err := newAccumulator(lm, params)
		if err != nil {
			return stepper{}, err
		}
		s.acc = acc
	}
	return s, nil
}

// checkMicro checks a micro-batch size against the batch size (both in
// the step's unit: pairs or rows); micro 0 is the whole batch.
func checkMicro(what string, batch, micro int) (int, error) {
	switch {
	case micro < 0:
		return 0, fmt.Errorf("micro-batch of %d %s: expected ≥ 0", micro, what)
	case micro == 0:
		return batch, nil
	case batch%micro != 0:
		return 0, fmt.Errorf("micro-batches of %d %s do not divide the batch of %d", micro, what, batch)
	}
	return micro, nil
}

// SFTStep trains the SFT loss (the token-mean NLL over the response
// tokens of the batch) on a fixed shape of Rows sequences of t tokens: a
// loss.SeqGraph whose optimizer step updates the model's shared weights.
// With micro-batches the graph holds Micro rows and a step runs the batch
// through it Micro rows at a time.
type SFTStep struct {
	Graph       *loss.SeqGraph
	Rows, Micro int // sequences per step and per graph run
	stepper
}

// NewSFTStep builds the SFT step of lm for batches of rows sequences of t
// tokens, run micro rows at a time (0: all at once; else micro divides
// rows). Micro-batches sum their gradients, each scaled by its share of
// the batch's response tokens, before the one optimizer step: the
// gradient of the batch's token-mean NLL, up to rounding.
func NewSFTStep(lm models.LM, opt *graph.Optimizer, rows, micro, t int) (*SFTStep, error) {
	micro, err := checkMicro("rows", rows, micro)
	if err != nil {
		return nil, fmt.Errorf("SFT step: %w", err)
	}
	sg, err := loss.NewSeqGraph(lm, micro, t, true)
	if err != nil {
		return nil, err
	}
	st, err := newStepper(lm, opt, sg.Params(), micro, rows)
	if err != nil {
		sg.Close()
		return nil, err
	}
	return &SFTStep{Graph: sg, Rows: rows, Micro: micro, stepper: st}, nil
}

// Close releases the graph's machine.
func (s *SFTStep) Close() { s.Graph.Close() }

// Step runs forward and backward on b and one optimizer step, then
// releases the graph's values (a graph kept for its bucket holds no
// activations between steps). A panic inside Gorgonia becomes an error.
func (s *SFTStep) Step(b data.SeqBatch) (out Output, err error) {
	defer graph.RecoverPanic("sft step", &err)
	defer s.Graph.Release()
	out.Metrics = map[string]float64{}
	if s.acc != nil {
		return s.microStep(b, out)
	}
	if err := s.Graph.SetBatch(b.IDs, b.Mask); err != nil {
		return out, err
	}
	if err := s.Graph.Run(); err != nil {
		return out, err
	}
	out.Loss = s.Graph.LossValue()
	info, err := s.opt.StepNodes(s.names, s.nodes)
	out.GradNorm, out.LR = info.GradNorm, info.LR
	return out, err
}

// responseTokens counts the scored response tokens of rows (those at
// positions ≥ 1: position t−1 predicts token t).
func responseTokens(mask [][]int) float64 {
	var n float64
	for _, row := range mask {
		for _, v := range row[1:] {
			if v != 0 {
				n++
			}
		}
	}
	return n
}

// microStep is Step over micro-batches (accumulate, then the optimizer
// step on the sums).
func (s *SFTStep) microStep(b data.SeqBatch, out Output) (Output, error) {
	out, ok, err := s.accumulate(b, out)
	if err != nil || !ok {
		s.acc.reset()
		return out, err
	}
	info, err := s.acc.step(s.opt)
	out.GradNorm, out.LR = info.GradNorm, info.LR
	return out, err
}

// accumulate runs the micro-batches of b and sums their scaled gradients
// into s.acc: the loss is Σ share·loss of the micro-batches, share = the
// micro-batch's response tokens / the batch's. ok is false (loss NaN) for
// a batch without a response token.
func (s *SFTStep) accumulate(b data.SeqBatch, out Output) (Output, bool, error) {
	if len(b.IDs) != s.Rows {
		return out, false, fmt.Errorf("SFT step: got %d rows, the step takes %d", len(b.IDs), s.Rows)
	}
	total := responseTokens(b.Mask)
	if total == 0 { // the batch loss 0/0
		out.Loss = math.NaN()
		return out, false, nil
	}
	for lo := 0; lo < s.Rows; lo += s.Micro {
		hi := lo + s.Micro
		n := responseTokens(b.Mask[lo:hi])
		if n == 0 {
			continue // no share of the loss, no gradient
		}
		share := n / total
		if err := s.Graph.SetBatch(b.IDs[lo:hi:hi], b.Mask[lo:hi:hi]); err != nil {
			return out, false, err
		}
		if err := s.Graph.Run(); err != nil {
			return out, false, err
		}
		out.Loss += share * s.Graph.LossValue()
		if err := s.acc.add(s.Graph.Params(), share); err != nil {
			return out, false, err
		}
		s.Graph.Release()
	}
	return out, true, nil
}

// PrefStep trains a preference objective on a fixed shape of Pairs pairs
// of t tokens: a loss.PrefGraph (one forward pass over [chosen;
// rejected], the gate on the rejected tokens, the objective on
// precomputed reference log-probs) whose optimizer step updates the
// policy's shared weights. With micro-batches the graph holds Micro
// pairs and a step runs the batch through it Micro pairs at a time.
type PrefStep struct {
	Graph        *loss.PrefGraph
	Pairs, Micro int // pairs per step and per graph run
	stepper
}

// NewPrefStep builds the preference step of lm for batches of pairs pairs
// of t tokens, run micro pairs at a time (0: all at once; else micro
// divides pairs). Micro-batches sum their gradients, each scaled by its
// share of the batch loss (objectives.Reduction: m/B for a mean over
// pairs), before the one optimizer step: the step of the whole batch up
// to rounding. An objective whose loss has no such shares
// (objectives.Mixed: rpo with sft_norm "token") cannot be split.
func NewPrefStep(lm models.LM, opt *graph.Optimizer, obj objectives.Spec, gate gating.Spec, pairs, micro, t int) (*PrefStep, error) {
	return newPrefStep(lm, opt, loss.PrefOptions{Objective: obj, Gate: gate, Grad: true}, pairs, micro, t)
}

// NewPackedPrefStep builds the preference step of lm (a models.PackedLM)
// over packed pairs (loss.PrefOptions.Pack): rows of t tokens, each
// holding one pair (loss.PackedPairLen), micro as NewPrefStep. Its Step
// takes batches of any row length whose pairs fit.
func NewPackedPrefStep(lm models.LM, opt *graph.Optimizer, obj objectives.Spec, gate gating.Spec, pairs, micro, t int) (*PrefStep, error) {
	return newPrefStep(lm, opt, loss.PrefOptions{Objective: obj, Gate: gate, Grad: true, Pack: true}, pairs, micro, t)
}

func newPrefStep(lm models.LM, opt *graph.Optimizer, o loss.PrefOptions, pairs, micro, t int) (*PrefStep, error) {
	micro, err := checkMicro("pairs", pairs, micro)
	if err != nil {
		return nil, fmt.Errorf("preference step: %w", err)
	}
	if micro < pairs && o.Objective.Reduction() == objectives.Mixed {
		return nil, fmt.Errorf("preference step: objective %s: its loss mixes a mean over pairs with a token mean over the batch, so micro-batches cannot reproduce its gradient", o.Objective)
	}
	pg, err := loss.NewPrefGraph(lm, micro, t, o)
	if err != nil {
		return nil, err
	}
	st, err := newStepper(lm, opt, pg.Params(), micro, pairs)
	if err != nil {
		pg.Close()
		return nil, err
	}
	return &PrefStep{Graph: pg, Pairs: pairs, Micro: micro, stepper: st}, nil
}

// Close releases the graph's machine.
func (p *PrefStep) Close() { p.Graph.Close() }

// Step runs forward and backward on the batch bt with the reference
// sequence log-probs refC, refR and one optimizer step, then releases
// the graph's values. Its metrics are the objective's TRL metrics and
// the gate statistics over the rejected response tokens (docs/method.md
// §3): gate/mean_g, gate/frac_g_lt_0.5, gate/logp_q10, gate/logp_q50,
// gate/logp_q90 — with micro-batches, of the whole batch as well.
func (p *PrefStep) Step(bt data.Batch, refC, refR []float64) (out Output, err error) {
	defer graph.RecoverPanic("preference step", &err)
	defer p.Graph.Release()
	if p.acc != nil {
		return p.microStep(bt, refC, refR)
	}
	if err := p.Graph.SetBatch(bt, refC, refR); err != nil {
		return out, err
	}
	if err := p.Graph.Run(); err != nil {
		return out, err
	}
	res, err := p.Graph.Result()
	if err != nil {
		return out, err
	}
	out.Loss, out.Metrics = res.Loss, res.Metrics
	setGateMetrics(out.Metrics, res.GateStats)
	info, err := p.opt.StepNodes(p.names, p.nodes)
	out.GradNorm, out.LR = info.GradNorm, info.LR
	return out, err
}

// setGateMetrics adds the gate/* statistics to m.
func setGateMetrics(m map[string]float64, st gating.Stats) {
	m["gate/mean_g"] = st.MeanG
	m["gate/frac_g_lt_0.5"] = st.FracLtHf
	m["gate/logp_q10"] = st.LogpQ10
	m["gate/logp_q50"] = st.LogpQ50
	m["gate/logp_q90"] = st.LogpQ90
}

// sliceOrNil returns v[lo:hi] (capacity-capped), or nil for a nil v.
func sliceOrNil[T any](v []T, lo, hi int) []T {
	if v == nil {
		return nil
	}
	return v[lo:hi:hi]
}

// microStep is Step over micro-batches (accumulate, then the optimizer
// step on the sums).
func (p *PrefStep) microStep(bt data.Batch, refC, refR []float64) (Output, error) {
	out, err := p.accumulate(bt, refC, refR)
	if err != nil {
		p.acc.reset()
		return out, err
	}
	info, err := p.acc.step(p.opt)
	out.GradNorm, out.LR = info.GradNorm, info.LR
	return out, err
}

// accumulate runs the micro-batches of bt and sums their scaled gradients
// into p.acc. The loss is Σ share·loss of the micro-batches; the metrics
// and gate statistics are computed once over the values of all of them
// (the whole batch's).
func (p *PrefStep) accumulate(bt data.Batch, refC, refR []float64) (out Output, err error) {
	if len(bt.ChosenIDs) != p.Pairs {
		return out, fmt.Errorf("preference step: got %d pairs, the step takes %d", len(bt.ChosenIDs), p.Pairs)
	}
	shares := make([]float64, 0, p.Pairs/p.Micro)
	switch p.Graph.Objective.Reduction() {
	case objectives.ChosenTokenMean:
		total := responseTokens(bt.ChosenMask)
		for lo := 0; lo < p.Pairs; lo += p.Micro {
			shares = append(shares, responseTokens(bt.ChosenMask[lo:lo+p.Micro])/total)
		}
	default:
		for lo := 0; lo < p.Pairs; lo += p.Micro {
			shares = append(shares, float64(p.Micro)/float64(p.Pairs))
		}
	}
	var lp objectives.Logps
	var rejected loss.RejectedTokens
	for k, share := range shares {
		lo, hi := k*p.Micro, (k+1)*p.Micro
		if err := p.Graph.SetBatch(bt.Pairs(lo, hi), sliceOrNil(refC, lo, hi), sliceOrNil(refR, lo, hi)); err != nil {
			return out, fmt.Errorf("pairs %d–%d: %w", lo, hi-1, err)
		}
		if err := p.Graph.Run(); err != nil {
			return out, err
		}
		mLoss, mlp, err := p.Graph.LossLogps()
		if err != nil {
			return out, err
		}
		rt, err := p.Graph.RejectedTokens()
		if err != nil {
			return out, err
		}
		out.Loss += share * mLoss
		lp.PolicyChosen = append(lp.PolicyChosen, mlp.PolicyChosen...)
		lp.PolicyRejected = append(lp.PolicyRejected, mlp.PolicyRejected...)
		lp.ReferenceChosen = append(lp.ReferenceChosen, mlp.ReferenceChosen...)
		lp.ReferenceRejected = append(lp.ReferenceRejected, mlp.ReferenceRejected...)
		rejected.M = rt.M
		rejected.Gates = append(rejected.Gates, rt.Gates...)
		rejected.Logps = append(rejected.Logps, rt.Logps...)
		rejected.Mask = append(rejected.Mask, rt.Mask...)
		if err := p.acc.add(p.Graph.Params(), share); err != nil {
			return out, err
		}
		p.Graph.Release()
	}
	out.Metrics = objectives.Metrics(p.Graph.Objective, lp)
	setGateMetrics(out.Metrics, gating.ComputeStats(rejected.Gates, rejected.Logps, rejected.Mask))
	return out, nil
}
