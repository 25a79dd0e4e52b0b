package data

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
)

// Tokenizer maps text to token ids and back.
//
// Encode never adds special tokens and never maps text to a special id
// (text is always bytes); Decode skips special ids. For every string s,
// Decode(Encode(s)) == s, byte for byte, valid UTF-8 or not. (A Hugging
// Face tokenizer.json loaded by package hftok is the exception: it
// matches added tokens in the text and normalizes it as the HF library
// does; see hftok.Tokenizer.Data.)
type Tokenizer interface {
	// Encode returns the ids of s.
	Encode(s string) []int
	// Decode returns the text of ids, skipping special ids.
	Decode(ids []int) string
	// VocabSize is the number of ids (the model's vocab_size).
	VocabSize() int
	// PadID is the id used to right-pad batches (0 for ours).
	PadID() int
	// Name is a short label: "byte", "bpe-<vocab size>" (or, for a
	// Hugging Face tokenizer.json read by hftok, "hf-<vocab size>").
	Name() string
	// Hash is the hex SHA-256 of the tokenizer.json SaveJSON writes.
	Hash() string
	// SaveJSON writes a Hugging Face tokenizer.json (byte-level BPE).
	SaveJSON(path string) error
}

// SpecialIDs are the ids of the special tokens of a Tokenizer from this
// package (see Specials).
type SpecialIDs struct{ Pad, BOS, EOS int }

// Special token ids and names of the tokenizers this package builds. Byte
// b has id b + NumSpecial in both the byte and the BPE tokenizers.
const (
	PadID      = 0
	BOSID      = 1
	EOSID      = 2
	NumSpecial = 3
)

// specialNames are the added tokens of our tokenizer.json files, chosen so
// they do not occur in ordinary text (Hugging Face matches added tokens in
// the input text; this package never does).
var specialNames = [NumSpecial]string{"<|pad|>", "<|bos|>", "<|eos|>"}

// Specials returns the special ids of tok (BOS and EOS may be -1 for a
// loaded tokenizer.json that has none). A Tokenizer from another package
// reports them with a method SpecialIDs() SpecialIDs.
func Specials(tok Tokenizer) SpecialIDs {
	if s, ok := tok.(interface{ specials() SpecialIDs }); ok {
		return s.specials()
	}
	if s, ok := tok.(interface{ SpecialIDs() SpecialIDs }); ok {
		return s.SpecialIDs()
	}
	return SpecialIDs{Pad: tok.PadID(), BOS: -1, EOS: -1}
}

// byteTokenizer: id = byte + NumSpecial.
type byteTokenizer struct {
	hashOnce sync.Once
	hash     string
}

// NewByteTokenizer returns the byte tokenizer: ids 0, 1, 2 are the pad,
// BOS and EOS specials, byte b is id b + 3, VocabSize is 259. It is the
// BPE tokenizer with no merges, and saves as such.
func NewByteTokenizer() Tokenizer { return &byteTokenizer{} }

func (t *byteTokenizer) Encode(s string) []int {
	ids := make([]int, len(s))
	for i := 0; i < len(s); i++ {
		ids[i] = int(s[i]) + NumSpecial
	}
	return ids
}

func (t *byteTokenizer) Decode(ids []int) string {
	b := make([]byte, 0, len(ids))
	for _, id := range ids {
		if id >= NumSpecial && id < NumSpecial+256 {
			b = append(b, byte(id-NumSpecial))
		}
	}
	return string(b)
}

func (t *byteTokenizer) VocabSize() int       { return NumSpecial + 256 }
func (t *byteTokenizer) PadID() int           { return PadID }
func (t *byteTokenizer) Name() string         { return "byte" }
func (t *byteTokenizer) specials() SpecialIDs { return SpecialIDs{PadID, BOSID, EOSID} }

func (t *byteTokenizer) Hash() string {
	t.hashOnce.Do(func() { t.hash = hashBytes(hfJSON(byteVocab(), nil, SpecialIDs{PadID, BOSID, EOSID})) })
	return t.hash
}

func (t *byteTokenizer) SaveJSON(path string) error {
	return writeFileAtomic(path, hfJSON(byteVocab(), nil, SpecialIDs{PadID, BOSID, EOSID}))
}

// byteVocab is the token bytes of ids 0..258 (nil for specials).
func byteVocab() [][]byte {
	v := make([][]byte, NumSpecial+256)
	for b := 0; b < 256; b++ {
		v[NumSpecial+b] = []byte{byte(b)}
	}
	return v
}

func hashBytes(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// gpt2ByteRunes is the GPT-2 byte → printable rune map that byte-level
// BPE tokenizer.json files store token strings in: printable Latin-1 bytes
// map to themselves, the other 68 bytes to U+0100 upwards, in byte order.
var gpt2ByteRunes, gpt2RuneBytes = func() ([256]rune, map[rune]byte) {
	var fwd [256]rune
	inv := map[rune]byte{}
	next := rune(256)
	for b := 0; b < 256; b++ {
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		if printable {
			fwd[b] = rune(b)
		} else {
			fwd[b] = next
			next++
		}
		inv[fwd[b]] = byte(b)
	}
	return fwd, inv
}()

// byteLevelString renders token bytes as a tokenizer.json token string.
func byteLevelString(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = gpt2ByteRunes[c]
	}
	return string(r)
}
