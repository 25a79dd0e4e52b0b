package loss

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/experiments/data"
	"gatedpo/gating"
	"gatedpo/graph"
	"gatedpo/models"
	"gatedpo/objectives"
)

// PrefOptions configures NewPrefGraph.
type PrefOptions struct {
	Objective objectives.Spec // the preference objective (validated)
	Gate      gating.Spec     // the gate on the rejected tokens (validated; off = ungated)
	Grad      bool            // add gradient nodes for every policy parameter (training, lossgrad)
	// Pack runs each pair as one packed row (see PackedPairLen): the
	// graph's T is then the packed row length, the policy must be a
	// models.PackedLM, and batches of any row length whose packed rows fit
	// are accepted. Values and gradients equal the unpacked ones up to
	// rounding (the prompt's activations are shared by both responses, so
	// their gradients are summed in another order).
	Pack bool
}

// PrefGraph is a preference-loss graph over a fixed batch shape (B pairs,
// T tokens), with its own Gorgonia graph and TapeMachine. Reuse it across
// steps: SetBatch, Run, read Result / optimizer step on Params, repeat.
type PrefGraph struct {
	Objective objectives.Spec
	Gate      gating.Spec
	Pairs, T  int
	Packed    bool // built with PrefOptions.Pack: Pairs packed rows of T tokens

	Graph   *G.ExprGraph
	Machine G.VM
	Policy  *models.Forward // over 2·Pairs rows [chosen; rejected], or Pairs packed rows

	// Nodes. PolicyRejected is the (possibly gated) rejected sequence
	// log-prob; GateValues is the forward-only gate g [2B, T−1] ([B, T−1]
	// over the packed rows when Packed; 0 outside the rejected response
	// tokens).
	Loss, PerPair                *G.Node
	Terms                        map[string]*G.Node
	PolicyChosen, PolicyRejected *G.Node
	GateValues                   *G.Node

	// inputs and their storage
	mask, rejMask, chosenLens, rejectedLens, refChosen, refRejected *G.Node
	maskT, rejMaskT, cLensT, rLensT, refCT, refRT                   *tensor.Dense

	// values read at every run
	lossV, perV, pcV, prV, lpV, gateV G.Value
	termV                             map[string]*G.Value

	// the current batch (for statistics)
	packed       packedBatch // when Packed
	rejMaskData  []float64
	refC, refR   []float64
	hasReference bool
}

