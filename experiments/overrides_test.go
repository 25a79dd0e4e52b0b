package experiments

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gatedpo/experiments/config"
	"gatedpo/results"
)

// overrideGrid is a small valid grid for the override tests.
const overrideGrid = `name = "ov"
[data]
dataset = "synthetic"
[train]
lr = 1e-3
[grid]
arch = ["transformer-xs"]
seed = [1]
[[grid.objective]]
name = "dpo"
[[grid.gate]]
kind = "none"
[[grid.gate]]
kind = "ramp"
tau = 0.01
`

func parseWithSets(t *testing.T, args ...string) (*Grid, error) {
	t.Helper()
	var sets []config.Override
	for _, a := range args {
		o, err := config.ParseOverride(a)
		if err != nil {
			return nil, err
		}
		sets = append(sets, o)
	}
	return parseGrid("g.toml", t.TempDir(), []byte(overrideGrid), sets...)
}

func TestOverridesApply(t *testing.T) {
	g, err := parseWithSets(t, "train.lr=3e-4", "grid.seed=[1,2,3]", "grid.gate[1].tau=0.001", "name=renamed", "train.pref_epochs=2")
	if err != nil {
		t.Fatal(err)
	}
	if g.Train.LR != 3e-4 {
		t.Errorf("lr %v, want 3e-4", g.Train.LR)
	}
	if !reflect.DeepEqual(g.Seed, []int{1, 2, 3}) {
		t.Errorf("seeds %v", g.Seed)
	}
	if g.Gates[1].Tau != 0.001 {
		t.Errorf("gate[1].tau %v", g.Gates[1].Tau)
	}
	if g.Name != "renamed" {
		t.Errorf("name %q", g.Name)
	}
	if g.Train.PrefEpochs != 2 {
		t.Errorf("pref_epochs %d", g.Train.PrefEpochs)
	}
	if want := []string{"train.lr=3e-4", "grid.seed=[1,2,3]", "grid.gate[1].tau=0.001", "name=renamed", "train.pref_epochs=2"}; !reflect.DeepEqual(g.Overrides, want) {
		t.Errorf("Overrides %q", g.Overrides)
	}
	// a bare (non-TOML) value is a string
	o, err := config.ParseOverride("data.dataset=some/file.jsonl")
	if err != nil || o.Value != "some/file.jsonl" {
		t.Errorf("bare string: %v %#v", err, o.Value)
	}
}

func TestOverrideErrors(t *testing.T) {
	cases := []struct {
		sets []string
		want string
	}{
		{[]string{"train.lr=abc"}, `-set train.lr=abc: train.lr: expected a finite number > 0, got "abc"`},
		{[]string{"train.lr=-1"}, `-set train.lr=-1: train.lr: expected a finite number > 0, got -1`},
		{[]string{"grid.seed=[1,\"x\"]"}, `-set grid.seed=[1,"x"]: grid.seed[1]:`},
		{[]string{"train.bogus=1"}, `-set train.bogus=1: train.bogus: unknown key`},
		{[]string{"train.lr"}, `-set train.lr: expected key=value`},
		{[]string{"=1"}, `-set =1: expected key=value`},
		{[]string{"train.lr.x=1"}, `-set train.lr.x=1: train.lr: is 0.001 in the grid, not a table`},
		{[]string{"grid.gate[5].tau=1"}, `-set grid.gate[5].tau=1: grid.gate[5]: no such element: the grid has 2 [[grid.gate]] tables`},
		{[]string{"a b=1"}, `is not a bare TOML key`},
	}
	for _, c := range cases {
		_, err := parseWithSets(t, c.sets...)
		if err == nil {
			t.Errorf("%q: no error", c.sets)
			continue
		}
		if !config.IsConfigError(err) {
			t.Errorf("%q: %T is not a config.ConfigError", c.sets, err)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %s\nwant %s", c.sets, err, c.want)
		}
	}
	// keys the override did not touch still point at the file
	src := strings.Replace(overrideGrid, "lr = 1e-3", "lr = -5", 1)
	o, _ := config.ParseOverride("train.pref_epochs=2")
	_, err := parseGrid("g.toml", t.TempDir(), []byte(src), o)
	if err == nil || !strings.HasPrefix(err.Error(), "g.toml:5: train.lr:") {
		t.Errorf("file error with an unrelated override: %v", err)
	}
}

func TestOverridesRecordedInResolvedGrid(t *testing.T) {
	g, err := parseWithSets(t, "grid.seed=[4,5]")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := writeGridFiles(out, g, g.Cells()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, results.GridResolvedFile))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Overrides []string          `json:"overrides"`
		Cells     []json.RawMessage `json:"cells"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(doc.Overrides, []string{"grid.seed=[4,5]"}) || len(doc.Cells) != 4 {
		t.Errorf("overrides %q, %d cells (want 4)", doc.Overrides, len(doc.Cells))
	}
	// the per-grid copies hold the same bytes, under the grid's name
	for name, want := range map[string][]byte{g.Name + ".resolved.json": b, g.Name + ".toml": g.Source} {
		got, err := os.ReadFile(filepath.Join(out, results.GridsDir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s/%s: %v (%d bytes, want %d)", results.GridsDir, name, err, len(got), len(want))
		}
	}
}
