package loss

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/experiments/data"
	"gatedpo/graph"
	"gatedpo/models"
	"gatedpo/objectives"
)

// SeqGraph is a graph of per-sequence log-probs LP = Σ_t mask·lp over
// Rows rows of T tokens, with the SFT loss Σ_r(−LP_r)/Σ_r|y_r| (the token
// mean NLL over all response tokens). It serves SFT stages (built with
// grad: the chosen responses as rows, or for extended SFT the chosen and
// the rejected responses as separate rows) and forward-only reference
// log-probs (ReferenceLogps).
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
	sg.mask, sg.maskT = graphInput(g, "loss.seq_mask", dt, rows, t-1)
	sg.lens, sg.lensT = graphInput(g, "loss.seq_lens", dt, rows)
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
	// the model computes the token log-probs at the masked-in positions only
	return sg.Forward.SetLogpMask(md)
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
func (sg *SeqGraph) Logps() []float64 { return graph.Float64s(sg.lpV) }

// LossValue returns the token-mean NLL of the last Run (NaN when the batch
// has no response token).
func (sg *SeqGraph) LossValue() float64 {
	if sg.nTokens == 0 || sg.lossV == nil {
		return math.NaN()
	}
	return graph.Float64s(sg.lossV)[0]
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
