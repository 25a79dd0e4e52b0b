package train

import (
	"fmt"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gorgonia.org/tensor"

	"gatedpo/graph"
	"gatedpo/models"
)

// accumulator is gradient accumulation over micro-batches: a graph sized
// for a micro-batch runs the batch's micro-batches one after another,
// add sums each one's parameter gradients, scaled by its share of the
// batch loss, into one gradient-sized buffer per weight, and step takes
// the one optimizer step of the batch on the sums (which the optimizer
// zeroes). The graph's activations then scale with the micro-batch, at
// the cost of the buffers (one copy of the weights' size).
type accumulator struct {
	names  []string
	values []*tensor.Dense // the model's weights, in Weights() order
	sums   []*tensor.Dense // Σ share·gradient, zero between steps
}

// newAccumulator returns the accumulator of lm's weights for a graph
// whose parameters are params (Weights() order, as models.Forward.Params).
func newAccumulator(lm models.LM, params []graph.Param) (*accumulator, error) {
	ws := lm.Weights()
	if len(ws) != len(params) {
		return nil, fmt.Errorf("gradient accumulation: the model has %d weights, the graph %d parameters", len(ws), len(params))
	}
	a := &accumulator{}
	for i, w := range ws {
		if params[i].Name != w.Name {
			return nil, fmt.Errorf("gradient accumulation: parameter %d is %s, weight %s", i, params[i].Name, w.Name)
		}
		a.names = append(a.names, w.Name)
		a.values = append(a.values, w.T)
		a.sums = append(a.sums, graph.NewTensor(w.T.Dtype(), w.T.Shape().Clone()...))
	}
	return a, nil
}

// add adds share × the gradient of every parameter of the last Run.
func (a *accumulator) add(params []graph.Param, share float64) error {
	for i, p := range params {
		gv, err := p.Node.Grad()
		if err != nil {
			return fmt.Errorf("parameter %s: %w", p.Name, err)
		}
		switch sum := a.sums[i].Data().(type) {
		case []float32:
			blas32.Implementation().Saxpy(len(sum), float32(share), gv.Data().([]float32), 1, sum, 1)
		case []float64:
			blas64.Implementation().Daxpy(len(sum), share, gv.Data().([]float64), 1, sum, 1)
		default:
			return fmt.Errorf("parameter %s: gradient of type %T", p.Name, sum)
		}
	}
	return nil
}

// step takes the batch's optimizer step on the sums (and zeroes them).
func (a *accumulator) step(opt *graph.Optimizer) (graph.StepInfo, error) {
	return opt.StepTensors(a.names, a.values, a.sums)
}

// reset zeroes the sums (after a micro-batch failed).
func (a *accumulator) reset() {
	for _, s := range a.sums {
		s.Zero()
	}
}
