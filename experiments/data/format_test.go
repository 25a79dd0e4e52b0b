package data

import (
	"strings"
	"testing"
)

// TestFormatVocabulary: every name of FormatNames loads (aliases as their
// canonical format), and an unknown name is one error listing them all.
func TestFormatVocabulary(t *testing.T) {
	path := writeTemp(t, "p.jsonl", `{"prompt":"q","chosen":"a","rejected":"b"}`+"\n")
	want := map[string]string{"auto": FormatPrompt, "jsonl": FormatPrompt, "ultrafeedback": FormatPrompt, "": FormatPrompt, FormatPrompt: FormatPrompt, FormatProbe: FormatProbe}
	for name, f := range want {
		ds, err := Load(path, LoadOptions{Format: name})
		if err != nil || ds.Format != f {
			t.Errorf("format %q: %v, read as %v", name, err, ds)
		}
	}
	for _, name := range FormatNames {
		if _, err := CanonicalFormat(name); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
	_, err := Load(path, LoadOptions{Format: "csv"})
	if err == nil || err.Error() != `format = "csv": expected one of "auto", "prompt", "probe", "hh", "conversational", "jsonl", "ultrafeedback"` {
		t.Errorf("csv: %v", err)
	}
	if _, err := Open("synthetic", LoadOptions{Format: "auto"}, SyntheticConfig{Seed: 1, TrainPairs: 8, EvalPairs: 2}); err != nil {
		t.Errorf("synthetic with format auto: %v", err)
	}
	if _, err := Open("synthetic", LoadOptions{Format: "hh"}, SyntheticConfig{Seed: 1}); err == nil || !strings.Contains(err.Error(), "does not apply") {
		t.Errorf("synthetic with format hh: %v", err)
	}
}
