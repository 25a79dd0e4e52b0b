package data

import (
	"path/filepath"
	"testing"
)

// Benchmarks of the hot paths, on the synthetic set (no files) or
// hh-probe when present. Run with
//
//	go test ./experiments/data -run '^$' -bench . -benchtime 20x

func BenchmarkSynthetic(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Synthetic(SyntheticConfig{Seed: uint64(i)})
	}
}

func BenchmarkLoadHHProbe(b *testing.B) {
	path := filepath.Join(sharedData(b), "hh-probe", "train.jsonl")
	for i := 0; i < b.N; i++ {
		if _, err := Load(path, LoadOptions{EvalFraction: 0.2}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTrainBPE1024(b *testing.B) {
	ds, err := Load(filepath.Join(sharedData(b), "hh-probe", "train.jsonl"), LoadOptions{EvalFraction: 0.2})
	if err != nil {
		b.Fatal(err)
	}
	texts := TokenizerTexts(ds.Train)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := TrainBPE(texts, 1024); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeBPE(b *testing.B) {
	ds, err := Load(filepath.Join(sharedData(b), "hh-probe", "train.jsonl"), LoadOptions{EvalFraction: 0.2})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := TrainBPE(TokenizerTexts(ds.Train), 1024)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Encode(tok, ds.Train, DefaultLimits())
	}
}

func BenchmarkMakeBatch(b *testing.B) {
	ds := Synthetic(SyntheticConfig{Seed: 1})
	enc, _ := Encode(NewByteTokenizer(), ds.Train, DefaultLimits())
	batches := Batches(enc, 8, 1, 0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, idx := range batches {
			pairs := make([]EncodedPair, len(idx))
			for j, k := range idx {
				pairs[j] = enc[k]
			}
			MakeBatch(pairs, PadID, 0)
		}
	}
}
