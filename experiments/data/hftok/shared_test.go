package hftok

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"gatedpo/internal/sharedtest"
)

// sharedDir returns ../shared beside the module root (found by walking up
// to go.mod), or skips the test when it is absent (a user's clone has none).
func sharedDir(t testing.TB) string {
	t.Helper()
	return sharedtest.Dir(t, "hf/tokenizer/tokenizer.json")
}

var (
	gpt2Once sync.Once
	gpt2Tok  *Tokenizer
	gpt2Raw  []byte
	gpt2Err  error
)

// sharedGPT2 loads ../shared/hf/tokenizer/tokenizer.json once.
func sharedGPT2(t testing.TB) (*Tokenizer, []byte) {
	t.Helper()
	p := filepath.Join(sharedDir(t), "hf", "tokenizer", "tokenizer.json")
	gpt2Once.Do(func() {
		gpt2Raw, gpt2Err = os.ReadFile(p)
		if gpt2Err == nil {
			gpt2Tok, gpt2Err = Load(p)
		}
	})
	if gpt2Err != nil {
		t.Fatal(gpt2Err)
	}
	return gpt2Tok, gpt2Raw
}

type sharedCase struct {
	ID      int    `json:"id"`
	Source  string `json:"source"`
	Text    string `json:"text"`
	IDs     []int  `json:"ids"`
	Decoded string `json:"decoded"`
}

func readJSONL[T any](t testing.TB, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSharedGPT2Cases: every case of ../shared/hf/tokenizer/cases.jsonl
// (made with Hugging Face's tokenizers) encodes to the oracle ids, decodes
// to the oracle text, and round-trips.
func TestSharedGPT2Cases(t *testing.T) {
	tok, _ := sharedGPT2(t)
	cases := readJSONL[sharedCase](t, filepath.Join(sharedDir(t), "hf", "tokenizer", "cases.jsonl"))
	if len(cases) < 500 {
		t.Fatalf("only %d cases read, expected 539", len(cases))
	}
	bad := 0
	for _, c := range cases {
		got := tok.Encode(c.Text)
		if !slices.Equal(got, c.IDs) {
			bad++
			if bad <= 10 {
				t.Errorf("case %d (%s) %q:\n got %v\nwant %v", c.ID, c.Source, c.Text, got, c.IDs)
			}
			continue
		}
		if d := tok.Decode(got, false); d != c.Decoded || d != c.Text {
			t.Errorf("case %d: decode %q, oracle %q, text %q", c.ID, d, c.Decoded, c.Text)
		}
	}
	t.Logf("%d/%d shared GPT-2 cases match", len(cases)-bad, len(cases))
}
