package hftok

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Supported is the one-line summary of what Load accepts, used in refusals.
const Supported = "supported: byte-level BPE tokenizer.json files (GPT-2, Pythia/GPT-NeoX, Qwen2, Llama-3 styles)"

// fileJSON is the part of tokenizer.json Load reads.
type fileJSON struct {
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   []addedJSON     `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         *modelJSON      `json:"model"`
}

type addedJSON struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	Lstrip     bool   `json:"lstrip"`
	Rstrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type modelJSON struct {
	Type                    string            `json:"type"`
	Dropout                 *float64          `json:"dropout"`
	UnkToken                *string           `json:"unk_token"`
	ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
	ByteFallback            bool              `json:"byte_fallback"`
	IgnoreMerges            bool              `json:"ignore_merges"`
	Vocab                   map[string]int    `json:"vocab"`
	Merges                  []json.RawMessage `json:"merges"`
}

// typed is any {"type": …} component.
type typed struct {
	Type string `json:"type"`
}

// Load reads a Hugging Face tokenizer.json, or the tokenizer.json of a model
// directory (see LoadDir). Anything outside the supported subset (see the
// package documentation) is refused with an error naming the file, the
// component and what is supported.
func Load(path string) (*Tokenizer, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return LoadDir(path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file (expected a tokenizer.json or a model directory)", path)
		}
		return nil, fmt.Errorf("%s: cannot read: %v", path, err)
	}
	t, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	t.path = path
	return t, nil
}

// LoadDir reads dir/tokenizer.json and, when present, the special-token
// names of dir/tokenizer_config.json (bos_token, eos_token, pad_token) and
// the vocab_size of dir/config.json, which the tokenizer's ids are checked
// against (CheckVocab).
func LoadDir(dir string) (*Tokenizer, error) {
	p := filepath.Join(dir, "tokenizer.json")
	if _, err := os.Stat(p); err != nil {
		for _, sp := range []string{"tokenizer.model", "spiece.model", "sentencepiece.bpe.model"} {
			if _, err := os.Stat(filepath.Join(dir, sp)); err == nil {
				return nil, fmt.Errorf("%s: no tokenizer.json, only %s (a SentencePiece model, not supported; %s)", dir, sp, Supported)
			}
		}
		return nil, fmt.Errorf("%s: no tokenizer.json in this directory", dir)
	}
	t, err := Load(p)
	if err != nil {
		return nil, err
	}
	if err := t.readConfig(filepath.Join(dir, "tokenizer_config.json")); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "config.json")
	if raw, err := os.ReadFile(cfg); err == nil {
		var c struct {
			VocabSize *int `json:"vocab_size"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%s: malformed JSON: %v", cfg, err)
		}
		if c.VocabSize != nil {
			if err := t.CheckVocab(*c.VocabSize); err != nil {
				return nil, fmt.Errorf("%s (vocab_size %d): %v", cfg, *c.VocabSize, err)
			}
		}
	}
	return t, nil
}

// readConfig takes bos/eos/pad names from a tokenizer_config.json (absent
// file: nothing to do).
func (t *Tokenizer) readConfig(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("%s: cannot read: %v", path, err)
	}
	var c map[string]json.RawMessage
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("%s: malformed JSON: %v", path, err)
	}
	name := func(key string) (string, bool, error) {
		v, ok := c[key]
		if !ok || string(v) == "null" {
			return "", false, nil
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s, true, nil
		}
		var o struct {
			Content string `json:"content"`
		}
		if json.Unmarshal(v, &o) == nil && o.Content != "" {
			return o.Content, true, nil
		}
		return "", false, fmt.Errorf("%s: %s: expected a string or {\"content\": …}", path, key)
	}
	for _, k := range []struct {
		key string
		dst *int
	}{{"bos_token", &t.bos}, {"eos_token", &t.eos}, {"pad_token", &t.pad}} {
		s, ok, err := name(k.key)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		id, found := t.TokenID(s)
		if !found {
			return fmt.Errorf("%s: %s %q is not a token of tokenizer.json", path, k.key, s)
		}
		*k.dst = id
	}
	return nil
}

// Parse builds a Tokenizer from tokenizer.json bytes.
func Parse(raw []byte) (*Tokenizer, error) {
	var f fileJSON
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("malformed tokenizer.json: %v", err)
	}
	if f.Model == nil {
		return nil, fmt.Errorf("no \"model\" object, expected a tokenizer.json")
	}
	t := &Tokenizer{bos: -1, eos: -1, pad: -1}
	sum := sha256.Sum256(raw)
	t.hash = hex.EncodeToString(sum[:])
	t.raw = raw
	if err := t.parseModel(f.Model); err != nil {
		return nil, err
	}
	var err error
	if t.norm, err = parseNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	if t.pre, err = parsePreTokenizer(f.PreTokenizer); err != nil {
		return nil, err
	}
	if err := parseDecoder(f.Decoder); err != nil {
		return nil, err
	}
	if err := t.addTokens(f.AddedTokens); err != nil {
		return nil, err
	}
	if err := t.parsePostProcessor(f.PostProcessor); err != nil {
		return nil, err
	}
	if !isNull(f.Truncation) {
		t.warnings = append(t.warnings, "truncation settings ignored (the caller truncates)")
	}
	if !isNull(f.Padding) {
		t.warnings = append(t.warnings, "padding settings ignored (the caller pads)")
	}
	t.buildDecode()
	t.guessSpecials()
	return t, nil
}

