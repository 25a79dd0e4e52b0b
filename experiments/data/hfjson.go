package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// hfJSON renders a byte-level BPE as a Hugging Face tokenizer.json:
// ByteLevel pre-tokenizer (GPT-2 regex, no prefix space) and decoder, a
// BPE model whose vocab lists every id in order, merges in rank order as
// "left right" strings, specials as added tokens. Deterministic: the same
// tokenizer always gives the same bytes (Hash relies on it).
func hfJSON(vocab [][]byte, ranked [][2]int, sp SpecialIDs) []byte {
	var b bytes.Buffer
	q := func(s string) string {
		j, _ := json.Marshal(s)
		return string(j)
	}
	name := func(id int) string {
		if vocab[id] == nil {
			switch id {
			case sp.Pad:
				return specialNames[0]
			case sp.BOS:
				return specialNames[1]
			case sp.EOS:
				return specialNames[2]
			}
			return fmt.Sprintf("<|special_%d|>", id)
		}
		return byteLevelString(vocab[id])
	}
	b.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [")
	first := true
	for id, v := range vocab {
		if v != nil {
			continue
		}
		if !first {
			b.WriteString(",")
		}
		first = false
		fmt.Fprintf(&b, "\n    {\"id\": %d, \"content\": %s, \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}", id, q(name(id)))
	}
	b.WriteString("\n  ],\n  \"normalizer\": null,\n")
	b.WriteString("  \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true},\n")
	b.WriteString("  \"post_processor\": null,\n")
	b.WriteString("  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n")
	b.WriteString("  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": false,\n    \"vocab\": {")
	for id := range vocab {
		if id > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "\n      %s: %d", q(name(id)), id)
	}
	b.WriteString("\n    },\n    \"merges\": [")
	for i, m := range ranked {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "\n      %s", q(name(m[0])+" "+name(m[1])))
	}
	b.WriteString("\n    ]\n  }\n}\n")
	return b.Bytes()
}

// hfFile is the part of tokenizer.json LoadTokenizerJSON reads.
type hfFile struct {
	AddedTokens []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
	PreTokenizer *struct {
		Type string `json:"type"`
	} `json:"pre_tokenizer"`
	Model struct {
		Type   string            `json:"type"`
		Vocab  map[string]int    `json:"vocab"`
		Merges []json.RawMessage `json:"merges"`
	} `json:"model"`
}

// LoadTokenizerJSON reads a byte-level BPE tokenizer.json (ours, or any
// with a ByteLevel pre-tokenizer and all 256 byte tokens). A file with no
// merges in the byte layout SaveJSON of NewByteTokenizer writes loads as
// the byte tokenizer. The pad id is the added token "<|pad|>" (else
// "<pad>", else the EOS token).
func LoadTokenizerJSON(path string) (Tokenizer, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file (expected a tokenizer.json)", path)
		}
		return nil, fmt.Errorf("%s: cannot read: %v", path, unwrapPathErr(err))
	}
	var f hfFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("%s: malformed tokenizer.json: %s", path, jsonErrText(err))
	}
	if f.Model.Type != "BPE" {
		return nil, fmt.Errorf("%s: model.type = %q, expected \"BPE\"", path, f.Model.Type)
	}
	if f.PreTokenizer == nil || f.PreTokenizer.Type != "ByteLevel" {
		return nil, fmt.Errorf("%s: pre_tokenizer is not ByteLevel, expected a byte-level BPE", path)
	}
	size := 0
	for _, id := range f.Model.Vocab {
		size = max(size, id+1)
	}
	for _, a := range f.AddedTokens {
		size = max(size, a.ID+1)
	}
	vocab := make([][]byte, size)
	filled := make([]bool, size)
	sp := SpecialIDs{Pad: -1, BOS: -1, EOS: -1}
	for _, a := range f.AddedTokens {
		if a.ID < 0 {
			return nil, fmt.Errorf("%s: added token %q has id %d, expected ≥ 0", path, a.Content, a.ID)
		}
		filled[a.ID] = true // special: decodes to nothing
		switch a.Content {
		case specialNames[0], "<pad>", "[PAD]":
			sp.Pad = a.ID
		case specialNames[1], "<bos>", "<s>", "<|startoftext|>":
			sp.BOS = a.ID
		case specialNames[2], "<eos>", "</s>", "<|endoftext|>":
			sp.EOS = a.ID
		}
	}
	for tokStr, id := range f.Model.Vocab {
		if id < 0 {
			return nil, fmt.Errorf("%s: model.vocab[%q] = %d, expected an id ≥ 0", path, tokStr, id)
		}
		if filled[id] && vocab[id] == nil && isAdded(f, id) {
			continue
		}
		bs := make([]byte, 0, len(tokStr))
		for _, r := range tokStr {
			c, ok := gpt2RuneBytes[r]
			if !ok {
				return nil, fmt.Errorf("%s: model.vocab token %q has character %q outside the byte-level alphabet", path, tokStr, r)
			}
			bs = append(bs, c)
		}
		vocab[id] = bs
		filled[id] = true
	}
	for id, ok := range filled {
		if !ok {
			return nil, fmt.Errorf("%s: id %d is in neither model.vocab nor added_tokens, expected contiguous ids", path, id)
		}
	}
	if sp.Pad < 0 {
		sp.Pad = sp.EOS
	}
	if sp.Pad < 0 {
		return nil, fmt.Errorf("%s: no pad token, expected an added token \"<|pad|>\", \"<pad>\" or an EOS token", path)
	}
	index := map[string]int{}
	for tokStr, id := range f.Model.Vocab {
		if vocab[id] != nil {
			index[tokStr] = id
		}
	}
	ranked := make([][2]int, len(f.Model.Merges))
	for i, m := range f.Model.Merges {
		var parts []string
		var s string
		if json.Unmarshal(m, &s) == nil {
			parts = strings.Split(s, " ")
		} else if json.Unmarshal(m, &parts) != nil {
			return nil, fmt.Errorf("%s: model.merges[%d]: expected \"left right\" or [\"left\", \"right\"]", path, i)
		}
		if len(parts) != 2 {
			return nil, fmt.Errorf("%s: model.merges[%d] = %s: expected two tokens", path, i, m)
		}
		a, okA := index[parts[0]]
		b, okB := index[parts[1]]
		if !okA || !okB {
			return nil, fmt.Errorf("%s: model.merges[%d] = %s: token not in model.vocab", path, i, m)
		}
		ranked[i] = [2]int{a, b}
	}
	if len(ranked) == 0 && sp == (SpecialIDs{PadID, BOSID, EOSID}) && size == NumSpecial+256 {
		isByte := true
		for b := 0; b < 256; b++ {
			if v := vocab[NumSpecial+b]; len(v) != 1 || v[0] != byte(b) {
				isByte = false
				break
			}
		}
		if isByte {
			return NewByteTokenizer(), nil
		}
	}
	t, err := newBPE(vocab, ranked, sp)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return t, nil
}

