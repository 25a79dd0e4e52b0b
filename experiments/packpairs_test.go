package experiments

import (
	"strings"
	"testing"
)

// TestPackPairsCellIDs: train.pack_pairs at its default (unset, or set to
// false) leaves every cell id and train table as they were; on, it enters
// the train table (and so changes the ids: packed training rounds
// differently).
func TestPackPairsCellIDs(t *testing.T) {
	base, err := parseGrid("g.toml", t.TempDir(), []byte(pinnedGrid))
	if err != nil {
		t.Fatal(err)
	}
	off, err := parseGrid("g.toml", t.TempDir(), []byte(strings.Replace(pinnedGrid, "[train]\n", "[train]\npack_pairs = false\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	unset, set := base.Cells(), off.Cells()
	if len(unset) == 0 || len(unset) != len(set) {
		t.Fatalf("%d and %d cells", len(unset), len(set))
	}
	if unset[0].ID != "80ac01ab052d" {
		t.Errorf("cell 0: id %s, was 80ac01ab052d", unset[0].ID)
	}
	for i := range unset {
		if unset[i].ID != set[i].ID {
			t.Errorf("cell %d: id %s with pack_pairs = false, %s without", i, set[i].ID, unset[i].ID)
		}
		if _, ok := set[i].Config.Train["pack_pairs"]; ok {
			t.Errorf("cell %d: pack_pairs = false is in the train table", i)
		}
	}
	on, err := parseWithSets(t, "train.pack_pairs=true")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := parseWithSets(t)
	if err != nil {
		t.Fatal(err)
	}
	pc, uc := on.Cells(), plain.Cells()
	for i := range pc {
		if pc[i].ID == uc[i].ID {
			t.Errorf("cell %d: pack_pairs = true keeps the id %s", i, pc[i].ID)
		}
		if v, ok := pc[i].Config.Train["pack_pairs"]; !ok || v != true {
			t.Errorf("cell %d: train.pack_pairs = %v in the cell config, want true", i, v)
		}
	}
}

// TestPackPairsNeedsPackedModel: train.pack_pairs with an MLP arch is a
// config error naming the key and the arch.
func TestPackPairsNeedsPackedModel(t *testing.T) {
	src := strings.Replace(pinnedGrid, `arch = ["transformer-xs", "transformer-s"]`, `arch = ["transformer-xs", "mlp-xs"]`, 1)
	src = strings.Replace(src, "[train]\n", "[train]\npack_pairs = true\n", 1)
	_, err := parseGrid("g.toml", t.TempDir(), []byte(src))
	if err == nil {
		t.Fatal("pack_pairs with an MLP arch: no error")
	}
	for _, want := range []string{"g.toml", "train.pack_pairs", `"mlp-xs"`, "packed rows"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if _, err := parseGrid("g.toml", t.TempDir(), []byte(strings.Replace(src, `"mlp-xs"`, `"transformer-s"`, 1))); err != nil {
		t.Errorf("pack_pairs with transformer archs: %v", err)
	}
}
