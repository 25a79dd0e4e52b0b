package hftok

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// byteRunes is the GPT-2 byte → printable rune map that byte-level
// tokenizer.json files write token strings in: printable Latin-1 bytes map
// to themselves, the other 68 bytes to U+0100 upwards, in byte order.
// runeBytes is its inverse.
var byteRunes, runeBytes = func() ([256]rune, map[rune]byte) {
	var fwd [256]rune
	inv := make(map[rune]byte, 256)
	next := rune(256)
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			fwd[b] = rune(b)
		} else {
			fwd[b] = next
			next++
		}
		inv[fwd[b]] = byte(b)
	}
	return fwd, inv
}()

// byteLevelBytes maps a token string to the bytes the ByteLevel decoder
// gives it: every rune through runeBytes, or, if any rune is outside the
// byte-level alphabet, the string's own UTF-8 bytes (Hugging Face's rule).
func byteLevelBytes(tok string) (b []byte, inAlphabet bool) {
	b = make([]byte, 0, len(tok))
	for _, r := range tok {
		c, ok := runeBytes[r]
		if !ok {
			return []byte(tok), false
		}
		b = append(b, c)
	}
	return b, true
}

type merge struct{ rank, id int32 }

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// bpeModel is the BPE model of a byte-level tokenizer.json.
type bpeModel struct {
	vocabLen     int              // number of model.vocab entries (HF's model vocab size)
	maxID        int              // largest model id
	tokens       map[int]string   // id → token string as written in model.vocab
	ids          map[string]int   // token string → id
	byBytes      map[string]int32 // raw bytes → id, for tokens in the byte-level alphabet
	byteID       [256]int32       // id of each single byte
	merges       map[uint64]merge // (left, right) → rank, merged id
	ignoreMerges bool             // a piece that is a vocab token is that token
	cacheMu      sync.RWMutex
	cache        map[string][]int32 // piece → ids (at most maxCache entries)
}

// maxCache bounds the number of cached pieces; maxCachedLen their length.
const (
	maxCache     = 1 << 17
	maxCachedLen = 256
)

func (t *Tokenizer) buildBPE(m *modelJSON) error {
	b := &bpeModel{
		vocabLen:     len(m.Vocab),
		tokens:       make(map[int]string, len(m.Vocab)),
		ids:          m.Vocab,
		byBytes:      make(map[string]int32, len(m.Vocab)),
		merges:       make(map[uint64]merge, len(m.Merges)),
		ignoreMerges: m.IgnoreMerges,
		maxID:        -1,
	}
	for s, id := range m.Vocab {
		if id < 0 || id > 1<<30 {
			return fmt.Errorf("model.vocab[%q] = %d, expected an id in [0, 2^30]", s, id)
		}
		if prev, dup := b.tokens[id]; dup {
			return fmt.Errorf("model.vocab: id %d is given to both %q and %q", id, prev, s)
		}
		b.tokens[id] = s
		b.maxID = max(b.maxID, id)
		if raw, ok := byteLevelBytes(s); ok {
			b.byBytes[string(raw)] = int32(id)
		}
	}
	for c := 0; c < 256; c++ {
		id, ok := m.Vocab[string(byteRunes[c])]
		if !ok {
			return fmt.Errorf("model.vocab has no token for byte 0x%02X (%q): not a byte-level BPE (%s)", c, string(byteRunes[c]), Supported)
		}
		b.byteID[c] = int32(id)
	}
	for i, raw := range m.Merges {
		var parts []string
		var s string
		if json.Unmarshal(raw, &s) == nil {
			parts = strings.Split(s, " ")
		} else if json.Unmarshal(raw, &parts) != nil {
			return fmt.Errorf("model.merges[%d] = %s: expected \"left right\" or [\"left\", \"right\"]", i, raw)
		}
		if len(parts) != 2 {
			return fmt.Errorf("model.merges[%d] = %s: expected two tokens", i, raw)
		}
		a, okA := m.Vocab[parts[0]]
		c, okC := m.Vocab[parts[1]]
		if !okA || !okC {
			return fmt.Errorf("model.merges[%d] = %s: token not in model.vocab", i, raw)
		}
		n, ok := m.Vocab[parts[0]+parts[1]]
		if !ok {
			return fmt.Errorf("model.merges[%d] = %s: merged token %q not in model.vocab", i, raw, parts[0]+parts[1])
		}
		b.merges[pairKey(int32(a), int32(c))] = merge{int32(i), int32(n)}
	}
	t.model = b
	return nil
}

