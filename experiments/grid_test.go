package experiments

import (
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
	g, err := ParseGrid("g.toml", t.TempDir(), []byte(pinnedGrid))
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
	g2, _ := ParseGrid("other.toml", "/elsewhere", []byte(pinnedGrid))
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
	for _, name := range BuiltinGrids() {
		g, err := LoadGrid(name)
		if err != nil {
			if strings.Contains(err.Error(), "no such file") && (name == "paper" || name == "paper-small-fixes") {
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
		_, err := ParseGrid("g.toml", t.TempDir(), []byte(src))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || !IsConfigError(err) {
			t.Errorf("edit %q: got %v, want prefix %q", c.edit, err, c.want)
		}
	}
}
