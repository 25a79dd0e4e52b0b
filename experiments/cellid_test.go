package experiments

import (
	"strings"
	"testing"
)

// TestCellIDsPinned: the ids of cells whose configuration predates an
// objective or parameter added later stay what they were (a new optional
// spec field must be omitted from the canonical JSON when unused), so
// existing sweep directories keep resuming.
func TestCellIDsPinned(t *testing.T) {
	src := strings.Replace(pinnedGrid, "[[grid.objective]]\nname = \"dpo\"\nbeta = 0.1\n", `[[grid.objective]]
name = "dpo"
beta = 0.1
[[grid.objective]]
name = "ipo"
length_normalize = true
[[grid.objective]]
name = "cal_dpo"
cal_weight = 0.5
[[grid.objective]]
name = "rpo"
sft_norm = "token"
[[grid.objective]]
name = "simpo"
`, 1)
	g, err := parseGrid("g.toml", t.TempDir(), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cells := g.Cells()
	if len(cells) != 2*5*4*3 {
		t.Fatalf("%d cells, want 120", len(cells))
	}
	for _, w := range []struct {
		i  int
		id string
	}{ // computed before dpop, apo_zero, apo_down and nca_pair existed
		{0, "80ac01ab052d"},   // transformer-xs baseline dpo/none seed 1
		{4, "e4f8d01b9d22"},   // transformer-xs baseline dpo/ramp τ=0.001 seed 2
		{15, "8981e0dcc3c1"},  // transformer-xs baseline ipo/ramp τ=0.001 seed 1
		{29, "316d3f6de171"},  // transformer-xs baseline cal_dpo/ramp τ=0.001 seed 3
		{40, "28418eef2899"},  // transformer-xs baseline rpo/ramp τ=0.001 seed 2
		{59, "46942e5efbda"},  // transformer-xs baseline simpo/sigmoid τ=0.001 seed 3
		{119, "a0cb7dc7289c"}, // transformer-s baseline simpo/sigmoid τ=0.001 seed 3
	} {
		if got := cells[w.i].ID; got != w.id {
			t.Errorf("cell %d (%s): id %s, was %s", w.i, cells[w.i].Label(), got, w.id)
		}
	}
}
