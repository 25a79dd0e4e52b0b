package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// ConfigError is a configuration error that points at a key of a file:
// it prints as "file:line: key: what was expected". Line is 0 when the key
// has no position (for example a required key missing from the top level),
// and Key is empty for errors about the file as a whole. The sweep maps
// every ConfigError to exit status 2.
type ConfigError struct {
	File string // file name as given by the user
	Line int    // 1-based line, 0 if unknown
	Key  string // dotted key, e.g. grid.gate[1].tau
	Msg  string // what was expected
}

// Error formats the error as "file:line: key: msg".
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// IsConfigError reports whether err is or wraps a *ConfigError.
func IsConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}

// TOMLPositions maps the dotted keys of one TOML document to the 1-based
// line where each is defined. BurntSushi/toml keeps no key positions, so
// this is a small independent scanner of the same text.
//
// Key syntax: segments joined by '.', array elements (arrays of tables,
// [[grid.gate]], and inline arrays) indexed from 0 as "[i]":
//
//	grid.gate[1].tau     the tau key of the second [[grid.gate]] table
//	grid.arch[0]         the first element of the arch array (if it starts
//	                     on its own line; otherwise the line of grid.arch)
//	train                the [train] header
//
// Segments that are not bare TOML keys are written quoted, as in TOML.
// The scanner never fails: on text it does not understand it records what
// it has; decoding errors come from the real parser.
type TOMLPositions struct {
	File    string            // file name used in errors
	lines   map[string]int    // dotted key → line
	origins map[string]string // dotted key → "-set key=value" that replaced it
}

// ScanTOMLPositions scans src (the content of file) and records the line of
// every key, table header and array element.
func ScanTOMLPositions(file string, src []byte) *TOMLPositions {
	s := &tomlScanner{src: src, line: 1, pos: &TOMLPositions{File: file, lines: map[string]int{}}, arrays: map[string]int{}}
	s.document()
	return s.pos
}

// Line returns the line of key. A key without a position of its own (a
// default that is missing from the file, a key inside a one-line inline
// array) falls back to its closest recorded parent: grid.gate[1].tau →
// grid.gate[1] → grid.gate → grid. It returns 0 if nothing is recorded.
func (p *TOMLPositions) Line(key string) int {
	for key != "" {
		if l, ok := p.lines[key]; ok {
			return l
		}
		key = parentKey(key)
	}
	return 0
}

// Keys returns the number of recorded keys (for tests and debugging).
func (p *TOMLPositions) Keys() int { return len(p.lines) }

// Errorf returns a *ConfigError for key at its line (see Line).
// A key that a command-line override replaced (or one inside it) is
// reported against the override ("-set train.lr=abc: train.lr: …").
func (p *TOMLPositions) Errorf(key, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	for k := key; k != ""; k = parentKey(k) {
		if o, ok := p.origins[k]; ok {
			return &ConfigError{File: o, Key: key, Msg: msg}
		}
	}
	return &ConfigError{File: p.File, Line: p.Line(key), Key: key, Msg: msg}
}

// markOverride records that key's value came from the override arg.
func (p *TOMLPositions) markOverride(key, arg string) {
	if p.origins == nil {
		p.origins = map[string]string{}
	}
	p.origins[key] = arg
}

// TOMLDecodeError converts an error of toml.Decode on file into a
// *ConfigError carrying the parser's line; other errors are wrapped with
// the file name.
func TOMLDecodeError(file string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		if msg == "" {
			msg = pe.Error()
		}
		return &ConfigError{File: file, Line: pe.Position.Line, Msg: "invalid TOML: " + msg}
	}
	return &ConfigError{File: file, Msg: "invalid TOML: " + err.Error()}
}

// parentKey strips the last ".seg" or "[i]" of a dotted key.
func parentKey(key string) string {
	if strings.HasSuffix(key, "]") {
		if i := strings.LastIndexByte(key, '['); i >= 0 {
			return key[:i]
		}
	}
	// last '.' outside quotes
	inQuote := false
	last := -1
	for i := 0; i < len(key); i++ {
		switch key[i] {
		case '"':
			inQuote = !inQuote
		case '.':
			if !inQuote {
				last = i
			}
		}
	}
	if last < 0 {
		return ""
	}
	return key[:last]
}

// joinKey appends segment seg to the dotted key base.
func joinKey(base, seg string) string {
	if !isBareKey(seg) {
		seg = strconv.Quote(seg)
	}
	if base == "" {
		return seg
	}
	return base + "." + seg
}

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// tomlScanner walks a TOML document byte by byte, tracking the line.
type tomlScanner struct {
	src    []byte
	i      int
	line   int
	pos    *TOMLPositions
	table  string         // current table path (with array indexes)
	arrays map[string]int // array-of-tables path → number of elements seen
}

func (s *tomlScanner) record(key string, line int) {
	if _, ok := s.pos.lines[key]; !ok {
		s.pos.lines[key] = line
	}
}

func (s *tomlScanner) eof() bool { return s.i >= len(s.src) }

func (s *tomlScanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.i]
}

func (s *tomlScanner) advance() {
	if s.src[s.i] == '\n' {
		s.line++
	}
	s.i++
}

// skipSpace skips spaces and tabs (and newlines, comments if nl is true).
func (s *tomlScanner) skipSpace(nl bool) {
	for !s.eof() {
		c := s.peek()
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			s.advance()
		case nl && c == '\n':
			s.advance()
		case nl && c == '#':
			s.skipLine()
		default:
			return
		}
	}
}

// skipLine skips to just after the next newline.
func (s *tomlScanner) skipLine() {
	for !s.eof() && s.peek() != '\n' {
		s.advance()
	}
	if !s.eof() {
		s.advance()
	}
}

