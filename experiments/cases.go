package experiments

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"gatedpo/experiments/data"
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
			return nil, vocabError(pos, key+".objective", err)
		}
		gt := map[string]any{}
		if v, present := t["gate"]; present {
			if gt, ok = v.(map[string]any); !ok {
				return nil, pos.Errorf(key+".gate", "expected a [case.gate] table")
			}
		}
		if c.Gate, err = gating.ParseSpec(gt); err != nil {
			return nil, vocabError(pos, key+".gate", err)
		}
		cases = append(cases, c)
	}
	return cases, nil
}

// vocabError turns a key-bearing error of objectives.ParseSpec or
// gating.ParseSpec into a *ConfigError at prefix.key's line.
func vocabError(pos *TOMLPositions, prefix string, err error) error {
	var ke interface {
		error
		ErrKey() string
	}
	if errors.As(err, &ke) && ke.ErrKey() != "" {
		msg := strings.TrimPrefix(ke.Error(), ke.ErrKey()+": ")
		return pos.Errorf(prefix+"."+ke.ErrKey(), "%s", msg)
	}
	return pos.Errorf(prefix, "%v", err)
}

func sortedMapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// batchJSON is the layout of shared/golden/batch.json.
type batchJSON struct {
	ChosenIDs            [][]int `json:"chosen_ids"`
	RejectedIDs          [][]int `json:"rejected_ids"`
	ChosenResponseMask   [][]int `json:"chosen_response_mask"`
	RejectedResponseMask [][]int `json:"rejected_response_mask"`
	PromptLens           []int   `json:"prompt_lens"`
	ChosenRespLens       []int   `json:"chosen_resp_lens"`
	RejectedRespLens     []int   `json:"rejected_resp_lens"`
	PadID                *int    `json:"pad_id"`
	PaddingSide          string  `json:"padding_side"`
}

// LoadBatchJSON reads a preference batch in the format of
// shared/golden/batch.json (chosen_ids, rejected_ids, chosen_response_mask,
// rejected_response_mask [B][T]; optional prompt_lens, *_resp_lens [B],
// pad_id, padding_side "right"). Errors name the file and the field.
func LoadBatchJSON(path string) (data.Batch, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return data.Batch{}, err
	}
	var bj batchJSON
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&bj); err != nil {
		return data.Batch{}, fmt.Errorf("%s: %v", path, err)
	}
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%s: %s: %s", path, field, fmt.Sprintf(format, args...))
	}
	B := len(bj.ChosenIDs)
	if B == 0 {
		return data.Batch{}, bad("chosen_ids", "expected a non-empty [B][T] array of token ids")
	}
	T := len(bj.ChosenIDs[0])
	if T < 2 {
		return data.Batch{}, bad("chosen_ids", "expected rows of at least 2 tokens")
	}
	for _, f := range []struct {
		name string
		rows [][]int
	}{{"chosen_ids", bj.ChosenIDs}, {"rejected_ids", bj.RejectedIDs},
		{"chosen_response_mask", bj.ChosenResponseMask}, {"rejected_response_mask", bj.RejectedResponseMask}} {
		if len(f.rows) != B {
			return data.Batch{}, bad(f.name, "expected %d rows (as chosen_ids), got %d", B, len(f.rows))
		}
		for i, r := range f.rows {
			if len(r) != T {
				return data.Batch{}, bad(f.name, "row %d has %d values, expected %d", i, len(r), T)
			}
			for j, v := range r {
				if v < 0 || (strings.HasSuffix(f.name, "_mask") && v > 1) {
					return data.Batch{}, bad(f.name, "row %d position %d: %d is out of range", i, j, v)
				}
			}
		}
	}
	if bj.PaddingSide != "" && bj.PaddingSide != "right" {
		return data.Batch{}, bad("padding_side", "expected \"right\", got %q", bj.PaddingSide)
	}
	b := data.Batch{ChosenIDs: bj.ChosenIDs, RejectedIDs: bj.RejectedIDs, ChosenMask: bj.ChosenResponseMask,
		RejectedMask: bj.RejectedResponseMask, PromptLens: bj.PromptLens, T: T}
	b.ChosenLens, b.RejectedLens = make([]int, B), make([]int, B)
	for i := 0; i < B; i++ {
		for j := 0; j < T; j++ {
			b.ChosenLens[i] += bj.ChosenResponseMask[i][j]
			b.RejectedLens[i] += bj.RejectedResponseMask[i][j]
		}
	}
	for _, f := range []struct {
		name      string
		got, want []int
	}{{"chosen_resp_lens", bj.ChosenRespLens, b.ChosenLens}, {"rejected_resp_lens", bj.RejectedRespLens, b.RejectedLens}} {
		if f.got == nil {
			continue
		}
		for i := range f.want {
			if len(f.got) != B || f.got[i] != f.want[i] {
				return data.Batch{}, bad(f.name, "expected %v (the response masks' row sums), got %v", f.want, f.got)
			}
		}
	}
	return b, nil
}
