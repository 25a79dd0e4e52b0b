package config

import (
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

const posDoc = `# comment
name = "default"   # trailing
[data]
dataset = ["synthetic",
  "x.jsonl"]
multi = """
a [ b
"""
tokenizer = 'byte'
[train]
lr = 1e-3
a.b = 2
[grid]
arch = ["transformer-xs", "transformer-s"]
seed = [
  1,
  2,
]
[[grid.objective]]
name = "dpo"
beta = 0.1
[[grid.gate]]
kind = "none"
[[grid.gate]]
kind = "ramp"
tau = [1e-3, 1e-2]
inl = { x = 1, "y.z" = 2 }
[grid.gate.sub]
q = 1
[[grid.gate]]
kind = "sigmoid"
`

func TestTOMLPositions(t *testing.T) {
	// the document must be valid TOML for the test to mean anything
	var v map[string]any
	if _, err := toml.Decode(posDoc, &v); err != nil {
		t.Fatal(err)
	}
	p := ScanTOMLPositions("g.toml", []byte(posDoc))
	want := map[string]int{
		"name":                   2,
		"data":                   3,
		"data.dataset":           4,
		"data.dataset[1]":        5,
		"data.tokenizer":         9,
		"train.lr":               11,
		"train.a.b":              12,
		"grid.arch":              14,
		"grid.arch[1]":           14,
		"grid.seed[1]":           17,
		"grid.objective[0].beta": 21,
		"grid.gate":              22,
		"grid.gate[0].kind":      23,
		"grid.gate[1]":           24,
		"grid.gate[1].tau":       26,
		"grid.gate[1].tau[1]":    26,
		"grid.gate[1].inl.x":     27,
		`grid.gate[1].inl."y.z"`: 27,
		"grid.gate[1].sub.q":     29,
		"grid.gate[2].kind":      31,
		"grid.gate[2].missing":   30, // falls back to the table header
		"nothing":                0,
	}
	for k, l := range want {
		if got := p.Line(k); got != l {
			t.Errorf("Line(%q) = %d, want %d", k, got, l)
		}
	}
	err := p.Errorf("grid.gate[1].tau", "want a positive number, got %v", -1)
	if got := err.Error(); got != "g.toml:26: grid.gate[1].tau: want a positive number, got -1" {
		t.Errorf("Errorf: %q", got)
	}
	if !IsConfigError(err) {
		t.Error("IsConfigError false")
	}
}

func TestTOMLDecodeError(t *testing.T) {
	var v map[string]any
	_, err := toml.Decode("a = 1\nb = = 2\n", &v)
	ce := TOMLDecodeError("x.toml", err)
	if !strings.HasPrefix(ce.Error(), "x.toml:2: ") {
		t.Errorf("got %q", ce)
	}
}
