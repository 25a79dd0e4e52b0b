package hftok

import (
	"unicode"
	"unicode/utf8"
)

// A splitter returns the length in bytes (> 0) of the pre-token that
// starts at s[i:] (i < len(s)): the match of a Split regex at i. Its pieces
// cover s exactly; an invalid UTF-8 byte is a one-byte "other" character
// (Hugging Face never sees one: its input is a Rust string).
type splitter func(s string, i int) int

// The Split regexes that have a hand-written matcher, as they appear in
// tokenizer.json. Go's regexp has no look-ahead ((?!\S)), and the
// case-insensitive group and Unicode classes must behave as in Oniguruma,
// the engine Hugging Face's tokenizers uses.
const (
	// PatternGPT2 is the ByteLevel pre-tokenizer's regex (GPT-2, Pythia),
	// also found as a Split pattern.
	PatternGPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	// PatternLlama3 is Llama-3's Split regex (digits in runs of at most 3).
	PatternLlama3 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// PatternQwen2 is Qwen2's Split regex (Llama-3's with single digits).
	PatternQwen2 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

var knownPatterns = map[string]splitter{
	PatternGPT2:   gpt2Piece,
	PatternLlama3: func(s string, i int) int { return llamaPiece(s, i, 3) },
	PatternQwen2:  func(s string, i int) int { return llamaPiece(s, i, 1) },
}

type class uint8

const (
	clOther class = iota
	clLetter
	clNumber
	clSpace
)

var asciiClass = func() (t [128]class) {
	for c := 0; c < 128; c++ {
		r := rune(c)
		switch {
		case unicode.IsLetter(r):
			t[c] = clLetter
		case unicode.IsNumber(r):
			t[c] = clNumber
		case unicode.IsSpace(r):
			t[c] = clSpace
		}
	}
	return
}()

// classAt returns the class and byte size of the character at s[i:]:
// \p{L} (unicode.IsLetter), \p{N} (unicode.IsNumber), \s (White_Space,
// unicode.IsSpace) or other (an invalid byte included).
func classAt(s string, i int) (class, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	switch {
	case r == utf8.RuneError && n == 1:
		return clOther, 1
	case unicode.IsLetter(r):
		return clLetter, n
	case unicode.IsNumber(r):
		return clNumber, n
	case unicode.IsSpace(r):
		return clSpace, n
	}
	return clOther, n
}

// run returns the end of the run of class c starting at j.
func run(s string, j int, c class) int {
	for j < len(s) {
		k, n := classAt(s, j)
		if k != c {
			break
		}
		j += n
	}
	return j
}

// spaceTail is the length of a whitespace run s[i:e] as \s+(?!\S)|\s+
// matches it: all of it at the end of s, else all but its last character
// (left for the next piece), unless it is a single character.
func spaceTail(s string, i, e int) int {
	if e == len(s) {
		return e - i
	}
	_, last := utf8.DecodeLastRuneInString(s[i:e])
	if e-i > last {
		return e - i - last
	}
	return e - i
}

// gpt2Piece matches PatternGPT2 at i.
func gpt2Piece(s string, i int) int {
	if s[i] == '\'' && i+1 < len(s) {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return 2
		case 'r', 'v', 'l':
			if i+2 < len(s) {
				two := s[i+1 : i+3]
				if two == "re" || two == "ve" || two == "ll" {
					return 3
				}
			}
		}
	}
	j := i
	if s[i] == ' ' && i+1 < len(s) {
		j = i + 1
	}
	if c, _ := classAt(s, j); c != clSpace {
		return run(s, j, c) - i
	}
	return spaceTail(s, i, run(s, i, clSpace))
}

// contraction returns the length of (?i:'s|'t|'re|'ve|'m|'ll|'d) at
// s[i:] (s[i] == '\”), 0 if none. Oniguruma folds case by Unicode
// simple case folding, so U+017F (long s) matches 's and U+212A (Kelvin
// sign) would match a 'k' (there is none in the pattern).
func contraction(s string, i int) int {
	rest := s[i+1:]
	lower := func(k int) (rune, int) {
		if k >= len(rest) {
			return -1, 0
		}
		r, n := utf8.DecodeRuneInString(rest[k:])
		switch r {
		case 'S', 'T', 'R', 'V', 'M', 'L', 'D', 'E':
			r += 'a' - 'A'
		case 0x17F: // ſ folds to s
			r = 's'
		}
		return r, n
	}
	r1, n1 := lower(0)
	switch r1 {
	case 's', 't', 'm', 'd':
		return 1 + n1
	case 'r', 'v', 'l':
		r2, n2 := lower(n1)
		if (r1 == 'r' && r2 == 'e') || (r1 == 'v' && r2 == 'e') || (r1 == 'l' && r2 == 'l') {
			return 1 + n1 + n2
		}
	}
	return 0
}

// llamaPiece matches PatternLlama3 (maxDigits 3) or PatternQwen2
// (maxDigits 1) at i: the alternatives in order, as a backtracking engine
// tries them.
func llamaPiece(s string, i int, maxDigits int) int {
	if s[i] == '\'' {
		if n := contraction(s, i); n > 0 {
			return n
		}
	}
	c0, n0 := classAt(s, i)
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if c0 == clLetter {
		return run(s, i, clLetter) - i
	}
	if c0 != clNumber && s[i] != '\r' && s[i] != '\n' && i+n0 < len(s) {
		if c1, _ := classAt(s, i+n0); c1 == clLetter {
			return run(s, i+n0, clLetter) - i
		}
	}
	// \p{N}{1,maxDigits}
	if c0 == clNumber {
		j := i
		for k := 0; k < maxDigits && j < len(s); k++ {
			c, n := classAt(s, j)
			if c != clNumber {
				break
			}
			j += n
		}
		return j - i
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
	j := i
	if s[i] == ' ' && i+1 < len(s) {
		j = i + 1
	}
	if c, _ := classAt(s, j); c == clOther {
		e := run(s, j, clOther)
		for e < len(s) && (s[e] == '\r' || s[e] == '\n') {
			e++
		}
		return e - i
	}
	// c0 is whitespace here.
	e := run(s, i, clSpace)
	// \s*[\r\n]+ : up to and including the last \r or \n of the run.
	for k := e - 1; k >= i; k-- {
		if s[k] == '\r' || s[k] == '\n' {
			return k + 1 - i
		}
	}
	return spaceTail(s, i, e)
}
