package hftok

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Tokenizer is a loaded byte-level BPE tokenizer.json. It is safe for
// concurrent use.
type Tokenizer struct {
	raw  []byte // the file as read
	hash string // hex SHA-256 of raw
	path string // where it was loaded from ("" for Parse)

	model *bpeModel
	norm  normalizer
	pre   *preTokenizer

	added          []addedToken
	addedByContent map[string]int // content → index into added
	addedByID      map[int]int    // id → index into added
	rawMatch       *matcher       // added tokens with normalized = false, matched in the input
	normalized     *matcher       // added tokens with normalized = true, matched after normalization
	decodeBytes    [][]byte       // id → bytes Decode gives it (nil: unknown id)

	prefix, suffix []int // ids EncodeSpecial puts around the text
	postErr        error // why EncodeSpecial is unavailable

	bos, eos, pad int // -1 when unknown
	warnings      []string
}

type normalizer uint8

const (
	normNone normalizer = iota
	normNFC
)

func (n normalizer) apply(s string) string {
	if n == normNFC && !norm.NFC.IsNormalString(s) {
		return norm.NFC.String(s)
	}
	return s
}

// Encode returns the ids of s as Hugging Face's tokenizers gives them with
// add_special_tokens = false: added tokens (such as a literal
// "<|endoftext|>") are matched in the text first, the rest is normalized,
// pre-tokenized, byte-mapped and BPE-encoded.
func (t *Tokenizer) Encode(s string) []int {
	out := make([]int, 0, len(s)/3+1)
	var segs, sub []segment
	segs = t.split(s, t.rawMatch, segs)
	for _, seg := range segs {
		if seg.tok >= 0 {
			out = append(out, t.added[seg.tok].id)
			continue
		}
		sub = t.split(t.norm.apply(seg.text), t.normalized, sub[:0])
		for _, p := range sub {
			if p.tok >= 0 {
				out = append(out, t.added[p.tok].id)
				continue
			}
			out = t.preTokenize(p.text, 0, out)
		}
	}
	return out
}

// preTokenize runs the Split steps from step on, then ByteLevel and BPE.
func (t *Tokenizer) preTokenize(s string, step int, out []int) []int {
	if s == "" {
		return out
	}
	if step < len(t.pre.splits) {
		sp := t.pre.splits[step]
		for i := 0; i < len(s); {
			n := sp(s, i)
			out = t.preTokenize(s[i:i+n], step+1, out)
			i += n
		}
		return out
	}
	if t.pre.addPrefixSpace && s[0] != ' ' {
		s = " " + s
	}
	if !t.pre.useRegex {
		return t.model.encode(s, out)
	}
	for i := 0; i < len(s); {
		n := gpt2Piece(s, i)
		out = t.model.encode(s[i:i+n], out)
		i += n
	}
	return out
}

// EncodeSpecial is Encode with add_special_tokens = true: the
// post-processor's tokens around the text (Llama-3: <|begin_of_text|>
// first; GPT-2, Pythia and Qwen2: none).
func (t *Tokenizer) EncodeSpecial(s string) ([]int, error) {
	if t.postErr != nil {
		return nil, t.postErr
	}
	ids := make([]int, 0, len(t.prefix)+len(s)/3+1+len(t.suffix))
	ids = append(ids, t.prefix...)
	ids = append(ids, t.Encode(s)...)
	return append(ids, t.suffix...), nil
}

// Decode returns the text of ids as Hugging Face's decode does, except
// that the bytes are returned as they are (Hugging Face replaces invalid
// UTF-8, e.g. half of a character, by U+FFFD). skipSpecial drops added
// tokens marked special; ids the tokenizer does not know are dropped (as
// Hugging Face does; see CheckIDs).
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) string {
	var b strings.Builder
	for _, id := range ids {
		if id < 0 || id >= len(t.decodeBytes) || t.decodeBytes[id] == nil {
			continue
		}
		if skipSpecial {
			if k, ok := t.addedByID[id]; ok && t.added[k].special {
				continue
			}
		}
		b.Write(t.decodeBytes[id])
	}
	return b.String()
}

// buildDecode fills decodeBytes (called once the added tokens are known).
func (t *Tokenizer) buildDecode() {
	t.decodeBytes = make([][]byte, t.VocabSize())
	for id, s := range t.model.tokens {
		t.decodeBytes[id], _ = byteLevelBytes(s)
	}
	for _, a := range t.added {
		t.decodeBytes[a.id], _ = byteLevelBytes(a.text(t.norm))
	}
}

// DecodeLossy is Decode with invalid UTF-8 replaced as Hugging Face's
// decode (Rust's String::from_utf8_lossy) does: one U+FFFD for each
// maximal ill-formed subsequence. It equals Hugging Face's output exactly.
func (t *Tokenizer) DecodeLossy(ids []int, skipSpecial bool) string {
	return lossyUTF8(t.Decode(ids, skipSpecial))
}