func isNull(m json.RawMessage) bool {
	s := strings.TrimSpace(string(m))
	return s == "" || s == "null"
}

func (t *Tokenizer) parseModel(m *modelJSON) error {
	switch m.Type {
	case "BPE":
	case "":
		if m.Merges == nil {
			return fmt.Errorf("model has no \"type\" and no merges; %s", Supported)
		}
	default:
		return fmt.Errorf("model.type = %q is not supported (%s)", m.Type, Supported)
	}
	if m.ByteFallback {
		return fmt.Errorf("model.byte_fallback = true: a SentencePiece-style BPE (Metaspace, byte fallback; e.g. Llama-1/2, TinyLlama, Mistral) is not supported (%s)", Supported)
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return fmt.Errorf("model.dropout = %g: BPE dropout makes encoding random, not supported", *m.Dropout)
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return fmt.Errorf("model.continuing_subword_prefix = %q is not supported (%s)", *m.ContinuingSubwordPrefix, Supported)
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return fmt.Errorf("model.end_of_word_suffix = %q is not supported (%s)", *m.EndOfWordSuffix, Supported)
	}
	if len(m.Vocab) == 0 {
		return fmt.Errorf("model.vocab is empty")
	}
	return t.buildBPE(m)
}

func parseNormalizer(raw json.RawMessage) (normalizer, error) {
	if isNull(raw) {
		return normNone, nil
	}
	var n struct {
		Type        string            `json:"type"`
		Normalizers []json.RawMessage `json:"normalizers"`
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("normalizer: %v", err)
	}
	switch n.Type {
	case "NFC":
		return normNFC, nil
	case "Sequence":
		out := normNone
		for i, sub := range n.Normalizers {
			k, err := parseNormalizer(sub)
			if err != nil {
				return 0, fmt.Errorf("normalizer.normalizers[%d]: %v", i, err)
			}
			if k == normNFC {
				out = normNFC // NFC is idempotent: NFC∘NFC = NFC
			}
		}
		return out, nil
	}
	return 0, fmt.Errorf("normalizer type %q is not supported (supported: none or NFC; %s)", n.Type, Supported)
}

// preTokenizer is the parsed pre_tokenizer: splits applied in order, then
// the ByteLevel step (optional prefix space, optional GPT-2 split).
type preTokenizer struct {
	splits []splitter // Split steps before ByteLevel, in order
	// ByteLevel options.
	addPrefixSpace bool
	useRegex       bool
}

func parsePreTokenizer(raw json.RawMessage) (*preTokenizer, error) {
	if isNull(raw) {
		return nil, fmt.Errorf("pre_tokenizer is null: not a byte-level BPE (%s)", Supported)
	}
	var steps []json.RawMessage
	var top typed
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %v", err)
	}
	if top.Type == "Sequence" {
		var s struct {
			Pretokenizers []json.RawMessage `json:"pretokenizers"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("pre_tokenizer: %v", err)
		}
		steps = s.Pretokenizers
	} else {
		steps = []json.RawMessage{raw}
	}
	p := &preTokenizer{}
	seenByteLevel := false
	for i, st := range steps {
		where := "pre_tokenizer"
		if top.Type == "Sequence" {
			where = fmt.Sprintf("pre_tokenizer.pretokenizers[%d]", i)
		}
		var ty typed
		if err := json.Unmarshal(st, &ty); err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
		if seenByteLevel {
			return nil, fmt.Errorf("%s: type %q after ByteLevel is not supported (ByteLevel must be the last step; %s)", where, ty.Type, Supported)
		}
		switch ty.Type {
		case "ByteLevel":
			var b struct {
				AddPrefixSpace bool  `json:"add_prefix_space"`
				UseRegex       *bool `json:"use_regex"`
			}
			if err := json.Unmarshal(st, &b); err != nil {
				return nil, fmt.Errorf("%s: %v", where, err)
			}
			p.addPrefixSpace = b.AddPrefixSpace
			p.useRegex = b.UseRegex == nil || *b.UseRegex
			seenByteLevel = true
		case "Split":
			var s struct {
				Pattern  map[string]string `json:"pattern"`
				Behavior string            `json:"behavior"`
				Invert   bool              `json:"invert"`
			}
			if err := json.Unmarshal(st, &s); err != nil {
				return nil, fmt.Errorf("%s: %v", where, err)
			}
			re, ok := s.Pattern["Regex"]
			if !ok {
				return nil, fmt.Errorf("%s: Split pattern %v is not supported (expected a {\"Regex\": …} of GPT-2, Llama-3 or Qwen2)", where, s.Pattern)
			}
			sp, ok := knownPatterns[re]
			if !ok {
				return nil, fmt.Errorf("%s: Split regex %q is not supported (supported: the GPT-2, Llama-3 and Qwen2 patterns, matched by hand since Go's regexp has no look-ahead)", where, re)
			}
			if s.Behavior != "Isolated" || s.Invert {
				return nil, fmt.Errorf("%s: Split behavior %q, invert %v is not supported (expected \"Isolated\", false)", where, s.Behavior, s.Invert)
			}
			p.splits = append(p.splits, sp)
		default:
			return nil, fmt.Errorf("%s: type %q is not supported (supported: ByteLevel, Split, Sequence of them; %s)", where, ty.Type, Supported)
		}
	}
	if !seenByteLevel {
		return nil, fmt.Errorf("pre_tokenizer has no ByteLevel step: not a byte-level BPE (%s)", Supported)
	}
	return p, nil
}

func parseDecoder(raw json.RawMessage) error {
	if isNull(raw) {
		return fmt.Errorf("decoder is null, expected ByteLevel (%s)", Supported)
	}
	var d struct {
		Type     string            `json:"type"`
		Decoders []json.RawMessage `json:"decoders"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("decoder: %v", err)
	}
	switch d.Type {
	case "ByteLevel":
		return nil
	case "Sequence":
		if len(d.Decoders) == 1 {
			return parseDecoder(d.Decoders[0])
		}
	}
	return fmt.Errorf("decoder %s is not supported (expected ByteLevel; %s)", strings.Join(strings.Fields(string(raw)), " "), Supported)
}