// NewPrefGraph builds the preference-loss graph of policy for pairs pairs
// of t tokens. With opt.Grad the graph also holds the gradient of the loss
// with respect to every policy parameter (read with Params' Node.Grad, or
// GradNorms / Grads). With opt.Pack, t is the length of the packed rows
// (PackedPairLen) and policy must be a models.PackedLM.
func NewPrefGraph(policy models.LM, pairs, t int, opt PrefOptions) (pg *PrefGraph, err error) {
	if err := opt.Objective.Validate(); err != nil {
		return nil, fmt.Errorf("objective: %w", err)
	}
	if err := opt.Gate.Validate(); err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	if pairs < 1 || t < 2 {
		return nil, fmt.Errorf("preference graph: need ≥ 1 pair and ≥ 2 tokens, got %d pairs of %d", pairs, t)
	}
	g := G.NewGraph()
	var fwd *models.Forward
	n, m := 2*pairs, t-1
	if opt.Pack {
		n = pairs
		fwd, err = buildPacked("preference graph", policy, g, n, t)
	} else {
		fwd, err = policy.Build(g, n, t)
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("preference graph: %v", r)
		}
	}()
	dt := policy.Dtype()
	pg = &PrefGraph{Objective: opt.Objective, Gate: opt.Gate, Pairs: pairs, T: t, Packed: opt.Pack, Graph: g, Policy: fwd}
	// packed: mask selects the chosen positions only, rejMask the rejected
	pg.mask, pg.maskT = graphInput(g, "loss.mask", dt, n, m)
	pg.rejMask, pg.rejMaskT = graphInput(g, "loss.rejected_mask", dt, n, m)
	pg.chosenLens, pg.cLensT = graphInput(g, "loss.chosen_lens", dt, pairs)
	pg.rejectedLens, pg.rLensT = graphInput(g, "loss.rejected_lens", dt, pairs)
	pg.refChosen, pg.refCT = graphInput(g, "loss.reference_chosen", dt, pairs)
	pg.refRejected, pg.refRT = graphInput(g, "loss.reference_rejected", dt, pairs)

	lp := fwd.TokenLogps // [2B, T−1]
	gated := lp
	if opt.Objective.ReadsRejected() {
		// docs/method.md §3: the gate acts on the policy's rejected per-token log-probs only.
		if gated, err = gating.Apply(opt.Gate, lp, pg.rejMask, fwd.TokenLogpMax); err != nil {
			return nil, err
		}
	}
	if pg.GateValues, err = gating.ValuesNode(opt.Gate, lp, pg.rejMask, fwd.TokenLogpMax); err != nil {
		return nil, err
	}
	if opt.Pack {
		// LP of the chosen and of the rejected segments of each row [B]
		if pg.PolicyChosen, err = graph.MaskedRowSum(gated, pg.mask); err != nil {
			return nil, err
		}
		if pg.PolicyRejected, err = graph.MaskedRowSum(gated, pg.rejMask); err != nil {
			return nil, err
		}
	} else {
		seq, err := graph.MaskedRowSum(gated, pg.mask) // LP [2B]
		if err != nil {
			return nil, err
		}
		if pg.PolicyChosen, err = graph.VectorRange(seq, 0, pairs); err != nil {
			return nil, err
		}
		if pg.PolicyRejected, err = graph.VectorRange(seq, pairs, 2*pairs); err != nil {
			return nil, err
		}
	}
	res, err := objectives.Build(opt.Objective, objectives.Inputs{
		PolicyChosen: pg.PolicyChosen, PolicyRejected: pg.PolicyRejected,
		ReferenceChosen: pg.refChosen, ReferenceRejected: pg.refRejected,
		ChosenLens: pg.chosenLens, RejectedLens: pg.rejectedLens,
	})
	if err != nil {
		return nil, err
	}
	pg.Loss, pg.PerPair, pg.Terms = res.Loss, res.PerPair, res.Terms
	G.Read(pg.Loss, &pg.lossV)
	G.Read(pg.PerPair, &pg.perV)
	G.Read(pg.PolicyChosen, &pg.pcV)
	G.Read(pg.PolicyRejected, &pg.prV)
	G.Read(lp, &pg.lpV)
	G.Read(pg.GateValues, &pg.gateV)
	pg.termV = map[string]*G.Value{}
	for k, node := range pg.Terms {
		pg.termV[k] = new(G.Value)
		G.Read(node, pg.termV[k])
	}
	if opt.Grad {
		if _, err := G.Grad(pg.Loss, fwd.ParamNodes()...); err != nil {
			return nil, fmt.Errorf("preference graph: gradient: %w", err)
		}
	}
	pg.Machine = graph.NewTapeMachine(g)
	return pg, nil
}

// Params returns the policy parameter nodes of the graph (checkpoint names).
func (pg *PrefGraph) Params() []graph.Param { return pg.Policy.Params }

// SetBatch loads a batch (layout of shared/golden/batch.json: B pairs of T
// tokens, response masks 1 on response tokens) and the reference sequence
// log-probs of its chosen and rejected responses ([B] each; nil when the
// objective uses no reference — rewards/* metrics are then omitted).
// A packed graph takes rows of any length T′ whose packed rows fit in its
// T (PackedPairLen), each a prompt followed by one contiguous response,
// the chosen and rejected rows of a pair sharing the prompt.
func (pg *PrefGraph) SetBatch(b data.Batch, refChosen, refRejected []float64) error {
	if pg.Packed {
		return pg.setPacked(b, refChosen, refRejected)
	}
	B, T := pg.Pairs, pg.T
	if err := checkRows("chosen", b.ChosenIDs, b.ChosenMask, B, T); err != nil {
		return err
	}
	if err := checkRows("rejected", b.RejectedIDs, b.RejectedMask, B, T); err != nil {
		return err
	}
	ids := append(append(make([][]int, 0, 2*B), b.ChosenIDs...), b.RejectedIDs...)
	if err := pg.Policy.SetIDs(ids); err != nil {
		return err
	}
	m := T - 1
	mask := make([]float64, 2*B*m)
	rej := make([]float64, 2*B*m)
	cl, rl := make([]float64, B), make([]float64, B)
	for i := 0; i < B; i++ {
		for t := 0; t < m; t++ {
			// prediction t scores token t+1 (golden README "Which positions predict which tokens")
			if b.ChosenMask[i][t+1] != 0 {
				mask[i*m+t] = 1
				cl[i]++
			}
			if b.RejectedMask[i][t+1] != 0 {
				mask[(B+i)*m+t] = 1
				rej[(B+i)*m+t] = 1
				rl[i]++
			}
		}
		if cl[i] == 0 {
			return fmt.Errorf("pair %d: the chosen response has no token to score", i)
		}
		if rl[i] == 0 && pg.Objective.ReadsRejected() {
			return fmt.Errorf("pair %d: the rejected response has no token to score", i)
		}
	}
	refChosen, refRejected, err := pg.checkReference(refChosen, refRejected)
	if err != nil {
		return err
	}
	// the model computes the token log-probs at the response positions only
	// (the loss, the gate and the statistics read nothing else)
	if err := pg.Policy.SetLogpMask(mask); err != nil {
		return err
	}
	pg.setInputs(mask, rej, cl, rl, refChosen, refRejected)
	return nil
}

