package data

import (
	"container/heap"
	"fmt"
	"sort"
	"sync"
)

// bpeTokenizer is a byte-level BPE: text is pre-tokenized (preTokenize),
// each piece starts as one symbol per byte and merges are applied in rank
// order within the piece.
type bpeTokenizer struct {
	name    string
	vocab   [][]byte // token bytes by id; nil for specials
	byteID  [256]int
	merges  map[[2]int]bpeMerge // (left, right) → merge
	ranked  [][2]int            // merges in rank order
	special SpecialIDs
	isSpec  []bool

	mu    sync.RWMutex
	cache map[string][]int // piece → ids

	hashOnce sync.Once
	hash     string
}

type bpeMerge struct{ rank, id int }

// maxPieceCache bounds the encode cache (pieces beyond it are encoded
// every time).
const maxPieceCache = 1 << 18

func newBPE(vocab [][]byte, ranked [][2]int, sp SpecialIDs) (*bpeTokenizer, error) {
	t := &bpeTokenizer{vocab: vocab, ranked: ranked, special: sp, merges: map[[2]int]bpeMerge{}, cache: map[string][]int{}}
	t.isSpec = make([]bool, len(vocab))
	for i := range t.byteID {
		t.byteID[i] = -1
	}
	index := map[string]int{}
	for id, b := range vocab {
		if b == nil {
			t.isSpec[id] = true
			continue
		}
		if _, dup := index[string(b)]; !dup {
			index[string(b)] = id
		}
		if len(b) == 1 && t.byteID[b[0]] < 0 {
			t.byteID[b[0]] = id
		}
	}
	for b, id := range t.byteID {
		if id < 0 {
			return nil, fmt.Errorf("vocabulary lacks the token for byte 0x%02x, expected all 256 bytes (byte-level BPE)", b)
		}
	}
	for rank, m := range ranked {
		a, b := m[0], m[1]
		if a < 0 || a >= len(vocab) || b < 0 || b >= len(vocab) || vocab[a] == nil || vocab[b] == nil {
			return nil, fmt.Errorf("merge %d: ids (%d, %d) are not ordinary tokens", rank, a, b)
		}
		joined := string(vocab[a]) + string(vocab[b])
		id, ok := index[joined]
		if !ok {
			return nil, fmt.Errorf("merge %d: %q + %q gives %q, which is not in the vocabulary", rank, vocab[a], vocab[b], joined)
		}
		if _, dup := t.merges[m]; !dup {
			t.merges[m] = bpeMerge{rank: rank, id: id}
		}
	}
	t.name = fmt.Sprintf("bpe-%d", len(vocab))
	return t, nil
}

func (t *bpeTokenizer) Encode(s string) []int {
	var ids []int
	preTokenize(s, func(piece string) { ids = append(ids, t.encodePiece(piece)...) })
	return ids
}

func (t *bpeTokenizer) encodePiece(piece string) []int {
	t.mu.RLock()
	ids, ok := t.cache[piece]
	t.mu.RUnlock()
	if ok {
		return ids
	}
	syms := make([]int, len(piece))
	for i := 0; i < len(piece); i++ {
		syms[i] = t.byteID[piece[i]]
	}
	syms = applyMerges(syms, t.merges)
	t.mu.Lock()
	if len(t.cache) < maxPieceCache {
		t.cache[piece] = syms
	}
	t.mu.Unlock()
	return syms
}

// applyMerges repeatedly merges the adjacent pair of lowest rank, every
// non-overlapping occurrence left to right, until no pair has a merge.
func applyMerges(syms []int, merges map[[2]int]bpeMerge) []int {
	for len(syms) > 1 {
		best, bestRank := [2]int{}, -1
		for i := 0; i+1 < len(syms); i++ {
			if m, ok := merges[[2]int{syms[i], syms[i+1]}]; ok && (bestRank < 0 || m.rank < bestRank) {
				best, bestRank = [2]int{syms[i], syms[i+1]}, m.rank
			}
		}
		if bestRank < 0 {
			break
		}
		id := merges[best].id
		out := syms[:0]
		for i := 0; i < len(syms); i++ {
			if i+1 < len(syms) && syms[i] == best[0] && syms[i+1] == best[1] {
				out = append(out, id)
				i++
			} else {
				out = append(out, syms[i])
			}
		}
		syms = out
	}
	return syms
}

func (t *bpeTokenizer) Decode(ids []int) string {
	var b []byte
	for _, id := range ids {
		if id >= 0 && id < len(t.vocab) && !t.isSpec[id] {
			b = append(b, t.vocab[id]...)
		}
	}
	return string(b)
}

func (t *bpeTokenizer) VocabSize() int       { return len(t.vocab) }
func (t *bpeTokenizer) PadID() int           { return t.special.Pad }
func (t *bpeTokenizer) Name() string         { return t.name }
func (t *bpeTokenizer) specials() SpecialIDs { return t.special }

func (t *bpeTokenizer) Hash() string {
	t.hashOnce.Do(func() { t.hash = hashBytes(hfJSON(t.vocab, t.ranked, t.special)) })
	return t.hash
}

func (t *bpeTokenizer) SaveJSON(path string) error {
	return writeFileAtomic(path, hfJSON(t.vocab, t.ranked, t.special))
}

