package results

// This file reads a cell's per-example and per-token records
// (probe_examples.csv.gz, probe_tokens.csv.gz: not loaded by LoadSweep,
// because they can be large) and defines how token text is escaped in
// probe_tokens.csv.gz.

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// check refuses a text that UnescapeTokenText cannot read (ReadRows).
func (r *ProbeTokenRow) check() error {
	if _, err := UnescapeTokenText(r.Text); err != nil {
		return fmt.Errorf("column text: %v", err)
	}
	return nil
}

// LoadTokens reads the cell's probe_tokens.csv.gz; ok is false (and err
// nil) when the cell has none (recorded before the file existed).
func (c *Cell) LoadTokens() (rows []ProbeTokenRow, ok bool, err error) {
	p := filepath.Join(c.Dir, ProbeTokensFile)
	if !fileExists(p) {
		return nil, false, nil
	}
	rows, err = ReadRows[ProbeTokenRow](p)
	return rows, err == nil, err
}

// LoadExamples reads the cell's probe_examples.csv.gz; ok is false (and
// err nil) when the cell has none.
func (c *Cell) LoadExamples() (rows []ProbeExampleRow, ok bool, err error) {
	p := filepath.Join(c.Dir, ProbeExamplesFile)
	if !fileExists(p) {
		return nil, false, nil
	}
	rows, err = ReadRows[ProbeExampleRow](p)
	return rows, err == nil, err
}

// EscapeTokenText writes a token's decoded text on one line, reversibly
// (UnescapeTokenText): a backslash becomes \\, newline, carriage return
// and tab become \n, \r and \t, any other control character (U+0000–U+001F,
// U+007F–U+009F) becomes \uXXXX, and a byte that is not part of valid UTF-8
// (a byte-level token can hold part of a character) becomes \xNN.
// Everything else is kept as is.
func EscapeTokenText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// UnescapeTokenText reverses EscapeTokenText; it fails on a backslash
// sequence EscapeTokenText does not write.
func UnescapeTokenText(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("%q: trailing backslash", s)
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'x', 'u':
			w := 2
			if s[i] == 'u' {
				w = 4
			}
			if i+1+w > len(s) {
				return "", fmt.Errorf("%q: short \\%c escape", s, s[i])
			}
			v, err := strconv.ParseUint(s[i+1:i+1+w], 16, 32)
			if err != nil {
				return "", fmt.Errorf("%q: bad \\%c escape", s, s[i])
			}
			if s[i] == 'x' {
				b.WriteByte(byte(v))
			} else {
				b.WriteRune(rune(v))
			}
			i += w
		default:
			return "", fmt.Errorf("%q: unknown escape \\%c", s, s[i])
		}
	}
	return b.String(), nil
}
