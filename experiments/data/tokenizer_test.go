package data

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPreTokenize(t *testing.T) {
	// Expected pieces worked out by hand from the GPT-2 regex.
	cases := []struct {
		in   string
		want []string
	}{
		{"Hello world", []string{"Hello", " world"}},
		{"I'm fine, it's 42!", []string{"I", "'m", " fine", ",", " it", "'s", " 42", "!"}},
		{"a  b", []string{"a", " ", " b"}},
		{"a   ", []string{"a", "   "}},
		{"\n\nHuman: hi", []string{"\n", "\n", "Human", ":", " hi"}},
		{"x\n\n\ny", []string{"x", "\n\n", "\n", "y"}},
		{" ", []string{" "}},
		{"'sam 'll 'x", []string{"'s", "am", " '", "ll", " '", "x"}},
		{"café 3.5°C", []string{"café", " 3", ".", "5", "°", "C"}},
		{"\xff\xfe ok", []string{"\xff\xfe", " ok"}},
		{"tab\there", []string{"tab", "\t", "here"}},
		{"emoji 🙂🙂 end", []string{"emoji", " 🙂🙂", " end"}},
	}
	for _, c := range cases {
		var got []string
		preTokenize(c.in, func(p string) { got = append(got, p) })
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("preTokenize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestByteTokenizer(t *testing.T) {
	tok := NewByteTokenizer()
	if tok.VocabSize() != 259 || tok.PadID() != 0 || tok.Name() != "byte" {
		t.Fatalf("byte tokenizer: vocab %d pad %d name %q", tok.VocabSize(), tok.PadID(), tok.Name())
	}
	s := "a\x00\xff é"
	ids := tok.Encode(s)
	if want := []int{'a' + 3, 3, 0xff + 3, ' ' + 3, 0xc3 + 3, 0xa9 + 3}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("Encode(%q) = %v, want %v", s, ids, want)
	}
	if got := tok.Decode(append([]int{BOSID}, append(ids, EOSID, PadID)...)); got != s {
		t.Fatalf("Decode skips specials: got %q, want %q", got, s)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := tok.SaveJSON(path); err != nil {
		t.Fatal(err)
	}
	back, err := LoadTokenizerJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Name() != "byte" || back.Hash() != tok.Hash() {
		t.Fatalf("reloaded byte tokenizer: name %q hash %s, want byte %s", back.Name(), back.Hash(), tok.Hash())
	}
}

func TestBPETrainSmall(t *testing.T) {
	texts := []string{"low lower lowest", "low low newer newest", "wider widest low"}
	tok, err := TrainBPE(texts, 259+10)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() > 269 || tok.VocabSize() <= 259 {
		t.Fatalf("vocab = %d, want in (259, 269]", tok.VocabSize())
	}
	ids := tok.Encode(" low")
	if len(ids) != 1 {
		t.Errorf("\" low\" (4 occurrences) should be one token after 10 merges, got %v", ids)
	}
	for _, s := range append(texts, "unseen text \xff, lowlow") {
		if got := tok.Decode(tok.Encode(s)); got != s {
			t.Errorf("round trip %q → %q", s, got)
		}
	}
	again, _ := TrainBPE(texts, 259+10)
	if again.Hash() != tok.Hash() {
		t.Error("training is not deterministic")
	}
	if _, err := TrainBPE(texts, 100); err == nil || !strings.Contains(err.Error(), "at least 259") {
		t.Errorf("vocab 100: err = %v, want 'at least 259'", err)
	}
}

// sharedTexts returns every text of every shared file (prompts, responses,
// probes), loaded with the default options.
func sharedTexts(t *testing.T, dir string) (train []string, all []string) {
	for _, sf := range sharedFiles {
		ds := loadShared(t, dir, sf)
		for _, set := range [][]Pair{ds.Train, ds.Eval} {
			for _, p := range set {
				all = append(all, p.Prompt, p.Chosen, p.Rejected)
				for _, v := range p.Probes {
					all = append(all, v)
				}
			}
		}
		if sf.rel == "hh-probe/train.jsonl" {
			train = TokenizerTexts(ds.Train)
		}
	}
	return train, all
}

var sharedBPE struct {
	once sync.Once
	tok  Tokenizer
	err  error
	took time.Duration
}

// trainSharedBPE trains the test BPE (1024 ids) on hh-probe's train split.
func trainSharedBPE(t *testing.T, train []string) Tokenizer {
	sharedBPE.once.Do(func() {
		start := time.Now()
		sharedBPE.tok, sharedBPE.err = TrainBPE(train, 1024)
		sharedBPE.took = time.Since(start)
	})
	if sharedBPE.err != nil {
		t.Fatal(sharedBPE.err)
	}
	return sharedBPE.tok
}

func TestTokenizerRoundTripSharedData(t *testing.T) {
	dir := sharedData(t)
	train, all := sharedTexts(t, dir)
	var nBytes int
	for _, s := range all {
		nBytes += len(s)
	}
	byteTok := NewByteTokenizer()
	for _, s := range all {
		if byteTok.Decode(byteTok.Encode(s)) != s {
			t.Fatalf("byte round trip failed on %.60q", s)
		}
	}
	tok := trainSharedBPE(t, train)
	start := time.Now()
	var nTok int
	for _, s := range all {
		ids := tok.Encode(s)
		nTok += len(ids)
		if got := tok.Decode(ids); got != s {
			t.Fatalf("BPE round trip failed on %.60q: got %.60q", s, got)
		}
	}
	enc := time.Since(start)
	t.Logf("BPE-%d trained on hh-probe train (%d texts) in %v; round trip on %d texts, %d bytes → %d tokens (%.2f bytes/token) in %v",
		tok.VocabSize(), len(train), sharedBPE.took, len(all), nBytes, nTok, float64(nBytes)/float64(nTok), enc)
	if tok.VocabSize() != 1024 {
		t.Errorf("vocab = %d, want 1024", tok.VocabSize())
	}
	// Save, reload: same ids on every text.
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := tok.SaveJSON(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var hf struct {
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
		} `json:"added_tokens"`
		PreTokenizer struct{ Type string } `json:"pre_tokenizer"`
		Decoder      struct{ Type string } `json:"decoder"`
		Model        struct {
			Type   string         `json:"type"`
			Vocab  map[string]int `json:"vocab"`
			Merges []string       `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(raw, &hf); err != nil {
		t.Fatalf("tokenizer.json: %v", err)
	}
	if hf.Model.Type != "BPE" || hf.PreTokenizer.Type != "ByteLevel" || hf.Decoder.Type != "ByteLevel" ||
		len(hf.AddedTokens) != 3 || hf.AddedTokens[0].Content != "<|pad|>" || len(hf.Model.Vocab) != 1024 ||
		len(hf.Model.Merges) != 1024-259 || hf.Model.Vocab["Ġ"] != ' '+3 {
		t.Errorf("tokenizer.json layout: model %s, pre %s, decoder %s, %d added, %d vocab, %d merges, id of \"Ġ\" %d",
			hf.Model.Type, hf.PreTokenizer.Type, hf.Decoder.Type, len(hf.AddedTokens), len(hf.Model.Vocab), len(hf.Model.Merges), hf.Model.Vocab["Ġ"])
	}
	back, err := LoadTokenizerJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Hash() != tok.Hash() || back.VocabSize() != tok.VocabSize() || back.PadID() != 0 {
		t.Fatalf("reloaded: hash %s vocab %d pad %d; want %s %d 0", back.Hash(), back.VocabSize(), back.PadID(), tok.Hash(), tok.VocabSize())
	}
	for i, s := range all {
		if i%7 != 0 {
			continue // a sample keeps the test fast; the encoders share code
		}
		if !reflect.DeepEqual(back.Encode(s), tok.Encode(s)) {
			t.Fatalf("reloaded tokenizer encodes %.60q differently", s)
		}
	}
}

func TestCachedBPE(t *testing.T) {
	texts := []string{"the cat sat on the mat", "the dog sat on the log", "a cat and a dog"}
	dir := t.TempDir()
	var wg sync.WaitGroup
	toks := make([]Tokenizer, 4)
	errs := make([]error, 4)
	for i := range toks {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			toks[i], errs[i] = CachedBPE(dir, texts, 280)
		}(i)
	}
	wg.Wait()
	for i := range toks {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if toks[i].Hash() != toks[0].Hash() {
			t.Fatal("concurrent CachedBPE calls disagree")
		}
	}
	path := CachedBPEPath(dir, texts, 280)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("cache file missing: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("cache dir holds %d entries, want 1 (no temp files left)", len(entries))
	}
	again, err := CachedBPE(dir, texts, 280)
	if err != nil || again.Hash() != toks[0].Hash() {
		t.Fatalf("cached reload: %v, hash match %v", err, err == nil && again.Hash() == toks[0].Hash())
	}
}
