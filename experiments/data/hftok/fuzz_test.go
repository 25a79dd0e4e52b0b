package hftok

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// naiveMerge is the textbook BPE: merge the adjacent pair of lowest rank
// (leftmost first) until none is left; the reference for mergeWord.
func naiveMerge(b *bpeModel, piece string) []int32 {
	syms := make([]int32, len(piece))
	for i := 0; i < len(piece); i++ {
		syms[i] = b.byteID[piece[i]]
	}
	for {
		best, at := int32(-1), -1
		var id int32
		for i := 0; i+1 < len(syms); i++ {
			if m, ok := b.merges[pairKey(syms[i], syms[i+1])]; ok && (best < 0 || m.rank < best) {
				best, at, id = m.rank, i, m.id
			}
		}
		if at < 0 {
			return syms
		}
		syms = append(syms[:at+1], syms[at+2:]...)
		syms[at] = id
	}
}

// FuzzRoundTrip checks, on the three tiny tokenizers (and on the shared
// GPT-2 one when ../shared is present), for any bytes: Encode gives known
// ids; Decode(Encode(s)) == s, or the NFC form of the text between added
// tokens for the NFC tokenizer; every piece merges as the textbook BPE
// does; the pieces of each Split regex cover s. Its seed corpus runs with
// go test; run it by hand with
//
//	go test ./experiments/data/hftok -run '^$' -fuzz FuzzRoundTrip -fuzztime 60s
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", "Hello World", "it's 1234567 o'clock\r\n\r\n  ", "caf\u00e9 cafe\u0301 \u212b",
		"<|endoftext|><|im_start|>x<|im_end|>\u0301", ">\u0338", "\xff\xfe'\xc5", "\U0001F600\u200d\U0001F600",
		"  \n \t\u00a0x", "'\u017f'S'LL", "\u0661\u0662\u0663\u0664\u0665", strings.Repeat("ab", 300)} {
		f.Add(s)
	}
	var toks []*Tokenizer
	var nfc []bool
	for _, style := range []string{"gpt2", "llama3", "qwen2"} {
		tok, err := Load(filepath.Join("testdata", "tiny_"+style+".json"))
		if err != nil {
			f.Fatal(err)
		}
		toks = append(toks, tok)
		nfc = append(nfc, style == "qwen2")
	}
	f.Fuzz(func(t *testing.T, s string) {
		for k, tok := range toks {
			ids := tok.Encode(s)
			if err := tok.CheckIDs(ids); err != nil {
				t.Fatalf("tokenizer %d: %v", k, err)
			}
			want := s
			if nfc[k] {
				var b strings.Builder
				for _, seg := range tok.split(s, tok.rawMatch, nil) {
					if seg.tok >= 0 {
						b.WriteString(seg.text)
					} else {
						b.WriteString(norm.NFC.String(seg.text))
					}
				}
				want = b.String()
			}
			if got := tok.Decode(ids, false); got != want {
				t.Fatalf("tokenizer %d: Decode(Encode(%q)) = %q, want %q", k, s, got, want)
			}
		}
		for _, sp := range knownPatterns {
			for i := 0; i < len(s); {
				n := sp(s, i)
				if n <= 0 || i+n > len(s) {
					t.Fatalf("piece of length %d at %d of %q", n, i, s)
				}
				for _, tok := range toks {
					if got, want := tok.model.mergeWord(s[i:i+n]), naiveMerge(tok.model, s[i:i+n]); !slices.Equal(got, want) {
						t.Fatalf("mergeWord(%q) = %v, textbook BPE %v", s[i:i+n], got, want)
					}
				}
				i += n
			}
		}
	})
}

// TestSharedGPT2RoundTrip: the real GPT-2 vocabulary round-trips the fuzz
// seeds and a few awkward strings (needs ../shared).
func TestSharedGPT2RoundTrip(t *testing.T) {
	tok, _ := sharedGPT2(t)
	for _, s := range []string{"\xff\xfe'\xc5", "a\x00b\x1b[0m", strings.Repeat("\U0001F600", 50), "<|endoftext|>\xff"} {
		if got := tok.Decode(tok.Encode(s), false); got != s {
			t.Errorf("Decode(Encode(%q)) = %q", s, got)
		}
	}
}
