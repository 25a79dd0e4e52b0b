package experiments

// The loss graph: the one place where a language model, an objective and a
// gate meet. Everything that trains or checks a preference loss (the sweep,
// `inspect lossgrad`, the benchmarks) builds it here.
//
// Preference graph (PrefGraph), for B pairs of T tokens:
//
//	ids            [2B, T]     rows 0..B−1 chosen, B..2B−1 rejected (Forward.SetIDs)
//	lp             [2B, T−1]   lp[:, t] = log π(ids[:, t+1] | ids[:, ≤t])     (model)
//	lmax           [2B, T−1]   max_v log π(v | ids[:, ≤t]), forward only       (model)
//	mask           [2B, T−1]   mask[r, t] = response_mask[r, t+1]             (input)
//	rejMask        [2B, T−1]   mask with the chosen rows zeroed                (input)
//	lp̃ = gating.Apply(gate, lp, rejMask, lmax)                  only rejected tokens are gated
//	LP = Σ_t mask[:, t]·lp̃[:, t]   [2B]                         golden README "Sequence log-prob"
//	pc, pr = LP[0:B], LP[B:2B]
//	rc, rr         [B]         reference sequence log-probs                    (input)
//	n⁺, n⁻         [B]         response lengths Σ_t mask                      (input)
//	loss, per-pair = objectives.Build(objective, pc, pr, rc, rr, n⁺, n⁻)
//
// The reference enters as two input vectors, so a caller may precompute it
// once per example (ReferenceLogps) or compute it every step. A gate that is
// off, and any gate with an objective that does not read pr (sft), inserts
// nothing: the graph is then the ungated one, bit for bit.
//
// Use (one graph per batch shape; pad batches to a fixed T with
// data.MakeBatch(pairs, padID, T)):
//
//	pg, err := NewPrefGraph(policy, B, T, PrefOptions{Objective: obj, Gate: gate, Grad: true})
//	ref, err := NewSeqGraph(reference, 2*B, T, false)   // or precompute rc, rr once per example
//	for each batch b:
//		rc, rr, err := ReferenceLogps(ref, b)
//		err = pg.SetBatch(b, rc, rr)
//		err = pg.Run()                     // forward + backward
//		res, err := pg.Result()            // loss, TRL metrics, gates, gate statistics
//		info, err := opt.Step(pg.Params()) // graph.Optimizer updates the shared weights
//
// SFT stages use a SeqGraph with grad = true on SFTRows(b, extended).

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

// PrefOptions configures NewPrefGraph.
type PrefOptions struct {
	Objective objectives.Spec // the preference objective (validated)
	Gate      gating.Spec     // the gate on the rejected tokens (validated; off = ungated)
	Grad      bool            // add gradient nodes for every policy parameter (training, lossgrad)
}

// PrefGraph is a preference-loss graph over a fixed batch shape (B pairs,
// T tokens), with its own Gorgonia graph and TapeMachine. Reuse it across
// steps: SetBatch, Run, read Result / optimizer step on Params, repeat.
type PrefGraph struct {
	Objective objectives.Spec
	Gate      gating.Spec
	Pairs, T  int

	Graph   *G.ExprGraph
	Machine G.VM
	Policy  *models.Forward // over 2·Pairs rows [chosen; rejected]

	// Nodes. PolicyRejected is the (possibly gated) rejected sequence
	// log-prob; GateValues is the forward-only gate g [2B, T−1] (0 outside
	// the rejected response tokens).
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
	rejMaskData  []float64
	refC, refR   []float64
	hasReference bool
}