// lossyUTF8 replaces each maximal ill-formed subsequence of s (Unicode
// §3.9, "substitution of maximal subparts") by U+FFFD.
func lossyUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError || n != 1 {
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		b.WriteRune(utf8.RuneError)
		i += maximalSubpart(s[i:])
	}
	return b.String()
}

// maximalSubpart is the length of the ill-formed prefix of s to replace
// by one U+FFFD: a valid lead byte and the continuation bytes that could
// still have completed it, or a single byte.
func maximalSubpart(s string) int {
	c := s[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(s); k++ {
		if s[n] < lo || s[n] > hi {
			break
		}
		n++
		lo, hi = 0x80, 0xBF
	}
	return n
}

// CheckIDs returns an error naming the first id Decode would drop.
func (t *Tokenizer) CheckIDs(ids []int) error {
	for i, id := range ids {
		if id < 0 || id >= len(t.decodeBytes) || t.decodeBytes[id] == nil {
			return fmt.Errorf("ids[%d] = %d is not a token of this tokenizer", i, id)
		}
	}
	return nil
}

// VocabSize is the largest id this tokenizer can produce or decode, plus 1.
func (t *Tokenizer) VocabSize() int {
	n := t.model.maxID + 1
	for _, a := range t.added {
		n = max(n, a.id+1)
	}
	for _, id := range append(append([]int(nil), t.prefix...), t.suffix...) {
		n = max(n, id+1)
	}
	return n
}

// CheckVocab returns an error when the tokenizer has an id ≥ vocabSize,
// the vocabulary size of the model it is to feed (config.json's
// vocab_size): such a tokenizer does not belong to that model. A model
// vocabulary larger than the tokenizer's is fine (Qwen2 and Pythia pad
// theirs).
func (t *Tokenizer) CheckVocab(vocabSize int) error {
	if vocabSize <= 0 {
		return fmt.Errorf("model vocab_size = %d, expected > 0", vocabSize)
	}
	if n := t.VocabSize(); n > vocabSize {
		id := n - 1
		return fmt.Errorf("tokenizer has token id %d (%q) but the model's vocab_size is %d (ids 0..%d): the tokenizer does not belong to this model",
			id, t.Token(id), vocabSize, vocabSize-1)
	}
	return nil
}

// Token returns the token string of id as tokenizer.json writes it (added
// tokens: their content, normalized if the token is), "" if unknown.
func (t *Tokenizer) Token(id int) string {
	if k, ok := t.addedByID[id]; ok {
		return t.added[k].text(t.norm)
	}
	return t.model.tokens[id]
}

// TokenID returns the id of a token string (an added token's content or a
// model.vocab entry).
func (t *Tokenizer) TokenID(s string) (int, bool) {
	if k, ok := t.addedByContent[s]; ok {
		return t.added[k].id, true
	}
	id, ok := t.model.ids[s]
	return id, ok
}

// IsSpecial reports whether id is an added token marked special.
func (t *Tokenizer) IsSpecial(id int) bool {
	k, ok := t.addedByID[id]
	return ok && t.added[k].special
}

// BOS, EOS and Pad return the ids of those special tokens, -1 when the
// tokenizer has none. LoadDir takes them from tokenizer_config.json;
// otherwise BOS is the first token the post-processor adds, and all three
// are guessed from common names (<|begin_of_text|>, <s>; <|end_of_text|>,
// <|endoftext|>, </s>; <|pad|>, <pad>, <|padding|>, [PAD]).
func (t *Tokenizer) BOS() int { return t.bos }

// EOS: see BOS.
func (t *Tokenizer) EOS() int { return t.eos }

// Pad: see BOS.
func (t *Tokenizer) Pad() int { return t.pad }

func (t *Tokenizer) guessSpecials() {
	find := func(names ...string) int {
		for _, n := range names {
			if k, ok := t.addedByContent[n]; ok {
				return t.added[k].id
			}
		}
		return -1
	}
	if len(t.prefix) > 0 {
		t.bos = t.prefix[0]
	} else {
		t.bos = find("<|begin_of_text|>", "<s>", "<|startoftext|>", "<bos>")
	}
	t.eos = find("<|end_of_text|>", "<|endoftext|>", "</s>", "<eos>")
	t.pad = find("<|pad|>", "<pad>", "<|padding|>", "[PAD]")
}

// Hash is the hex SHA-256 of the tokenizer.json bytes.
func (t *Tokenizer) Hash() string { return t.hash }

// JSON returns the tokenizer.json bytes as read.
func (t *Tokenizer) JSON() []byte { return t.raw }

// Path is the file the tokenizer was loaded from ("" for Parse).
func (t *Tokenizer) Path() string { return t.path }

// Warnings lists what Parse accepted but a reader should know: ignored
// truncation/padding settings, added-token ids the file states differently
// from the ids Hugging Face assigns.
func (t *Tokenizer) Warnings() []string { return t.warnings }