func isAdded(f hfFile, id int) bool {
	for _, a := range f.AddedTokens {
		if a.ID == id {
			return true
		}
	}
	return false
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it into place, so concurrent readers never see a partial file.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: cannot create directory: %v", dir, unwrapPathErr(err))
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("%s: cannot write: %v", path, unwrapPathErr(err))
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("%s: cannot write: %v", path, unwrapPathErr(werr))
	}
	return nil
}

// CorpusHash is the hex SHA-256 of texts (each length-prefixed, so the
// split into texts matters), the cache key of CachedBPE.
func CorpusHash(texts []string) string {
	h := sha256.New()
	var n [8]byte
	for _, s := range texts {
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// CachedBPEPath is the file CachedBPE uses for (texts, vocabSize) in dir:
// dir/bpe-<vocabSize>-<first 16 hex digits of CorpusHash>.tokenizer.json.
func CachedBPEPath(dir string, texts []string, vocabSize int) string {
	return filepath.Join(dir, fmt.Sprintf("bpe-%d-%s.tokenizer.json", vocabSize, CorpusHash(texts)[:16]))
}

// CachedBPE returns the BPE trained on texts to vocabSize, loading it from
// CachedBPEPath if present, else training it and saving it there (write to
// a temporary file + rename, so concurrent processes are safe: at worst two
// of them train the same tokenizer and one rename wins with identical
// bytes).
func CachedBPE(dir string, texts []string, vocabSize int) (Tokenizer, error) {
	path := CachedBPEPath(dir, texts, vocabSize)
	if _, err := os.Stat(path); err == nil {
		return LoadTokenizerJSON(path)
	}
	tok, err := TrainBPE(texts, vocabSize)
	if err != nil {
		return nil, err
	}
	if err := tok.SaveJSON(path); err != nil {
		return nil, err
	}
	return tok, nil
}

// TokenizerTexts returns the texts a tokenizer is trained on: the prompt,
// chosen and rejected of every pair, in order.
func TokenizerTexts(pairs []Pair) []string {
	texts := make([]string, 0, 3*len(pairs))
	for _, p := range pairs {
		texts = append(texts, p.Prompt, p.Chosen, p.Rejected)
	}
	return texts
}

// NewTokenizer builds the tokenizer a run asks for: kind "byte" (vocabSize
// ignored) or "bpe", trained on TokenizerTexts(train) to vocabSize ids and
// cached in cacheDir by CachedBPE ("" = no cache, train in memory).
func NewTokenizer(kind string, vocabSize int, cacheDir string, train []Pair) (Tokenizer, error) {
	switch kind {
	case "byte", "":
		return NewByteTokenizer(), nil
	case "bpe":
		texts := TokenizerTexts(train)
		if cacheDir == "" {
			return TrainBPE(texts, vocabSize)
		}
		return CachedBPE(cacheDir, texts, vocabSize)
	}
	return nil, fmt.Errorf("tokenizer = %q: expected \"byte\" or \"bpe\"", kind)
}
