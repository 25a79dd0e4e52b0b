package plots

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

// TestAggregate: seeds matched by x; at x = 1 the values {1, 2, 3} give
// mean 2 ± t(0.975, 2)·1/√3 = 2 ± 2.4841377 (tolerance 1e-9: numerical
// t quantile); x = 2 has one seed: no interval; NaN is dropped.
func TestAggregate(t *testing.T) {
	b := aggregate([]xy{
		{x: []float64{1, 2}, y: []float64{1, 5}},
		{x: []float64{1}, y: []float64{2}},
		{x: []float64{1, 2}, y: []float64{3, math.NaN()}},
	})
	if !reflect.DeepEqual(b.x, []float64{1, 2}) || !reflect.DeepEqual(b.n, []int{3, 1}) {
		t.Fatalf("x %v n %v, want [1 2] and [3 1]", b.x, b.n)
	}
	half := 4.302652729911275 / math.Sqrt(3)
	if b.mean[0] != 2 || math.Abs(b.hi[0]-2-half) > 1e-9 || math.Abs(2-b.lo[0]-half) > 1e-9 {
		t.Errorf("x=1: %g [%g, %g], want 2 ± %g", b.mean[0], b.lo[0], b.hi[0], half)
	}
	if b.mean[1] != 5 || b.lo[1] != 5 || b.hi[1] != 5 {
		t.Errorf("x=2: %g [%g, %g], want 5 with no interval", b.mean[1], b.lo[1], b.hi[1])
	}
}

func TestHelpers(t *testing.T) {
	ticks := decadeTicks{}.Ticks(1e-12, 1)
	labelled := 0
	for _, tk := range ticks {
		if tk.Label != "" {
			labelled++
		}
	}
	if len(ticks) != 13 || labelled > 6 || ticks[len(ticks)-1].Label != "1" {
		t.Errorf("decade ticks over 1e-12..1: %d ticks, %d labelled, last %q; want 13, ≤ 6, \"1\"", len(ticks), labelled, ticks[len(ticks)-1].Label)
	}
	if s := slug("transformer-xs · synthetic · ext_SFT"); s != "transformer-xs-synthetic-ext-sft" {
		t.Errorf("slug = %q", s)
	}
	if p := commonDashPrefix([]string{"transformer-xs", "transformer-s"}); p != "transformer-" {
		t.Errorf("commonDashPrefix = %q, want transformer-", p)
	}
	if p := commonDashPrefix([]string{"dpo", "ext-SFT→dpo"}); p != "" {
		t.Errorf("commonDashPrefix = %q, want empty", p)
	}
	if got := smooth([]float64{0, 3, 6, math.NaN(), 12}, 3); got[1] != 3 || got[3] != 9 || got[0] != 1.5 {
		t.Errorf("smooth = %v, want [1.5 3 4.5 9 12]", got)
	}
}

// TestSlugBounded: a long label gives a bounded fragment that still
// differs between labels.
func TestSlugBounded(t *testing.T) {
	a := slug(strings.Repeat("data.dataset=../shared/data/x/train.jsonl ", 20) + "a")
	b := slug(strings.Repeat("data.dataset=../shared/data/x/train.jsonl ", 20) + "b")
	if len(a) > maxSlug || len(b) > maxSlug || a == b {
		t.Errorf("slugs %q (%d) and %q (%d)", a, len(a), b, len(b))
	}
	if s := slug("short label"); s != "short-label" {
		t.Errorf("short label: %q", s)
	}
}
