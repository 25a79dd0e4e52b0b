package train

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"gatedpo/graph"
)

// trace records what Run did, hook by hook.
type trace struct {
	events []string
	idx    map[int][]int // the examples each step was given
}

// hooks returns hooks that log into tr; loss(k) is step k's loss and
// stepErr(k) its error; stop(k) says whether a stop is asked for after k.
func (tr *trace) hooks(loss func(int) float64, stepErr func(int) error, stop func(int) bool) Hooks {
	tr.idx = map[int][]int{}
	last := 0
	return Hooks{
		Prepare: func(k int, idx []int) (func() (Output, error), error) {
			tr.idx[k] = append([]int(nil), idx...)
			last = k
			return func() (Output, error) {
				tr.events = append(tr.events, fmt.Sprintf("step %d", k))
				return Output{Loss: loss(k), GradNorm: 1}, stepErr(k)
			}, nil
		},
		Log:      func(k int, out Output) { tr.events = append(tr.events, fmt.Sprintf("log %d", k)) },
		Diverged: func(f *Failure) { tr.events = append(tr.events, "diverged "+f.Error()) },
		After: func(k int, out Output) error {
			tr.events = append(tr.events, fmt.Sprintf("after %d", k))
			return nil
		},
		Checkpoint: func(k int) error {
			tr.events = append(tr.events, fmt.Sprintf("checkpoint %d", k))
			return nil
		},
		Stopped: func() bool { return stop(last) },
	}
}

func okLoss(int) float64 { return 1 }
func noErr(int) error    { return nil }
func never(int) bool     { return false }

// TestStageRun: a complete stage runs steps 1..Total on the epochs'
// batch orders, logs every step, checkpoints every CheckpointEvery steps
// but never after the last.
func TestStageRun(t *testing.T) {
	s := Stage{Name: "pref", Examples: 10, Batch: 3, Epochs: 2, Seed: PrefOrder.Seed(4), CheckpointEvery: 2}
	if s.PerEpoch() != 3 || s.Total() != 6 || s.Epoch(4) != 4.0/3 {
		t.Fatalf("per epoch %d, total %d, epoch(4) %v", s.PerEpoch(), s.Total(), s.Epoch(4))
	}
	var tr trace
	last, err := s.Run(1, tr.hooks(okLoss, noErr, never))
	if last != 6 || err != nil {
		t.Fatalf("Run = %d, %v", last, err)
	}
	var want []string
	for k := 1; k <= 6; k++ {
		want = append(want, fmt.Sprintf("step %d", k), fmt.Sprintf("log %d", k), fmt.Sprintf("after %d", k))
		if k%2 == 0 && k < 6 {
			want = append(want, fmt.Sprintf("checkpoint %d", k))
		}
	}
	if !reflect.DeepEqual(tr.events, want) {
		t.Errorf("events\n%v\nwant\n%v", tr.events, want)
	}
	for k := 1; k <= 6; k++ {
		e := (k - 1) / 3
		if w := EpochOrder(10, 3, s.Seed, e)[(k-1)%3]; !reflect.DeepEqual(tr.idx[k], w) {
			t.Errorf("step %d got examples %v, want %v (epoch %d's order)", k, tr.idx[k], w, e)
		}
	}
	// a resumed stage runs exactly the remaining steps on the same batches
	var re trace
	if last, err := s.Run(5, re.hooks(okLoss, noErr, never)); last != 6 || err != nil {
		t.Fatalf("resumed Run = %d, %v", last, err)
	}
	if len(re.idx) != 2 || !reflect.DeepEqual(re.idx[5], tr.idx[5]) || !reflect.DeepEqual(re.idx[6], tr.idx[6]) {
		t.Errorf("resumed steps %v, the uninterrupted run had 5: %v, 6: %v", re.idx, tr.idx[5], tr.idx[6])
	}
	// nothing left to run
	var none trace
	if last, err := s.Run(7, none.hooks(okLoss, noErr, never)); last != 6 || err != nil || len(none.events) != 0 {
		t.Errorf("Run past the end = %d, %v, %v", last, err, none.events)
	}
}

