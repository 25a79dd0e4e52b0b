package hftok

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"gatedpo/experiments/data"
)

// tinyJSON returns testdata/tiny_<style>.json as a generic JSON object.
func tinyJSON(t *testing.T, style string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "tiny_"+style+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRefusals: what is outside the supported subset is refused with a
// one-line error naming the component and what is supported.
func TestRefusals(t *testing.T) {
	metaspaceNorm := map[string]any{"type": "Sequence", "normalizers": []any{
		map[string]any{"type": "Prepend", "prepend": "▁"},
		map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "▁"}}}
	sentencePieceDecoder := map[string]any{"type": "Sequence", "decoders": []any{
		map[string]any{"type": "Replace", "pattern": map[string]any{"String": "▁"}, "content": " "},
		map[string]any{"type": "ByteFallback"}, map[string]any{"type": "Fuse"},
		map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0}}}
	cases := []struct {
		name   string
		edit   func(m map[string]any)
		expect string
	}{
		{"llama2 sentencepiece", func(m map[string]any) {
			m["normalizer"] = metaspaceNorm
			m["pre_tokenizer"] = nil
			m["decoder"] = sentencePieceDecoder
			m["model"].(map[string]any)["byte_fallback"] = true
		}, "byte_fallback = true: a SentencePiece-style BPE"},
		{"metaspace pre-tokenizer", func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}
		}, `type "Metaspace" is not supported`},
		{"no pre-tokenizer", func(m map[string]any) { m["pre_tokenizer"] = nil }, "pre_tokenizer is null"},
		{"unigram", func(m map[string]any) { m["model"].(map[string]any)["type"] = "Unigram" }, `model.type = "Unigram" is not supported`},
		{"wordpiece", func(m map[string]any) { m["model"].(map[string]any)["type"] = "WordPiece" }, `model.type = "WordPiece" is not supported`},
		{"nfkc", func(m map[string]any) { m["normalizer"] = map[string]any{"type": "NFKC"} }, `normalizer type "NFKC" is not supported`},
		{"sentencepiece normalizer", func(m map[string]any) { m["normalizer"] = metaspaceNorm }, `normalizer type "Prepend" is not supported`},
		{"sentencepiece decoder", func(m map[string]any) { m["decoder"] = sentencePieceDecoder }, "decoder {"},
		{"no decoder", func(m map[string]any) { m["decoder"] = nil }, "decoder is null"},
		{"unknown regex", func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `\p{N}{1,3}`}, "behavior": "Isolated", "invert": false},
				map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}}}
		}, `Split regex "\\p{N}{1,3}" is not supported`},
		{"split string", func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "Split", "pattern": map[string]any{"String": " "}, "behavior": "Isolated", "invert": false},
				map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}}}
		}, "Split pattern map[String: ] is not supported"},
		{"split removed", func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "Split", "pattern": map[string]any{"Regex": PatternGPT2}, "behavior": "Removed", "invert": false},
				map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}}}
		}, `Split behavior "Removed"`},
		{"digits", func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "Digits", "individual_digits": true},
				map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}}}
		}, `type "Digits" is not supported`},
		{"dropout", func(m map[string]any) { m["model"].(map[string]any)["dropout"] = 0.1 }, "dropout"},
		{"subword prefix", func(m map[string]any) { m["model"].(map[string]any)["continuing_subword_prefix"] = "##" }, "continuing_subword_prefix"},
		{"missing byte", func(m map[string]any) {
			delete(m["model"].(map[string]any)["vocab"].(map[string]any), "Ā")
		}, "no token for byte 0x00"},
		{"merge outside vocab", func(m map[string]any) {
			mo := m["model"].(map[string]any)
			mo["merges"] = append(mo["merges"].([]any), []any{"zz", "q"})
		}, "token not in model.vocab"},
		{"no model", func(m map[string]any) { delete(m, "model") }, `no "model" object`},
	}
	for _, c := range cases {
		m := tinyJSON(t, "gpt2")
		c.edit(m)
		_, err := Parse(mustJSON(t, m))
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.expect) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %q, expected one line containing %q", c.name, err, c.expect)
		}
	}
	if _, err := Parse([]byte(`{"model": `)); err == nil || !strings.Contains(err.Error(), "malformed tokenizer.json") {
		t.Errorf("truncated JSON: %v", err)
	}
}