// parsePostProcessor records the ids EncodeSpecial puts around a text.
// An unsupported post-processor only disables EncodeSpecial.
func (t *Tokenizer) parsePostProcessor(raw json.RawMessage) error {
	if isNull(raw) {
		return nil
	}
	pre, post, err := t.postProcessor(raw)
	if err != nil {
		t.postErr = err
		return nil
	}
	t.prefix, t.suffix = pre, post
	return nil
}

func (t *Tokenizer) postProcessor(raw json.RawMessage) (pre, post []int, err error) {
	var ty typed
	if err := json.Unmarshal(raw, &ty); err != nil {
		return nil, nil, fmt.Errorf("post_processor: %v", err)
	}
	switch ty.Type {
	case "ByteLevel":
		return nil, nil, nil
	case "Sequence":
		var s struct {
			Processors []json.RawMessage `json:"processors"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, nil, fmt.Errorf("post_processor: %v", err)
		}
		for _, p := range s.Processors {
			a, b, err := t.postProcessor(p)
			if err != nil {
				return nil, nil, err
			}
			pre = append(a, pre...)
			post = append(post, b...)
		}
		return pre, post, nil
	case "TemplateProcessing":
		var tp struct {
			Single []struct {
				SpecialToken *struct {
					ID string `json:"id"`
				} `json:"SpecialToken"`
				Sequence *struct {
					ID string `json:"id"`
				} `json:"Sequence"`
			} `json:"single"`
			SpecialTokens map[string]struct {
				IDs []int `json:"ids"`
			} `json:"special_tokens"`
		}
		if err := json.Unmarshal(raw, &tp); err != nil {
			return nil, nil, fmt.Errorf("post_processor: %v", err)
		}
		seenSeq := false
		for _, p := range tp.Single {
			switch {
			case p.Sequence != nil:
				if seenSeq {
					return nil, nil, fmt.Errorf("post_processor: TemplateProcessing single with two sequences")
				}
				seenSeq = true
			case p.SpecialToken != nil:
				st, ok := tp.SpecialTokens[p.SpecialToken.ID]
				if !ok {
					return nil, nil, fmt.Errorf("post_processor: special token %q not in special_tokens", p.SpecialToken.ID)
				}
				if seenSeq {
					post = append(post, st.IDs...)
				} else {
					pre = append(pre, st.IDs...)
				}
			default:
				return nil, nil, fmt.Errorf("post_processor: TemplateProcessing piece is neither SpecialToken nor Sequence")
			}
		}
		return pre, post, nil
	case "RobertaProcessing", "BertProcessing":
		var rp struct {
			Sep []json.RawMessage `json:"sep"`
			Cls []json.RawMessage `json:"cls"`
		}
		if err := json.Unmarshal(raw, &rp); err != nil || len(rp.Sep) != 2 || len(rp.Cls) != 2 {
			return nil, nil, fmt.Errorf("post_processor: %s: expected sep and cls as [token, id]", ty.Type)
		}
		var sep, cls int
		if json.Unmarshal(rp.Sep[1], &sep) != nil || json.Unmarshal(rp.Cls[1], &cls) != nil {
			return nil, nil, fmt.Errorf("post_processor: %s: expected integer ids in sep and cls", ty.Type)
		}
		return []int{cls}, []int{sep}, nil
	}
	return nil, nil, fmt.Errorf("post_processor type %q is not supported (supported: ByteLevel, TemplateProcessing, RobertaProcessing, BertProcessing, Sequence of them)", ty.Type)
}
