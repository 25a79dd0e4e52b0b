package gating

import (
	"errors"
	"strings"
	"testing"

	"gatedpo/internal/tomlval"
)

// TestParseSpec: defaults fill missing keys; ints are accepted for numbers;
// unknown keys, wrong types and out-of-range values name the key.
func TestParseSpec(t *testing.T) {
	s, err := ParseSpec(map[string]any{"kind": "ramp", "tau": int64(0)})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultSpec()
	want.Kind = KindRamp
	if s != want || !s.Off() {
		t.Errorf("got %+v, want %+v (off)", s, want)
	}
	s, err = ParseSpec(map[string]any{"kind": "sigmoid", "tau": 0.5, "level": "sequence", "relative": true, "temperature": 0.5, "alpha": 0.5})
	if err != nil || s.Off() || s.String() != "sigmoid tau=0.5 T=0.5 sequence relative" {
		t.Errorf("got %+v %q, %v", s, s.String(), err)
	}
	for _, c := range []struct {
		table map[string]any
		key   string
		msg   string
	}{
		{map[string]any{"kind": "ramp", "tua": 0.1}, "tua", "unknown gate key"},
		{map[string]any{"kind": "step"}, "kind", "expected one of"},
		{map[string]any{"tau": -0.1}, "tau", ">= 0"},
		{map[string]any{"tau": "0.1"}, "tau", "expected a number"},
		{map[string]any{"level": "word"}, "level", "expected one of"},
		{map[string]any{"relative": "yes"}, "relative", "true or false"},
		{map[string]any{"temperature": 0.0}, "temperature", "> 0"},
		{map[string]any{"alpha": 1.5}, "alpha", "(0, 1]"},
	} {
		_, err := ParseSpec(c.table)
		var ke *tomlval.KeyError
		if !errors.As(err, &ke) || ke.ErrKey() != c.key || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: got %v, want a KeyError for %q containing %q", c.table, err, c.key, c.msg)
		}
	}
}
