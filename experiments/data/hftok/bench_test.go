package hftok

import (
	"path/filepath"
	"testing"

	"gatedpo/experiments/data"
)

// benchTexts is the prompt, chosen and rejected text of every pair of
// ../shared/data/ultrafeedback/train.jsonl (994 pairs, 3.1 MB).
func benchTexts(b *testing.B) (texts []string, nbytes int) {
	ds, err := data.Load(filepath.Join(sharedDir(b), "data", "ultrafeedback", "train.jsonl"), data.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	texts = data.TokenizerTexts(append(ds.Train, ds.Eval...))
	for _, s := range texts {
		nbytes += len(s)
	}
	return texts, nbytes
}

func benchTokenizers(b *testing.B) map[string]func() *Tokenizer {
	return map[string]func() *Tokenizer{
		"gpt2": func() *Tokenizer {
			_, raw := sharedGPT2(b)
			t, err := Parse(raw)
			if err != nil {
				b.Fatal(err)
			}
			return t
		},
		"qwen2":  func() *Tokenizer { t, _ := familyTokenizer(b, "qwen2"); return t },
		"llama3": func() *Tokenizer { t, _ := familyTokenizer(b, "llama3"); return t },
		"pythia": func() *Tokenizer { t, _ := familyTokenizer(b, "pythia"); return t },
	}
}

// BenchmarkEncode measures encoding speed (tokens/s, MB/s) on the
// UltraFeedback texts with each layout on the GPT-2 vocabulary. "warm":
// the piece cache already holds the corpus's pieces (steady state of a
// long run); "cold": a fresh tokenizer per pass (its loading not timed).
// Run with
//
//	go test ./experiments/data/hftok -run '^$' -bench Encode -benchtime 3x
func BenchmarkEncode(b *testing.B) {
	texts, nbytes := benchTexts(b)
	for _, name := range []string{"gpt2", "qwen2", "llama3", "pythia"} {
		mk := benchTokenizers(b)[name]
		for _, mode := range []string{"cold", "warm"} {
			b.Run(name+"/"+mode, func(b *testing.B) {
				tok := mk()
				if mode == "warm" {
					for _, s := range texts {
						tok.Encode(s)
					}
				}
				b.SetBytes(int64(nbytes))
				b.ResetTimer()
				ntok := 0
				for i := 0; i < b.N; i++ {
					if mode == "cold" && i > 0 {
						b.StopTimer()
						tok = mk()
						b.StartTimer()
					}
					for _, s := range texts {
						ntok += len(tok.Encode(s))
					}
				}
				b.ReportMetric(float64(ntok)/b.Elapsed().Seconds(), "tokens/s")
			})
		}
	}
}
