package config

import (
	"fmt"
	"os"

	"github.com/BurntSushi/toml"

	"gatedpo/gating"
	"gatedpo/objectives"
)

// Case is one objective × gate combination of a cases file
// (shared/golden/cases.toml): the configuration vocabulary the goldens,
// `inspect lossgrad` and the tests share.
//
//	[[case]]
//	id = "dpo_ramp_tau0.05"
//	[case.objective]        # name + parameters (objectives.ParseSpec; defaults filled)
//	name = "dpo"
//	beta = 0.1
//	[case.gate]             # optional; all six keys (gating.ParseSpec; defaults filled)
//	kind = "ramp"
//	tau = 0.05
type Case struct {
	ID        string          `json:"id"`
	Objective objectives.Spec `json:"objective"`
	Gate      gating.Spec     `json:"gate"`
}

// LoadCases reads a cases file. Every error about the content is a
// *ConfigError "file:line: key: what was expected" (key like
// case[3].gate.tau); unknown keys, missing or duplicate ids, a missing
// [case.objective] and out-of-range values are errors.
func LoadCases(path string) ([]Case, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseCases(path, src)
}

// ParseCases parses the content src of a cases file named file (for error
// messages); see LoadCases.
func ParseCases(file string, src []byte) ([]Case, error) {
	var doc map[string]any
	if _, err := toml.Decode(string(src), &doc); err != nil {
		return nil, TOMLDecodeError(file, err)
	}
	pos := ScanTOMLPositions(file, src)
	p := &tableParser{pos: pos}
	for _, k := range sortedMapKeys(doc) {
		if k != "case" {
			return nil, pos.Errorf(k, "unknown key; a cases file holds only [[case]] tables")
		}
	}
	raw, ok := doc["case"].([]map[string]any)
	if !ok || len(raw) == 0 {
		return nil, &ConfigError{File: file, Line: pos.Line("case"), Key: "case", Msg: "expected one or more [[case]] tables"}
	}
	seen := map[string]int{}
	cases := make([]Case, 0, len(raw))
	for i, t := range raw {
		key := fmt.Sprintf("case[%d]", i)
		var c Case
		var err error
		for _, k := range sortedMapKeys(t) {
			if k != "id" && k != "objective" && k != "gate" {
				return nil, pos.Errorf(key+"."+k, "unknown key; expected id, [case.objective], [case.gate]")
			}
		}
		id, ok := t["id"].(string)
		if !ok || id == "" {
			return nil, pos.Errorf(key+".id", "expected a non-empty string id")
		}
		if j, dup := seen[id]; dup {
			return nil, pos.Errorf(key+".id", "duplicate id %q (also case %d)", id, j)
		}
		seen[id] = i
		c.ID = id
		ot, ok := t["objective"].(map[string]any)
		if !ok {
			return nil, pos.Errorf(key+".objective", "expected a [case.objective] table with at least name")
		}
		if c.Objective, err = objectives.ParseSpec(ot); err != nil {
			return nil, p.keyErr(key+".objective", err)
		}
		gt := map[string]any{}
		if v, present := t["gate"]; present {
			if gt, ok = v.(map[string]any); !ok {
				return nil, pos.Errorf(key+".gate", "expected a [case.gate] table")
			}
		}
		if c.Gate, err = gating.ParseSpec(gt); err != nil {
			return nil, p.keyErr(key+".gate", err)
		}
		cases = append(cases, c)
	}
	return cases, nil
}