// TrainBPE trains a byte-level BPE on texts up to vocabSize ids (3
// specials + 256 bytes + merges, so vocabSize ≥ 259). Training is
// deterministic: each step merges the most frequent adjacent pair within
// pre-tokenized pieces, ties broken by the smaller (left, right) id pair.
// It stops early, with a smaller vocabulary, when no pair occurs twice.
func TrainBPE(texts []string, vocabSize int) (Tokenizer, error) {
	if vocabSize < NumSpecial+256 {
		return nil, fmt.Errorf("vocab_size = %d: expected at least %d (3 specials + 256 bytes)", vocabSize, NumSpecial+256)
	}
	// Count pieces.
	counts := map[string]int{}
	for _, s := range texts {
		preTokenize(s, func(p string) { counts[p]++ })
	}
	pieces := make([]string, 0, len(counts))
	for p := range counts {
		if len(p) > 1 {
			pieces = append(pieces, p)
		}
	}
	sort.Strings(pieces)
	words := make([]bpeWord, len(pieces))
	vocab := byteVocab()
	for i, p := range pieces {
		syms := make([]int, len(p))
		for j := 0; j < len(p); j++ {
			syms[j] = int(p[j]) + NumSpecial
		}
		words[i] = bpeWord{syms: syms, count: counts[p]}
	}
	tr := newBPETrainer(words)
	var ranked [][2]int
	for len(vocab) < vocabSize {
		pair, ok := tr.best()
		if !ok {
			break
		}
		id := len(vocab)
		vocab = append(vocab, append(append([]byte{}, vocab[pair[0]]...), vocab[pair[1]]...))
		ranked = append(ranked, pair)
		tr.merge(pair, id)
	}
	return newBPE(vocab, ranked, SpecialIDs{PadID, BOSID, EOSID})
}

type bpeWord struct {
	syms  []int
	count int
}

// bpeTrainer keeps pair counts up to date as merges are applied, with a
// lazy max-heap over (count, pair).
type bpeTrainer struct {
	words  []bpeWord
	counts map[[2]int]int
	where  map[[2]int][]int32 // pair → words that contained it (may be stale)
	h      pairHeap
}

func newBPETrainer(words []bpeWord) *bpeTrainer {
	tr := &bpeTrainer{words: words, counts: map[[2]int]int{}, where: map[[2]int][]int32{}}
	for wi, w := range words {
		for i := 0; i+1 < len(w.syms); i++ {
			p := [2]int{w.syms[i], w.syms[i+1]}
			tr.counts[p] += w.count
			tr.where[p] = append(tr.where[p], int32(wi))
		}
	}
	for p, c := range tr.counts {
		tr.h = append(tr.h, pairCount{p, c})
	}
	heap.Init(&tr.h)
	return tr
}

// best pops the most frequent pair (count ≥ 2).
func (tr *bpeTrainer) best() ([2]int, bool) {
	for tr.h.Len() > 0 {
		top := heap.Pop(&tr.h).(pairCount)
		if tr.counts[top.pair] != top.count {
			continue // stale entry; a fresh one was pushed when it changed
		}
		if top.count < 2 {
			return [2]int{}, false
		}
		return top.pair, true
	}
	return [2]int{}, false
}

func (tr *bpeTrainer) merge(pair [2]int, id int) {
	changed := map[[2]int]bool{}
	seen := map[int32]bool{}
	for _, wi := range tr.where[pair] {
		if seen[wi] {
			continue
		}
		seen[wi] = true
		w := &tr.words[wi]
		old := w.syms
		found := false
		for i := 0; i+1 < len(old); i++ {
			if old[i] == pair[0] && old[i+1] == pair[1] {
				found = true
				break
			}
		}
		if !found {
			continue
		}
		for i := 0; i+1 < len(old); i++ {
			p := [2]int{old[i], old[i+1]}
			tr.counts[p] -= w.count
			changed[p] = true
		}
		merged := make([]int, 0, len(old))
		for i := 0; i < len(old); i++ {
			if i+1 < len(old) && old[i] == pair[0] && old[i+1] == pair[1] {
				merged = append(merged, id)
				i++
			} else {
				merged = append(merged, old[i])
			}
		}
		w.syms = merged
		for i := 0; i+1 < len(merged); i++ {
			p := [2]int{merged[i], merged[i+1]}
			tr.counts[p] += w.count
			changed[p] = true
			if merged[i] == id || merged[i+1] == id {
				tr.where[p] = append(tr.where[p], wi)
			}
		}
	}
	delete(tr.where, pair)
	keys := make([][2]int, 0, len(changed))
	for p := range changed {
		keys = append(keys, p)
	}
	sort.Slice(keys, func(i, j int) bool { return pairLess(keys[i], keys[j]) })
	for _, p := range keys {
		c := tr.counts[p]
		if c <= 0 {
			delete(tr.counts, p)
			continue
		}
		heap.Push(&tr.h, pairCount{p, c})
	}
}

type pairCount struct {
	pair  [2]int
	count int
}

func pairLess(a, b [2]int) bool {
	if a[0] != b[0] {
		return a[0] < b[0]
	}
	return a[1] < b[1]
}

// pairHeap orders by count descending, then pair ascending.
type pairHeap []pairCount

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	if h[i].count != h[j].count {
		return h[i].count > h[j].count
	}
	return pairLess(h[i].pair, h[j].pair)
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(pairCount)) }
func (h *pairHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
