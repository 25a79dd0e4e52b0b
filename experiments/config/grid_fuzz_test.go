package config

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzParseGrid: the grid parser never panics; every error is a one-line
// *ConfigError naming the file and short enough to read; every grid it
// accepts respects the limits (at least one cell, at most MaxCells,
// bounded sequence lengths, no duplicated axis values). The seed corpus
// runs in normal tests; fuzz by hand:
//
//	go test ./experiments/config -run '^$' -fuzz FuzzParseGrid -fuzztime 60s
func FuzzParseGrid(f *testing.F) {
	for _, name := range BuiltinGrids() {
		src, _ := BuiltinGrid(name)
		f.Add(src)
	}
	for _, s := range []string{
		"",
		`name = "x"`,
		"name = \"a\\u0000b\"",
		"[data]\nmax_prompt_tokens = 1000000000",
		"[data]\nprobe_examples = 99999999999999999",
		"[data.synthetic]\ntrain_pairs = 0",
		"[grid]\nseed = [1, 1]",
		"[grid]\nseed = [1, 2]\narch = [\"transformer-xs\", \"mlp-xs\"]",
		"[[grid.gate]]\nkind = \"ramp\"\ntau = [1e-2, 1e-2]",
		"[[grid.gate]]\nkind = \"ramp\"\ntau = []",
		"[data]\ndataset = \"/dev/zero\"",
		"[train]\ninit_from = \"/dev/zero\"",
		"[grid\n",
		"name = \"" + strings.Repeat("x", 5000) + "\"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		g, err := ParseGrid("fuzz.toml", t.TempDir(), src)
		if err != nil {
			msg := err.Error()
			if !IsConfigError(err) || !strings.HasPrefix(msg, "fuzz.toml") || strings.Contains(msg, "\n") {
				t.Fatalf("error is not a one-line ConfigError naming the file: %q", msg)
			}
			if len(msg) > 4*MaxStringBytes {
				t.Fatalf("error of %d bytes", len(msg))
			}
			return
		}
		n := len(g.Data.Datasets) * len(g.Arch) * len(g.Pipeline) * len(g.Objectives) * len(g.Gates) * len(g.Seed)
		if n < 1 || n > MaxCells {
			t.Fatalf("%d cells", n)
		}
		dataMax := func(key string) int { return keyMax(reflect.TypeOf(DataConfig{}), key) }
		if g.Data.MaxPromptTokens > dataMax("max_prompt_tokens") || g.Data.MaxResponseTokens > dataMax("max_response_tokens") ||
			g.Data.ProbeExamples > dataMax("probe_examples") || g.Train.BatchPairs > keyMax(reflect.TypeOf(TrainConfig{}), "batch_pairs") {
			t.Fatalf("limits not enforced: %+v %+v", g.Data, g.Train)
		}
		seen := map[int]bool{}
		for _, s := range g.Seed {
			if seen[s] {
				t.Fatalf("duplicate seed %d accepted", s)
			}
			seen[s] = true
		}
		if msg := checkName(g.Name); msg != "" {
			t.Fatalf("name %q accepted: %s", g.Name, msg)
		}
	})
}

// checkName is the name rule of tableParser.checkName as a message.
func checkName(name string) string {
	if msg := CheckText(name, MaxNameBytes); msg != "" {
		return msg
	}
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "bad name"
	}
	return ""
}

// keyMax is the schema's upper bound of an integer key of struct type t.
func keyMax(t reflect.Type, key string) int {
	for _, f := range schemaFields(t) {
		if f.key == key {
			return int(f.max)
		}
	}
	panic("no key " + key)
}
