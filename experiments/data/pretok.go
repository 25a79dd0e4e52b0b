package data

import (
	"unicode"
	"unicode/utf8"
)

// preTokenize splits s into the pieces GPT-2's byte-level pre-tokenizer
// makes (the regex Hugging Face's ByteLevel pre-tokenizer uses with
// use_regex = true):
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// implemented by hand because Go's regexp has no look-ahead. The pieces
// concatenate back to s exactly (invalid UTF-8 bytes count as "other"
// characters). BPE merges never cross a piece boundary.
func preTokenize(s string, emit func(piece string)) {
	i := 0
	for i < len(s) {
		n := pieceLen(s, i)
		emit(s[i : i+n])
		i += n
	}
}

type runeClass uint8

const (
	classOther runeClass = iota
	classLetter
	classNumber
	classSpace
)

func classOf(r rune) runeClass {
	switch {
	case r == utf8.RuneError:
		return classOther
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	case unicode.IsSpace(r):
		return classSpace
	}
	return classOther
}

// runAt returns the length in bytes of the run of class c starting at j.
func runAt(s string, j int, c runeClass) int {
	k := j
	for k < len(s) {
		r, size := utf8.DecodeRuneInString(s[k:])
		if classOf(r) != c {
			break
		}
		k += size
	}
	return k - j
}

// pieceLen is the length of the piece starting at i.
func pieceLen(s string, i int) int {
	r0, _ := utf8.DecodeRuneInString(s[i:])
	// 's|'t|'re|'ve|'m|'ll|'d
	if r0 == '\'' && i+1 < len(s) {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return 2
		case 'r', 'v', 'l':
			if i+2 < len(s) && ((s[i+1] == 'r' && s[i+2] == 'e') || (s[i+1] == 'v' && s[i+2] == 'e') || (s[i+1] == 'l' && s[i+2] == 'l')) {
				return 3
			}
		}
	}
	// ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+'
	j := i
	if r0 == ' ' && i+1 < len(s) {
		j = i + 1
	}
	rj, _ := utf8.DecodeRuneInString(s[j:])
	if c := classOf(rj); c != classSpace {
		return j - i + runAt(s, j, c)
	}
	// '\s+(?!\S)' then '\s+'
	n := runAt(s, i, classSpace)
	if i+n == len(s) {
		return n
	}
	// Followed by a non-space: give the last whitespace rune back, unless
	// the run is a single rune (then '\s+' takes it).
	_, lastSize := utf8.DecodeLastRuneInString(s[i : i+n])
	if n > lastSize {
		return n - lastSize
	}
	return n
}