func (s *tomlScanner) document() {
	for {
		s.skipSpace(true)
		if s.eof() {
			return
		}
		if s.peek() == '[' {
			s.header()
			continue
		}
		line := s.line
		key, ok := s.key()
		if !ok {
			s.skipLine()
			continue
		}
		full := s.table
		for _, seg := range key {
			full = joinKey(full, seg)
			s.record(full, line)
		}
		s.skipSpace(false)
		if s.peek() != '=' {
			s.skipLine()
			continue
		}
		s.advance()
		s.skipSpace(false)
		s.value(full)
		s.skipLine() // trailing comment / newline
	}
}

// header parses [a.b] or [[a.b]] and sets the current table.
func (s *tomlScanner) header() {
	line := s.line
	s.advance() // '['
	array := false
	if s.peek() == '[' {
		array = true
		s.advance()
	}
	s.skipSpace(false)
	key, ok := s.key()
	if !ok {
		s.skipLine()
		return
	}
	path := ""
	for n, seg := range key {
		path = joinKey(path, seg)
		last := n == len(key)-1
		if last && array {
			idx := s.arrays[path]
			s.arrays[path] = idx + 1
			s.record(path, line)
			path = path + "[" + strconv.Itoa(idx) + "]"
		} else if cnt, isArr := s.arrays[path]; isArr && cnt > 0 {
			path = path + "[" + strconv.Itoa(cnt-1) + "]"
		}
		s.record(path, line)
	}
	s.table = path
	s.skipLine()
}

// key parses a possibly dotted key (bare, "basic" or 'literal' segments).
func (s *tomlScanner) key() ([]string, bool) {
	var segs []string
	for {
		s.skipSpace(false)
		if s.eof() {
			return nil, false
		}
		var seg string
		switch c := s.peek(); {
		case c == '"':
			str, ok := s.basicString()
			if !ok {
				return nil, false
			}
			seg = str
		case c == '\'':
			s.advance()
			start := s.i
			for !s.eof() && s.peek() != '\'' && s.peek() != '\n' {
				s.advance()
			}
			seg = string(s.src[start:s.i])
			if s.peek() != '\'' {
				return nil, false
			}
			s.advance()
		default:
			start := s.i
			for !s.eof() {
				c := s.peek()
				if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
					s.advance()
					continue
				}
				break
			}
			if s.i == start {
				return nil, false
			}
			seg = string(s.src[start:s.i])
		}
		segs = append(segs, seg)
		s.skipSpace(false)
		if s.peek() != '.' {
			return segs, true
		}
		s.advance()
	}
}

// basicString parses a one-line "..." string (with escapes) at s.i.
func (s *tomlScanner) basicString() (string, bool) {
	start := s.i
	s.advance()
	for !s.eof() && s.peek() != '\n' {
		c := s.peek()
		if c == '\\' {
			s.advance()
			if !s.eof() && s.peek() != '\n' {
				s.advance()
			}
			continue
		}
		s.advance()
		if c == '"' {
			str, err := strconv.Unquote(string(s.src[start:s.i]))
			if err != nil {
				return string(s.src[start+1 : s.i-1]), true
			}
			return str, true
		}
	}
	return "", false
}

// value skips one value, recording the keys of inline tables and the
// elements of arrays under path.
func (s *tomlScanner) value(path string) {
	if s.eof() {
		return
	}
	switch c := s.peek(); c {
	case '"', '\'':
		s.stringValue(c)
	case '[':
		s.advance()
		for idx := 0; ; idx++ {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.peek() == ']' {
				s.advance()
				return
			}
			elem := path + "[" + strconv.Itoa(idx) + "]"
			s.record(elem, s.line)
			s.value(elem)
			s.skipSpace(true)
			if s.peek() == ',' {
				s.advance()
			}
		}
	case '{':
		s.advance()
		for {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.peek() == '}' {
				s.advance()
				return
			}
			line := s.line
			key, ok := s.key()
			if !ok {
				s.skipLine()
				return
			}
			full := path
			for _, seg := range key {
				full = joinKey(full, seg)
				s.record(full, line)
			}
			s.skipSpace(false)
			if s.peek() == '=' {
				s.advance()
				s.skipSpace(false)
				s.value(full)
			}
			s.skipSpace(true)
			if s.peek() == ',' {
				s.advance()
			}
		}
	default:
		// scalar: number, bool, date; stops at a delimiter
		for !s.eof() {
			c := s.peek()
			if c == ',' || c == ']' || c == '}' || c == '\n' || c == '#' {
				return
			}
			s.advance()
		}
	}
}

// stringValue skips a basic or literal string, one-line or multi-line.
func (s *tomlScanner) stringValue(q byte) {
	triple := s.i+2 < len(s.src) && s.src[s.i+1] == q && s.src[s.i+2] == q
	if triple {
		s.advance()
		s.advance()
		s.advance()
		for !s.eof() {
			c := s.peek()
			if c == '\\' && q == '"' {
				s.advance()
				if !s.eof() {
					s.advance()
				}
				continue
			}
			if c == q && s.i+2 < len(s.src) && s.src[s.i+1] == q && s.src[s.i+2] == q {
				s.advance()
				s.advance()
				s.advance()
				// up to two extra quotes belong to the content
				for k := 0; k < 2 && s.peek() == q; k++ {
					s.advance()
				}
				return
			}
			s.advance()
		}
		return
	}
	s.advance()
	for !s.eof() && s.peek() != '\n' {
		c := s.peek()
		if c == '\\' && q == '"' {
			s.advance()
			if !s.eof() && s.peek() != '\n' {
				s.advance()
			}
			continue
		}
		s.advance()
		if c == q {
			return
		}
	}
}