// checkReference checks the reference log-probs of a batch (zeros when
// none are given).
func (pg *PrefGraph) checkReference(refChosen, refRejected []float64) ([]float64, []float64, error) {
	B := pg.Pairs
	if (refChosen == nil) != (refRejected == nil) {
		return nil, nil, fmt.Errorf("reference log-probs: give both chosen and rejected, or neither")
	}
	pg.hasReference = refChosen != nil
	if !pg.hasReference {
		if pg.Objective.UsesReference() {
			return nil, nil, fmt.Errorf("objective %s needs the reference log-probs", pg.Objective.Name)
		}
		refChosen, refRejected = make([]float64, B), make([]float64, B)
	}
	if len(refChosen) != B || len(refRejected) != B {
		return nil, nil, fmt.Errorf("reference log-probs: got %d and %d values for %d pairs", len(refChosen), len(refRejected), B)
	}
	return refChosen, refRejected, nil
}

// setInputs writes the batch's inputs into the graph.
func (pg *PrefGraph) setInputs(mask, rej, cl, rl, refChosen, refRejected []float64) {
	setInputData(pg.maskT, mask)
	setInputData(pg.rejMaskT, rej)
	setInputData(pg.cLensT, cl)
	setInputData(pg.rLensT, rl)
	setInputData(pg.refCT, refChosen)
	setInputData(pg.refRT, refRejected)
	pg.rejMaskData = rej
	pg.refC = append(pg.refC[:0], refChosen...)
	pg.refR = append(pg.refR[:0], refRejected...)
}

// setPacked is SetBatch for a packed graph.
func (pg *PrefGraph) setPacked(b data.Batch, refChosen, refRejected []float64) error {
	pb, err := packPairs(b, pg.Pairs, pg.T)
	if err != nil {
		return err
	}
	for i := range pb.rl {
		if pb.cl[i] == 0 {
			return fmt.Errorf("pair %d: the chosen response has no token to score", i)
		}
		if pb.rl[i] == 0 && pg.Objective.ReadsRejected() {
			return fmt.Errorf("pair %d: the rejected response has no token to score", i)
		}
	}
	refChosen, refRejected, err = pg.checkReference(refChosen, refRejected)
	if err != nil {
		return err
	}
	if err := pg.Policy.SetIDs(pb.ids); err != nil {
		return err
	}
	if err := pg.Policy.SetLayout(pb.rows); err != nil {
		return err
	}
	if err := pg.Policy.SetLogpMask(pb.logpMask()); err != nil {
		return err
	}
	pg.setInputs(pb.chosen, pb.rejected, pb.cl, pb.rl, refChosen, refRejected)
	pg.packed = pb
	return nil
}

// Run evaluates the graph on the current batch (forward, and backward when
// built with Grad). It resets the machine first, so it can be called once
// per step.
func (pg *PrefGraph) Run() error {
	pg.Machine.Reset()
	return pg.Machine.RunAll()
}

// Close releases the machine.
func (pg *PrefGraph) Close() { pg.Machine.Close() }

// Release drops the activations, gradients and op caches of the last Run
// (graph.ReleaseValues), so a graph kept for later batches costs its
// structure only. Read Result, Grads or GradNorms and step the optimizer
// first: all of them are unavailable until the next Run.
func (pg *PrefGraph) Release() {
	graph.ReleaseValues(pg.Graph, pg.Machine)
	pg.lossV, pg.perV, pg.pcV, pg.prV, pg.lpV, pg.gateV = nil, nil, nil, nil, nil, nil
	for _, v := range pg.termV {
		*v = nil
	}
}

// PrefResult holds the values of one Run.
type PrefResult struct {
	Loss          float64              `json:"loss"`
	PerPairLoss   []float64            `json:"per_pair_loss"`
	PerPairTerms  map[string][]float64 `json:"per_pair_terms,omitempty"`
	Logps         objectives.Logps     `json:"logps"`   // reference_* nil when no reference was given
	Metrics       map[string]float64   `json:"metrics"` // TRL names (objectives.Metrics)
	RejectedGates [][]float64          `json:"rejected_gates"`
	GateStats     gating.Stats         `json:"gate_stats"`
}

