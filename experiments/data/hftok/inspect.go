package hftok

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"gatedpo/internal/cliflag"
)

// Inspect implements `inspect tokenize` (cmd/inspect): it loads
// -tokenizer (a tokenizer.json or a model directory), reads JSON Lines
// {"text": …} from stdin (other fields ignored, blank lines skipped) and
// writes one {"text": …, "ids": […]} line per record, in order. Added
// tokens in the text are matched as Hugging Face matches them; BOS/EOS or
// other post-processor tokens are added only with -special (Hugging
// Face's add_special_tokens = true; GPT-2, Pythia and Qwen2 add none,
// Llama-3 adds <|begin_of_text|>). All input is read and checked before
// anything is written: a bad line gives exit status 2, a one-line error
// naming the line on stderr, and no output. Returns the exit status (0
// ok, 1 writing failed, 2 bad input).
func Inspect(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("inspect tokenize", flag.ContinueOnError)
	path := fs.String("tokenizer", "", "a Hugging Face tokenizer.json, or a model directory holding one (its config.json vocab_size is checked)")
	special := fs.Bool("special", false, "add the post-processor's special tokens (add_special_tokens = true), e.g. Llama-3's <|begin_of_text|>")
	if code, done := cliflag.Parse(fs, args, stdout, stderr); done {
		return code
	}
	bad := cliflag.BadInput(stderr, "inspect tokenize")
	if fs.NArg() > 0 {
		return bad("unexpected argument %q (flags only; texts come on stdin)", fs.Arg(0))
	}
	if *path == "" {
		return bad("-tokenizer is required: a tokenizer.json or a model directory")
	}
	tok, err := Load(*path)
	if err != nil {
		return bad("%v", err)
	}
	if *special {
		if _, err := tok.EncodeSpecial(""); err != nil {
			return bad("%s: -special: %v", *path, err)
		}
	}
	for _, w := range tok.Warnings() {
		fmt.Fprintf(stderr, "inspect tokenize: warning: %s: %s\n", *path, w)
	}
	texts, err := readTexts(stdin)
	if err != nil {
		return bad("%v", err)
	}
	w := bufio.NewWriterSize(stdout, 1<<16)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	type record struct {
		Text string `json:"text"`
		IDs  []int  `json:"ids"`
	}
	for _, s := range texts {
		ids := tok.Encode(s)
		if *special {
			ids, _ = tok.EncodeSpecial(s)
		}
		if ids == nil {
			ids = []int{} // "ids": [], never null
		}
		if err := enc.Encode(record{s, ids}); err != nil {
			fmt.Fprintf(stderr, "inspect tokenize: writing stdout: %v\n", err)
			return 1
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "inspect tokenize: writing stdout: %v\n", err)
		return 1
	}
	return 0
}

// readTexts reads the "text" field of every non-blank JSON line of r.
func readTexts(r io.Reader) ([]string, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var texts []string
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("stdin: line %d: %v", n, err)
		}
		if len(bytes.TrimSpace(line)) > 0 {
			s, perr := parseTextLine(line)
			if perr != nil {
				return nil, fmt.Errorf("stdin: line %d: %v", n, perr)
			}
			texts = append(texts, s)
		}
		if err == io.EOF {
			return texts, nil
		}
	}
}

func parseTextLine(line []byte) (string, error) {
	if !utf8.Valid(line) {
		off := 0
		for off < len(line) {
			r, size := utf8.DecodeRune(line[off:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			off += size
		}
		return "", fmt.Errorf("invalid UTF-8 at byte %d of the line, expected UTF-8 JSON {\"text\": …}", off+1)
	}
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(line, &rec); err != nil {
		var v any
		if json.Unmarshal(line, &v) == nil {
			return "", fmt.Errorf("a JSON %s, expected an object {\"text\": …}", jsonKind(v))
		}
		return "", fmt.Errorf("malformed JSON (%v), expected an object {\"text\": …}", err)
	}
	raw, ok := rec["text"]
	if !ok {
		return "", fmt.Errorf("no \"text\" field, expected an object {\"text\": …}")
	}
	var s string
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("\"text\" is %s, expected a string", strings.TrimSpace(string(raw)))
	}
	// encoding/json turns an unpaired surrogate escape (\ud800) into
	// U+FFFD; such a string is not Unicode text and Hugging Face refuses it.
	if want := strings.Count(s, "\uFFFD"); want > 0 {
		have := bytes.Count(raw, []byte("\uFFFD")) + bytes.Count(bytes.ToLower(raw), []byte(`\ufffd`))
		if want > have {
			return "", fmt.Errorf("\"text\" has an unpaired UTF-16 surrogate escape (not valid Unicode)")
		}
	}
	return s, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return "value"
}