func TestLoadPathsAndVocabCheck(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "nope.json")); err == nil || !strings.Contains(err.Error(), "nope.json: no such file") {
		t.Errorf("missing file: %v", err)
	}
	// A SentencePiece-only model directory.
	sp := filepath.Join(dir, "llama2")
	os.MkdirAll(sp, 0o755)
	os.WriteFile(filepath.Join(sp, "tokenizer.model"), []byte("x"), 0o644)
	if _, err := Load(sp); err == nil || !strings.Contains(err.Error(), "only tokenizer.model (a SentencePiece model, not supported") {
		t.Errorf("sentencepiece dir: %v", err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "no tokenizer.json") {
		t.Errorf("empty dir: %v", err)
	}
	// A model directory: tokenizer.json + config.json (+ tokenizer_config.json).
	raw, _ := os.ReadFile(filepath.Join("testdata", "tiny_llama3.json"))
	md := filepath.Join(dir, "model")
	os.MkdirAll(md, 0o755)
	os.WriteFile(filepath.Join(md, "tokenizer.json"), raw, 0o644)
	os.WriteFile(filepath.Join(md, "config.json"), []byte(`{"vocab_size": 448}`), 0o644)
	tok, err := Load(md)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 319 || tok.BOS() != 316 || tok.EOS() != 317 || tok.Pad() != -1 {
		t.Errorf("vocab %d bos %d eos %d pad %d", tok.VocabSize(), tok.BOS(), tok.EOS(), tok.Pad())
	}
	if err := tok.CheckVocab(319); err != nil {
		t.Error(err)
	}
	if err := tok.CheckVocab(318); err == nil || !strings.Contains(err.Error(), `token id 318 ("<|eot_id|>") but the model's vocab_size is 318`) {
		t.Errorf("CheckVocab(318): %v", err)
	}
	os.WriteFile(filepath.Join(md, "config.json"), []byte(`{"vocab_size": 300}`), 0o644)
	if _, err := Load(md); err == nil || !strings.Contains(err.Error(), "config.json (vocab_size 300): tokenizer has token id 318") {
		t.Errorf("too small model vocab: %v", err)
	}
	if _, err := ForModel(filepath.Join(md, "tokenizer.json"), 300); err == nil {
		t.Error("ForModel accepted a tokenizer larger than the model")
	}
	os.WriteFile(filepath.Join(md, "config.json"), []byte(`{"vocab_size": 320}`), 0o644)
	os.WriteFile(filepath.Join(md, "tokenizer_config.json"), []byte(`{"bos_token": {"content": "<|begin_of_text|>"}, "eos_token": "<|eot_id|>", "pad_token": "<|end_of_text|>"}`), 0o644)
	tok, err = Load(md)
	if err != nil {
		t.Fatal(err)
	}
	if tok.BOS() != 316 || tok.EOS() != 318 || tok.Pad() != 317 {
		t.Errorf("from tokenizer_config.json: bos %d eos %d pad %d", tok.BOS(), tok.EOS(), tok.Pad())
	}
	os.WriteFile(filepath.Join(md, "tokenizer_config.json"), []byte(`{"eos_token": "<|nope|>"}`), 0o644)
	if _, err := Load(md); err == nil || !strings.Contains(err.Error(), `eos_token "<|nope|>" is not a token`) {
		t.Errorf("unknown eos_token: %v", err)
	}
}

