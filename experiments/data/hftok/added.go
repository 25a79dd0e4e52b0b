package hftok

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// addedToken is one entry of added_tokens.
type addedToken struct {
	id                                  int
	content                             string
	singleWord, lstrip, rstrip, special bool
	normalized                          bool
}

// text is the token's string as Hugging Face's id_to_token gives it: the
// content, normalized if the token is.
func (a *addedToken) text(n normalizer) string {
	if a.normalized {
		return n.apply(a.content)
	}
	return a.content
}

// matcher finds added tokens in text: leftmost match, longest at that
// position (Hugging Face's Aho-Corasick with MatchKind::LeftmostLongest).
type matcher struct {
	first [256]bool
	trie  []trieNode
}

type trieNode struct {
	edges []trieEdge // children, in insertion order (few per node)
	tok   int32      // index into Tokenizer.added, -1 if no pattern ends here
}

type trieEdge struct {
	c    byte
	node int32
}

func (n *trieNode) child(c byte) (int32, bool) {
	for _, e := range n.edges {
		if e.c == c {
			return e.node, true
		}
	}
	return 0, false
}

func newMatcher() *matcher { return &matcher{trie: []trieNode{{tok: -1}}} }

func (m *matcher) add(pattern string, tok int) {
	n := 0
	for i := 0; i < len(pattern); i++ {
		nx, ok := m.trie[n].child(pattern[i])
		if !ok {
			nx = int32(len(m.trie))
			m.trie = append(m.trie, trieNode{tok: -1})
			m.trie[n].edges = append(m.trie[n].edges, trieEdge{pattern[i], nx})
		}
		n = int(nx)
	}
	m.trie[n].tok = int32(tok)
	m.first[pattern[0]] = true
}

// longestAt returns the longest pattern starting at s[i:] (end, token
// index) or ok = false.
func (m *matcher) longestAt(s string, i int) (end, tok int, ok bool) {
	n := 0
	for j := i; j < len(s); j++ {
		nx, has := m.trie[n].child(s[j])
		if !has {
			break
		}
		n = int(nx)
		if t := m.trie[n].tok; t >= 0 {
			end, tok, ok = j+1, int(t), true
		}
	}
	return
}

// segment is a piece of the input: an added token (tok ≥ 0, text the
// matched bytes) or text still to be normalized/pre-tokenized (tok = -1).
type segment struct {
	text string
	tok  int
}

// split cuts s at the added tokens m finds, applying single_word, lstrip
// and rstrip as Hugging Face's AddedVocabulary.find_matches does.
func (t *Tokenizer) split(s string, m *matcher, out []segment) []segment {
	if m == nil || s == "" {
		return append(out, segment{s, -1})
	}
	startOffset := 0
	for i := 0; i < len(s); {
		if !m.first[s[i]] {
			i++
			continue
		}
		stop, ti, ok := m.longestAt(s, i)
		if !ok {
			i++
			continue
		}
		start := i
		i = stop // matching resumes after the match, not after stripped spaces
		a := &t.added[ti]
		if a.singleWord {
			startSpace := start == 0 || !endsWithWord(s[:start])
			stopSpace := stop == len(s) || !startsWithWord(s[stop:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if a.lstrip {
			ns := start
			for ns > 0 {
				r, n := utf8.DecodeLastRuneInString(s[:ns])
				if !unicode.IsSpace(r) {
					break
				}
				ns -= n
			}
			start = max(ns, startOffset)
		}
		if a.rstrip {
			for stop < len(s) {
				r, n := utf8.DecodeRuneInString(s[stop:])
				if !unicode.IsSpace(r) {
					break
				}
				stop += n
			}
		}
		if startOffset < start {
			out = append(out, segment{s[startOffset:start], -1})
		}
		out = append(out, segment{s[start:stop], ti})
		startOffset = stop
	}
	if startOffset != len(s) {
		out = append(out, segment{s[startOffset:], -1})
	}
	return out
}

// isWord is \w of Rust's regex crate: Alphabetic, marks, decimal digits,
// connector punctuation, join controls.
func isWord(r rune) bool {
	return unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_Alphabetic, r) ||
		unicode.IsMark(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r) || unicode.Is(unicode.Join_Control, r)
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return isWord(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return isWord(r)
}

// addTokens registers added_tokens the way Hugging Face's deserializer
// does: a token whose content is already a token keeps that id, any other
// gets the next free id (model vocab size upwards), whatever id the file
// says; a mismatch is recorded in Warnings.
func (t *Tokenizer) addTokens(list []addedJSON) error {
	t.addedByContent = map[string]int{}
	t.addedByID = map[int]int{}
	next := t.model.vocabLen
	for i, a := range list {
		if a.Content == "" {
			continue
		}
		tok := addedToken{content: a.Content, singleWord: a.SingleWord, lstrip: a.Lstrip, rstrip: a.Rstrip,
			special: a.Special, normalized: a.Normalized}
		if k, ok := t.addedByContent[a.Content]; ok {
			tok.id = t.added[k].id
			t.added[k] = tok
		} else {
			if id, ok := t.model.ids[a.Content]; ok {
				tok.id = id
			} else {
				tok.id = next
				next++
			}
			if k, ok := t.addedByID[tok.id]; ok {
				return fmt.Errorf("added_tokens[%d] %q: id %d already belongs to added token %q", i, a.Content, tok.id, t.added[k].content)
			}
			t.addedByContent[a.Content] = len(t.added)
			t.addedByID[tok.id] = len(t.added)
			t.added = append(t.added, tok)
		}
		if tok.id != a.ID {
			t.warnings = append(t.warnings, fmt.Sprintf("added_tokens[%d] %q: the file says id %d, Hugging Face's tokenizers (and this package) give it id %d", i, a.Content, a.ID, tok.id))
		}
		if next > 1<<30 {
			return fmt.Errorf("added_tokens: too many ids")
		}
	}
	for k, a := range t.added {
		if a.normalized {
			if t.normalized == nil {
				t.normalized = newMatcher()
			}
			t.normalized.add(t.norm.apply(a.content), k)
		} else {
			if t.rawMatch == nil {
				t.rawMatch = newMatcher()
			}
			t.rawMatch.add(a.content, k)
		}
	}
	return nil
}
