package train

import (
	"errors"
	"fmt"
	"math"

	"gatedpo/graph"
	"gatedpo/results"
)

// Failure is a training stage that diverged or could not run: its stage,
// step and reason, as a cell's summary.json and an SFT cache entry's
// failed.json record them.
type Failure struct{ results.Failure }

// Error formats the failure as "stage step N: reason".
func (f *Failure) Error() string {
	return fmt.Sprintf("%s step %d: %s", f.Stage, f.Step, f.Reason)
}

// ErrInterrupted is returned by Stage.Run when it was stopped before its
// last step; the stage saved a checkpoint first.
var ErrInterrupted = errors.New("interrupted")

// Divergence turns the result of step step of stage into a Failure: a
// step error (a non-finite gradient norm, which the optimizer refuses to
// apply, or any other), or a NaN or ±Inf loss. It returns nil for a good
// step.
func Divergence(stage string, step int, out Output, err error) *Failure {
	switch {
	case errors.Is(err, graph.ErrNonFiniteGrad):
		return &Failure{results.Failure{Stage: stage, Step: step, Reason: fmt.Sprintf("non-finite gradient norm (%v), loss %v", out.GradNorm, out.Loss)}}
	case err != nil:
		return &Failure{results.Failure{Stage: stage, Step: step, Reason: err.Error()}}
	case math.IsNaN(out.Loss) || math.IsInf(out.Loss, 0):
		return &Failure{results.Failure{Stage: stage, Step: step, Reason: fmt.Sprintf("loss is %v", out.Loss)}}
	}
	return nil
}

// Stage is the schedule of one training stage: Epochs epochs over
// Examples training examples in batches of Batch (an epoch's last partial
// batch dropped), steps numbered 1..Total(). The batch order of epoch e
// is EpochOrder(Examples, Batch, Seed, e): a checkpoint needs only the
// weights, the optimizer state and the step.
type Stage struct {
	Name            string // "sft" or "pref": the stage a Failure names
	Examples        int    // training examples an epoch orders
	Batch           int    // examples per step
	Epochs          int
	Seed            uint64 // the batch-order seed (a Stream's Seed of the cell seed)
	CheckpointEvery int    // save a checkpoint every this many steps (≥ 1)
}

// PerEpoch is the number of steps of one epoch.
func (s Stage) PerEpoch() int { return s.Examples / s.Batch }

// Total is the number of steps of the stage.
func (s Stage) Total() int { return s.PerEpoch() * s.Epochs }

// Epoch is the training progress after step k in epochs (the epoch
// column of train.csv).
func (s Stage) Epoch(k int) float64 { return float64(k) / float64(s.PerEpoch()) }

// Hooks are what a stage does at each step; Run calls them in this order.
type Hooks struct {
	// Prepare readies step k on the training examples idx (in batch
	// order): it builds the padded batch, picks the graph of its
	// row-length bucket (Bucket, Buckets) and returns the step to run. An
	// error ends the stage before step k.
	Prepare func(k int, idx []int) (run func() (Output, error), err error)
	// Log records the output of step k (the train.csv row). It is called
	// for every step that ran, a diverging one included. Optional.
	Log func(k int, out Output)
	// Diverged is called with the Failure of a diverging step before Run
	// returns it (to record it). Optional.
	Diverged func(f *Failure)
	// After runs after every step that did not diverge (progress,
	// tracking, probes); an error ends the stage after step k. Optional.
	After func(k int, out Output) error
	// Checkpoint saves the state after step k: every CheckpointEvery
	// steps and when stopped, never after the last step (the stage's own
	// end replaces it).
	Checkpoint func(k int) error
	// Stopped reports whether the run was asked to stop; it is asked
	// once after every step. Optional.
	Stopped func() bool
}

// Run runs steps first..Total() (first > 1 resumes after a checkpoint of
// step first−1). It returns the last step that ran and:
//   - nil when the stage is complete (a stop asked for during the last
//     step is the caller's to honour);
//   - a *Failure when a step diverged (Divergence);
//   - ErrInterrupted when it was stopped before the last step, after the
//     stopped step's checkpoint;
//   - the error of Prepare (last = k−1), After or Checkpoint otherwise.
func (s Stage) Run(first int, h Hooks) (last int, err error) {
	total, perEpoch := s.Total(), s.PerEpoch()
	var order [][]int
	orderEpoch := -1
	for k := first; k <= total; k++ {
		epoch := (k - 1) / perEpoch
		if epoch != orderEpoch { // the batch order of an epoch, computed once
			order, orderEpoch = EpochOrder(s.Examples, s.Batch, s.Seed, epoch), epoch
		}
		run, err := h.Prepare(k, order[(k-1)%perEpoch])
		if err != nil {
			return k - 1, err
		}
		out, err := run()
		if h.Log != nil {
			h.Log(k, out)
		}
		if f := Divergence(s.Name, k, out, err); f != nil {
			if h.Diverged != nil {
				h.Diverged(f)
			}
			return k, f
		}
		if h.After != nil {
			if err := h.After(k, out); err != nil {
				return k, err
			}
		}
		stop := h.Stopped != nil && h.Stopped()
		if (k%s.CheckpointEvery == 0 || stop) && k < total {
			if err := h.Checkpoint(k); err != nil {
				return k, err
			}
			if stop {
				return k, ErrInterrupted
			}
		}
	}
	return total, nil
}
