package data

import (
	"fmt"
	"math/rand/v2"
)

// Limits bounds sequence lengths in tokens and says which special tokens
// to add. Zero limits mean "no limit".
type Limits struct {
	// MaxPromptTokens keeps the END of a longer prompt (the part next to
	// the response). Default 96 (docs/method.md §9: last 96 prompt bytes).
	MaxPromptTokens int
	// MaxResponseTokens keeps the START of a longer response (chosen,
	// rejected and every probe). Default 96.
	MaxResponseTokens int
	// AddBOS prepends the tokenizer's BOS to the prompt before truncation
	// (so a truncated prompt loses it). Default false.
	AddBOS bool
	// AddEOS appends the tokenizer's EOS to every response before
	// truncation (so a truncated response has none, as in TRL). Default
	// false.
	AddEOS bool
}

// DefaultLimits are the limits of docs/method.md §9: 96 prompt and 96
// response tokens, no BOS/EOS.
func DefaultLimits() Limits { return Limits{MaxPromptTokens: 96, MaxResponseTokens: 96} }

// EncodedPair is a Pair as token ids after truncation.
type EncodedPair struct {
	Prompt, Chosen, Rejected []int
	// Probes holds the ids of the pair's probe fields other than chosen and
	// rejected (truncated like responses).
	Probes map[string][]int
	// Truncated is true when the prompt, chosen or rejected was cut.
	Truncated bool
}

// Field returns the ids of a probe field ("chosen", "rejected" or a key of
// Probes); ok is false when the pair has no such field.
func (e EncodedPair) Field(name string) (ids []int, ok bool) {
	switch name {
	case FieldChosen:
		return e.Chosen, true
	case FieldRejected:
		return e.Rejected, true
	}
	ids, ok = e.Probes[name]
	return ids, ok
}

// Encode tokenizes pairs and truncates them to lim: the prompt keeps its
// end, responses keep their start. truncatedPairs counts the pairs whose
// prompt, chosen or rejected was cut. A prompt always keeps at least one
// token (the first response token is predicted from it).
func Encode(tok Tokenizer, pairs []Pair, lim Limits) (enc []EncodedPair, truncatedPairs int) {
	sp := Specials(tok)
	enc = make([]EncodedPair, len(pairs))
	for i, p := range pairs {
		e := &enc[i]
		var cut [3]bool
		e.Prompt, cut[0] = encodePrompt(tok, p.Prompt, lim, sp)
		e.Chosen, cut[1] = encodeResponse(tok, p.Chosen, lim, sp)
		e.Rejected, cut[2] = encodeResponse(tok, p.Rejected, lim, sp)
		e.Truncated = cut[0] || cut[1] || cut[2]
		if e.Truncated {
			truncatedPairs++
		}
		if len(p.Probes) > 0 {
			e.Probes = make(map[string][]int, len(p.Probes))
			for k, v := range p.Probes {
				e.Probes[k], _ = encodeResponse(tok, v, lim, sp)
			}
		}
	}
	return enc, truncatedPairs
}

func encodePrompt(tok Tokenizer, s string, lim Limits, sp SpecialIDs) ([]int, bool) {
	ids := tok.Encode(s)
	if lim.AddBOS && sp.BOS >= 0 {
		ids = append([]int{sp.BOS}, ids...)
	}
	max := lim.MaxPromptTokens
	if max > 0 && len(ids) > max {
		return ids[len(ids)-max:], true
	}
	return ids, false
}

func encodeResponse(tok Tokenizer, s string, lim Limits, sp SpecialIDs) ([]int, bool) {
	ids := tok.Encode(s)
	if lim.AddEOS && sp.EOS >= 0 {
		ids = append(ids, sp.EOS)
	}
	max := lim.MaxResponseTokens
	if max > 0 && len(ids) > max {
		return ids[:max:max], true
	}
	return ids, false
}

// Sequence is one (prompt, response) row to teacher-force.
type Sequence struct{ Prompt, Response []int }

// SeqBatch is a batch of sequences in the layout of
// ../shared/spec/transformer.md: IDs[i] = prompt ++ response ++ pad…
// (right padded to T), Mask[i][t] = 1 iff token t is a response token.
type SeqBatch struct {
	IDs, Mask                [][]int
	PromptLens, ResponseLens []int
	T                        int
}

