package experiments

import (
	"gatedpo/experiments/config"
	"strings"
	"testing"
)

const pinnedGrid = `name = "default"
[data]
dataset = "synthetic"
tokenizer = "byte"
max_prompt_tokens = 32
max_response_tokens = 32
probe_examples = 64
[train]
sft_epochs = 8
pref_epochs = 6
batch_pairs = 8
optimizer = "adam"
lr = 1e-3
lr_schedule = "constant"
warmup_steps = 20
max_grad_norm = 10.0
eval_every = 25
checkpoint_every = 200
[toy]
run = true
[grid]
arch = ["transformer-xs", "transformer-s"]
pipeline = ["baseline"]
seed = [1, 2, 3]
[[grid.objective]]
name = "dpo"
beta = 0.1
[[grid.gate]]
kind = "none"
[[grid.gate]]
kind = "ramp"
tau = [1e-3, 1e-2]
level = "token"
[[grid.gate]]
kind = "sigmoid"
tau = [1e-3]
temperature = 1.0
`

func TestParsePinnedGrid(t *testing.T) {
	g, err := parseGrid("g.toml", t.TempDir(), []byte(pinnedGrid))
	if err != nil {
		t.Fatal(err)
	}
	cells := g.Cells()
	if len(cells) != 2*1*1*4*3 {
		t.Fatalf("%d cells, want 24", len(cells))
	}
	ids := map[string]bool{}
	for _, c := range cells {
		if ids[c.ID] {
			t.Fatalf("duplicate id %s", c.ID)
		}
		ids[c.ID] = true
	}
	// stable: parsing again gives the same ids
	g2, _ := parseGrid("other.toml", "/elsewhere", []byte(pinnedGrid))
	if g2.Cells()[5].ID != cells[5].ID {
		t.Error("cell id depends on the grid file's location")
	}
	sel, err := SelectCells(cells, mustFilters(t, "gate.kind=ramp", "arch=transformer-s", "gate.tau=0.01"))
	if err != nil || len(sel) != 3 {
		t.Fatalf("select: %d cells, %v", len(sel), err)
	}
	if _, err := SelectCells(cells, mustFilters(t, "gate.colour=red")); err == nil || !strings.Contains(err.Error(), "gate.colour") {
		t.Errorf("unknown -only key: %v", err)
	}
}