// NewPrefGraph builds the preference-loss graph of policy for pairs pairs
// of t tokens. With opt.Grad the graph also holds the gradient of the loss
// with respect to every policy parameter (read with Params' Node.Grad, or
// GradNorms / Grads).
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
	fwd, err := policy.Build(g, 2*pairs, t)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("preference graph: %v", r)
		}
	}()
	dt := policy.Dtype()
	n, m := 2*pairs, t-1
	pg = &PrefGraph{Objective: opt.Objective, Gate: opt.Gate, Pairs: pairs, T: t, Graph: g, Policy: fwd}
	pg.mask, pg.maskT = graphInput(g, "lossgraph.mask", dt, n, m)
	pg.rejMask, pg.rejMaskT = graphInput(g, "lossgraph.rejected_mask", dt, n, m)
	pg.chosenLens, pg.cLensT = graphInput(g, "lossgraph.chosen_lens", dt, pairs)
	pg.rejectedLens, pg.rLensT = graphInput(g, "lossgraph.rejected_lens", dt, pairs)
	pg.refChosen, pg.refCT = graphInput(g, "lossgraph.reference_chosen", dt, pairs)
	pg.refRejected, pg.refRT = graphInput(g, "lossgraph.reference_rejected", dt, pairs)

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
func (pg *PrefGraph) SetBatch(b data.Batch, refChosen, refRejected []float64) error {
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
	if (refChosen == nil) != (refRejected == nil) {
		return fmt.Errorf("reference log-probs: give both chosen and rejected, or neither")
	}
	pg.hasReference = refChosen != nil
	if !pg.hasReference {
		if pg.Objective.UsesReference() {
			return fmt.Errorf("objective %s needs the reference log-probs", pg.Objective.Name)
		}
		refChosen, refRejected = make([]float64, B), make([]float64, B)
	}
	if len(refChosen) != B || len(refRejected) != B {
		return fmt.Errorf("reference log-probs: got %d and %d values for %d pairs", len(refChosen), len(refRejected), B)
	}
	setInputData(pg.maskT, mask)
	setInputData(pg.rejMaskT, rej)
	setInputData(pg.cLensT, cl)
	setInputData(pg.rLensT, rl)
	setInputData(pg.refCT, refChosen)
	setInputData(pg.refRT, refRejected)
	pg.rejMaskData = rej
	pg.refC = append(pg.refC[:0], refChosen...)
	pg.refR = append(pg.refR[:0], refRejected...)
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
// response; 1 on it when the gate is off) and their statistics.
func (pg *PrefGraph) Result() (PrefResult, error) {
	if pg.lossV == nil {
		return PrefResult{}, fmt.Errorf("preference graph: Result before Run")
	}
	B, m := pg.Pairs, pg.T-1
	r := PrefResult{Loss: valueAsFloats(pg.lossV)[0], PerPairLoss: valueAsFloats(pg.perV)}
	if len(pg.termV) > 0 {
		r.PerPairTerms = map[string][]float64{}
		for k, v := range pg.termV {
			r.PerPairTerms[k] = valueAsFloats(*v)
		}
	}
	r.Logps = objectives.Logps{PolicyChosen: valueAsFloats(pg.pcV), PolicyRejected: valueAsFloats(pg.prV)}
	if pg.hasReference {
		r.Logps.ReferenceChosen = append([]float64(nil), pg.refC...)
		r.Logps.ReferenceRejected = append([]float64(nil), pg.refR...)
	}
	r.Metrics = objectives.Metrics(pg.Objective, r.Logps)
	gates := valueAsFloats(pg.gateV)[B*m:]
	lp := valueAsFloats(pg.lpV)[B*m:]
	mask := pg.rejMaskData[B*m:]
	r.RejectedGates = make([][]float64, B)
	for i := range r.RejectedGates {
		r.RejectedGates[i] = gates[i*m : (i+1)*m : (i+1)*m]
	}
	r.GateStats = gating.ComputeStats(gates, lp, mask)
	return r, nil
}

// Grads returns a copy of every parameter's gradient after Run, keyed by
// checkpoint name (graphs built with Grad only).
func (pg *PrefGraph) Grads() (map[string][]float64, error) { return paramGrads(pg.Policy.Params) }

// GradNorms returns every parameter's gradient L2 norm, keyed by checkpoint
// name, and the global L2 norm over all of them.
func (pg *PrefGraph) GradNorms() (map[string]float64, float64, error) {
	return gradNorms(pg.Policy.Params)
}

// SeqGraph is a graph of per-sequence log-probs LP = Σ_t mask·lp over
// Rows rows of T tokens, with the SFT loss Σ_r(−LP_r)/Σ_r|y_r| (the token
// mean NLL over all response tokens). It serves stage-1 SFT (chosen rows),
// extended SFT (chosen and rejected responses as separate rows), reference
// log-probs (forward only) and probes.
type SeqGraph struct {
	Rows, T int
	Graph   *G.ExprGraph
	Machine G.VM
	Forward *models.Forward
	LP      *G.Node // [Rows] sequence log-probs
	Loss    *G.Node // token-mean NLL (objectives "sft")

	mask, lens   *G.Node
	maskT, lensT *tensor.Dense
	lpV, lossV   G.Value
	nTokens      float64
}

// NewSeqGraph builds a SeqGraph of lm for rows rows of t tokens; grad adds
// the gradient of Loss with respect to every parameter.
func NewSeqGraph(lm models.LM, rows, t int, grad bool) (sg *SeqGraph, err error) {
	if rows < 1 || t < 2 {
		return nil, fmt.Errorf("sequence graph: need ≥ 1 row and ≥ 2 tokens, got %d rows of %d", rows, t)
	}
	g := G.NewGraph()
	fwd, err := lm.Build(g, rows, t)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sequence graph: %v", r)
		}
	}()
	dt := lm.Dtype()
	sg = &SeqGraph{Rows: rows, T: t, Graph: g, Forward: fwd}
	sg.mask, sg.maskT = graphInput(g, "lossgraph.seq_mask", dt, rows, t-1)
	sg.lens, sg.lensT = graphInput(g, "lossgraph.seq_lens", dt, rows)
	if sg.LP, err = graph.MaskedRowSum(fwd.TokenLogps, sg.mask); err != nil {
		return nil, err
	}
	sft, _ := objectives.Default(objectives.SFT)
	res, err := objectives.Build(sft, objectives.Inputs{PolicyChosen: sg.LP, ChosenLens: sg.lens})
	if err != nil {
		return nil, err
	}
	sg.Loss = res.Loss
	G.Read(sg.LP, &sg.lpV)
	G.Read(sg.Loss, &sg.lossV)
	if grad {
		if _, err := G.Grad(sg.Loss, fwd.ParamNodes()...); err != nil {
			return nil, fmt.Errorf("sequence graph: gradient: %w", err)
		}
	}
	sg.Machine = graph.NewTapeMachine(g)
	return sg, nil
}