// MakeSeqBatch lays out seqs as a SeqBatch. t = 0 pads to the longest row;
// a t shorter than a row is a programming error and panics (use
// t ≥ MaxPromptTokens + MaxResponseTokens of the Limits used to encode).
func MakeSeqBatch(seqs []Sequence, padID, t int) SeqBatch {
	longest := 0
	for _, s := range seqs {
		longest = max(longest, len(s.Prompt)+len(s.Response))
	}
	if t == 0 {
		t = longest
	}
	if t < longest {
		panic(fmt.Sprintf("data.MakeSeqBatch: t = %d is shorter than the longest row (%d tokens)", t, longest))
	}
	b := SeqBatch{T: t, IDs: make([][]int, len(seqs)), Mask: make([][]int, len(seqs)),
		PromptLens: make([]int, len(seqs)), ResponseLens: make([]int, len(seqs))}
	for i, s := range seqs {
		ids, mask := make([]int, t), make([]int, t)
		n := copy(ids, s.Prompt)
		copy(ids[n:], s.Response)
		for j := n + len(s.Response); j < t; j++ {
			ids[j] = padID
		}
		for j := n; j < n+len(s.Response); j++ {
			mask[j] = 1
		}
		b.IDs[i], b.Mask[i] = ids, mask
		b.PromptLens[i], b.ResponseLens[i] = len(s.Prompt), len(s.Response)
	}
	return b
}

// Batch is a preference batch in exactly the layout of
// ../shared/golden/batch.json: rows prompt ++ response ++ pad…, right
// padded to T, masks 1 on response tokens; chosen and rejected rows of
// pair i share the prompt.
type Batch struct {
	ChosenIDs, RejectedIDs, ChosenMask, RejectedMask [][]int
	PromptLens, ChosenLens, RejectedLens             []int
	T                                                int
}

// Pairs returns pairs [lo, hi) of b, sharing its rows; the slices are
// capped at hi, so appending to them copies, and a nil length slice stays
// nil.
func (b Batch) Pairs(lo, hi int) Batch {
	return Batch{ChosenIDs: b.ChosenIDs[lo:hi:hi], RejectedIDs: b.RejectedIDs[lo:hi:hi],
		ChosenMask: b.ChosenMask[lo:hi:hi], RejectedMask: b.RejectedMask[lo:hi:hi],
		PromptLens: sliceOrNil(b.PromptLens, lo, hi), ChosenLens: sliceOrNil(b.ChosenLens, lo, hi),
		RejectedLens: sliceOrNil(b.RejectedLens, lo, hi), T: b.T}
}

// sliceOrNil returns v[lo:hi:hi], or nil for a nil v.
func sliceOrNil(v []int, lo, hi int) []int {
	if v == nil {
		return nil
	}
	return v[lo:hi:hi]
}

// MakeBatch lays out pairs as a Batch. t = 0 pads to the longest row of
// the batch (chosen or rejected); a t shorter than a row panics (see
// MakeSeqBatch).
func MakeBatch(pairs []EncodedPair, padID int, t int) Batch {
	ch := make([]Sequence, len(pairs))
	rj := make([]Sequence, len(pairs))
	for i, p := range pairs {
		ch[i] = Sequence{p.Prompt, p.Chosen}
		rj[i] = Sequence{p.Prompt, p.Rejected}
	}
	if t == 0 {
		for _, s := range append(append([]Sequence{}, ch...), rj...) {
			t = max(t, len(s.Prompt)+len(s.Response))
		}
	}
	c := MakeSeqBatch(ch, padID, t)
	r := MakeSeqBatch(rj, padID, t)
	return Batch{
		ChosenIDs: c.IDs, RejectedIDs: r.IDs, ChosenMask: c.Mask, RejectedMask: r.Mask,
		PromptLens: c.PromptLens, ChosenLens: c.ResponseLens, RejectedLens: r.ResponseLens, T: t,
	}
}

// ProbeSequences returns the (prompt, response) rows of probe field for
// every pair that has it, with the index of that pair in enc, so the sweep
// can teacher-force any probe field (MakeSeqBatch lays them out).
func ProbeSequences(enc []EncodedPair, field string) (seqs []Sequence, pairIndex []int) {
	for i, e := range enc {
		if ids, ok := e.Field(field); ok {
			seqs = append(seqs, Sequence{e.Prompt, ids})
			pairIndex = append(pairIndex, i)
		}
	}
	return seqs, pairIndex
}

// Batches returns the pair indices of one epoch split into batches of
// batchPairs (the last one may be smaller), in an order shuffled by a PCG
// seeded with (seed, epoch): deterministic, different every epoch.
func Batches(enc []EncodedPair, batchPairs int, seed uint64, epoch int) [][]int {
	if batchPairs <= 0 {
		batchPairs = 1
	}
	rng := rand.New(rand.NewPCG(seed, uint64(epoch)))
	perm := rng.Perm(len(enc))
	return chunk(perm, batchPairs)
}

func chunk(idx []int, n int) [][]int {
	var out [][]int
	for lo := 0; lo < len(idx); lo += n {
		out = append(out, idx[lo:min(lo+n, len(idx))])
	}
	return out
}