// TestSharedModelsVocab: the real GPT-2 tokenizer does not fit the tiny
// shared models (vocab 352-448); the tiny tokenizers do.
func TestSharedModelsVocab(t *testing.T) {
	gpt2, _ := sharedGPT2(t)
	tiny, err := Load(filepath.Join("testdata", "tiny_gpt2.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"gpt2-tiny", "pythia-tiny", "llama-tiny", "qwen2-tiny"} {
		raw, err := os.ReadFile(filepath.Join(sharedDir(t), "hf", "models", m, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			VocabSize int `json:"vocab_size"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		if err := gpt2.CheckVocab(c.VocabSize); err == nil {
			t.Errorf("%s: the GPT-2 tokenizer (50257 ids) passed CheckVocab(%d)", m, c.VocabSize)
		}
		if err := tiny.CheckVocab(c.VocabSize); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
	if err := gpt2.CheckVocab(50257); err != nil {
		t.Error(err)
	}
}

func TestWarnings(t *testing.T) {
	m := tinyJSON(t, "qwen2")
	added := m["added_tokens"].([]any)
	added[1].(map[string]any)["id"] = 5000 // HF gives it 317 whatever the file says
	m["truncation"] = map[string]any{"max_length": 8}
	tok, err := Parse(mustJSON(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := tok.TokenID("<|im_start|>"); id != 317 {
		t.Errorf("<|im_start|> id %d, expected 317", id)
	}
	w := strings.Join(tok.Warnings(), "\n")
	if !strings.Contains(w, `"<|im_start|>": the file says id 5000`) || !strings.Contains(w, "truncation") {
		t.Errorf("warnings: %s", w)
	}
}

// TestDataAdapter: the data.Tokenizer view of a loaded tokenizer.
func TestDataAdapter(t *testing.T) {
	tok, err := Load(filepath.Join("testdata", "tiny_llama3.json"))
	if err != nil {
		t.Fatal(err)
	}
	d := tok.Data()
	sp := data.Specials(d)
	if sp != (data.SpecialIDs{Pad: 317, BOS: 316, EOS: 317}) || d.PadID() != 317 {
		t.Errorf("specials %+v pad %d", sp, d.PadID())
	}
	if d.Name() != "hf-319" || d.VocabSize() != 319 || d.Hash() != tok.Hash() || len(d.Hash()) != 64 {
		t.Errorf("name %s vocab %d hash %s", d.Name(), d.VocabSize(), d.Hash())
	}
	s := "Hello World<|eot_id|> 1234!"
	ids := d.Encode(s)
	if !slices.Equal(ids, tok.Encode(s)) || !slices.Contains(ids, 318) {
		t.Errorf("Encode %v", ids)
	}
	if got := d.Decode(ids); got != "Hello World 1234!" {
		t.Errorf("Decode skips specials: %q", got)
	}
	if got := tok.Decode(ids, false); got != s {
		t.Errorf("Decode(…, false) = %q", got)
	}
	pairs := []data.Pair{{Prompt: "Q: hi", Chosen: " yes", Rejected: " no"}}
	enc, _ := data.Encode(d, pairs, data.Limits{MaxPromptTokens: 16, MaxResponseTokens: 16, AddBOS: true, AddEOS: true})
	if enc[0].Prompt[0] != 316 || enc[0].Chosen[len(enc[0].Chosen)-1] != 317 {
		t.Errorf("data.Encode with BOS/EOS: %+v", enc[0])
	}
	p := filepath.Join(t.TempDir(), "sub", "tok.json")
	if err := d.SaveJSON(p); err != nil {
		t.Fatal(err)
	}
	back, err := Load(p)
	if err != nil || back.Hash() != tok.Hash() {
		t.Errorf("SaveJSON round trip: %v", err)
	}
}

// TestInvalidUTF8AndConcurrency: bytes that are not UTF-8 (which Hugging
// Face never sees) still round-trip, and concurrent Encode calls agree.
func TestInvalidUTF8AndConcurrency(t *testing.T) {
	tok, err := Load(filepath.Join("testdata", "tiny_llama3.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"\xff", "a\xffb", "'\xc5", "\xe2\x82 x", "<|eot_id|\xff>", "\r\n\xff\r\n"} {
		if got := tok.Decode(tok.Encode(s), false); got != s {
			t.Errorf("round trip %q → %q", s, got)
		}
	}
	texts := []string{"Hello World", "the cat's hat", "1234567", "你好 世界", strings.Repeat("ab ", 100)}
	want := make([][]int, len(texts))
	for i, s := range texts {
		want[i] = tok.Encode(s)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 200; k++ {
				i := (g + k) % len(texts)
				if got := tok.Encode(texts[i]); !slices.Equal(got, want[i]) {
					t.Errorf("concurrent Encode(%q) differs", texts[i])
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestLongPiece: a very long piece (one letter run) is merged in
// O(n log n) and equals the merge of its parts where merges cannot cross.
func TestLongPiece(t *testing.T) {
	tok, err := Load(filepath.Join("testdata", "tiny_gpt2.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Repeat("Hello", 20000)
	ids := tok.Encode(s)
	unit := tok.Encode("Hello")
	if len(unit) != 1 || len(ids) != 20000 {
		t.Fatalf("%d ids for %d × Hello (unit %v)", len(ids), 20000, unit)
	}
	if tok.Decode(ids, false) != s {
		t.Error("long piece does not round-trip")
	}
}