// SetBatch loads rows of token ids [Rows][T] and their response masks (1 on
// response tokens, same layout). Rows without a response token have LP = 0.
func (sg *SeqGraph) SetBatch(ids, mask [][]int) error {
	if err := checkRows("sequence", ids, mask, sg.Rows, sg.T); err != nil {
		return err
	}
	if err := sg.Forward.SetIDs(ids); err != nil {
		return err
	}
	m := sg.T - 1
	md := make([]float64, sg.Rows*m)
	lens := make([]float64, sg.Rows)
	sg.nTokens = 0
	for i := range ids {
		for t := 0; t < m; t++ {
			if mask[i][t+1] != 0 {
				md[i*m+t] = 1
				lens[i]++
			}
		}
		sg.nTokens += lens[i]
	}
	setInputData(sg.maskT, md)
	setInputData(sg.lensT, lens)
	return nil
}

// Run evaluates the graph on the current batch (resetting the machine).
func (sg *SeqGraph) Run() error {
	sg.Machine.Reset()
	return sg.Machine.RunAll()
}

// Close releases the machine.
func (sg *SeqGraph) Close() { sg.Machine.Close() }

// Release drops the values, gradients and op caches of the last Run (see
// PrefGraph.Release). Logps, LossValue and the gradients are unavailable
// until the next Run.
func (sg *SeqGraph) Release() {
	graph.ReleaseValues(sg.Graph, sg.Machine)
	sg.lpV, sg.lossV = nil, nil
}

// Logps returns the per-row sequence log-probs of the last Run (nil after
// Release).
func (sg *SeqGraph) Logps() []float64 { return valueAsFloats(sg.lpV) }

// LossValue returns the token-mean NLL of the last Run (NaN when the batch
// has no response token).
func (sg *SeqGraph) LossValue() float64 {
	if sg.nTokens == 0 || sg.lossV == nil {
		return math.NaN()
	}
	return valueAsFloats(sg.lossV)[0]
}

// Params returns the parameter nodes (checkpoint names).
func (sg *SeqGraph) Params() []graph.Param { return sg.Forward.Params }

