package graph

import (
	"math"
	"testing"
)

// TestScheduleFactor checks the schedule values at their defining points
// (exact: these are ratios of small integers and cos at 0, π/2, π).
func TestScheduleFactor(t *testing.T) {
	cases := []struct {
		s    Schedule
		k    int
		want float64
	}{
		{Schedule{}, 1, 1},
		{Schedule{Kind: ScheduleConstant, WarmupSteps: 4}, 1, 0.25},
		{Schedule{Kind: ScheduleConstant, WarmupSteps: 4}, 4, 1},
		{Schedule{Kind: ScheduleConstant, WarmupSteps: 4}, 1000, 1},
		{Schedule{Kind: ScheduleLinear, WarmupSteps: 2, TotalSteps: 6}, 2, 1},
		{Schedule{Kind: ScheduleLinear, WarmupSteps: 2, TotalSteps: 6}, 3, 1},
		{Schedule{Kind: ScheduleLinear, WarmupSteps: 2, TotalSteps: 6}, 4, 0.75},
		{Schedule{Kind: ScheduleLinear, WarmupSteps: 2, TotalSteps: 6}, 6, 0.25},
		{Schedule{Kind: ScheduleLinear, WarmupSteps: 2, TotalSteps: 6}, 7, 0},
		{Schedule{Kind: ScheduleLinear, WarmupSteps: 2, TotalSteps: 6}, 100, 0},
		{Schedule{Kind: ScheduleLinear, TotalSteps: 4}, 1, 1},
		{Schedule{Kind: ScheduleCosine, WarmupSteps: 1, TotalSteps: 5}, 2, 1},
		{Schedule{Kind: ScheduleCosine, WarmupSteps: 1, TotalSteps: 5}, 4, 0.5},
		{Schedule{Kind: ScheduleCosine, WarmupSteps: 1, TotalSteps: 5}, 6, 0},
		{Schedule{Kind: ScheduleCosine, WarmupSteps: 1, TotalSteps: 5}, 60, 0},
	}
	for _, c := range cases {
		if err := c.s.Validate(); err != nil {
			t.Fatal(err)
		}
		if got := c.s.Factor(c.k); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("%+v step %d: %v, want %v", c.s, c.k, got, c.want)
		}
	}
	// Warm-up then decay is continuous at the junction and monotone after it.
	s := Schedule{Kind: ScheduleCosine, WarmupSteps: 10, TotalSteps: 100}
	for k := 11; k <= 100; k++ {
		if s.Factor(k) > s.Factor(k-1) && k > 11 {
			t.Fatalf("cosine increases at %d", k)
		}
	}
}
