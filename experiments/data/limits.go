package data

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
)

// Default data limits (LoadOptions, and the [data] keys max_line_bytes,
// max_data_bytes and max_field_tokens of a grid). They bound the memory a
// dataset can take before anything is allocated for it; every one is
// raised by setting its key.
const (
	// DefaultMaxLineBytes bounds one JSONL line (one record).
	DefaultMaxLineBytes = 8 << 20
	// DefaultMaxDataBytes bounds a dataset's size after decompression
	// (a gzip bomb stops here).
	DefaultMaxDataBytes = 1 << 30
	// DefaultMaxFieldTokens bounds the tokens of one text field (prompt,
	// chosen, rejected, a probe) before truncation.
	DefaultMaxFieldTokens = 1 << 16
)

// LimitError is a dataset beyond one of its size limits: "path:line: msg"
// (no line for a whole-file limit). The message names the limit and the
// grid key that raises it.
type LimitError struct {
	Path string
	Line int
	Msg  string
}

// Error formats the error as "path:line: msg".
func (e *LimitError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

func (o LoadOptions) maxLineBytes() int {
	if o.MaxLineBytes > 0 {
		return o.MaxLineBytes
	}
	return DefaultMaxLineBytes
}

func (o LoadOptions) maxDataBytes() int64 {
	if o.MaxDataBytes > 0 {
		return o.MaxDataBytes
	}
	return DefaultMaxDataBytes
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line (with its '\n') of at most max bytes, or
// errLineTooLong without reading further than max bytes of it.
func readLine(rd *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := rd.ReadSlice('\n')
		if len(line)+len(chunk) > max+1 || (len(line)+len(chunk) == max+1 && chunk[len(chunk)-1] != '\n') {
			return nil, errLineTooLong
		}
		line = append(line, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		return line, err
	}
}

// boundedReader fails with a LimitError once more than left bytes were read.
type boundedReader struct {
	r    io.Reader
	left int64
	path string
	max  int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.max == 0 {
		b.max = b.left
	}
	if b.left < 0 {
		return 0, b.err()
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, b.err()
	}
	return n, err
}

func (b *boundedReader) err() error {
	return &LimitError{Path: b.path, Msg: fmt.Sprintf("more than max_data_bytes = %d bytes of data (after decompression); raise [data] max_data_bytes in the grid (inspect data: -max-data-bytes) to read it", b.max)}
}

// gzipBody reports a corrupt gzip stream as one line naming the file.
type gzipBody struct {
	zr   io.Reader
	path string
}

func (g *gzipBody) Read(p []byte) (int, error) {
	n, err := g.zr.Read(p)
	if err != nil && err != io.EOF {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return n, fmt.Errorf("%s: cannot read: %v", g.path, pe.Err)
		}
		return n, fmt.Errorf("%s: corrupt gzip stream: %v", g.path, err)
	}
	return n, err
}

// fileKind names the type of a non-regular file for messages.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "mode " + m.String()
}

// CheckFieldTokens checks that no text field of pairs (prompt, chosen,
// rejected, probes) has more than max tokens before truncation. Only
// fields longer than max bytes are tokenized to count (a token covers at
// least one byte). name labels the dataset in the message.
func CheckFieldTokens(name, split string, tok Tokenizer, pairs []Pair, max int) error {
	if max <= 0 {
		max = DefaultMaxFieldTokens
	}
	check := func(i int, field, s string) error {
		if len(s) <= max {
			return nil
		}
		if n := len(tok.Encode(s)); n > max {
			return fmt.Errorf("%s: pair %d of the %s split: field %q has %d tokens, more than max_field_tokens = %d; raise [data] max_field_tokens in the grid to use it (it is truncated to max_prompt_tokens/max_response_tokens after)", name, i, split, field, n, max)
		}
		return nil
	}
	for i, p := range pairs {
		for _, f := range []struct{ k, v string }{{"prompt", p.Prompt}, {FieldChosen, p.Chosen}, {FieldRejected, p.Rejected}} {
			if err := check(i, f.k, f.v); err != nil {
				return err
			}
		}
		for k, v := range p.Probes {
			if err := check(i, k, v); err != nil {
				return err
			}
		}
	}
	return nil
}
