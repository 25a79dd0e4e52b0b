package hftok

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unicode/utf8"
)

type textRec struct {
	ID     int    `json:"id"`
	Source string `json:"source"`
	Text   string `json:"text"`
}

// TestPiecesOracle: the hand-written matchers of the GPT-2, Llama-3 and
// Qwen2 Split regexes cut every text of testdata/texts.jsonl exactly where
// Hugging Face's tokenizers (Oniguruma) does (testdata/pieces.jsonl).
// Needs no ../shared.
func TestPiecesOracle(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "families.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Patterns map[string]string `json:"patterns"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"gpt2": PatternGPT2, "llama3": PatternLlama3, "qwen2": PatternQwen2}
	if len(f.Patterns) != len(want) {
		t.Fatalf("families.json patterns: %v", f.Patterns)
	}
	for k, p := range want {
		if f.Patterns[k] != p {
			t.Fatalf("families.json pattern %s = %q, Go constant %q", k, f.Patterns[k], p)
		}
	}
	texts := readJSONL[textRec](t, filepath.Join("testdata", "texts.jsonl"))
	pieces := readJSONL[map[string]json.RawMessage](t, filepath.Join("testdata", "pieces.jsonl"))[1:]
	if len(pieces) != len(texts) || len(texts) < 500 {
		t.Fatalf("%d texts, %d pieces records", len(texts), len(pieces))
	}
	for name, pat := range want {
		sp := knownPatterns[pat]
		bad := 0
		for i, tx := range texts {
			var exp []int
			if err := json.Unmarshal(pieces[i][name], &exp); err != nil {
				t.Fatal(err)
			}
			var got []int
			for j := 0; j < len(tx.Text); {
				n := sp(tx.Text, j)
				got = append(got, utf8.RuneCountInString(tx.Text[j:j+n]))
				j += n
			}
			if exp == nil {
				exp = []int{}
			}
			if got == nil {
				got = []int{}
			}
			if !slices.Equal(got, exp) {
				bad++
				if bad <= 5 {
					t.Errorf("%s: text %d %q: piece lengths %v, oracle %v", name, tx.ID, tx.Text, got, exp)
				}
			}
		}
		t.Logf("%s: %d/%d texts split as the oracle", name, len(texts)-bad, len(texts))
	}
}

// TestPiecesCover: pieces are non-empty and cover the input exactly, invalid
// UTF-8 included.
func TestPiecesCover(t *testing.T) {
	inputs := []string{"", "a", "\xff", "a\xffb", "'\xff", " \xff", "\xe2\x82", "x\r\n\xc3", "  \xff  ", "'S\xc5"}
	for _, pat := range []string{PatternGPT2, PatternLlama3, PatternQwen2} {
		sp := knownPatterns[pat]
		for _, s := range inputs {
			out := ""
			for j := 0; j < len(s); {
				n := sp(s, j)
				if n <= 0 || j+n > len(s) {
					t.Fatalf("pattern %.20q on %q at %d: length %d", pat, s, j, n)
				}
				out += s[j : j+n]
				j += n
			}
			if out != s {
				t.Errorf("pieces of %q join to %q", s, out)
			}
		}
	}
}