// ReferenceLogps runs ref, a SeqGraph of 2·B rows of b's T tokens, over
// the batch's [chosen; rejected] rows and returns the reference sequence
// log-probs of the chosen and the rejected responses.
func ReferenceLogps(ref *SeqGraph, b data.Batch) (chosen, rejected []float64, err error) {
	B := len(b.ChosenIDs)
	if ref.Rows != 2*B {
		return nil, nil, fmt.Errorf("reference graph has %d rows, the batch needs %d", ref.Rows, 2*B)
	}
	ids := append(append(make([][]int, 0, 2*B), b.ChosenIDs...), b.RejectedIDs...)
	mask := append(append(make([][]int, 0, 2*B), b.ChosenMask...), b.RejectedMask...)
	if err := ref.SetBatch(ids, mask); err != nil {
		return nil, nil, err
	}
	if err := ref.Run(); err != nil {
		return nil, nil, err
	}
	lp := ref.Logps()
	return lp[:B:B], lp[B:], nil
}

// graphInput adds a zero-filled input node of the given shape and returns
// it with its storage (written in place by setInputData).
func graphInput(g *G.ExprGraph, name string, dt tensor.Dtype, shape ...int) (*G.Node, *tensor.Dense) {
	v := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	if len(shape) == 1 {
		return G.NewVector(g, dt, G.WithShape(shape...), G.WithName(name), G.WithValue(v)), v
	}
	return G.NewMatrix(g, dt, G.WithShape(shape...), G.WithName(name), G.WithValue(v)), v
}

// setInputData copies vals into t's storage (float32 or float64).
func setInputData(t *tensor.Dense, vals []float64) {
	switch d := t.Data().(type) {
	case []float64:
		copy(d, vals)
	case []float32:
		for i, v := range vals {
			d[i] = float32(v)
		}
	}
}

// valueAsFloats returns a copy of a value's data as float64 (scalars as one
// value; nil for no value).
func valueAsFloats(v G.Value) []float64 {
	if v == nil {
		return nil
	}
	switch x := v.Data().(type) {
	case float64:
		return []float64{x}
	case float32:
		return []float64{float64(x)}
	case []float64:
		return append([]float64(nil), x...)
	case []float32:
		out := make([]float64, len(x))
		for i, e := range x {
			out[i] = float64(e)
		}
		return out
	}
	return nil
}

func checkRows(what string, ids, mask [][]int, n, t int) error {
	if len(ids) != n || len(mask) != n {
		return fmt.Errorf("%s: %d id rows and %d mask rows, the graph was built for %d", what, len(ids), len(mask), n)
	}
	for i := range ids {
		if len(ids[i]) != t || len(mask[i]) != t {
			return fmt.Errorf("%s row %d: %d ids and %d mask values, the graph was built for T = %d", what, i, len(ids[i]), len(mask[i]), t)
		}
	}
	return nil
}

func paramGrads(ps []graph.Param) (map[string][]float64, error) {
	out := make(map[string][]float64, len(ps))
	for _, p := range ps {
		gv, err := p.Node.Grad()
		if err != nil {
			return nil, fmt.Errorf("parameter %s has no gradient (build with Grad): %w", p.Name, err)
		}
		out[p.Name] = valueAsFloats(gv)
	}
	return out, nil
}

func gradNorms(ps []graph.Param) (map[string]float64, float64, error) {
	grads, err := paramGrads(ps)
	if err != nil {
		return nil, 0, err
	}
	norms := make(map[string]float64, len(grads))
	total := 0.0
	for _, p := range ps {
		s := 0.0
		for _, x := range grads[p.Name] {
			s += x * x
		}
		norms[p.Name] = math.Sqrt(s)
		total += s
	}
	return norms, math.Sqrt(total), nil
}

// SFTRows returns the rows an SFT stage trains on for batch b: the chosen
// responses (stage 1 of the baseline pipeline), or with extended the chosen
// and the rejected responses as separate examples (Ren & Sutherland's
// extended SFT: 2·B rows, chosen first). Feed them to a SeqGraph of as many
// rows.
func SFTRows(b data.Batch, extended bool) (ids, mask [][]int) {
	ids = append([][]int(nil), b.ChosenIDs...)
	mask = append([][]int(nil), b.ChosenMask...)
	if extended {
		ids = append(ids, b.RejectedIDs...)
		mask = append(mask, b.RejectedMask...)
	}
	return ids, mask
}