// Result returns the values of the last Run: loss, per-pair loss and
// terms, sequence log-probs, TRL metrics, the rejected gates [B][T−1]
// (position t gates the prediction of token t+1; 0 outside the rejected
// response; 1 on it when the gate is off) and their statistics. A packed
// graph reports the gates in the layout of the batch's unpacked rejected
// rows ([B][T′−1], T′ the batch's row length).
func (pg *PrefGraph) Result() (PrefResult, error) {
	if pg.lossV == nil {
		return PrefResult{}, fmt.Errorf("preference graph: Result before Run")
	}
	B := pg.Pairs
	r := PrefResult{PerPairLoss: graph.Float64s(pg.perV)}
	r.Loss, r.Logps = pg.lossLogps()
	if len(pg.termV) > 0 {
		r.PerPairTerms = map[string][]float64{}
		for k, v := range pg.termV {
			r.PerPairTerms[k] = graph.Float64s(*v)
		}
	}
	r.Metrics = objectives.Metrics(pg.Objective, r.Logps)
	rt := pg.rejectedTokens()
	m := rt.M
	r.RejectedGates = make([][]float64, B)
	for i := range r.RejectedGates {
		r.RejectedGates[i] = rt.Gates[i*m : (i+1)*m : (i+1)*m]
	}
	r.GateStats = gating.ComputeStats(rt.Gates, rt.Logps, rt.Mask)
	return r, nil
}

// LossLogps returns the loss and the sequence log-probs of the last Run:
// Result's Loss and Logps without its metrics, gates and gate statistics
// (what a micro-batch of a step reads; the step computes those once over
// the whole batch).
func (pg *PrefGraph) LossLogps() (float64, objectives.Logps, error) {
	if pg.lossV == nil {
		return 0, objectives.Logps{}, fmt.Errorf("preference graph: LossLogps before Run")
	}
	loss, lp := pg.lossLogps()
	return loss, lp, nil
}

func (pg *PrefGraph) lossLogps() (float64, objectives.Logps) {
	lp := objectives.Logps{PolicyChosen: graph.Float64s(pg.pcV), PolicyRejected: graph.Float64s(pg.prV)}
	if pg.hasReference {
		lp.ReferenceChosen = append([]float64(nil), pg.refC...)
		lp.ReferenceRejected = append([]float64(nil), pg.refR...)
	}
	return graph.Float64s(pg.lossV)[0], lp
}

// RejectedTokens are the per-token values of a run's rejected responses
// in the layout of the batch's unpacked rejected rows, [B, M] row-major
// (M = T′−1, T′ the batch's row length; position t predicts token t+1):
// the gates, the policy's token log-probs and the rejected response mask.
// The gate statistics are gating.ComputeStats(Gates, Logps, Mask); the
// values of consecutive micro-batches of one batch, appended, are the
// whole batch's.
type RejectedTokens struct {
	M                  int
	Gates, Logps, Mask []float64
}

// RejectedTokens returns a copy of the last Run's rejected-token values
// (it stays valid after Release).
func (pg *PrefGraph) RejectedTokens() (RejectedTokens, error) {
	if pg.lossV == nil {
		return RejectedTokens{}, fmt.Errorf("preference graph: RejectedTokens before Run")
	}
	rt := pg.rejectedTokens()
	c := func(v []float64) []float64 { return append([]float64(nil), v...) }
	rt.Gates, rt.Logps, rt.Mask = c(rt.Gates), c(rt.Logps), c(rt.Mask)
	return rt, nil
}

// rejectedTokens is RejectedTokens without the copies (its slices may
// share the graph's values).
func (pg *PrefGraph) rejectedTokens() RejectedTokens {
	B, m := pg.Pairs, pg.T-1
	if pg.Packed {
		pb := &pg.packed
		return RejectedTokens{M: pb.batchT - 1, Gates: pb.unpackRejected(graph.Float64s(pg.gateV)),
			Logps: pb.unpackRejected(graph.Float64s(pg.lpV)), Mask: pb.unpackRejected(pb.rejected)}
	}
	return RejectedTokens{M: m, Gates: graph.Float64s(pg.gateV)[B*m:], Logps: graph.Float64s(pg.lpV)[B*m:], Mask: pg.rejMaskData[B*m:]}
}

// Grads returns a copy of every parameter's gradient after Run, keyed by
// checkpoint name (graphs built with Grad only).
func (pg *PrefGraph) Grads() (map[string][]float64, error) { return paramGrads(pg.Policy.Params) }

// GradNorms returns every parameter's gradient L2 norm, keyed by checkpoint
// name, and the global L2 norm over all of them.
func (pg *PrefGraph) GradNorms() (map[string]float64, float64, error) {
	return gradNorms(pg.Policy.Params)
}
