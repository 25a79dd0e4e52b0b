package experiments

// Thin adapters to packages owned by others. Each is the one place where
// the sweep meets an API that was still moving when it was written.

import (
	"fmt"
	"sort"
	"strings"

	"gatedpo/results"
)

// byteVocabSize is the vocabulary of the byte tokenizer (256 bytes plus
// the special tokens of experiments/data).
const byteVocabSize = 260

// seqExtraTokens is the room a row needs beyond max_prompt_tokens +
// max_response_tokens (BOS/EOS of the tokenizer).
const seqExtraTokens = 2

// objectiveKeyError is a key-bearing objective error (the same shape as
// gating.KeyError).
type objectiveKeyError struct{ key, msg string }

func (e *objectiveKeyError) Error() string  { return e.key + ": " + e.msg }
func (e *objectiveKeyError) ErrKey() string { return e.key }

// ParseObjective reads one [[grid.objective]] table: the objective
// vocabulary of SCIENCE.md §2 with its defaults (β 0.1, or 2.0 for simpo;
// ε 0; cal_weight 1; α 1; sft_norm mean; γ 0.5).
func ParseObjective(t map[string]any) (results.ObjectiveSpec, error) {
	allowed := map[string][]string{
		"dpo":     {"name", "beta", "label_smoothing"},
		"ipo":     {"name", "beta", "length_normalize"},
		"cal_dpo": {"name", "beta", "cal_weight"},
		"rpo":     {"name", "beta", "alpha", "sft_norm"},
		"simpo":   {"name", "beta", "gamma"},
		"sft":     {"name"},
	}
	name, ok := t["name"].(string)
	if !ok {
		return results.ObjectiveSpec{}, &objectiveKeyError{"name", "expected one of cal_dpo, dpo, ipo, rpo, simpo, sft"}
	}
	keys, ok := allowed[name]
	if !ok {
		return results.ObjectiveSpec{}, &objectiveKeyError{"name", fmt.Sprintf("expected one of cal_dpo, dpo, ipo, rpo, simpo, sft, got %q", name)}
	}
	s := results.ObjectiveSpec{Name: name}
	switch name {
	case "dpo", "ipo", "cal_dpo", "rpo":
		s.Beta = 0.1
	case "simpo":
		s.Beta, s.Gamma = 2.0, 0.5
	}
	if name == "cal_dpo" {
		s.CalWeight = 1
	}
	if name == "rpo" {
		s.Alpha, s.SFTNorm = 1, "mean"
	}
	names := make([]string, 0, len(t))
	for k := range t {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		found := false
		for _, a := range keys {
			found = found || a == k
		}
		if !found {
			return s, &objectiveKeyError{k, fmt.Sprintf("not a key of objective %q; expected one of %s", name, strings.Join(keys, ", "))}
		}
		v := t[k]
		num := func(dst *float64, positive bool) error {
			var x float64
			switch n := v.(type) {
			case float64:
				x = n
			case int64:
				x = float64(n)
			default:
				return &objectiveKeyError{k, fmt.Sprintf("expected a number, got %v", v)}
			}
			if x < 0 || (positive && x == 0) || x != x {
				return &objectiveKeyError{k, fmt.Sprintf("expected a number > 0, got %v", x)}
			}
			*dst = x
			return nil
		}
		var err error
		switch k {
		case "beta":
			err = num(&s.Beta, true)
		case "label_smoothing":
			err = num(&s.LabelSmoothing, false)
			if err == nil && s.LabelSmoothing >= 0.5 {
				err = &objectiveKeyError{k, fmt.Sprintf("expected a number in [0, 0.5), got %v", s.LabelSmoothing)}
			}
		case "cal_weight":
			err = num(&s.CalWeight, false)
		case "alpha":
			err = num(&s.Alpha, false)
		case "gamma":
			err = num(&s.Gamma, false)
		case "length_normalize":
			b, isBool := v.(bool)
			if !isBool {
				err = &objectiveKeyError{k, fmt.Sprintf("expected true or false, got %v", v)}
			}
			s.LengthNormalize = b
		case "sft_norm":
			str, isStr := v.(string)
			if !isStr || (str != "mean" && str != "sum" && str != "token") {
				err = &objectiveKeyError{k, fmt.Sprintf("expected one of mean, sum, token, got %v", v)}
			}
			s.SFTNorm = str
		}
		if err != nil {
			return s, err
		}
	}
	return s, nil
}
