package data

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestMakeBatchGolden rebuilds ../shared/golden/batch.json from its
// prompts and responses and requires every id and mask to match.
func TestMakeBatchGolden(t *testing.T) {
	path := filepath.Join(sharedData(t), "..", "golden", "batch.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("golden batch not present: %v", err)
	}
	var g struct {
		ChosenIDs        [][]int `json:"chosen_ids"`
		RejectedIDs      [][]int `json:"rejected_ids"`
		ChosenMask       [][]int `json:"chosen_response_mask"`
		RejectedMask     [][]int `json:"rejected_response_mask"`
		PromptLens       []int   `json:"prompt_lens"`
		ChosenRespLens   []int   `json:"chosen_resp_lens"`
		RejectedRespLens []int   `json:"rejected_resp_lens"`
		PadID            int     `json:"pad_id"`
		PaddingSide      string  `json:"padding_side"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	pairs := make([]EncodedPair, len(g.PromptLens))
	for i, pl := range g.PromptLens {
		pairs[i] = EncodedPair{
			Prompt:   g.ChosenIDs[i][:pl],
			Chosen:   g.ChosenIDs[i][pl : pl+g.ChosenRespLens[i]],
			Rejected: g.RejectedIDs[i][pl : pl+g.RejectedRespLens[i]],
		}
	}
	b := MakeBatch(pairs, g.PadID, 0)
	if g.PaddingSide != "right" || b.T != len(g.ChosenIDs[0]) {
		t.Fatalf("T = %d, golden %d (%s padding)", b.T, len(g.ChosenIDs[0]), g.PaddingSide)
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"chosen_ids", b.ChosenIDs, g.ChosenIDs}, {"rejected_ids", b.RejectedIDs, g.RejectedIDs},
		{"chosen_response_mask", b.ChosenMask, g.ChosenMask}, {"rejected_response_mask", b.RejectedMask, g.RejectedMask},
		{"prompt_lens", b.PromptLens, g.PromptLens}, {"chosen_resp_lens", b.ChosenLens, g.ChosenRespLens},
		{"rejected_resp_lens", b.RejectedLens, g.RejectedRespLens},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, golden %v", c.name, c.got, c.want)
		}
	}
	// A fixed T pads further; a T too short panics.
	if b := MakeBatch(pairs, 0, 24); b.T != 24 || len(b.ChosenIDs[0]) != 24 || b.ChosenIDs[0][23] != 0 {
		t.Errorf("fixed T = 24: got T %d, row %v", b.T, b.ChosenIDs[0])
	}
	defer func() {
		if recover() == nil {
			t.Error("MakeBatch with t shorter than a row did not panic")
		}
	}()
	MakeBatch(pairs, 0, 5)
}

func TestEncodeTruncation(t *testing.T) {
	tok := NewByteTokenizer()
	pairs := []Pair{
		{Prompt: "0123456789", Chosen: "abcdefgh", Rejected: "xy", Probes: map[string]string{"irr_hum": "PQRSTUVWXYZ"}},
		{Prompt: "pp", Chosen: "c", Rejected: "r"},
	}
	enc, n := Encode(tok, pairs, Limits{MaxPromptTokens: 4, MaxResponseTokens: 5})
	if n != 1 || !enc[0].Truncated || enc[1].Truncated {
		t.Fatalf("truncated pairs = %d (%v, %v), want 1 (the first)", n, enc[0].Truncated, enc[1].Truncated)
	}
	if got := tok.Decode(enc[0].Prompt); got != "6789" {
		t.Errorf("prompt keeps its end: got %q, want %q", got, "6789")
	}
	if got := tok.Decode(enc[0].Chosen); got != "abcde" {
		t.Errorf("chosen keeps its start: got %q, want %q", got, "abcde")
	}
	if got := tok.Decode(enc[0].Probes["irr_hum"]); got != "PQRST" {
		t.Errorf("probe keeps its start: got %q", got)
	}
	// BOS/EOS are added before truncation.
	enc, _ = Encode(tok, pairs[1:], Limits{MaxPromptTokens: 4, MaxResponseTokens: 5, AddBOS: true, AddEOS: true})
	if enc[0].Prompt[0] != BOSID || enc[0].Chosen[len(enc[0].Chosen)-1] != EOSID || len(enc[0].Chosen) != 2 {
		t.Errorf("BOS/EOS: prompt %v chosen %v", enc[0].Prompt, enc[0].Chosen)
	}
	enc, _ = Encode(tok, pairs[:1], Limits{MaxPromptTokens: 4, MaxResponseTokens: 5, AddBOS: true, AddEOS: true})
	if enc[0].Prompt[0] == BOSID || enc[0].Chosen[4] == EOSID {
		t.Errorf("truncated rows keep no BOS/EOS: prompt %v chosen %v", enc[0].Prompt, enc[0].Chosen)
	}
	// Probe rows for teacher forcing.
	seqs, idx := ProbeSequences(enc, "irr_hum")
	if len(seqs) != 1 || idx[0] != 0 || len(seqs[0].Response) != 5 {
		t.Errorf("ProbeSequences: %v %v", seqs, idx)
	}
	sb := MakeSeqBatch(seqs, 0, 0)
	if sb.T != 9 || sb.Mask[0][3] != 0 || sb.Mask[0][4] != 1 || sb.Mask[0][8] != 1 {
		t.Errorf("MakeSeqBatch: T %d mask %v", sb.T, sb.Mask[0])
	}
}

func TestBatchesDeterministic(t *testing.T) {
	enc := make([]EncodedPair, 103)
	for i := range enc {
		enc[i] = EncodedPair{Prompt: make([]int, 1+i%17), Chosen: make([]int, 1+(i*7)%23), Rejected: make([]int, 1+(i*5)%19)}
	}
	a := Batches(enc, 8, 3, 0)
	if !reflect.DeepEqual(a, Batches(enc, 8, 3, 0)) {
		t.Fatal("same seed and epoch gave different batches")
	}
	if reflect.DeepEqual(a, Batches(enc, 8, 3, 1)) {
		t.Fatal("epochs 0 and 1 gave the same order")
	}
	for _, bs := range [][][]int{a} {
		seen := map[int]bool{}
		for i, b := range bs {
			if len(b) != 8 && i != len(bs)-1 && len(b) != 103%8 {
				t.Fatalf("batch %d has %d pairs", i, len(b))
			}
			for _, j := range b {
				if seen[j] {
					t.Fatalf("pair %d twice in an epoch", j)
				}
				seen[j] = true
			}
		}
		if len(seen) != len(enc) {
			t.Fatalf("epoch covers %d of %d pairs", len(seen), len(enc))
		}
	}
}
