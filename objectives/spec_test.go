package objectives

import (
	"errors"
	"strings"
	"testing"

	"gatedpo/internal/tomlval"
)

// TestParseSpec: defaults per objective; keys an objective does not have,
// wrong types and out-of-range values are KeyErrors naming the key.
func TestParseSpec(t *testing.T) {
	s, err := ParseSpec(map[string]any{"name": "rpo", "sft_norm": "token"})
	if err != nil || s != (Spec{Name: RPO, Beta: 0.1, Alpha: 1, SFTNorm: SFTNormToken}) {
		t.Errorf("rpo: %+v %v", s, err)
	}
	s, err = ParseSpec(map[string]any{"name": "simpo"})
	if err != nil || s != (Spec{Name: SimPO, Beta: 2, Gamma: 0.5}) {
		t.Errorf("simpo: %+v %v", s, err)
	}
	s, err = ParseSpec(map[string]any{"name": "dpop"})
	if err != nil || s != (Spec{Name: DPOP, Beta: 0.1, Lambda: 5}) || s.String() != "dpop beta=0.1 lambda=5" {
		t.Errorf("dpop: %+v %q %v", s, s.String(), err)
	}
	s, err = ParseSpec(map[string]any{"name": "dpop", "lambda": int64(50)})
	if err != nil || s.Lambda != 50 {
		t.Errorf("dpop lambda 50: %+v %v", s, err)
	}
	for _, name := range []string{APOZero, APODown, NCAPair} {
		s, err = ParseSpec(map[string]any{"name": name, "beta": 0.2})
		if err != nil || s != (Spec{Name: name, Beta: 0.2}) || !s.HasBeta() || !s.UsesReference() || !s.ReadsRejected() {
			t.Errorf("%s: %+v %v", name, s, err)
		}
	}
	s, err = ParseSpec(map[string]any{"name": "dpo", "beta": int64(1)})
	if err != nil || s.Beta != 1 {
		t.Errorf("int beta: %+v %v", s, err)
	}
	for _, c := range []struct {
		table map[string]any
		key   string
		msg   string
	}{
		{map[string]any{"beta": 0.1}, "name", "missing"},
		{map[string]any{"name": "kto"}, "name", "unknown objective"},
		{map[string]any{"name": "dpo", "gamma": 0.5}, "gamma", "unknown key for objective dpo"},
		{map[string]any{"name": "sft", "beta": 0.1}, "beta", "expected name"},
		{map[string]any{"name": "dpo", "beta": 0.0}, "beta", "> 0"},
		{map[string]any{"name": "dpo", "beta": "0.1"}, "beta", "expected a number"},
		{map[string]any{"name": "dpo", "label_smoothing": 0.7}, "label_smoothing", "[0, 0.5)"},
		{map[string]any{"name": "ipo", "length_normalize": 1.0}, "length_normalize", "true or false"},
		{map[string]any{"name": "cal_dpo", "cal_weight": -1.0}, "cal_weight", ">= 0"},
		{map[string]any{"name": "rpo", "sft_norm": "tokens"}, "sft_norm", "expected one of"},
		{map[string]any{"name": "rpo", "alpha": -0.5}, "alpha", ">= 0"},
		{map[string]any{"name": "dpop", "lambda": 0.0}, "lambda", "> 0 (lambda = 0 is dpo)"},
		{map[string]any{"name": "dpop", "lambda": "5"}, "lambda", "expected a number"},
		{map[string]any{"name": "dpo", "lambda": 5.0}, "lambda", "unknown key for objective dpo"},
		{map[string]any{"name": "apo_zero", "gamma": 0.5}, "gamma", "expected name, beta"},
		{map[string]any{"name": "nca_pair", "beta": -0.1}, "beta", "> 0"},
	} {
		_, err := ParseSpec(c.table)
		var ke *tomlval.KeyError
		if !errors.As(err, &ke) || ke.ErrKey() != c.key || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: got %v, want a KeyError for %q containing %q", c.table, err, c.key, c.msg)
		}
	}
	if err := (Spec{Name: DPO, Beta: 0.1, Gamma: 1}).Validate(); err == nil {
		t.Error("Validate accepted a parameter dpo does not have")
	}
	if err := (Spec{Name: APODown, Beta: 0.1, Lambda: 5}).Validate(); err == nil {
		t.Error("Validate accepted lambda on apo_down")
	}
}
