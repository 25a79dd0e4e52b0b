package train

import (
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
// step allocates none.
type stepper struct {
	opt   *graph.Optimizer
	names []string
	nodes []*G.Node
}

func newStepper(opt *graph.Optimizer, params []graph.Param) stepper {
	s := stepper{opt: opt}
	for _, p := range params {
		s.names = append(s.names, p.Name)
		s.nodes = append(s.nodes, p.Node)
	}
	return s
}

// SFTStep trains the SFT loss (the token-mean NLL over the response
// tokens of the batch) on a fixed shape of rows sequences of t tokens: a
// loss.SeqGraph whose optimizer step updates the model's shared weights.
type SFTStep struct {
	Graph *loss.SeqGraph
	stepper
}

// NewSFTStep builds the SFT step of lm for rows sequences of t tokens.
func NewSFTStep(lm models.LM, opt *graph.Optimizer, rows, t int) (*SFTStep, error) {
	sg, err := loss.NewSeqGraph(lm, rows, t, true)
	if err != nil {
		return nil, err
	}
	return &SFTStep{Graph: sg, stepper: newStepper(opt, sg.Params())}, nil
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

// PrefStep trains a preference objective on a fixed shape of pairs pairs
// of t tokens: a loss.PrefGraph (one forward pass over [chosen;
// rejected], the gate on the rejected tokens, the objective on
// precomputed reference log-probs) whose optimizer step updates the
// policy's shared weights.
type PrefStep struct {
	Graph *loss.PrefGraph
	stepper
}

// NewPrefStep builds the preference step of lm.
func NewPrefStep(lm models.LM, opt *graph.Optimizer, obj objectives.Spec, gate gating.Spec, pairs, t int) (*PrefStep, error) {
	return newPrefStep(lm, opt, loss.PrefOptions{Objective: obj, Gate: gate, Grad: true}, pairs, t)
}

// NewPackedPrefStep builds the preference step of lm (a models.PackedLM)
// over packed pairs (loss.PrefOptions.Pack): pairs rows of t tokens, each
// holding one pair (loss.PackedPairLen). Its Step takes batches of any row
// length whose pairs fit.
func NewPackedPrefStep(lm models.LM, opt *graph.Optimizer, obj objectives.Spec, gate gating.Spec, pairs, t int) (*PrefStep, error) {
	return newPrefStep(lm, opt, loss.PrefOptions{Objective: obj, Gate: gate, Grad: true, Pack: true}, pairs, t)
}

func newPrefStep(lm models.LM, opt *graph.Optimizer, o loss.PrefOptions, pairs, t int) (*PrefStep, error) {
	pg, err := loss.NewPrefGraph(lm, pairs, t, o)
	if err != nil {
		return nil, err
	}
	return &PrefStep{Graph: pg, stepper: newStepper(opt, pg.Params())}, nil
}

// Close releases the graph's machine.
func (p *PrefStep) Close() { p.Graph.Close() }

// Step runs forward and backward on the batch bt with the reference
// sequence log-probs refC, refR and one optimizer step, then releases
// the graph's values. Its metrics are the objective's TRL metrics and
// the gate statistics over the rejected response tokens (docs/method.md
// §3): gate/mean_g, gate/frac_g_lt_0.5, gate/logp_q10, gate/logp_q50,
// gate/logp_q90.
func (p *PrefStep) Step(bt data.Batch, refC, refR []float64) (out Output, err error) {
	defer graph.RecoverPanic("preference step", &err)
	defer p.Graph.Release()
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
	st := res.GateStats
	out.Metrics["gate/mean_g"] = st.MeanG
	out.Metrics["gate/frac_g_lt_0.5"] = st.FracLtHf
	out.Metrics["gate/logp_q10"] = st.LogpQ10
	out.Metrics["gate/logp_q50"] = st.LogpQ50
	out.Metrics["gate/logp_q90"] = st.LogpQ90
	info, err := p.opt.StepNodes(p.names, p.nodes)
	out.GradNorm, out.LR = info.GradNorm, info.LR
	return out, err
}