func mustFilters(t *testing.T, args ...string) []Filter {
	f, err := ParseFilters(args)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestBuiltinGridsParse(t *testing.T) {
	for _, name := range config.BuiltinGrids() {
		g, err := loadGrid(name)
		if err != nil {
			if strings.Contains(err.Error(), "no such file") && strings.HasPrefix(name, "paper") {
				t.Logf("%s grid: %v (shared data absent)", name, err)
				continue
			}
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %d cells", name, len(g.Cells()))
	}
}

func TestGridErrors(t *testing.T) {
	cases := []struct{ edit, want string }{
		{"sft_epochs = 8\n", "g.toml:9: train.sft_epochz: unknown key"},
		{"lr = 1e-3\n", `g.toml:13: train.lr: expected a finite number > 0, got -1`},
		{"tau = [1e-3, 1e-2]\n", `g.toml:32: grid.gate[1].tau[1]: expected a finite number >= 0`},
		{"arch = [\"transformer-xs\", \"transformer-s\"]\n", `g.toml:22: grid.arch[1]: expected one of`},
		{"name = \"dpo\"\n", `g.toml:26: grid.objective[0].name: unknown objective "dpp"`},
		{"temperature = 1.0\n", `g.toml:37: grid.gate[2].temperature: expected a finite number > 0`},
		{"dataset = \"synthetic\"\n", `g.toml:3: data.dataset: expected "synthetic" or an existing data file`},
		{"[toy]\n", `g.toml:19: train.toy: unknown key`},
		{"run = true\n", `g.toml:20: toy.run: expected true or false`},
		{"eval_every = 25\n", `g.toml:17: invalid TOML`},
	}
	repl := map[string]string{
		"sft_epochs = 8\n":     "sft_epochz = 8\n",
		"lr = 1e-3\n":          "lr = -1\n",
		"tau = [1e-3, 1e-2]\n": "tau = [1e-3, -2]\n",
		"arch = [\"transformer-xs\", \"transformer-s\"]\n": "arch = [\"transformer-xs\", \"transformer-q\"]\n",
		"name = \"dpo\"\n":          "name = \"dpp\"\n",
		"temperature = 1.0\n":       "temperature = 0\n",
		"dataset = \"synthetic\"\n": "dataset = \"nope.jsonl\"\n",
		"[toy]\n":                   "toy = 3\n",
		"run = true\n":              "run = \"yes\"\n",
		"eval_every = 25\n":         "eval_every = = 25\n",
	}
	for _, c := range cases {
		src := strings.Replace(pinnedGrid, c.edit, repl[c.edit], 1)
		if c.edit == "[toy]\n" {
			src = strings.Replace(src, "run = true\n", "", 1)
		}
		_, err := parseGrid("g.toml", t.TempDir(), []byte(src))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || !config.IsConfigError(err) {
			t.Errorf("edit %q: got %v, want prefix %q", c.edit, err, c.want)
		}
	}
}

// TestGridExclude: [[grid.exclude]] drops the matching combinations (a
// value or a list, numbers by value), leaves cell ids of the rest
// unchanged, and refuses unknown keys and values not on their axis.
func TestGridExclude(t *testing.T) {
	full, err := parseGrid("g.toml", t.TempDir(), []byte(pinnedGrid))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, c := range full.Cells() {
		ids[c.ID] = true
	}
	src := pinnedGrid + "[[grid.exclude]]\narch = \"transformer-s\"\ngate = [\"ramp\", \"sigmoid\"]\n" +
		"[[grid.exclude]]\ntau = 0.01\nseed = [2, 3]\n"
	g, err := parseGrid("g.toml", t.TempDir(), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cells := g.Cells()
	// 2 archs × 4 gates × 3 seeds = 24; transformer-s loses 3 gates × 3
	// seeds = 9; transformer-xs ramp τ=1e-2 loses seeds 2, 3
	if len(cells) != 24-9-2 {
		t.Fatalf("%d cells, want 13", len(cells))
	}
	for _, c := range cells {
		cfg := c.Config
		if cfg.Arch == "transformer-s" && cfg.Gate.Kind != "none" {
			t.Errorf("cell %s not excluded: %s %s", c.ID, cfg.Arch, cfg.Gate.Kind)
		}
		if cfg.Gate.Tau == 0.01 && cfg.Seed != 1 {
			t.Errorf("cell %s not excluded: tau %g seed %d", c.ID, cfg.Gate.Tau, cfg.Seed)
		}
		if !ids[c.ID] {
			t.Errorf("cell %s: id changed by the exclusion", c.ID)
		}
	}
	for _, c := range []struct{ add, want string }{
		{"[[grid.exclude]]\nmodel = \"x\"\n", "g.toml:39: grid.exclude[0].model: unknown key"},
		{"[[grid.exclude]]\narch = \"transformer-m\"\n", `g.toml:39: grid.exclude[0].arch: "transformer-m" is not a value of the arch axis`},
		{"[[grid.exclude]]\nseed = [1, 7]\n", `g.toml:39: grid.exclude[0].seed[1]: "7" is not a value of the seed axis`},
		{"[[grid.exclude]]\ngate = true\n", "g.toml:39: grid.exclude[0].gate: expected a string or a number"},
	} {
		_, err := parseGrid("g.toml", t.TempDir(), []byte(pinnedGrid+c.add))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || !config.IsConfigError(err) {
			t.Errorf("%q: got %v, want prefix %q", c.add, err, c.want)
		}
	}
}