// encode appends the ids of one pre-tokenized piece (raw bytes).
func (b *bpeModel) encode(piece string, out []int) []int {
	if b.ignoreMerges {
		if id, ok := b.byBytes[piece]; ok {
			return append(out, int(id))
		}
	}
	if len(piece) == 1 {
		return append(out, int(b.byteID[piece[0]]))
	}
	if len(piece) <= maxCachedLen {
		b.cacheMu.RLock()
		v, ok := b.cache[piece]
		b.cacheMu.RUnlock()
		if ok {
			for _, id := range v {
				out = append(out, int(id))
			}
			return out
		}
	}
	ids := b.mergeWord(piece)
	if len(piece) <= maxCachedLen {
		b.cacheMu.Lock()
		if b.cache == nil {
			b.cache = make(map[string][]int32)
		}
		if len(b.cache) < maxCache {
			b.cache[strings.Clone(piece)] = ids
		}
		b.cacheMu.Unlock()
	}
	for _, id := range ids {
		out = append(out, int(id))
	}
	return out
}

type symbol struct {
	id         int32
	prev, next int32 // indices, -1 at the ends
	dead       bool
}

type queued struct {
	rank, pos, id int32
}

// mergeWord applies the merges to the bytes of piece the way Hugging
// Face's BPE does: repeatedly the pair of lowest rank, leftmost first, a
// priority queue of candidate pairs with stale entries skipped, so long
// pieces cost O(n log n).
func (b *bpeModel) mergeWord(piece string) []int32 {
	n := len(piece)
	var symBuf [48]symbol
	var heapBuf [48]queued
	syms := symBuf[:0]
	if n > len(symBuf) {
		syms = make([]symbol, 0, n)
	}
	syms = syms[:n]
	for i := 0; i < n; i++ {
		syms[i] = symbol{id: b.byteID[piece[i]], prev: int32(i - 1), next: int32(i + 1)}
	}
	syms[n-1].next = -1
	h := mergeHeap(heapBuf[:0])
	for i := 0; i+1 < n; i++ {
		if m, ok := b.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			h = append(h, queued{m.rank, int32(i), m.id})
		}
	}
	h.init()
	for len(h) > 0 {
		top := h.pop()
		s := &syms[top.pos]
		if s.dead || s.next < 0 {
			continue
		}
		right := syms[s.next]
		if m, ok := b.merges[pairKey(s.id, right.id)]; !ok || m.id != top.id {
			continue // stale entry
		}
		s.id = top.id
		syms[s.next].dead = true
		s.next = right.next
		if right.next >= 0 {
			syms[right.next].prev = top.pos
		}
		if s.prev >= 0 {
			if m, ok := b.merges[pairKey(syms[s.prev].id, s.id)]; ok {
				h.push(queued{m.rank, s.prev, m.id})
			}
		}
		if s.next >= 0 {
			if m, ok := b.merges[pairKey(s.id, syms[s.next].id)]; ok {
				h.push(queued{m.rank, top.pos, m.id})
			}
		}
	}
	k := 0
	for i := int32(0); i >= 0; i = syms[i].next {
		k++
	}
	out := make([]int32, 0, k)
	for i := int32(0); i >= 0; i = syms[i].next {
		out = append(out, syms[i].id)
	}
	return out
}

// mergeHeap is a binary min-heap on (rank, pos).
type mergeHeap []queued

func (h mergeHeap) less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].pos < h[j].pos
}

func (h mergeHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *mergeHeap) push(q queued) {
	*h = append(*h, q)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *mergeHeap) pop() queued {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	*h = s[:last]
	h.down(0)
	return top
}

func (h mergeHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
