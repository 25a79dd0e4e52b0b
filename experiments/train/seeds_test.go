package train

import "testing"

// TestStreamSeeds pins the stream values: they are part of the record
// format (a recorded run's batch order and initial weights depend on
// them), so changing one must fail here first.
func TestStreamSeeds(t *testing.T) {
	for _, c := range []struct {
		s    Stream
		seed int
		want uint64
	}{
		{ModelInit, 7, 7},
		{SFTOrder, 1, 1 ^ 0x5f7},
		{PrefOrder, 1, 1 ^ 0x9e3},
		{SFTOrder, 0x5f7, 0},
		{PrefOrder, 12345, 12345 ^ 0x9e3},
	} {
		if got := c.s.Seed(c.seed); got != c.want {
			t.Errorf("stream %#x seed %d: %#x, want %#x", uint64(c.s), c.seed, got, c.want)
		}
	}
	if SFTOrder.Seed(3) == PrefOrder.Seed(3) || SFTOrder.Seed(3) == ModelInit.Seed(3) {
		t.Error("two streams share a seed")
	}
}
