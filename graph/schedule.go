package graph

import (
	"fmt"
	"math"
)

// ScheduleKind names the shape of the learning-rate schedule after warm-up.
type ScheduleKind string

// The learning-rate schedules. All of them start with the same linear warm-up.
const (
	// ScheduleConstant keeps the full learning rate after warm-up.
	ScheduleConstant ScheduleKind = "constant"
	// ScheduleLinear decays linearly from the full learning rate towards 0
	// at TotalSteps (HuggingFace get_linear_schedule_with_warmup).
	ScheduleLinear ScheduleKind = "linear"
	// ScheduleCosine decays along half a cosine from the full learning rate
	// towards 0 at TotalSteps (HuggingFace get_cosine_schedule_with_warmup,
	// num_cycles 0.5).
	ScheduleCosine ScheduleKind = "cosine"
)

// Schedule is a learning-rate multiplier as a function of the optimizer step.
//
// Steps are counted from 1: step k is the k-th call of Optimizer.Step. With
// W = WarmupSteps and N = TotalSteps the multiplier of step k is
//
//	k ≤ W:  k / W                      (linear warm-up; the first step uses lr/W, not 0)
//	k > W:  constant  1
//	        linear    max(0, (N − k + 1) / (N − W))
//	        cosine    0.5·(1 + cos(π·p)),  p = min(1, (k − 1 − W) / (N − W))
//
// The decay part is HuggingFace's get_{linear,cosine}_schedule_with_warmup
// evaluated at its 0-based step s = k − 1, so the first step after warm-up
// runs at the full rate and the last step (k = N) at 1/(N − W) of it
// (linear). The warm-up differs from HuggingFace's s/W only in counting the
// step being taken, so that no step is wasted at learning rate 0 (the DPO
// reference code's min(1, (s+1)/(W+1)) makes the same choice).
type Schedule struct {
	// Kind is the shape after warm-up; the zero value means constant.
	Kind ScheduleKind
	// WarmupSteps is the length of the linear warm-up; 0 disables it.
	WarmupSteps int
	// TotalSteps is the number of optimizer steps of the run; required
	// (> WarmupSteps) for linear and cosine, ignored for constant.
	TotalSteps int
}

// ParseScheduleKind maps "constant", "linear", "cosine" (or "" for
// constant) to a ScheduleKind.
func ParseScheduleKind(s string) (ScheduleKind, error) {
	switch ScheduleKind(s) {
	case "", ScheduleConstant:
		return ScheduleConstant, nil
	case ScheduleLinear, ScheduleCosine:
		return ScheduleKind(s), nil
	}
	return "", fmt.Errorf("graph: unknown lr schedule %q (want constant, linear or cosine)", s)
}

// Validate reports a schedule that cannot be evaluated, with what to change.
func (s Schedule) Validate() error {
	if _, err := ParseScheduleKind(string(s.Kind)); err != nil {
		return err
	}
	if s.WarmupSteps < 0 {
		return fmt.Errorf("graph: warmup_steps = %d, want ≥ 0", s.WarmupSteps)
	}
	if s.Kind == ScheduleLinear || s.Kind == ScheduleCosine {
		if s.TotalSteps <= s.WarmupSteps {
			return fmt.Errorf("graph: %s schedule needs total_steps (%d) > warmup_steps (%d)",
				s.Kind, s.TotalSteps, s.WarmupSteps)
		}
	}
	return nil
}

// Factor returns the learning-rate multiplier of optimizer step k (k ≥ 1,
// see Schedule). Steps past TotalSteps get the value at TotalSteps' end
// (0 for linear and cosine). It assumes Validate passed.
func (s Schedule) Factor(k int) float64 {
	if k < 1 {
		k = 1
	}
	w := s.WarmupSteps
	if w > 0 && k <= w {
		return float64(k) / float64(w)
	}
	switch s.Kind {
	case ScheduleLinear:
		f := float64(s.TotalSteps-k+1) / float64(s.TotalSteps-w)
		return math.Max(0, f)
	case ScheduleCosine:
		p := math.Min(1, float64(k-1-w)/float64(s.TotalSteps-w))
		return 0.5 * (1 + math.Cos(math.Pi*p))
	}
	return 1
}
