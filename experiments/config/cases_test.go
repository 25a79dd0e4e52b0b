package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatedpo/gating"
	"gatedpo/internal/sharedtest"
	"gatedpo/objectives"
)

// sharedGoldenSet returns ../shared/<set> (golden, golden-extra) next to
// the module root, or skips the test when it has no golden.json.
func sharedGoldenSet(t *testing.T, set string) string {
	t.Helper()
	return filepath.Join(sharedtest.Dir(t, set+"/golden.json"), set)
}

// TestLoadGoldenCases: cases.toml parses to exactly golden.json's case
// list (ids, objective and gate parameters, same order), for both golden
// sets.
func TestLoadGoldenCases(t *testing.T) {
	for _, set := range []string{"golden", "golden-extra"} {
		t.Run(set, func(t *testing.T) { checkGoldenCasesFile(t, sharedGoldenSet(t, set)) })
	}
}

func checkGoldenCasesFile(t *testing.T, dir string) {
	cases, err := LoadCases(filepath.Join(dir, "cases.toml"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gold struct {
		Cases []struct {
			ID        string          `json:"id"`
			Objective objectives.Spec `json:"objective"`
			Gate      gating.Spec     `json:"gate"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &gold); err != nil {
		t.Fatal(err)
	}
	if len(cases) != len(gold.Cases) {
		t.Fatalf("%d cases, golden has %d", len(cases), len(gold.Cases))
	}
	for i, c := range cases {
		g := gold.Cases[i]
		if c.ID != g.ID || c.Objective != g.Objective || c.Gate != g.Gate {
			t.Errorf("case %d: %+v, want %+v", i, c, g)
		}
	}
}

// TestCasesErrors: bad content gives "file:line: key: what was expected".
func TestCasesErrors(t *testing.T) {
	good := `[[case]]
id = "a"
[case.objective]
name = "dpo"
beta = 0.1
[case.gate]
kind = "ramp"
tau = 0.05
`
	if cs, err := ParseCases("c.toml", []byte(good)); err != nil || len(cs) != 1 || cs[0].Gate.Tau != 0.05 || cs[0].Gate.Temperature != 1 {
		t.Fatalf("good file: %+v %v", cs, err)
	}
	for _, c := range []struct{ src, want string }{
		{strings.Replace(good, "tau = 0.05", "tau = -1.0", 1), "c.toml:8: case[0].gate.tau: expected a finite number >= 0"},
		{strings.Replace(good, "tau = 0.05", "tua = 0.05", 1), "c.toml:8: case[0].gate.tua: unknown gate key"},
		{strings.Replace(good, "beta = 0.1", "beta = \"x\"", 1), "c.toml:5: case[0].objective.beta: expected a number"},
		{strings.Replace(good, "beta = 0.1", "gamma = 0.1", 1), "c.toml:5: case[0].objective.gamma: unknown key for objective dpo"},
		{strings.Replace(good, `name = "dpo"`, `name = "kto"`, 1), "c.toml:4: case[0].objective.name: unknown objective"},
		{strings.Replace(good, `kind = "ramp"`, `kind = "step"`, 1), "c.toml:7: case[0].gate.kind: expected one of"},
		{good + "[[case]]\nid = \"a\"\n[case.objective]\nname = \"sft\"\n", "c.toml:10: case[1].id: duplicate id"},
		{good + "[[case]]\nid = \"b\"\n", "c.toml:9: case[1].objective: expected a [case.objective] table"},
		{good + "[[case]]\nid = \"b\"\nextra = 1\n[case.objective]\nname = \"sft\"\n", "c.toml:11: case[1].extra: unknown key"},
		{"x = 1\n" + good, "c.toml:1: x: unknown key"},
		{"[[case]\n", "c.toml:2: invalid TOML"}, // the parser reports where it noticed
	} {
		_, err := ParseCases("c.toml", []byte(c.src))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || !IsConfigError(err) {
			t.Errorf("got %v\nwant prefix %q", err, c.want)
		}
	}
}
