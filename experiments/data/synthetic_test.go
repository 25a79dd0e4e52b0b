package data

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSyntheticShape(t *testing.T) {
	ds := Synthetic(SyntheticConfig{Seed: 1})
	if len(ds.Train) != 400 || len(ds.Eval) != 100 || ds.Format != "synthetic" {
		t.Fatalf("default sizes: %d train, %d eval, format %q", len(ds.Train), len(ds.Eval), ds.Format)
	}
	if !reflect.DeepEqual(ds.ProbeFields, AllProbeFields) {
		t.Errorf("probe fields %v, want all of %v", ds.ProbeFields, AllProbeFields)
	}
	tok := NewByteTokenizer()
	maxResp, maxPrompt := 0, 0
	for _, p := range append(append([]Pair{}, ds.Train...), ds.Eval...) {
		if skipReason(p.Prompt, p.Chosen, p.Rejected) != "" {
			t.Fatalf("pair breaks the skip rule: %+v", p)
		}
		maxPrompt = max(maxPrompt, len(tok.Encode(p.Prompt)))
		for _, f := range AllProbeFields {
			s, ok := p.Field(f)
			if !ok || s == "" {
				t.Fatalf("pair lacks probe %s: %+v", f, p)
			}
			maxResp = max(maxResp, len(tok.Encode(s)))
		}
	}
	if maxResp > 32 {
		t.Errorf("longest response is %d byte tokens, want ≤ 32", maxResp)
	}
	t.Logf("synthetic: longest prompt %d bytes, longest response/probe %d bytes; example:\n%+v", maxPrompt, maxResp, ds.Train[0])
	// Deterministic in the seed, different across seeds.
	if again := Synthetic(SyntheticConfig{Seed: 1}); again.Hash != ds.Hash || !reflect.DeepEqual(again.Train, ds.Train) {
		t.Error("same seed, different dataset")
	}
	if other := Synthetic(SyntheticConfig{Seed: 2}); other.Hash == ds.Hash {
		t.Error("different seeds, same dataset")
	}
	small := Synthetic(SyntheticConfig{Seed: 3, TrainPairs: 10, EvalPairs: -1})
	if len(small.Train) != 10 || len(small.Eval) != 0 {
		t.Errorf("sized 10/none: got %d/%d", len(small.Train), len(small.Eval))
	}
	for _, bad := range []SyntheticConfig{{TailStart: 2}, {Topics: 40}, {HeadDecay: 2}, {RejectedValleyProb: 1.5}, {HeadSize: 9}, {TrainPairs: -1}} {
		if bad.Validate() == nil {
			t.Errorf("%+v: Validate accepted it", bad)
		}
	}
}

// TestSyntheticValleys checks the design property the squeezing relies on:
// under the generating chain, every chosen letter is a head letter of its
// (topic, previous letter) context and every rejected letter a valley.
func TestSyntheticValleys(t *testing.T) {
	cfg, _ := SyntheticConfig{Seed: 5, RejectedValleyProb: 1}.withDefaults()
	l := newSynLang(cfg)
	rankOf := func(topic, prev, c int) int {
		for k, j := range l.rank[topic][prev] {
			if j == c {
				return k
			}
		}
		return -1
	}
	for i := 0; i < 200; i++ {
		topic := i % cfg.Topics
		for _, side := range []struct {
			pick   picker
			lo, hi int
		}{{l.headLetter, 0, cfg.HeadSize}, {l.rejectedLetter, cfg.TailStart, synLetters}} {
			r := l.sample(topic, 5, side.pick, nil)
			prev := synStart
			for _, w := range r {
				for _, c := range w {
					if k := rankOf(topic, prev, c); k < side.lo || k >= side.hi {
						t.Fatalf("letter %c has rank %d in its context, want [%d, %d)", synAlphabet[c], k, side.lo, side.hi)
					}
					prev = c
				}
			}
		}
	}
}

func TestWriteJSONLRoundTrip(t *testing.T) {
	ds := Synthetic(SyntheticConfig{Seed: 9, TrainPairs: 20, EvalPairs: -1})
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, ds.Train); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "syn.jsonl")
	os.WriteFile(path, buf.Bytes(), 0o644)
	back, err := Load(path, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if back.Format != FormatProbe || len(back.Train) != 20 || !reflect.DeepEqual(back.ProbeFields, ds.ProbeFields) {
		t.Fatalf("reloaded: format %q, %d pairs, fields %v", back.Format, len(back.Train), back.ProbeFields)
	}
	for i := range back.Train {
		a, b := back.Train[i], ds.Train[i]
		if a.Prompt != b.Prompt || a.Chosen != b.Chosen || a.Rejected != b.Rejected || !reflect.DeepEqual(a.Probes, b.Probes) {
			t.Fatalf("pair %d differs after the round trip", i)
		}
		if !strings.HasPrefix(a.Prompt, "Q: ") {
			t.Fatalf("prompt %q", a.Prompt)
		}
	}
}