// TestStageDiverges: a NaN or infinite loss, a non-finite gradient norm
// or any step error ends the stage with a Failure at that step, after
// logging it and calling Diverged, and without After.
func TestStageDiverges(t *testing.T) {
	s := Stage{Name: "sft", Examples: 8, Batch: 2, Epochs: 1, Seed: 1, CheckpointEvery: 100}
	for _, c := range []struct {
		name   string
		loss   float64
		err    error
		reason string
	}{
		{"nan", math.NaN(), nil, "loss is NaN"},
		{"inf", math.Inf(-1), nil, "loss is -Inf"},
		{"grad", 2, fmt.Errorf("step: %w", graph.ErrNonFiniteGrad), "non-finite gradient norm (1), loss 2"},
		{"error", 2, errors.New("boom"), "boom"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var tr trace
			last, err := s.Run(1, tr.hooks(func(k int) float64 {
				if k == 3 {
					return c.loss
				}
				return 1
			}, func(k int) error {
				if k == 3 {
					return c.err
				}
				return nil
			}, never))
			var f *Failure
			if last != 3 || !errors.As(err, &f) || f.Stage != "sft" || f.Step != 3 || f.Reason != c.reason {
				t.Fatalf("Run = %d, %v; want a failure at sft step 3: %s", last, err, c.reason)
			}
			if err.Error() != "sft step 3: "+c.reason {
				t.Errorf("error %q", err)
			}
			tail := strings.Join(tr.events[len(tr.events)-3:], "; ")
			if tail != "step 3; log 3; diverged sft step 3: "+c.reason {
				t.Errorf("events end %q", tail)
			}
		})
	}
}

// TestStageStops: a stop asked for before the last step checkpoints that
// step and returns ErrInterrupted; one during the last step completes
// the stage (no checkpoint); errors of Prepare, After and Checkpoint end
// the stage with the right step count.
func TestStageStops(t *testing.T) {
	s := Stage{Name: "pref", Examples: 8, Batch: 2, Epochs: 1, Seed: 1, CheckpointEvery: 100}
	var tr trace
	last, err := s.Run(1, tr.hooks(okLoss, noErr, func(k int) bool { return k == 2 }))
	if last != 2 || !errors.Is(err, ErrInterrupted) || tr.events[len(tr.events)-1] != "checkpoint 2" {
		t.Errorf("stop at 2: %d, %v, %v", last, err, tr.events)
	}
	tr = trace{}
	last, err = s.Run(1, tr.hooks(okLoss, noErr, func(k int) bool { return k == 4 }))
	if last != 4 || err != nil || strings.Contains(strings.Join(tr.events, ";"), "checkpoint") {
		t.Errorf("stop at the last step: %d, %v, %v", last, err, tr.events)
	}

	boom := errors.New("boom")
	h := tr.hooks(okLoss, noErr, never)
	prepare := h.Prepare
	h.Prepare = func(k int, idx []int) (func() (Output, error), error) {
		if k == 3 {
			return nil, boom
		}
		return prepare(k, idx)
	}
	if last, err := s.Run(1, h); last != 2 || err != boom {
		t.Errorf("Prepare error at 3: %d, %v (want 2 steps done)", last, err)
	}
	h = tr.hooks(okLoss, noErr, never)
	h.After = func(k int, out Output) error {
		if k == 2 {
			return boom
		}
		return nil
	}
	if last, err := s.Run(1, h); last != 2 || err != boom {
		t.Errorf("After error at 2: %d, %v", last, err)
	}
	h = tr.hooks(okLoss, noErr, never)
	s.CheckpointEvery = 1
	h.Checkpoint = func(k int) error { return boom }
	if last, err := s.Run(1, h); last != 1 || err != boom {
		t.Errorf("Checkpoint error at 1: %d, %v", last, err)
	}
}
